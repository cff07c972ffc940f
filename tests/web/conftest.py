"""The web pages' tests: an app on a database of this package's own, a clock the tests
move, accounts of every role made per test, and signing in through the form."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory

PASSWORD = "correct-horse-battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def web_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of the web tests' own (its accounts and sessions are committed)."""
    engine = databases.new("web")
    yield engine
    engine.dispose()


class Clock:
    """The app's clock (``app.state.clock``): real time until a test moves it."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(web_engine: Engine, clock: Clock) -> FastAPI:
    app = create_app(web_engine)
    app.state.clock = clock
    return app


@pytest.fixture(scope="session")
def city_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database holding the small demo city (seed 7) with its demo accounts, for the
    pages that show records. Tests that write to it add records of their own and never
    assume the counts another test sees."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("webcity", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


@pytest.fixture
def city_app(city_engine: Engine, clock: Clock) -> FastAPI:
    app = create_app(city_engine)
    app.state.clock = clock
    return app


@pytest.fixture
def city_client(city_app: FastAPI) -> Iterator[TestClient]:
    """A browser on the demo city (sign in with ``as_demo``)."""
    with TestClient(city_app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser on plain HTTP (redirects are not followed, so tests see them)."""
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def https_client(app: FastAPI) -> Iterator[TestClient]:
    """A browser on HTTPS."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def new_client(app: FastAPI) -> Iterator[Callable[[], TestClient]]:
    """Makes further browsers (each with its own cookies) on the same app."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        test_client = TestClient(app, follow_redirects=False)
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    password: str = PASSWORD


@pytest.fixture
def make_user(web_engine: Engine) -> Callable[..., Account]:
    """Adds an account with a name of its own (tests never share lock-outs or sessions)."""

    def make(role: Role = Role.city, town: str | None = None) -> Account:
        username = f"{role.value}-{uuid.uuid4().hex[:10]}"
        if role is Role.town and town is None:
            town = "石岐"
        with Session(web_engine) as session:
            add_user(
                session,
                actor=Actor.system("test"),
                username=username,
                password=PASSWORD,
                role=role,
                town=town,
                display_name=f"测试{username}",
            )
            session.commit()
        return Account(username, role)

    return make


def csrf_from(html: str) -> str:
    """The CSRF token in a page's first form."""
    found = CSRF_FIELD.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def sign_in(
    client: TestClient, username: str, password: str = PASSWORD, **form: str
) -> httpx.Response:
    """Sign in through the form as a browser would; returns the POST's response."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)}
        | form,
    )


def signed_in(client: TestClient, account: Account) -> TestClient:
    response = sign_in(client, account.username, account.password)
    assert response.status_code == 303, response.text
    return client


def as_demo(client: TestClient, username: str) -> TestClient:
    """``client`` signed in as the demo account ``username`` (``gaigeban``, ``shenji``,
    ``town-shiqi``, ...)."""
    from gongjian.demo.generate import DEMO_USERS

    password = next(pw for name, pw, *_ in DEMO_USERS if name == username)
    response = sign_in(client, username, password)
    assert response.status_code == 303, response.text
    return client


def audit_entries(engine: Engine, **where: str) -> list[AuditEntry]:
    """Audit entries whose columns equal ``where``, oldest first."""
    with Session(engine) as session:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for column, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, column) == value)
        return list(session.scalars(stmt))


def table(html: str, table_id: str) -> str:
    """The body of the table ``table_id`` on a page (empty when the page has none)."""
    found = re.search(rf'<table class="table" id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    return found.group(1) if found else ""


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` inside the block."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
