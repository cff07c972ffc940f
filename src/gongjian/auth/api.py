"""Routes of user accounts (admin only) and monitoring stations' tokens (city)."""

from fastapi import APIRouter

from gongjian.auth import stations
from gongjian.auth.models import StationToken
from gongjian.auth.schemas import StationCreate, StationCreated, StationRead, UserRead
from gongjian.auth.services import list_users
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserRead])
def users(session: SessionDep, actor: ActorDep) -> list[UserRead]:
    """Every account: admin only (403 and logged for anyone else)."""
    return [UserRead.model_validate(user) for user in list_users(session, actor=actor)]


stations_router = APIRouter(tags=["stations"])


def _station(session: SessionDep, token: StationToken) -> StationRead:
    return StationRead(
        name=token.name,
        prefix=token.prefix,
        points=stations.point_codes(session, token),
        created_at=token.created_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


@stations_router.post("/stations", response_model=StationCreated, status_code=201)
def add_station(body: StationCreate, session: SessionDep, actor: ActorDep) -> StationCreated:
    """A monitoring station's token (city and admin): the token is in this answer only."""
    token, secret = stations.create_token(
        session, actor=actor, name=body.name, point_codes=body.points
    )
    return StationCreated(**_station(session, token).model_dump(), token=secret)


@stations_router.get("/stations", response_model=list[StationRead])
def list_stations(session: SessionDep, actor: ActorDep) -> list[StationRead]:
    """Every station token, without the tokens themselves."""
    return [_station(session, token) for token in stations.list_tokens(session, actor=actor)]


@stations_router.post("/stations/{name}/revoke", response_model=StationRead)
def revoke_station(name: str, session: SessionDep, actor: ActorDep) -> StationRead:
    """Revoke a station's token: its batches are refused from now on."""
    return _station(session, stations.revoke_token(session, actor=actor, name=name))
