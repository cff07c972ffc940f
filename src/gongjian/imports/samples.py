"""Ingesting monitoring samples (``gongjian import samples``, ``POST /api/v1/samples``).

Rows are checked in DuckDB (``sample_check``); points must exist, and the actor must
answer for them (a station for its token's points, a town for its rivers). Re-sent
samples add nothing: the natural key is the point and ``sampled_at``. On PostgreSQL the
keys already stored within the batch's span are read first and the rows they name left
out, and the rest are copied with ``COPY`` straight into ``samples`` (through a staging
table with ``ON CONFLICT DO NOTHING`` only when another transaction stored one of them
meanwhile); on SQLite they are inserted in batches; either way in the caller's
transaction, sorted by point and instant (the order of the natural key's index).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError

from gongjian.auth.permissions import authorize_points
from gongjian.config import get_settings
from gongjian.db_errors import explain
from gongjian.db_types import Exact
from gongjian.errors import Invalid, Problem
from gongjian.imports import pgcopy
from gongjian.imports.base import RAW, BaseImporter
from gongjian.imports.sample_check import (
    CHECKED,
    INDICATORS,
    KEYED,
    OPTIONAL,
    POINT_KEYS,
    REQUIRED,
    SAMPLINGS,
    SCALE_PLACES,
    check_samples,
)
from gongjian.water.models import MonitoringPoint, River, Sample

MAX_BATCH = 10_000
"""Most samples one API request may carry."""
KNOWN = "known_points"
POINT_IDS = "sample_point_ids"
"""The points the rows name: ``point_key`` (the check's number), ``id``, ``code``,
``town_id``."""
STORED = "stored_sample_keys"
"""The natural keys already stored within the batch's spans (PostgreSQL)."""
PART_ROWS = 62_500
"""Rows DuckDB reads and sorts at a time while PostgreSQL stores the previous ones."""
NUMBERS = (*INDICATORS, *OPTIONAL)
COLUMNS = ", ".join(("point_id", "sampled_at", *NUMBERS))
INSERT_CHUNK = 50_000
UTC = "c.sampled_at AT TIME ZONE 'UTC'"


def _places() -> dict[str, int]:
    """Decimal places each number keeps in the database (its column's scale)."""
    places = {}
    for name in NUMBERS:
        kind = Sample.__table__.c[name].type
        assert isinstance(kind, Exact)
        places[name] = kind.scale
    return places


class SampleImporter(BaseImporter):
    """Monitoring samples from CSV (UTF-8 or GBK/GB18030), Parquet or Excel."""

    kind = "samples"
    resource = "sample"
    label = "监测数据"
    first_row = 2
    """The number problems give the first data row: 2 in a file (the header is row 1)."""
    rows = 0
    """How many rows the check passed (``validate``): the parts ``write`` copies."""

    def validate(self, source: str) -> int:
        points = self.session.execute(
            select(MonitoringPoint.code, MonitoringPoint.id, River.lead_town_id).join(
                River, River.id == MonitoringPoint.river_id
            )
        ).all()
        self.duck.register(
            "known_points_arrow",
            pa.table(
                {
                    "code": pa.array([p[0] for p in points], pa.string()),
                    "id": pa.array([p[1] for p in points], pa.int64()),
                    "town_id": pa.array([p[2] for p in points], pa.int64()),
                }
            ),
        )
        self.duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {KNOWN} AS SELECT * FROM known_points_arrow"
        )
        rows = check_samples(
            self.duck,
            RAW,
            file=source,
            zone=get_settings().timezone,
            places=_places(),
            known_points=KNOWN,
            first_row=self.first_row,
        )
        # The check numbered the points; their database ids by that number, for the
        # points the rows name (SAMPLINGS lists each once).
        self.duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {POINT_IDS} AS SELECT k.point_key, n.id, n.code,"
            f" n.town_id FROM {POINT_KEYS} k JOIN {KNOWN} n ON n.code = k.point_id"
            f" WHERE k.point_id IN (SELECT point_id FROM {SAMPLINGS})"
        )
        used = self.duck.execute(f"SELECT id, code, town_id FROM {POINT_IDS}").fetchall()
        authorize_points(self.session, self.actor, {pid: (code, town) for pid, code, town in used})
        self.rows = rows
        return rows

    def _select(self, stamp: str, *, scaled: bool, where: str = "") -> str:
        """The checked rows as the database takes them, ordered by point and instant (the
        order of the natural key's index): the point's id, the instant as ``stamp``
        renders it, numbers as integers in the columns' scale (``scaled``, SQLite) or in
        thousandths; ``where`` filters them (``c.row_no`` is a row's number in
        messages)."""
        columns = ["i.id AS point_id", f"{stamp} AS sampled_at"]
        for name, places in _places().items():
            divisor = 10 ** (SCALE_PLACES - places) if scaled else 1
            columns.append(f"c.{name} // {divisor} AS {name}")
        return (
            f"SELECT {', '.join(columns)} FROM {CHECKED} c JOIN {POINT_IDS} i"
            f" ON i.code = c.point_id {where} ORDER BY i.id, c.sampled_at"
        )

    def write(self, import_id: int) -> int:
        connection = self.session.connection()
        driver: Any = connection.connection.driver_connection
        try:
            if connection.dialect.name == "sqlite":
                return self._write_sqlite(driver, import_id)
            return self._write_postgresql(connection, driver, import_id)
        except (psycopg.IntegrityError, sqlite3.IntegrityError) as exc:
            # Written through the driver, a refusal (a point removed since the check)
            # comes unwrapped: told in words like any other refused write.
            raise explain(IntegrityError(None, None, exc)) from exc

    def _write_sqlite(self, driver: Any, import_id: int) -> int:
        """Batched inserts in the caller's transaction; the natural key skips re-sent
        samples."""
        query = self._select(f"strftime({UTC}, '%Y-%m-%d %H:%M:%S.%f')", scaled=True)
        cursor = driver.cursor()
        insert = (
            f"INSERT INTO samples ({COLUMNS}, import_id)"
            f" VALUES ({', '.join('?' * (2 + len(NUMBERS)))}, {import_id})"
            " ON CONFLICT (point_id, sampled_at) DO NOTHING"
        )
        added = 0
        result = self.duck.execute(query)
        while chunk := result.fetchmany(INSERT_CHUNK):
            cursor.executemany(insert, chunk)
            added += max(cursor.rowcount, 0)
        cursor.close()
        return added

    def _write_postgresql(self, connection: Connection, driver: Any, import_id: int) -> int:
        """``COPY`` in the caller's transaction. The natural keys already stored for these
        points within each point's span of instants are read first (one range scan of
        the key's index per point), and the rows they name are left out, so re-sent
        samples add nothing; the rest are copied straight into ``samples`` in the binary
        format, in parts each sorted by the natural key, while the next part is made.
        Should another transaction store one of them meanwhile (the copy then breaks the
        primary key), the copy is undone to a savepoint and the rows go through a staging
        table with ``ON CONFLICT DO NOTHING`` instead."""
        with tempfile.TemporaryDirectory() as folder:
            spans, stored = Path(folder) / "spans.csv", Path(folder) / "stored.csv"
            self.duck.execute(
                f"COPY (SELECT i.id, {_utc('min(c.sampled_at)')}, {_utc('max(c.sampled_at)')}"
                f" FROM {KEYED} c JOIN {POINT_IDS} i ON i.point_key = c.point_key GROUP BY i.id)"
                f" TO '{spans}' (FORMAT csv, HEADER false)"
            )
            connection.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS sample_spans (point_id integer,"
                    " first_at timestamptz, last_at timestamptz) ON COMMIT DROP"
                )
            )
            connection.execute(text("TRUNCATE sample_spans"))
            with spans.open("rb") as rows:
                pgcopy.copy_in(driver, "COPY sample_spans FROM STDIN (FORMAT csv)", rows)
            # One range scan of the key's index per point (a join the planner would make
            # a scan of every sample), compiled at once: JIT costs more than it saves.
            connection.execute(text("SET LOCAL jit = off"))
            pgcopy.copy_out(
                driver,
                "COPY (SELECT s.point_id, (extract(epoch FROM s.sampled_at) * 1000000)::bigint"
                " FROM sample_spans r CROSS JOIN LATERAL (SELECT s.point_id, s.sampled_at"
                " FROM samples s WHERE s.point_id = r.point_id"
                " AND s.sampled_at BETWEEN r.first_at AND r.last_at OFFSET 0) s)"
                " TO STDOUT (FORMAT csv)",
                stored,
            )
            connection.execute(text("RESET jit"))
            self.duck.execute(
                f"CREATE OR REPLACE TEMP TABLE {STORED} AS SELECT * FROM read_csv(?,"
                " header = false, auto_detect = false, delim = ',',"
                " columns = {'point_id': 'BIGINT', 'us': 'BIGINT'})",
                [str(stored)],
            )
        # In parts of consecutive rows, each sorted by the natural key: PostgreSQL starts
        # storing the first part while DuckDB reads and sorts the next.
        stored_keys = (
            f"NOT EXISTS (SELECT 1 FROM {STORED} s WHERE s.point_id = i.id"
            " AND s.us = epoch_us(c.sampled_at))"
        )
        queries = [
            self._select(
                "epoch_us(c.sampled_at)",
                scaled=False,
                where=f"WHERE c.row_no BETWEEN {first} AND {first + PART_ROWS - 1}"
                f" AND {stored_keys}",
            )
            for first in range(self.first_row, self.first_row + self.rows, PART_ROWS)
        ]
        # DuckDB on one thread: the server's backend needs the other core more.
        (threads,) = self.duck.execute("SELECT current_setting('threads')").fetchone() or (1,)
        self.duck.execute("SET threads = 1")
        try:
            with driver.transaction():  # a savepoint: the caller's transaction is open
                return pgcopy.copy_streamed(
                    driver,
                    f"COPY samples ({COLUMNS}, import_id) FROM STDIN (FORMAT binary)",
                    _binary_rows(self.duck, queries, import_id),
                )
        except UniqueViolation:
            return self._write_staged(connection, driver, queries, import_id)
        finally:
            self.duck.execute(f"SET threads = {int(threads)}")

    def _write_staged(
        self, connection: Connection, driver: Any, queries: list[str], import_id: int
    ) -> int:
        """The rows of DuckDB's ``queries`` through a temporary staging table, skipping those
        whose natural key is already stored."""
        connection.execute(
            text("CREATE TEMP TABLE IF NOT EXISTS sample_staging (LIKE samples) ON COMMIT DROP")
        )
        connection.execute(text("TRUNCATE sample_staging"))
        pgcopy.copy_streamed(
            driver,
            "COPY sample_staging FROM STDIN (FORMAT binary)",
            _binary_rows(self.duck, queries, import_id),
        )
        inserted = connection.execute(
            text(
                f"INSERT INTO samples ({COLUMNS}, import_id) SELECT {COLUMNS}, import_id"
                " FROM sample_staging ON CONFLICT (point_id, sampled_at) DO NOTHING"
            )
        )
        return int(inserted.rowcount)


