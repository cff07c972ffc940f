"""The app factory: routes of every domain, the pages, static files, one error handler
per kind of error (a page for browsers, JSON under /api/), security headers, ``/healthz``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gongjian import __version__
from gongjian.audit.api import router as audit_router
from gongjian.audit.pages import router as audit_pages
from gongjian.auth.api import router as users_router
from gongjian.auth.api import stations_router
from gongjian.auth.services import LockedOut
from gongjian.campaign.api import router as projects_router
from gongjian.campaign.pages import router as campaign_pages
from gongjian.config import get_settings
from gongjian.db import get_engine, session_scope, utcnow
from gongjian.errors import Conflict, GongjianError, Invalid, StaleVersion
from gongjian.imports.api import router as imports_router
from gongjian.imports.pages import router as imports_pages
from gongjian.kpi.api import router as kpi_router
from gongjian.kpi.pages import router as dashboard_pages
from gongjian.portal.pages import router as portal_pages
from gongjian.renewal.api import router as parcels_router
from gongjian.renewal.pages import router as renewal_pages
from gongjian.reports.pages import router as reports_pages
from gongjian.towns.api import router as towns_router
from gongjian.water.api import router as water_router
from gongjian.water.complaint_pages import router as complaint_pages
from gongjian.water.pages import router as water_pages
from gongjian.web.capacity import ConcurrencyLimit
from gongjian.web.conflicts import conflict_page
from gongjian.web.csrf import CsrfRefused
from gongjian.web.deps import SignInRequired
from gongjian.web.i18n import language_of, translate
from gongjian.web.pages import router as pages_router
from gongjian.web.security import BodyLimit, SecurityHeaders, UnhandledErrors
from gongjian.web.sessions import SESSION_COOKIE, current_session
from gongjian.web.templating import render

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Paths answered in JSON, never with a page.
_MACHINE_PATHS = (API_PREFIX + "/", "/api/", "/healthz", "/openapi.json", "/static/")


def wants_page(request: Request) -> bool:
    """Whether an error on ``request`` is answered with a page (else JSON)."""
    return not request.url.path.startswith(_MACHINE_PATHS)


def _problem_body(exc: GongjianError) -> dict[str, object]:
    body: dict[str, object] = {"error": type(exc).__name__, "message": exc.message}
    if isinstance(exc, Invalid):
        body["problems"] = [
            {k: v for k, v in vars(p).items() if v is not None} for p in exc.problems
        ]
    if isinstance(exc, StaleVersion):
        body |= {
            "resource": exc.resource,
            "code": exc.code,
            "sent_version": exc.sent,
            "current_version": exc.current,
            "current": exc.record,
        }
    return body


def _back_of(request: Request) -> str:
    """Where "reload and retry" leads: the page the form was on (the ``Referer`` when it
    is a page of this site), else the overview."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def error_page(
    request: Request,
    status: int,
    *,
    title_key: str | None = None,
    message: str,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error page: what went wrong in words, never a traceback."""
    lang = language_of(request)
    key = title_key or f"error.{status}.title"
    title = translate(lang, key)
    if title == key:
        title = translate(lang, "error.generic.title")
    return render(
        request,
        "error.html",
        status_code=status,
        headers=headers,
        status=status,
        title=title,
        message=message,
        hint=hint,
    )


def _server_error(request: Request, incident: str) -> Response:
    message = translate(language_of(request), "error.500.message", incident=incident)
    if wants_page(request):
        return error_page(request, 500, message=message)
    return JSONResponse(
        {"error": "InternalError", "message": message, "incident": incident}, status_code=500
    )


BUSY_RETRY_SECONDS = 5
"""What a 503 for a busy database asks the client to wait before trying again."""


def database_busy(exc: Exception) -> bool:
    """Whether ``exc`` says the database had no room for the request in time: every
    pooled connection was taken for ``pool_timeout`` seconds, or SQLite's write lock
    stayed held past its busy timeout. Nothing was written; the request can be sent
    again."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, OperationalError) and any(
        word in str(exc.orig) for word in ("database is locked", "database is busy")
    )


def _busy(request: Request) -> Response:
    lang = language_of(request)
    message = translate(lang, "error.503.message", seconds=BUSY_RETRY_SECONDS)
    headers = {"Retry-After": str(BUSY_RETRY_SECONDS)}
    if wants_page(request):
        return error_page(request, 503, message=message, headers=headers)
    return JSONResponse({"error": "Busy", "message": message}, status_code=503, headers=headers)


