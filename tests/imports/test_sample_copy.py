"""Rows streamed from DuckDB into PostgreSQL's ``COPY`` while DuckDB writes them (the
bulk path of sample imports on PostgreSQL; SQLite takes batched inserts): every row of
every query arrives once, and either side failing ends both, raises, and keeps nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import psycopg
import pytest
from sqlalchemy import make_url

from gongjian.imports.samples import _copy_streamed
from tests.conftest import PG_ADMIN_URL

COPY = "COPY copied FROM STDIN (FORMAT csv)"


@pytest.fixture
def pg() -> Iterator[psycopg.Connection]:
    """A PostgreSQL connection with an empty temporary table ``copied``."""
    url = make_url(PG_ADMIN_URL)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database
    ) as connection:
        connection.execute("CREATE TEMP TABLE copied (n integer NOT NULL, label text)")
        yield connection
        connection.rollback()


def _copied(pg: psycopg.Connection) -> tuple[int, int, int | None, int | None]:
    row = pg.execute("SELECT count(*), count(DISTINCT n), min(n), max(n) FROM copied").fetchone()
    assert row is not None
    return row


def test_the_rows_of_every_query_arrive_once(pg: psycopg.Connection) -> None:
    queries = [
        f"SELECT n, 'row ' || n FROM range({first}, {last}) t(n)"
        for first, last in ((0, 100_000), (100_000, 100_000), (100_000, 250_000))
    ]
    assert _copy_streamed(duckdb.connect(), queries, pg, COPY) == 250_000
    assert _copied(pg) == (250_000, 250_000, 0, 249_999)


def test_duckdb_failing_midway_raises_and_keeps_nothing(pg: psycopg.Connection) -> None:
    queries = [
        "SELECT n, 'fine' FROM range(100000) t(n)",
        "SELECT CAST('x' || n AS INTEGER), 'broken' FROM range(10) t(n)",
    ]
    with pytest.raises(duckdb.Error), pg.transaction():
        _copy_streamed(duckdb.connect(), queries, pg, COPY)
    assert _copied(pg) == (0, 0, None, None)


def test_postgresql_refusing_a_row_stops_duckdb_and_raises(pg: psycopg.Connection) -> None:
    """The first row breaks NOT NULL while DuckDB has two million more to write: the copy
    ends with PostgreSQL's refusal, and DuckDB does not wait on the pipe forever."""
    queries = ["SELECT CASE WHEN n = 0 THEN NULL ELSE n END, 'x' FROM range(2000000) t(n)"]
    with pytest.raises(psycopg.errors.NotNullViolation), pg.transaction():
        _copy_streamed(duckdb.connect(), queries, pg, COPY)
    assert _copied(pg) == (0, 0, None, None)
