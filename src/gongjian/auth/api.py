"""Routes of user accounts (admin only)."""

from fastapi import APIRouter

from gongjian.auth.schemas import UserRead
from gongjian.auth.services import list_users
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserRead])
def users(session: SessionDep, actor: ActorDep) -> list[UserRead]:
    """Every account: admin only (403 and logged for anyone else)."""
    return [UserRead.model_validate(user) for user in list_users(session, actor=actor)]
