"""The web session of a request: its cookie, the clock, and whether it came over HTTPS.

The session itself lives in the database (``auth.models.WebSession``, managed by
``auth.services``); the browser's ``gongjian_session`` cookie holds only a random token
whose hash the database keeps. The cookie is HttpOnly, SameSite=Lax, path ``/``, Secure
when the request came over HTTPS, and has no expiry of its own: the server ends the
session after ``session_idle_minutes`` without a request or ``session_max_hours``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from gongjian.auth.choices import Role
from gongjian.auth.models import User, WebSession
from gongjian.auth.services import csrf_token_for, resume_session
from gongjian.config import get_settings
from gongjian.db import utcnow

SESSION_COOKIE = "gongjian_session"


@dataclass(frozen=True)
class SignedIn:
    """The signed-in user as pages show them: plain values, usable after the request's
    database session has closed (an error page renders after it)."""

    user_id: int
    username: str
    display_name: str
    role: Role
    town_id: int | None

    @classmethod
    def of(cls, user: User) -> SignedIn:
        return cls(user.id, user.username, user.display_name, Role(user.role), user.town_id)


def now(request: HTTPConnection) -> dt.datetime:
    """The current instant as the app sees it (``app.state.clock``; tests move it)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utcnow()


def scope_is_https(scope: MutableMapping[str, Any]) -> bool:
    """Whether the request came over HTTPS: its own scheme, or, when the ``trust_proxy``
    setting is on, the first ``X-Forwarded-Proto`` the proxy sent."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not get_settings().trust_proxy:
        return False
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return bool(value.decode("latin-1").split(",")[0].strip().lower() == "https")
    return False


def is_https(request: HTTPConnection) -> bool:
    """Whether ``request`` came over HTTPS (see ``scope_is_https``)."""
    return scope_is_https(request.scope)


def client_address(request: HTTPConnection) -> str | None:
    """The client's address: the proxy's ``X-Forwarded-For`` when ``trust_proxy`` is on."""
    if get_settings().trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.client.host if request.client else None


def current_session(request: Request, session: Session) -> tuple[WebSession, User] | None:
    """The request's open web session and its user, or ``None``; found once per request
    and kept on ``request.state`` (``web_session``, ``web_user``, ``csrf``)."""
    if hasattr(request.state, "web_user"):
        found: tuple[WebSession, User] | None = request.state.web_found
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = resume_session(session, token=token, now=now(request)) if token else None
    request.state.web_found = found
    request.state.web_user = SignedIn.of(found[1]) if found else None
    request.state.session_csrf = csrf_token_for(token) if found and token else None
    request.state.session_cookie_stale = bool(token) and found is None
    return found


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """Give the browser the session's token."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Make the browser forget the session's token."""
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=is_https(request), path="/"
    )
