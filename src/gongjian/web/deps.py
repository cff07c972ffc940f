"""Dependencies shared by every route: the database session and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.services import authenticate
from gongjian.auth.stations import actor_for_token
from gongjian.db import session_scope
from gongjian.errors import GongjianError

_basic = HTTPBasic(auto_error=False, realm="gongjian")
_bearer = HTTPBearer(auto_error=False, description="监测站令牌（gongjian stations add）")


class Unauthenticated(GongjianError):
    """Credentials were given but are wrong (401)."""

    status = 401


def get_session(request: Request) -> Iterator[Session]:
    """A session for the request: committed when the route returns, rolled back if not."""
    with session_scope(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_actor(
    session: SessionDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The signed-in user (HTTP Basic), a monitoring station (``Authorization: Bearer``
    with its token), or the public when no credentials are sent."""
    if token is not None:
        station = actor_for_token(session, token.credentials)
        if station is None:
            raise Unauthenticated("监测站令牌无效或已吊销")
        return station
    if credentials is None:
        return Actor.public()
    actor = authenticate(session, credentials.username, credentials.password)
    if actor is None:
        raise Unauthenticated("用户名或密码错误，或账号已停用")
    return actor


ActorDep = Annotated[Actor, Depends(get_actor)]
