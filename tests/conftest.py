"""Test databases: every test that touches the database runs on SQLite and PostgreSQL.

Each backend gets a database of its own for the run (a SQLite file; a PostgreSQL
database created on the server at 127.0.0.1:5432 and dropped at the end), migrated
with Alembic. ``session`` runs a test inside a transaction that is rolled back at the
end, so tests never see each other's writes. ``demo_engine`` holds the small demo city.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.db import make_engine
from gongjian.migrate import upgrade
from gongjian.towns.services import ensure_towns
from gongjian.water.models import Complaint
from gongjian.water.services import add_complaint

BACKENDS = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get(
    "GONGJIAN_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


class DatabaseFactory:
    """Makes fresh, migrated databases of one backend and drops them afterwards."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self._created: list[tuple[str, Engine]] = []

    def url(self, label: str) -> str:
        name = f"gjtest_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.directory / name}.sqlite3"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self._created.append((name, admin))
        return _pg_url(name)

    def new(self, label: str, *, towns: bool = True) -> Engine:
        """A new database, migrated to head, with the 23 towns unless ``towns=False``."""
        engine = make_engine(self.url(label))
        upgrade(engine)
        if towns:
            with Session(engine) as session:
                ensure_towns(session, actor=Actor.system("test"))
                session.commit()
        return engine

    def drop_all(self) -> None:
        if self.backend != "postgresql":
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name, _ in self._created:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseFactory]:
    """The database factory of one backend (parametrised: sqlite, postgresql)."""
    factory = DatabaseFactory(request.param, tmp_path_factory.mktemp(request.param))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A migrated database with the 23 towns and nothing else."""
    engine = databases.new("base")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A migrated database holding the small demo city (seed 7)."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("demo", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


def _rolled_back_session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the base database whose writes are rolled back after the test."""
    yield from _rolled_back_session(engine)


@pytest.fixture
def demo_session(demo_engine: Engine) -> Iterator[Session]:
    """A session on the demo database whose writes are rolled back after the test."""
    yield from _rolled_back_session(demo_engine)


@pytest.fixture
def backend(databases: DatabaseFactory) -> str:
    """The name of the backend under test."""
    return databases.backend


def new_complaint(
    session: Session,
    river_id: int,
    received_at: dt.datetime,
    *,
    category: str = "odour",
    description: str = "河水发臭",
    name: str | None = None,
    phone: str | None = None,
) -> Complaint:
    """An open complaint of a test's own about river ``river_id``, committed."""
    complaint = add_complaint(
        session,
        actor=Actor.system("test"),
        river_id=river_id,
        category=category,
        description=description,
        complainant_name=name,
        complainant_phone=phone,
        received_at=received_at,
    )
    session.commit()
    return complaint
