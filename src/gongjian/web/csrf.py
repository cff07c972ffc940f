"""CSRF protection of every form POST and of every cookie-authenticated API write.

Signed in, the token is the synchroniser token of the session: an HMAC of a fixed
label keyed by the session's own secret (``auth.services.csrf_token_for``), so it is
stored nowhere, changes at every sign-in and cannot be guessed without the cookie.
Signed out (the sign-in form, the portal's forms), it is a double-submit token: a
random value in the HttpOnly ``gongjian_csrf`` cookie that the form must repeat.

Forms carry it in the hidden field ``csrf_token``; htmx and scripts send it in the
``X-CSRF-Token`` header (``static/js/app.js`` reads it from ``<meta name="csrf-token">``).
A request without a valid token is refused with 403 (``CsrfRefused``).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from gongjian.errors import GongjianError
from gongjian.web.sessions import is_https

CSRF_COOKIE = "gongjian_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRefused(GongjianError):
    """A write without a valid CSRF token (403)."""

    status = 403

    def __init__(self) -> None:
        super().__init__("请求缺少有效的 CSRF 令牌：请刷新页面后重新提交")


def anonymous_token(request: Request) -> str:
    """The double-submit token of a signed-out browser, made (and marked to be set as a
    cookie on the response) when it has none."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = token
    return token


def token_for(request: Request) -> str:
    """The token a form on this page must send back: the session's when signed in."""
    session_token: str | None = getattr(request.state, "session_csrf", None)
    return session_token or anonymous_token(request)


def set_cookie_if_new(response: Response, request: Request) -> None:
    """Set the double-submit cookie when ``anonymous_token`` made one for this request."""
    token = getattr(request.state, "new_csrf_cookie", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="lax", secure=is_https(request), path="/"
        )


async def submitted_token(request: Request) -> str | None:
    """The token the request sent: the ``X-CSRF-Token`` header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _same(expected: str | None, submitted: str | None) -> bool:
    return bool(expected and submitted) and hmac.compare_digest(
        str(expected).encode(), str(submitted).encode()
    )


def check_session_token(request: Request, submitted: str | None) -> None:
    """Refuse unless ``submitted`` is the signed-in session's token."""
    if not _same(getattr(request.state, "session_csrf", None), submitted):
        raise CsrfRefused()


def check_anonymous_token(request: Request, submitted: str | None) -> None:
    """Refuse unless ``submitted`` repeats the browser's ``gongjian_csrf`` cookie."""
    if not _same(request.cookies.get(CSRF_COOKIE), submitted):
        raise CsrfRefused()


async def anonymous_csrf(request: Request) -> None:
    """Dependency of signed-out forms (sign-in, the portal's): the double-submit check."""
    if request.method not in SAFE_METHODS:
        check_anonymous_token(request, await submitted_token(request))