def request_limit() -> int:
    """The largest request body taken, in bytes: the upload limit (setting
    ``upload_max_mb``) and 1 MB for a form's other fields."""
    return int((get_settings().upload_max_mb + 1) * 1024 * 1024)


def _too_large(request: Request, limit: int) -> Response:
    message = translate(language_of(request), "error.413.message", mb=limit // (1024 * 1024))
    if wants_page(request):
        return error_page(request, 413, message=message)
    return JSONResponse({"error": "TooLarge", "message": message}, status_code=413)


def _signed_in_user(request: Request) -> None:
    """Find the signed-in user for an error page that no route has looked up yet."""
    if hasattr(request.state, "web_user") or not request.cookies.get(SESSION_COOKIE):
        return
    with session_scope(request.app.state.engine) as session:
        current_session(request, session)


def create_app(engine: Engine | None = None) -> FastAPI:
    """The web application bound to ``engine`` (default: the configured database)."""
    app = FastAPI(
        title="gongjian 攻坚",
        version=__version__,
        description="工改与治水攻坚指挥平台 API。数据为示例数据时会注明。",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine or get_engine()
    app.state.clock = utcnow

    @app.exception_handler(GongjianError)
    async def _domain_error(request: Request, exc: GongjianError) -> Response:
        headers: dict[str, str] = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="gongjian"'
        if isinstance(exc, LockedOut):
            seconds = max(1, int((exc.until - request.app.state.clock()).total_seconds()))
            headers["Retry-After"] = str(seconds)
        if wants_page(request):
            lang = language_of(request)
            if isinstance(exc, CsrfRefused):
                return error_page(
                    request,
                    403,
                    title_key="error.csrf.title",
                    message=translate(lang, "error.csrf.message"),
                )
            if isinstance(exc, StaleVersion):
                return conflict_page(request, exc, back=_back_of(request))
            hint = translate(lang, "error.403.hint") if exc.status == 403 else None
            return error_page(request, exc.status, message=exc.message, hint=hint)
        return JSONResponse(_problem_body(exc), status_code=exc.status, headers=headers or None)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        """A write that found its row changed by another transaction since it was read
        (a path that names no version): 409, like ``StaleVersion``."""
        refused = Conflict("记录在读取后已被他人修改，本次修改未保存：请重新载入后再试")
        return await _domain_error(request, refused)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database_error(request: Request, exc: Exception) -> Response:
        """A database too busy to take the request in time: 503 with ``Retry-After``
        (nothing was written). Any other database failure stays unexpected (500)."""
        if not database_busy(exc):
            raise exc
        return _busy(request)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {
                "column": ".".join(str(part) for part in error["loc"] if part != "body"),
                "reason": error["msg"],
            }
            for error in exc.errors()
        ]
        if wants_page(request):
            listed = "；".join(f"{p['column']}：{p['reason']}" for p in problems)
            message = translate(language_of(request), "error.400.message", problems=listed)
            return error_page(request, 400, message=message)
        return JSONResponse(
            {"error": "Invalid", "message": "请求参数有误", "problems": problems},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_page(request) or exc.status_code not in (404, 405):
            return await http_exception_handler(request, exc)
        await run_in_threadpool(_signed_in_user, request)
        lang = language_of(request)
        if exc.status_code == 404:
            return error_page(
                request,
                404,
                message=translate(lang, "error.404.message", path=request.url.path),
                hint=translate(lang, "error.404.hint"),
            )
        return error_page(
            request,
            405,
            message=translate(
                lang, "error.405.message", method=request.method, path=request.url.path
            ),
        )

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        query = {"next": exc.next_path} | ({"expired": "1"} if exc.stale else {})
        target = f"/login?{urlencode(query)}"
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Whether the app and its database answer."""
        with app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    for router in (
        kpi_router,
        towns_router,
        water_router,
        parcels_router,
        projects_router,
        users_router,
        audit_router,
        imports_router,
        stations_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    for pages in (
        pages_router,
        dashboard_pages,
        water_pages,
        complaint_pages,
        renewal_pages,
        campaign_pages,
        imports_pages,
        audit_pages,
        portal_pages,
        reports_pages,
    ):
        app.include_router(pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    settings = get_settings()
    app.add_middleware(
        ConcurrencyLimit,
        concurrency=settings.web_concurrency,
        wait_seconds=float(settings.web_queue_seconds),
        refuse=_busy,
    )
    app.add_middleware(BodyLimit, limit=request_limit, refuse=_too_large)
    app.add_middleware(UnhandledErrors, render_500=_server_error)
    app.add_middleware(SecurityHeaders)
    return app
