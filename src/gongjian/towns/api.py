"""Routes of towns."""

from fastapi import APIRouter

from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.towns.schemas import TownRead
from gongjian.towns.services import list_towns
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["towns"])


@router.get("/towns", response_model=list[TownRead])
def towns(session: SessionDep, actor: ActorDep) -> list[TownRead]:
    """The 23 towns and streets."""
    authorize(session, actor, Action.view, "town")
    return [TownRead.model_validate(town) for town in list_towns(session)]
