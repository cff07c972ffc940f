"""Load the synthetic demo city (示例数据): deterministic for a seed, on SQLite or PostgreSQL.

Everything is built in memory first (``water``, ``renewal``, ``campaign``), then written
in one transaction: tables in foreign-key order with explicit ids, the samples by the
fastest path each database has (``COPY`` on PostgreSQL, one batched insert on SQLite),
the commitments last because their targets come from the KPIs of what was written.
Then every month is graded and the baseline frozen on 2022-01-01, as the city would.
The load is one entry in the audit log.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.db import Base
from gongjian.demo import campaign, portal, renewal, water
from gongjian.demo.common import DEMO_ACTOR, MONITORING_START, SCALES, Demo
from gongjian.errors import Conflict, Invalid, Problem
from gongjian.kpi.services import figures_by_town
from gongjian.models import River, Town
from gongjian.towns.data import TOWNS
from gongjian.towns.services import ensure_towns
from gongjian.water.assessment import assess_periods, sampled_months
from gongjian.water.baseline import freeze_baseline

Progress = Callable[[str, int, int], None]

#: The demo accounts ``make demo`` prints: (username, password, role, town, display name).
DEMO_USERS: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("admin", "gongjian-admin", Role.admin.value, None, "平台管理员"),
    ("gaigeban", "gongjian-gaigeban", Role.city.value, None, "市工改办"),
    ("zhishuiban", "gongjian-zhishuiban", Role.city.value, None, "市治水办"),
    ("shenji", "gongjian-shenji", Role.auditor.value, None, "市审计局"),
    *(
        (
            f"town-{seed.name_en.split()[0].lower()}",
            f"gongjian-{seed.code[-3:]}",
            Role.town.value,
            seed.name,
            f"{seed.name}操作员",
        )
        for seed in TOWNS
    ),
)

SAMPLE_COLUMNS = "point_id, sampled_at, transparency_cm, do_mg_l, orp_mv, nh3n_mg_l, depth_cm"
CHUNK = 100_000
COPY_NULL = "\\N"
REPORT_YEAR_END = dt.date(2022, 12, 31)
BASELINE_DAY = dt.date(2022, 1, 1)
"""The central inspection's date: the baseline is frozen from the grades of 2021-12."""


def build_city(
    seed: int, scale: str, town_rows: list[tuple[int, str, str]], report: Progress
) -> tuple[Demo, list[water.DemoRiver]]:
    """Every row of the demo city but the samples and the commitments, in memory; the
    rivers, from which ``water.samples`` draws the samples."""
    demo = Demo(seed, SCALES[scale], town_rows)
    report("生成示例城市", 0, 3)
    rivers = water.build(demo)
    report("生成示例城市", 1, 3)
    parcels = renewal.build(demo)
    report("生成示例城市", 2, 3)
    campaign.build(demo, rivers, parcels)
    portal.build(demo)
    report("生成示例城市", 3, 3)
    return demo, rivers


def load_demo(
    engine: Engine, *, seed: int = 7, scale: str = "small", progress: Progress | None = None
) -> dict[str, int]:
    """Generate the demo city into an empty, migrated database; return rows per table."""
    if scale not in SCALES:
        raise Invalid(
            "未知的示例规模",
            [Problem("只能是 small 或 city", column="scale", value=scale)],
        )
    report = progress or (lambda _step, _done, _total: None)
    actor = Actor.system(DEMO_ACTOR)
    with Session(engine) as session, session.begin():
        if session.scalar(select(func.count()).select_from(River)):
            raise Conflict("数据库中已有数据；要重新生成示例城市，请加 --reset")
        ensure_towns(session, actor=actor)
        towns = session.execute(select(Town.id, Town.code, Town.name).order_by(Town.id))
        demo, rivers = build_city(seed, scale, [(i, c, n) for i, c, n in towns], report)
        connection = session.connection()
        counts = _write(connection, demo, report)
        counts["samples"] = _write_samples(connection, water.samples(demo, rivers), report)
        campaign.commitments(demo, figures_by_town(session, REPORT_YEAR_END))
        counts |= _write(connection, demo, report)
        _reset_sequences(connection, counts)
        for username, password, role, town, display_name in DEMO_USERS:
            add_user(
                session,
                actor=actor,
                username=username,
                password=password,
                role=Role(role),
                town=town,
                display_name=display_name,
            )
        counts["users"] = len(DEMO_USERS)
        months = sampled_months(session)
        assess_periods(session, actor=actor, periods=months, progress=report)
        counts["assessments"] = len(months)
        baseline = freeze_baseline(session, actor=actor, as_of=BASELINE_DAY)
        counts["baseline_members"] = len(baseline.members)
        record(
            session,
            actor=actor,
            action="demo",
            resource="demo",
            detail=f"载入示例城市（示例数据）seed={seed}，scale={scale}："
            + "，".join(f"{table} {n}" for table, n in sorted(counts.items())),
        )
    return counts


