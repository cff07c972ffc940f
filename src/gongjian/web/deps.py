"""Dependencies shared by every route: the database session and the acting user.

The API accepts HTTP Basic, a monitoring station's bearer token, or the session cookie
of a signed-in browser (for writes only with the ``X-CSRF-Token`` header). Pages take
their actor from the session cookie alone (``PageActor``): signed out, they redirect to
/login; their form POSTs must carry the session's CSRF token.
"""

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
from gongjian.auth.services import SignInFailed, actor_for, sign_in
from gongjian.auth.stations import actor_for_token
from gongjian.db import session_scope
from gongjian.errors import GongjianError
from gongjian.schemas import Paging
from gongjian.web import csrf
from gongjian.web.sessions import client_address, current_session, now
from gongjian.web.templating import note_demo_data

_basic = HTTPBasic(auto_error=False, realm="gongjian")
_bearer = HTTPBearer(auto_error=False, description="监测站令牌（gongjian stations add）")


class Unauthenticated(GongjianError):
    """Credentials were given but are wrong (401)."""

    status = 401


class SignInRequired(Exception):
    """A page needs a signed-in user: the app redirects to /login, then back to ``next``."""

    def __init__(self, next_path: str, *, stale: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.stale = stale


def get_session(request: Request) -> Iterator[Session]:
    """A session for the request: committed when the route returns, rolled back if not.

    The commit happens before the response is sent (``scope="function"``), so a client
    never sees a success whose write is not yet stored. A request that may write (not
    GET, HEAD or OPTIONS) begins its transaction as a writer (see ``db.make_engine``).
    The request uses this one connection of the pool for everything it reads and
    writes, so that requests waiting for a connection never hold one.
    """
    writing = request.method not in csrf.SAFE_METHODS
    with session_scope(request.app.state.engine, writing=writing) as session:
        note_demo_data(request, session)
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The signed-in user (HTTP Basic, or a browser's session cookie), a monitoring
    station (``Authorization: Bearer`` with its token), or the public when no
    credentials are sent.

    HTTP Basic passes the same lock-out as the sign-in page (a locked-out username gets
    429); a session cookie writes only with the session's ``X-CSRF-Token`` header.
    """
    if token is not None:
        station = actor_for_token(session, token.credentials)
        if station is None:
            raise Unauthenticated("监测站令牌无效或已吊销")
        return station
    if credentials is not None:
        try:
            user = sign_in(
                session,
                username=credentials.username,
                password=credentials.password,
                now=now(request),
                remote_addr=client_address(request),
                via="api",
            )
        except SignInFailed as exc:
            raise Unauthenticated("用户名或密码错误，或账号已停用") from exc
        return actor_for(user)
    found = current_session(request, session)
    if found is None:
        return Actor.public()
    if request.method not in csrf.SAFE_METHODS:
        csrf.check_session_token(request, request.headers.get(csrf.CSRF_HEADER))
    return actor_for(found[1])


ActorDep = Annotated[Actor, Depends(get_actor)]


async def _submitted_csrf(request: Request) -> str | None:
    if request.method in csrf.SAFE_METHODS:
        return None
    return await csrf.submitted_token(request)


def get_page_actor(
    request: Request,
    session: SessionDep,
    submitted: Annotated[str | None, Depends(_submitted_csrf)],
) -> Actor:
    """The signed-in user of a page; signed out, a redirect to /login. Every write
    (POST and the like) must carry the session's CSRF token, or it is refused (403)."""
    found = current_session(request, session)
    if found is None:
        query = request.url.query
        raise SignInRequired(
            request.url.path + (f"?{query}" if query else ""),
            stale=bool(request.state.session_cookie_stale),
        )
    if request.method not in csrf.SAFE_METHODS:
        csrf.check_session_token(request, submitted)
    return actor_for(found[1])


PageActor = Annotated[Actor, Depends(get_page_actor)]


PagingDep = Annotated[Paging, Depends()]
"""``limit`` and ``offset`` of a list request."""
