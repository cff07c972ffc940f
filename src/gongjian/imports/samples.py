"""Ingesting monitoring samples (``gongjian import samples``, ``POST /api/v1/samples``).

Rows are checked in DuckDB (``sample_check``); points must exist, and the actor must
answer for them (a station for its token's points, a town for its rivers). Re-sent
samples add nothing: the natural key is the point and ``sampled_at``. On PostgreSQL
the rows go through a staging table filled by ``COPY``; on SQLite they are inserted in
batches; either way in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select, text

from gongjian.auth.permissions import authorize_points
from gongjian.config import get_settings
from gongjian.db_types import Exact
from gongjian.errors import Invalid, Problem
from gongjian.imports.base import RAW, BaseImporter
from gongjian.imports.sample_check import (
    CHECKED,
    INDICATORS,
    OPTIONAL,
    REQUIRED,
    SCALE_PLACES,
    check_samples,
)
from gongjian.water.models import MonitoringPoint, River, Sample

MAX_BATCH = 10_000
"""Most samples one API request may carry."""
KNOWN = "known_points"
NUMBERS = (*INDICATORS, *OPTIONAL)
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
        used = self.duck.execute(
            f"SELECT k.id, k.code, k.town_id FROM {KNOWN} k"
            f" WHERE k.code IN (SELECT DISTINCT point_id FROM {CHECKED})"
        ).fetchall()
        authorize_points(self.session, self.actor, {pid: (code, town) for pid, code, town in used})
        return rows

    def _select(self, stamp: str, *, scaled: bool) -> str:
        """The checked rows as the database takes them, with the points' ids: the instant
        as ``stamp`` renders it, numbers as integers in the columns' scale (SQLite) or
        as exact decimals (PostgreSQL)."""
        columns = ["k.id", stamp]
        for name, places in _places().items():
            if scaled:
                columns.append(f"c.{name} // {10 ** (SCALE_PLACES - places)}")
            else:
                columns.append(f"CAST(c.{name} AS DECIMAL(18, 0)) * 0.001::DECIMAL(4, 3)")
        return (
            f"SELECT {', '.join(columns)} FROM {CHECKED} c JOIN {KNOWN} k ON k.code = c.point_id"
            " ORDER BY c.row_no"
        )

    def write(self, import_id: int) -> int:
        connection = self.session.connection()
        driver: Any = connection.connection.driver_connection
        names = ", ".join(("point_id", "sampled_at", *NUMBERS))
        if connection.dialect.name == "sqlite":
            query = self._select(f"strftime({UTC}, '%Y-%m-%d %H:%M:%S.%f')", scaled=True)
            cursor = driver.cursor()
            insert = (
                f"INSERT INTO samples ({names}, import_id)"
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
        query = self._select(f"strftime({UTC}, '%Y-%m-%d %H:%M:%S.%f') || '+00'", scaled=False)
        connection.execute(
            text(
                "CREATE TEMP TABLE IF NOT EXISTS sample_staging (point_id bigint, sampled_at"
                " timestamptz, transparency_cm numeric, do_mg_l numeric, orp_mv numeric,"
                " nh3n_mg_l numeric, depth_cm numeric) ON COMMIT DROP"
            )
        )
        connection.execute(text("TRUNCATE sample_staging"))
        with tempfile.TemporaryDirectory() as folder:
            staged = Path(folder) / "samples.csv"
            self.duck.execute(f"COPY ({query}) TO '{staged}' (FORMAT csv, HEADER false)")
            with (
                driver.cursor() as cursor,
                cursor.copy("COPY sample_staging FROM STDIN (FORMAT csv)") as copy,
                staged.open("rb") as handle,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block)
        inserted = connection.execute(
            text(
                f"INSERT INTO samples ({names}, import_id) SELECT {names}, :import_id"
                " FROM sample_staging ON CONFLICT (point_id, sampled_at) DO NOTHING"
            ),
            {"import_id": import_id},
        )
        return int(inserted.rowcount)


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
