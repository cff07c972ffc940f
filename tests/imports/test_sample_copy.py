"""The bulk path of sample imports on PostgreSQL (SQLite takes batched inserts): rows in
PostgreSQL's binary ``COPY`` format, built from whole columns, arrive exactly as the
values they stand for; the rows streamed to ``COPY`` while they are made arrive once,
and either side failing ends both, raises, and keeps nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from sqlalchemy import make_url

from gongjian.imports import pgcopy
from tests.conftest import PG_ADMIN_URL

CSV = "COPY copied FROM STDIN (FORMAT csv)"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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


def _csv(first: int, last: int) -> bytes:
    return "".join(f"{n},row {n}\n" for n in range(first, last)).encode()


def _microseconds(at: dt.datetime) -> int:
    return (at - EPOCH) // dt.timedelta(microseconds=1)


#: (integer, instant, numeric(8,2), numeric(8,3), numeric(9,3)): numbers at the edges
#: of the layout (signs, zero, one unit, every place, the largest whole part), NULLs in
#: some columns, all or none, instants before and after 2000 (PostgreSQL's zero).
ROWS = [
    (1, dt.datetime(2023, 2, 1, 1, 30, tzinfo=dt.UTC), "35.5", "-0.05", "99999999.999"),
    (2, dt.datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC), "0.2", "0", None),
    (3, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), None, None, None),
    (
        2_000_000_000,
        dt.datetime(2038, 1, 19, 3, 14, 8, 120, tzinfo=dt.UTC),
        "-999999.99",
        "0.001",
        "-1000",
    ),
]


def test_binary_rows_hold_the_exact_values(pg: psycopg.Connection) -> None:
    numbers = [[None if v is None else Decimal(v) for v in row[2:]] for row in ROWS]
    columns: list[pgcopy.Column] = [
        pgcopy.Integers(np.array([row[0] for row in ROWS])),
        pgcopy.Instants(np.array([_microseconds(row[1]) for row in ROWS])),
    ]
    for n, scale in enumerate((2, 3, 3)):
        values = [row[n] for row in numbers]
        columns.append(
            pgcopy.Decimals(
                np.array([0 if v is None else int(v * 1000) for v in values]),
                np.array([v is None for v in values]),
                places=3,
                scale=scale,
            )
        )
    pg.execute(
        "CREATE TEMP TABLE typed (n integer, at timestamptz, a numeric(8,2),"
        " b numeric(8,3), c numeric(11,3))"
    )
    with pg.cursor() as cursor, cursor.copy("COPY typed FROM STDIN (FORMAT binary)") as copy:
        copy.write(pgcopy.HEADER + pgcopy.encode(columns) + pgcopy.TRAILER)
    stored = pg.execute("SELECT n, at, a, b, c FROM typed ORDER BY n").fetchall()
    assert stored == [(*row[:2], *values) for row, values in zip(ROWS, numbers, strict=True)]
    assert pg.execute("SELECT a::text, b::text FROM typed WHERE n = 1").fetchone() == (
        "35.50",
        "-0.050",
    )


def test_a_number_too_large_for_the_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="100,000,000"):
        pgcopy.encode([pgcopy.Decimals(np.array([10**11]), np.array([False]), places=3, scale=2)])


def test_the_rows_of_every_chunk_arrive_once(pg: psycopg.Connection) -> None:
    chunks = iter([_csv(0, 100_000), b"", _csv(100_000, 250_000)])
    assert pgcopy.copy_streamed(pg, CSV, chunks) == 250_000
    assert _copied(pg) == (250_000, 250_000, 0, 249_999)


def test_making_a_chunk_failing_midway_raises_and_keeps_nothing(pg: psycopg.Connection) -> None:
    def chunks() -> Iterator[bytes]:
        yield _csv(0, 100_000)
        raise RuntimeError("the second part could not be read")

    with pytest.raises(RuntimeError, match="second part"), pg.transaction():
        pgcopy.copy_streamed(pg, CSV, chunks())
    assert _copied(pg) == (0, 0, None, None)


def test_postgresql_refusing_a_row_stops_the_writer_and_raises(pg: psycopg.Connection) -> None:
    """The first row breaks NOT NULL while two million more are to come: the copy ends
    with PostgreSQL's refusal, and the writer does not wait on the pipe forever."""

    def chunks() -> Iterator[bytes]:
        yield b",null\n"
        for first in range(0, 2_000_000, 100_000):
            yield _csv(first, first + 100_000)

    with pytest.raises(psycopg.errors.NotNullViolation), pg.transaction():
        pgcopy.copy_streamed(pg, CSV, chunks())
    assert _copied(pg) == (0, 0, None, None)
