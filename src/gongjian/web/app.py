"""The app factory: routes of every domain, one error handler, ``/healthz``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from gongjian import __version__
from gongjian.audit.api import router as audit_router
from gongjian.auth.api import router as users_router
from gongjian.auth.api import stations_router
from gongjian.campaign.api import router as projects_router
from gongjian.db import get_engine
from gongjian.errors import GongjianError, Invalid
from gongjian.imports.api import router as imports_router
from gongjian.kpi.api import router as kpi_router
from gongjian.renewal.api import router as parcels_router
from gongjian.towns.api import router as towns_router
from gongjian.water.api import router as water_router

API_PREFIX = "/api/v1"


def _problem_body(exc: GongjianError) -> dict[str, object]:
    body: dict[str, object] = {"error": type(exc).__name__, "message": exc.message}
    if isinstance(exc, Invalid):
        body["problems"] = [
            {k: v for k, v in vars(p).items() if v is not None} for p in exc.problems
        ]
    return body


def create_app(engine: Engine | None = None) -> FastAPI:
    """The web application bound to ``engine`` (default: the configured database)."""
    app = FastAPI(
        title="gongjian 攻坚",
        version=__version__,
        description="工改与治水攻坚指挥平台 API。数据为示例数据时会注明。",
    )
    app.state.engine = engine or get_engine()

    @app.exception_handler(GongjianError)
    async def _domain_error(_request: Request, exc: GongjianError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="gongjian"'} if exc.status == 401 else None
        return JSONResponse(_problem_body(exc), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "column": ".".join(str(part) for part in error["loc"] if part != "body"),
                "reason": error["msg"],
            }
            for error in exc.errors()
        ]
        return JSONResponse(
            {"error": "Invalid", "message": "请求参数有误", "problems": problems},
            status_code=422,
        )

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
    return app
