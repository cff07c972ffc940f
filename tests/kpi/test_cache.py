"""The figures cache: the KPIs are computed once per database and date, and any write —
committed in this process, or by another process through the audit log — makes the next
answer new; a session's own uncommitted writes neither read nor fill the cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.kpi.cache import figures_cache, shares_the_cache
from gongjian.kpi.services import headline, kpis
from gongjian.periods import today
from gongjian.renewal.choices import EnterpriseKind
from gongjian.renewal.enterprises import add_enterprise
from tests.conftest import DatabaseFactory

CITY = Actor.system("test")


@pytest.fixture(scope="module")
def cache_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of this module's own (its writes are committed)."""
    engine = databases.new("kpicache")
    yield engine
    engine.dispose()


def _attract(session: Session, investment: str = "1234.50") -> None:
    add_enterprise(
        session,
        actor=CITY,
        code=f"CACHE-{uuid.uuid4().hex[:8]}",
        name="缓存测试企业",
        kind=EnterpriseKind.attracted,
        investment_wan=Decimal(investment),
        town="石岐",
        agreement_signed_on=today(),
    )


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` executes in the block (transaction control aside)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_the_figures_are_computed_once_until_a_write(cache_engine: Engine) -> None:
    figures_cache.clear()
    with statements(cache_engine) as computing, Session(cache_engine) as session:
        first = headline(session, actor=CITY, as_of=today()).kpi
    with statements(cache_engine) as reading, Session(cache_engine) as session:
        again = headline(session, actor=CITY, as_of=today()).kpi
        assert kpis(session, as_of=today()) == first
    assert again == first
    assert len(computing) > 3
    assert len(reading) == 1  # the audit head's count, nothing else


def test_a_committed_write_changes_the_next_answer(cache_engine: Engine) -> None:
    with Session(cache_engine) as session:
        before = kpis(session, as_of=today())
    with Session(cache_engine) as session:
        _attract(session, "10000.00")
        session.commit()
    with Session(cache_engine) as session:
        after = kpis(session, as_of=today())
    assert after["renewal.attracted"] == before["renewal.attracted"] + 1
    assert after["renewal.investment_yi"] == pytest.approx(before["renewal.investment_yi"] + 1)


def test_a_write_by_another_process_is_seen(cache_engine: Engine) -> None:
    with Session(cache_engine) as session:
        before = kpis(session, as_of=today())
    script = textwrap.dedent(
        """
        import datetime as dt
        from decimal import Decimal
        from sqlalchemy.orm import Session
        from gongjian.auth.actors import Actor
        from gongjian.db import make_engine
        from gongjian.periods import today
        from gongjian.renewal.choices import EnterpriseKind
        from gongjian.renewal.enterprises import add_enterprise
        with Session(make_engine()) as session:
            add_enterprise(
                session, actor=Actor.system("cli"), code="CACHE-OTHER-PROCESS",
                name="另一进程写入的企业", kind=EnterpriseKind.attracted,
                investment_wan=Decimal("1.00"), town="东区", agreement_signed_on=today(),
            )
            session.commit()
        """
    )
    url = cache_engine.url.render_as_string(hide_password=False)
    subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "GONGJIAN_DATABASE_URL": url},
        check=True,
        timeout=120,
    )
    with Session(cache_engine) as session:
        after = kpis(session, as_of=today())
    assert after["renewal.attracted"] == before["renewal.attracted"] + 1


def test_uncommitted_writes_neither_read_nor_fill_the_cache(cache_engine: Engine) -> None:
    with Session(cache_engine) as reader:
        before = kpis(reader, as_of=today())
    with Session(cache_engine) as writer:
        _attract(writer)
        assert not shares_the_cache(writer)
        assert kpis(writer, as_of=today())["renewal.attracted"] == before["renewal.attracted"] + 1
        writer.rollback()
        assert shares_the_cache(writer)
    with Session(cache_engine) as reader:
        assert kpis(reader, as_of=today()) == before


def test_a_session_joining_a_transaction_keeps_out_of_the_cache(cache_engine: Engine) -> None:
    with cache_engine.connect() as connection, connection.begin() as transaction:
        joined = Session(bind=connection, join_transaction_mode="create_savepoint")
        assert not shares_the_cache(joined)
        joined.close()
        transaction.rollback()
    with Session(cache_engine) as session:
        assert shares_the_cache(session)
