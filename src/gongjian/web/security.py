"""Security headers on every response, a 500 page that never shows a traceback, and a
bound on the size of every request body.

All are plain ASGI middleware, so they also wrap the static files and every error
response. ``SecurityHeaders`` is the outermost layer of the app, ``BodyLimit`` the
innermost of the three (so its refusal carries the headers).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gongjian.web.sessions import scope_is_https

logger = logging.getLogger("gongjian.web")

#: No inline script or style and nothing from another origin: pages load only
#: /static/... files. ``data:`` and ``blob:`` images are Leaflet's and ECharts'.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), payment=(), usb=()",
}

#: Sent only over HTTPS (a browser ignores it over HTTP, and it must not pin a
#: plain-HTTP installation to HTTPS by accident).
HSTS = "max-age=31536000"


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response, and HSTS when the request came
    over HTTPS (its scheme, or ``X-Forwarded-Proto`` when ``trust_proxy`` is on)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope_is_https(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnhandledErrors:
    """Answers an unhandled exception with ``render_500(request, incident)`` (a page, or
    JSON under /api/) and logs the traceback with the same incident number; the client
    never sees the traceback."""

    def __init__(self, app: ASGIApp, render_500: Callable[[Request, str], Response]) -> None:
        self.app = app
        self.render_500 = render_500

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            incident = secrets.token_hex(4)
            logger.exception("unhandled error, incident %s: %s %s", incident, *_where(scope))
            if started:
                raise
            response = self.render_500(Request(scope), incident)
            await response(scope, receive, send)


class _BodyTooLarge(Exception):
    """The body went over the limit while it was being read."""


class BodyLimit:
    """Refuses a request whose body is larger than ``limit()`` bytes with
    ``refuse(request, limit)`` (413): at once when ``Content-Length`` says so, else as
    soon as the bytes read pass the limit, before any of it reaches a route. A JSON
    batch, a GeoJSON parcel or a form can never fill the server's memory."""

    def __init__(
        self,
        app: ASGIApp,
        limit: Callable[[], int],
        refuse: Callable[[Request, int], Response],
    ) -> None:
        self.app = app
        self.limit = limit
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.refuse(Request(scope), limit)(scope, receive, send)
            return
        received = 0
        refused = started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:  # what the app says of a refused body is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if refused and not started:
            await self.refuse(Request(scope), limit)(scope, receive, send)


def _where(scope: Scope) -> tuple[Any, Any]:
    return scope.get("method"), scope.get("path")