def _binary_rows(
    duck: duckdb.DuckDBPyConnection, queries: list[str], import_id: int
) -> Iterator[bytes]:
    """The rows of ``queries`` (point id, instant in microseconds, numbers in
    thousandths), then ``import_id``, in PostgreSQL's binary ``COPY`` format, a query's
    rows at a time."""
    yield pgcopy.HEADER
    for query in queries:
        part = duck.execute(query).to_arrow_table()
        if not part.num_rows:
            continue
        columns: list[pgcopy.Column] = [
            pgcopy.Integers(part["point_id"].to_numpy()),
            pgcopy.Instants(part["sampled_at"].to_numpy()),
        ]
        for name, scale in _places().items():
            values = part[name]
            columns.append(
                pgcopy.Decimals(
                    values.fill_null(0).to_numpy(),
                    values.is_null().to_numpy(),
                    places=SCALE_PLACES,
                    scale=scale,
                )
            )
        columns.append(pgcopy.Integers(np.full(part.num_rows, import_id)))
        yield pgcopy.encode(columns)
    yield pgcopy.TRAILER


def _utc(instant: str) -> str:
    """DuckDB SQL: a TIMESTAMPTZ as PostgreSQL reads it exactly (UTC, the fraction of a
    second only when there is one)."""
    return f"CAST({instant} AT TIME ZONE 'UTC' AS VARCHAR) || '+00'"


def batch_to_duckdb(importer: SampleImporter, samples: list[dict[str, Any]]) -> str:
    """Put an API batch into the importer's ``raw_rows`` (every value as text, as a file
    would have it; the first sample is row 1) and return its SHA-256 (of its canonical
    JSON)."""
    if len(samples) > MAX_BATCH:
        raise Invalid(
            f"一次最多提交 {MAX_BATCH} 条监测数据，本次 {len(samples)} 条",
            [Problem(f"请拆分为不超过 {MAX_BATCH} 条的批次", column="samples")],
        )
    columns = list(dict.fromkeys([*REQUIRED, *OPTIONAL, *(k for s in samples for k in s)]))
    table = pa.table(
        {
            column: pa.array([_text(sample.get(column)) for sample in samples], pa.string())
            for column in columns
        }
    )
    importer.first_row = 1
    importer.duck.register("batch_arrow", table)
    importer.duck.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM batch_arrow")
    canonical = json.dumps(samples, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: Any) -> str | None:
    """A JSON value as a file's cell: numbers written out exactly, absent as empty."""
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