def _write(connection: Connection, demo: Demo, report: Progress) -> dict[str, int]:
    """Insert the rows built so far, parents before children, and forget them."""
    counts = {}
    tables = [t for t in Base.metadata.sorted_tables if demo.rows.get(t.name)]
    for done, table in enumerate(tables, start=1):
        rows = demo.rows.pop(table.name)
        for start in range(0, len(rows), 10_000):
            connection.execute(table.insert(), rows[start : start + 10_000])
        counts[table.name] = len(rows)
        report("写入记录", done, len(tables))
    return counts


def _write_samples(connection: Connection, samples: water.Samples, report: Progress) -> int:
    """Write every sample: ``COPY`` on PostgreSQL, one batched insert on SQLite."""
    raw: Any = connection.connection.driver_connection
    total = len(samples)
    if connection.dialect.name == "postgresql":
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY samples ({SAMPLE_COLUMNS}) FROM STDIN") as copy,
        ):
            for done, chunk in _pg_chunks(samples):
                copy.write(chunk)
                report("写入监测数据", done, total)
    else:
        placeholders = ", ".join("?" * len(SAMPLE_COLUMNS.split(", ")))
        cursor = raw.cursor()
        for done, rows in _sqlite_chunks(samples):
            cursor.executemany(
                f"INSERT INTO samples ({SAMPLE_COLUMNS}) VALUES ({placeholders})", rows
            )
            report("写入监测数据", done, total)
        cursor.close()
    return total


def _days(samples: water.Samples) -> list[str]:
    last = int(samples.day.max()) + 1
    return [f"{MONITORING_START + dt.timedelta(days=d):%Y-%m-%d}" for d in range(last)]


def _utc_times(samples: water.Samples) -> list[str]:
    """Minutes after 09:00 city time (01:00 UTC, same day) as UTC clock times."""
    return [f" {1 + m // 60:02d}:{m % 60:02d}:00" for m in range(int(samples.minute.max()) + 1)]


def _with_gaps(
    values: np.ndarray, missing: np.ndarray, show: Callable[[Any], Any], gap: Any = None
) -> list[Any]:
    """``show(value)`` for each value, ``gap`` where it was not measured."""
    return [
        gap if absent else show(v)
        for v, absent in zip(values.tolist(), missing.tolist(), strict=True)
    ]


def _sqlite_chunks(samples: water.Samples) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    """Rows as SQLite stores them: naive UTC text, decimals as integers scaled by the
    columns' places (transparency and depth ×100, DO and NH3-N ×1000, ORP ×100)."""
    days, times = _days(samples), _utc_times(samples)
    for start in range(0, len(samples), CHUNK):
        part = slice(start, start + CHUNK)
        gaps = samples.missing[part]
        stamps = [
            days[d] + times[m] + ".000000"
            for d, m in zip(samples.day[part].tolist(), samples.minute[part].tolist(), strict=True)
        ]
        rows = zip(
            samples.point_id[part].tolist(),
            stamps,
            _with_gaps(samples.transparency_tenth_cm[part] * 10, gaps[:, 0], int),
            _with_gaps(samples.do_hundredth_mg_l[part] * 10, gaps[:, 1], int),
            _with_gaps(samples.orp_mv[part] * 100, gaps[:, 2], int),
            _with_gaps(samples.nh3n_hundredth_mg_l[part] * 10, gaps[:, 3], int),
            (samples.depth_cm[part] * 100).tolist(),
            strict=True,
        )
        yield min(start + CHUNK, len(samples)), list(rows)


def _tenths(v: int) -> str:
    return f"{v // 10}.{v % 10}"


def _hundredths(v: int) -> str:
    return f"{v // 100}.{v % 100:02d}"


def _pg_chunks(samples: water.Samples) -> Iterator[tuple[int, str]]:
    """Rows as ``COPY`` text: tab-separated, ``\\N`` for a value not measured."""
    days, times = _days(samples), _utc_times(samples)
    for start in range(0, len(samples), CHUNK):
        part = slice(start, start + CHUNK)
        gaps = samples.missing[part]
        columns = zip(
            samples.point_id[part].tolist(),
            samples.day[part].tolist(),
            samples.minute[part].tolist(),
            _with_gaps(samples.transparency_tenth_cm[part], gaps[:, 0], _tenths, COPY_NULL),
            _with_gaps(samples.do_hundredth_mg_l[part], gaps[:, 1], _hundredths, COPY_NULL),
            _with_gaps(samples.orp_mv[part], gaps[:, 2], str, COPY_NULL),
            _with_gaps(samples.nh3n_hundredth_mg_l[part], gaps[:, 3], _hundredths, COPY_NULL),
            samples.depth_cm[part].tolist(),
            strict=True,
        )
        buffer = io.StringIO()
        for point, d, m, t, do, orp, nh3n, depth in columns:
            buffer.write(f"{point}\t{days[d]}{times[m]}+00\t{t}\t{do}\t{orp}\t{nh3n}\t{depth}\n")
        yield min(start + CHUNK, len(samples)), buffer.getvalue()


def _reset_sequences(connection: Connection, counts: dict[str, int]) -> None:
    """After explicit ids, PostgreSQL's sequences must continue after the largest."""
    if connection.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        if counts.get(table.name) and "id" in table.c:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                    f" (SELECT MAX(id) FROM {table.name}))"
                )
            )
