"""The declarative base, engines and sessions.

Tables come only from Alembic migrations (``gongjian init``); the models here are what
those migrations are checked against (``alembic check``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    and_,
    create_engine,
    event,
    make_url,
    or_,
    text,
)
from sqlalchemy import column as sql_column
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)

from gongjian.config import get_settings
from gongjian.db_types import Exact, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


PER_STATEMENT = "checked_per_statement"
"""``info`` key of a foreign key that PostgreSQL checks once per statement."""


def checked_per_statement(key: ForeignKeyConstraint) -> ForeignKeyConstraint:
    """A foreign key of a table loaded a million rows at a time: SQLite keeps it as
    declared; on PostgreSQL statement-level triggers keep the same rule (migration 0008),
    checking the rows a statement adds together instead of one by one, so the constraint
    itself is not created there and ``alembic check`` does not look for it."""
    key.info[PER_STATEMENT] = True
    return key.ddl_if(dialect="sqlite")


BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit primary key that SQLite still fills by itself (its rowid)."""


class Base(DeclarativeBase):
    """Base of every model: one naming convention so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime(), dict[str, Any]: JSON()}


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


class Timestamped:
    """Adds ``created_at`` and ``updated_at`` (UTC) to a model."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Versioned:
    """Adds ``version`` to a record that people edit: 1 when added, one more on every
    change the ORM writes (SQLAlchemy's ``version_id_col``).

    Every UPDATE the ORM emits for the record says ``WHERE version = <the version read>``,
    so a change based on a stale read matches no row and raises ``StaleDataError``
    (``gongjian.records`` turns it into ``StaleVersion``, a 409). A bulk UPDATE by primary
    key is checked and bumped the same way when each row's mapping carries the version
    it was read at.
    """

    version: Mapped[int] = mapped_column(
        server_default=text("1"), comment="edit counter: 1 when added, +1 on every change"
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr gets the class
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


WRITING = "gongjian_writing"
"""Execution option of an engine whose transactions will write (see ``make_engine``)."""


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: the setting), with SQLite set up for safe writes.

    SQLite gets WAL, foreign keys, a busy timeout, and transactions that SQLAlchemy
    begins itself (so SAVEPOINTs work and nothing is committed behind our back). A
    connection with the execution option ``WRITING`` begins ``IMMEDIATE``: it takes the
    write lock first, waiting its turn behind the busy timeout, instead of reading first
    and failing at once when another writer committed since (SQLite refuses to turn a
    read snapshot that is no longer the latest into a write).
    """
    settings = get_settings()
    url = url or settings.database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        busy_ms = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get(WRITING, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process's engine for the configured database, made once."""
    global _engine
    if _engine is None:
        _engine = make_engine()
    return _engine


def session_factory(
    engine: Engine | None = None, *, writing: bool = False
) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` (default: the process's); ``writing``: their
    transactions will write (on SQLite they take the write lock when they begin)."""
    bound = engine or get_engine()
    return sessionmaker(
        bind=bound.execution_options(**{WRITING: True}) if writing else bound,
        expire_on_commit=False,
    )


_AFTER = "gongjian.db.after"


def after_scope(session: Session, work: Callable[[Engine], None]) -> None:
    """Run ``work`` with the session's engine once the ``session_scope`` of ``session``
    has committed and closed, so that its connection is back in the pool first.

    For bookkeeping that needs a transaction of its own (noting when a web session was
    last seen): done inside the scope, it would hold a second connection while the
    first waits, and a request would need two connections of the pool at once.
    """
    session.info.setdefault(_AFTER, []).append(work)


@contextmanager
def session_scope(engine: Engine | None = None, *, writing: bool = False) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises
    (``writing``: see ``session_factory``); then the work of ``after_scope``, when the
    block ended without error.

    Services may commit inside the block (a refused action commits its audit entry
    before raising), so the transaction is managed here rather than by
    ``Session.begin()``.
    """
    bound = engine or get_engine()
    with session_factory(bound, writing=writing)() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()
        after: list[Callable[[Engine], None]] = session.info.pop(_AFTER, [])
    for work in after:
        work(bound)


def check_in(column: str, choices: Iterable[StrEnum]) -> CheckConstraint:
    """A CHECK that ``column`` holds one of the identifiers of ``choices``."""
    allowed = ", ".join(f"'{member.value}'" for member in choices)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


def check_non_negative(*columns: str) -> list[CheckConstraint]:
    """CHECKs that each of ``columns`` is NULL or at least zero."""
    return [
        CheckConstraint(f"{column} IS NULL OR {column} >= 0", name=f"{column}_non_negative")
        for column in columns
    ]


def check_range(
    column: str, exact: Exact, *, low: str | None = None, high: str | None = None
) -> CheckConstraint:
    """A CHECK that an ``Exact`` column is NULL or within ``low``..``high`` (inclusive).

    The bounds are rendered through the column's type, so on SQLite, where the column
    holds integers scaled by ``10**scale``, the bounds are scaled the same way.
    """
    value = sql_column(column, exact)
    bounds = [
        *([value >= Decimal(low)] if low is not None else []),
        *([value <= Decimal(high)] if high is not None else []),
    ]
    return CheckConstraint(or_(value.is_(None), and_(*bounds)), name=f"{column}_in_range")


class StateChangeColumns:
    """The columns of a dated, audited state transition (a row of a state history).

    ``changed_on`` is the day the transition happened in the city's time zone; a
    record's state as of a date is the ``to_state`` of its latest change on or before
    that date. A correction (``is_correction``) is a change like any other that says
    which mistake it corrects; the mistake stays in the history.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    changed_on: Mapped[dt.date] = mapped_column(comment="day of the transition (city time)")
    reason: Mapped[str | None] = mapped_column(String(500))
    is_correction: Mapped[bool] = mapped_column(default=False)
    actor: Mapped[str] = mapped_column(String(60), comment="username that recorded it")
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
