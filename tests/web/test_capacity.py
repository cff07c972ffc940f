"""How many requests the server works on at once: a burst of clients on few threads and
few connections is served whole, one at a time as room frees, never with an error; a
request kept waiting too long gets 503 with ``Retry-After``; static files never wait."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gongjian.auth.choices import Role
from gongjian.config import get_settings
from gongjian.db import make_engine
from gongjian.web.app import create_app
from gongjian.web.capacity import ConcurrencyLimit
from tests.serving import serving
from tests.web.conftest import PASSWORD, Account


class _Counting:
    """An app that answers after ``seconds``, counting the requests inside it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.inside = self.most = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.inside -= 1
        await PlainTextResponse(scope["path"])(scope, receive, send)


def _refuse(_request: Request) -> Response:
    return PlainTextResponse("busy", status_code=503, headers={"Retry-After": "5"})


async def _gather(app: ASGIApp, paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return list(await asyncio.gather(*(client.get(path) for path in paths)))


def _get_all(app: ASGIApp, paths: list[str]) -> list[httpx.Response]:
    """GET ``paths`` from ``app`` all at once, in an event loop of a thread of its own
    (the browser suite's driver may hold this thread's loop)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _gather(app, paths)).result()


def test_at_most_the_limit_is_worked_on_at_once_and_everyone_is_answered() -> None:
    inner = _Counting(0.02)
    app = ConcurrencyLimit(inner, concurrency=3, wait_seconds=30, refuse=_refuse)
    answers = _get_all(app, [f"/r/{n}" for n in range(20)])
    assert [a.status_code for a in answers] == [200] * 20
    assert [a.text for a in answers] == [f"/r/{n}" for n in range(20)]
    assert inner.most == 3


def test_a_request_kept_waiting_too_long_gets_the_refusal() -> None:
    app = ConcurrencyLimit(_Counting(0.5), concurrency=1, wait_seconds=0.1, refuse=_refuse)
    first, second = _get_all(app, ["/slow", "/waits"])
    assert first.status_code == 200
    assert second.status_code == 503
    assert second.headers["retry-after"] == "5"


def test_static_files_pass_without_waiting() -> None:
    inner = _Counting(0.3)
    app = ConcurrencyLimit(inner, concurrency=1, wait_seconds=0.05, refuse=_refuse)
    answers = _get_all(app, ["/slow", "/static/a.css", "/static/b.js"])
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert inner.most == 3


class _FewThreads:
    """Runs ``app`` with a threadpool of ``threads`` threads (a server under a burst)."""

    def __init__(self, app: ASGIApp, threads: int) -> None:
        self.app = app
        self.threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
        await self.app(scope, receive, send)


@pytest.fixture
def concurrency_of_two(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GONGJIAN_WEB_CONCURRENCY", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _browse(url: str, account: Account) -> list[int]:
    """Sign in (a write), then read a page and the API; every status seen."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as browser:
        form = browser.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        signed = browser.post(
            "/login",
            data={
                "username": account.username,
                "password": PASSWORD,
                "csrf_token": token.group(1) if token else "",
            },
        )
        reads = [browser.get(path) for path in ("/", "/api/v1/towns", "/projects")]
        return [form.status_code, signed.status_code, *(r.status_code for r in reads)]


@pytest.mark.usefixtures("concurrency_of_two")
def test_a_burst_on_few_threads_and_connections_is_served_whole(
    web_engine: Engine, make_user: Callable[..., Account]
) -> None:
    """16 browsers at once on 4 threads and 3 connections: each request let in finds a
    thread and a connection, the others wait their turn; no request fails."""
    accounts = [make_user(Role.town) for _ in range(16)]
    engine = make_engine(
        web_engine.url.render_as_string(hide_password=False),
        pool_size=3,
        max_overflow=0,
        pool_timeout=10,
    )
    try:
        with (
            serving(_FewThreads(create_app(engine), threads=4)) as url,
            ThreadPoolExecutor(len(accounts)) as clients,
        ):
            seen = list(clients.map(lambda account: _browse(url, account), accounts))
    finally:
        engine.dispose()
    assert seen == [[200, 303, 200, 200, 200]] * len(accounts)
