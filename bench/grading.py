"""Grading black-odorous water at scale: ``grade-file``, the Ibis engine alone, a pandas
baseline, the bare cost of a scan, ``assess`` inside the databases, and ingestion.

The data: 20 million samples of 5,000 points on 1,000 water bodies over 2022, as Parquet
(typed DOUBLE values, TIMESTAMPTZ instants, text point ids). January holds the first 2
million (400 samplings a point); the other 18 million fill February to December. Points
are clean, mild, severe or mixed by their number; one in fifty has only two samplings
(insufficient, the rest of its rows going to the next point a minute later); one in ten
stands in shallow water. Every engine must give the same grades: the 20 million in
``grade-file``, Ibis alone and pandas; January in those and in ``assess`` on SQLite and
PostgreSQL. Ingestion imports one million February samples from CSV into each database.

Baselines: pandas (boolean columns, ``groupby``, exact count comparisons, written plainly)
for the engine, and the bare cost of summing the four indicator columns in DuckDB for the
floor any grading over a scan has.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from _common import drop_database, fresh_database, peak_rss_mb, write_result
from gongjian.auth.actors import Actor
from gongjian.imports.samples import SampleImporter
from gongjian.periods import parse_period
from gongjian.water.assessment import assess
from gongjian.water.choices import Grade
from gongjian.water.gradefile import DUCKDB_CONFIG, FILE_SCALES
from gongjian.water.grading import point_grades, water_body_grades
from gongjian.water.models import MonitoringPoint
from gongjian.water.rules import Rules, Worse, load_rules

SAMPLES = 20_000_000
POINTS = 5_000
POINTS_PER_BODY = 5
JANUARY = 2_000_000
"""The first samples, in January 2022: the subset every engine grades."""
INGESTED = 1_000_000
"""Samples imported from CSV into each database (from February)."""
TARGET_SECONDS = 4.0
RUNS = 3
"""Timed runs of each engine; the fastest counts (the machine is shared)."""
SCALE = 1000
ACTOR = Actor.system("bench")
INDICATORS = ("transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l")
Grades = dict[str, str]


def _generate(folder: Path) -> tuple[Path, Path, Path]:
    """Write the samples, their January subset and the points as Parquet."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'Asia/Shanghai'")
    points = folder / "points.parquet"
    samples = folder / "samples.parquet"
    january = folder / "january.parquet"
    connection.execute(
        f"COPY (SELECT printf('P%05d', p) AS point_id, printf('W%04d', p // {POINTS_PER_BODY})"
        f" AS water_body_id, CAST(300 * (p % {POINTS_PER_BODY}) AS DECIMAL(12, 1)) AS chainage_m"
        f" FROM range({POINTS}) t(p)) TO '{points}' (FORMAT parquet)"
    )
    per_point = JANUARY // POINTS
    # u(n): a uniform draw in [0, 1) from the row and a salt, the same on every run.
    u = "(hash(i, {}) % 1000000) / 1000000.0"
    rows = (
        f"SELECT i, i % {POINTS} AS p, i // {POINTS} AS k, {u.format(1)} AS a,"
        f" {u.format(2)} AS b, {u.format(3)} AS c, {u.format(4)} AS d, {u.format(5)} AS e"
        f" FROM range({SAMPLES}) t(i)"
    )
    # Profiles by point: 0-3 clean, 4-5 mild by NH3-N, 6 mild by DO and ORP (two at 30%),
    # 7-8 severe by DO, 9 severe by transparency and NH3-N (two at 30%).
    profile = "p % 10"
    shallow = "p % 10 = 3 OR p % 10 = 8"
    values = (
        f"round(CASE WHEN {profile} = 9 AND a < 0.4 THEN 2 + 7 * b"
        f" WHEN {shallow} THEN 4 + 16 * b ELSE 26 + 60 * b END, 1) AS transparency_cm,"
        f" round(CASE WHEN {profile} IN (7, 8) AND a < 0.7 THEN 0.19 * c"
        f" WHEN {profile} = 6 AND a < 0.35 THEN 0.5 + 1.5 * c ELSE 2.1 + 6 * c END, 2)"
        " AS do_mg_l,"
        f" CASE WHEN e < 0.05 THEN NULL WHEN {profile} = 6 AND a < 0.35 THEN round(-150 * d, 1)"
        " ELSE round(60 + 200 * d, 1) END AS orp_mv,"
        f" round(CASE WHEN {profile} IN (4, 5) AND a < 0.65 THEN 8 + 7 * d"
        f" WHEN {profile} = 9 AND a < 0.35 THEN 15.5 + 10 * d ELSE 7.9 * d END, 2)"
        " AS nh3n_mg_l,"
        f" CASE WHEN {shallow} THEN round(15 + 9 * e, 1) ELSE round(50 + 200 * e, 1) END"
        " AS depth_cm"
    )
    january_step = 31 * 86_400 // per_point
    rest_step = (365 - 31) * 86_400 // (SAMPLES // POINTS - per_point)
    # One point in fifty keeps two samplings; its later rows go to the next point, a
    # minute later (never another point of that kind, so no instant repeats).
    moved = "p % 50 = 7 AND k >= 2"
    instant = (
        f"TIMESTAMPTZ '2022-01-01 00:30:00+08' + to_seconds(CASE WHEN k < {per_point}"
        f" THEN k * {january_step} ELSE 31 * 86400 + (k - {per_point}) * {rest_step} END"
        f" + CASE WHEN {moved} THEN 60 ELSE 0 END)"
    )
    connection.execute(
        f"COPY (SELECT printf('P%05d', CASE WHEN {moved} THEN p + 1 ELSE p END) AS point_id,"
        f" {instant} AS sampled_at, {values} FROM ({rows}) ORDER BY i)"
        f" TO '{samples}' (FORMAT parquet, ROW_GROUP_SIZE 122880)"
    )
    connection.execute(
        f"COPY (SELECT * FROM '{samples}' WHERE sampled_at < TIMESTAMPTZ '2022-02-01 00:00:00+08')"
        f" TO '{january}' (FORMAT parquet)"
    )
    connection.close()
    return samples, january, points


def _best(run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``RUNS`` runs, in seconds, and the last run's result."""
    times, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def _grade_file_run(samples: Path, points: Path, out: Path) -> dict[str, Any]:
    """``grade_file`` in a process of its own: its seconds, peak memory and grades."""
    # The peak is read from /proc (VmHWM): ru_maxrss would carry over this process's.
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "started = time.perf_counter()\n"
        "from gongjian.water.gradefile import grade_file\n"
        "imported = time.perf_counter()\n"
        "grade_file(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))\n"
        "done = time.perf_counter()\n"
        "status = Path('/proc/self/status').read_text().splitlines()\n"
        "peak = next(int(s.split()[1]) for s in status if s.startswith('VmHWM'))\n"
        "print(json.dumps({'seconds': done - imported, 'import_seconds': imported - started,"
        " 'peak_rss_mb': peak / 1024}))\n"
    )
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", script, str(samples), str(points), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    return figures


def _grade_file(samples: Path, points: Path, out: Path, rows: int) -> tuple[dict[str, Any], Grades]:
    runs = [_grade_file_run(samples, points, out) for _ in range(RUNS)]
    best = min(runs, key=lambda r: r["seconds"])
    grades = dict(pd.read_csv(out / "points.csv", dtype=str)[["point_id", "grade"]].values)
    figures = {
        "seconds": round(best["seconds"], 2),
        "seconds_all_runs": [round(r["seconds"], 2) for r in runs],
        "process_seconds_with_imports": round(best["process_seconds"], 2),
        "import_seconds": round(best["import_seconds"], 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "samples_per_second": round(rows / best["seconds"]),
    }
    return figures, grades


NUMBERS = ", ".join(f"CAST({c} * {SCALE} AS BIGINT) AS {c}" for c in (*INDICATORS, "depth_cm"))
"""The numbers of a sample in thousandths, as ``grade-file``'s check gives them."""


def _checked(connection: duckdb.DuckDBPyConnection, samples: Path, points: Path) -> None:
    """The checked samples and points in memory as the database holds them for ``assess``:
    each point by its number (``point_id``, numbered in the order of the text ids, which
    the points keep as ``code``), numbers as integers in thousandths. (``grade-file``
    groups by the text ids the file gives: numbering them would cost it a join of every
    sample, more than the grouping by number saves end to end.)"""
    connection.execute(
        "CREATE OR REPLACE TABLE point_keys AS SELECT point_id AS code,"
        " CAST(row_number() OVER (ORDER BY point_id) - 1 AS INTEGER) AS point_key"
        f" FROM '{points}'"
    )
    connection.execute(
        f"CREATE OR REPLACE TABLE samples AS SELECT k.point_key AS point_id, s.sampled_at,"
        f" {NUMBERS} FROM '{samples}' s JOIN point_keys k ON k.code = s.point_id"
    )
    connection.execute(
        "CREATE OR REPLACE TABLE points AS SELECT k.point_key AS point_id, p.point_id AS code,"
        f" p.water_body_id, CAST(p.chainage_m * {SCALE} AS BIGINT) AS chainage_m"
        f" FROM '{points}' p JOIN point_keys k ON k.code = p.point_id"
    )


def _ibis(connection: duckdb.DuckDBPyConnection, rules: Rules) -> tuple[Grades, Grades]:
    """Point and water-body grades by the Ibis engine on DuckDB."""
    backend = ibis.duckdb.from_connection(connection)
    graded = backend.create_table(
        "graded",
        point_grades(backend.table("samples"), backend.table("points"), rules, FILE_SCALES),
        temp=True,
        overwrite=True,
    )
    bodies = backend.to_pyarrow(water_body_grades(graded, rules)).to_pylist()
    points = backend.to_pyarrow(graded.select("code", "grade")).to_pylist()
    return (
        {r["code"]: r["grade"] for r in points},
        {r["water_body_id"]: r["grade"] for r in bodies},
    )


def _below(value: pd.Series, bound: Fraction, *, strict: bool) -> pd.Series:
    """``value / SCALE < bound`` (or ``≤``), exactly: values are whole thousandths."""
    left, right = value * bound.denominator, bound.numerator * SCALE
    return left < right if strict else left <= right


def _pandas(samples: pd.DataFrame, points: pd.DataFrame, rules: Rules) -> tuple[Grades, Grades]:
    """The same rules in plain pandas: a boolean column per indicator and level, one
    ``groupby`` sum, and count comparisons (shares compared as integers, not floats)."""
    flags = pd.DataFrame({"point_id": samples["point_id"]})
    depth = samples["depth_cm"]
    shallow = _below(depth, Fraction(rules.shallow.depth_below_cm), strict=True)
    if not rules.shallow_water:
        shallow = shallow & False
    for field, rule in rules.indicators.by_field().items():
        value = samples[field]
        severe_bound, none_bound = Fraction(rule.severe_bound), Fraction(rule.none_bound)
        if rule.worse is Worse.lower_values:
            severe = _below(value, severe_bound, strict=True)
            mild = _below(value, none_bound, strict=False)
        else:
            severe = ~_below(value, severe_bound, strict=False) & value.notna()
            mild = ~_below(value, none_bound, strict=True) & value.notna()
        if field == "transparency_cm":
            factor = rules.shallow.factor.fraction
            severe = severe.where(~shallow, value * factor.denominator < depth * factor.numerator)
            mild = mild.where(~shallow, value < depth)
        flags[f"{field}_measured"] = value.notna()
        flags[f"{field}_severe"] = severe
        flags[f"{field}_mild"] = mild
    counts = flags.groupby("point_id").sum()
    counts["samples"] = flags.groupby("point_id").size()
    table = points.set_index("point_id").join(counts).fillna(0)

    def holds(level: str) -> pd.Series:
        one = rules.point.one_indicator_share.fraction
        two = rules.point.two_indicators_share.fraction
        ones, twos = False, 0
        for field in INDICATORS:
            count, measured = table[f"{field}_{level}"], table[f"{field}_measured"]
            ones = ones | ((measured > 0) & (count * one.denominator >= measured * one.numerator))
            twos = twos + ((measured > 0) & (count * two.denominator >= measured * two.numerator))
        return ones | (twos >= 2)

    grade = np.select(
        [table["samples"] < rules.point.min_samples, holds("severe"), holds("mild")],
        [Grade.insufficient.value, Grade.severe.value, Grade.mild.value],
        Grade.none.value,
    )
    table["grade"] = grade
    bodies = (
        table.assign(
            graded=table["grade"] != Grade.insufficient.value,
            severe=table["grade"] == Grade.severe.value,
            worse=table["grade"].isin([Grade.mild.value, Grade.severe.value]),
        )
        .groupby("water_body_id")[["graded", "severe", "worse"]]
        .sum()
    )
    share = rules.water_body.severe_share.fraction
    body_grade = np.select(
        [
            bodies["graded"] < rules.water_body.min_graded_points,
            bodies["severe"] * share.denominator >= bodies["graded"] * share.numerator,
            bodies["worse"] > 0,
        ],
        [Grade.insufficient.value, Grade.severe.value, Grade.mild.value],
        Grade.none.value,
    )
    return dict(zip(table.index, grade, strict=True)), dict(
        zip(bodies.index, body_grade, strict=True)
    )


def _engines(samples: Path, points: Path, rules: Rules) -> dict[str, Any]:
    """Ibis alone, pandas and the bare scan over the same checked rows in memory: Ibis on
    DuckDB configured as ``grade-file`` configures it; pandas with the text ids a file
    gives."""
    # The whole table is held in memory here (grade-file reads it from its file).
    connection = duckdb.connect(config={**DUCKDB_CONFIG, "memory_limit": "12GB"})
    _checked(connection, samples, points)
    rows = connection.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
    ibis_s, (ibis_points, ibis_bodies) = _best(lambda: _ibis(connection, rules))
    frame = connection.execute(f"SELECT point_id, {NUMBERS} FROM '{samples}'").df()
    for column in (*INDICATORS, "depth_cm"):
        frame[column] = frame[column].astype("float64")
    point_frame = connection.execute(
        "SELECT code AS point_id, water_body_id, chainage_m FROM points"
    ).df()
    pandas_s, (pandas_points, pandas_bodies) = _best(lambda: _pandas(frame, point_frame, rules))
    sums = ", ".join(f"sum({c})" for c in INDICATORS)
    scan_s, _ = _best(lambda: connection.execute(f"SELECT {sums} FROM samples").fetchall())
    parquet_scan_s, _ = _best(
        lambda: connection.execute(f"SELECT {sums} FROM '{samples}'").fetchall()
    )
    connection.close()
    return {
        "rows": rows,
        "ibis_seconds": ibis_s,
        "pandas_seconds": pandas_s,
        "scan_seconds": scan_s,
        "parquet_scan_seconds": parquet_scan_s,
        "grades": {
            "ibis": (ibis_points, ibis_bodies),
            "pandas": (pandas_points, pandas_bodies),
        },
    }


def _load_places(engine: Engine, points: Path) -> dict[str, int]:
    """Rivers (one per water body) and monitoring points; the points' ids by code."""
    rows = duckdb.sql(f"SELECT * FROM '{points}' ORDER BY point_id").fetchall()
    with engine.begin() as conn:
        town = conn.execute(text("SELECT min(id) FROM towns")).scalar()
        bodies = sorted({body for _, body, _ in rows})
        conn.execute(
            text(
                "INSERT INTO rivers (code, name, lead_town_id, length_m, remediation_state,"
                " relapsed, published, created_at, updated_at) VALUES (:code, :code, :town,"
                " 1500, 'listed', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            [{"code": body, "town": town} for body in bodies],
        )
        rivers: dict[str, int] = {
            code: river for code, river in conn.execute(text("SELECT code, id FROM rivers"))
        }
        conn.execute(
            insert(MonitoringPoint),
            [
                {"code": code, "river_id": rivers[body], "chainage_m": chainage}
                for code, body, chainage in rows
            ],
        )
        return {
            code: point
            for code, point in conn.execute(text("SELECT code, id FROM monitoring_points"))
        }


def _sample_rows(january: Path, ids: dict[str, int], *, sqlite: bool) -> str:
    """SQL for January's samples as each database stores them (see ``demo.generate``):
    on SQLite naive UTC text and integers scaled by the columns' places (transparency,
    ORP and depth ×100, DO and NH3-N ×1000); on PostgreSQL exact decimals."""
    if sqlite:
        numbers = (
            "CAST(transparency_cm * 100 AS BIGINT), CAST(do_mg_l * 1000 AS BIGINT),"
            " CAST(orp_mv * 100 AS BIGINT), CAST(nh3n_mg_l * 1000 AS BIGINT),"
            " CAST(depth_cm * 100 AS BIGINT)"
        )
        stamp = "strftime(s.sampled_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f')"
    else:
        numbers = (
            "CAST(transparency_cm AS DECIMAL(8, 2)), CAST(do_mg_l AS DECIMAL(8, 3)),"
            " CAST(orp_mv AS DECIMAL(8, 2)), CAST(nh3n_mg_l AS DECIMAL(8, 3)),"
            " CAST(depth_cm AS DECIMAL(8, 2))"
        )
        stamp = "strftime(s.sampled_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') || '+00'"
    return (
        f"SELECT i.id, {stamp}, {numbers} FROM '{january}' s"
        " JOIN point_ids i ON i.code = s.point_id"
    )


def _load_samples(engine: Engine, january: Path, ids: dict[str, int], folder: Path) -> float:
    """Seconds to write January's samples with the database's fastest path: ``COPY`` on
    PostgreSQL, ``executemany`` on SQLite."""
    columns = "point_id, sampled_at, transparency_cm, do_mg_l, orp_mv, nh3n_mg_l, depth_cm"
    duck = duckdb.connect()
    duck.execute("CREATE TABLE point_ids (code VARCHAR, id BIGINT)")
    duck.executemany("INSERT INTO point_ids VALUES (?, ?)", list(ids.items()))
    sqlite = engine.dialect.name == "sqlite"
    query = _sample_rows(january, ids, sqlite=sqlite)
    started = time.perf_counter()
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if sqlite:
            result = duck.execute(query)
            while chunk := result.fetchmany(100_000):
                cursor.executemany(
                    f"INSERT INTO samples ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", chunk
                )
        else:
            staged = folder / "january.copy"
            duck.execute(
                f"COPY ({query}) TO '{staged}' (DELIMITER '\t', NULLSTR '\\N', HEADER false)"
            )
            with (
                cursor.copy(f"COPY samples ({columns}) FROM STDIN") as copy,
                staged.open("rb") as f,
            ):
                while block := f.read(1 << 20):
                    copy.write(block)
        raw.commit()
    finally:
        raw.close()
        duck.close()
    return time.perf_counter() - started


def _stored_grades(engine: Engine, assessment_id: int) -> tuple[Grades, Grades]:
    with engine.connect() as conn:
        points = conn.execute(
            text(
                "SELECT m.code, g.grade FROM point_grades g JOIN monitoring_points m"
                " ON m.id = g.point_id WHERE g.assessment_id = :id"
            ),
            {"id": assessment_id},
        ).all()
        bodies = conn.execute(
            text(
                "SELECT r.code, g.grade FROM water_body_grades g JOIN rivers r"
                " ON r.id = g.river_id WHERE g.assessment_id = :id"
            ),
            {"id": assessment_id},
        ).all()
    return dict(points), dict(bodies)  # type: ignore[arg-type]


def _ingestion_csv(samples: Path, folder: Path) -> Path:
    """One million February samples as a CSV file, instants with their zone."""
    path = folder / "february.csv"
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'Asia/Shanghai'")
    duck.execute(
        "COPY (SELECT point_id,"
        " strftime(sampled_at, '%Y-%m-%dT%H:%M:%S%z') AS sampled_at,"
        f" {', '.join(INDICATORS)}, depth_cm FROM '{samples}'"
        " WHERE sampled_at >= TIMESTAMPTZ '2022-02-01 00:00:00+08'"
        f" ORDER BY sampled_at, point_id LIMIT {INGESTED}) TO '{path}' (HEADER, DELIMITER ',')"
    )
    duck.close()
    return path


def _databases(
    january: Path, points: Path, february: Path, january_rows: int
) -> tuple[dict[str, Any], dict[str, tuple[Grades, Grades]]]:
    """``assess`` of January and the import of the February CSV on each database."""
    figures: dict[str, Any] = {}
    grades: dict[str, tuple[Grades, Grades]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("sqlite", "postgresql"):
            engine, name = fresh_database(backend, Path(folder))
            try:
                ids = _load_places(engine, points)
                load_s = _load_samples(engine, january, ids, Path(folder))
                with Session(engine) as session:
                    started = time.perf_counter()
                    result = assess(session, actor=ACTOR, period=parse_period("2022-01"))
                    session.commit()
                    assess_s = time.perf_counter() - started
                assert result.assessment_id is not None
                grades[backend] = _stored_grades(engine, result.assessment_id)
                with Session(engine) as session:
                    started = time.perf_counter()
                    imported = SampleImporter(session, actor=ACTOR).run_file(february)
                    session.commit()
                    import_s = time.perf_counter() - started
            finally:
                drop_database(backend, engine, name)
            figures[backend] = {
                "assess_samples": result.samples,
                "assess_seconds": round(assess_s, 2),
                "assess_samples_per_second": round(january_rows / assess_s),
                "load_samples_seconds": round(load_s, 2),
                "ingest_rows": imported.rows,
                "ingest_added": imported.added,
                "ingest_seconds": round(import_s, 2),
                "ingest_samples_per_second": round(imported.rows / import_s),
            }
            print(backend, figures[backend], flush=True)
    return figures, grades


def _same(label: str, engines: dict[str, tuple[Grades, Grades]]) -> dict[str, Any]:
    """Check that every engine gave the same point and water-body grades."""
    (first, (points, bodies)), *others = engines.items()
    for name, (other_points, other_bodies) in others:
        assert other_points == points, f"{label}: {name} point grades differ from {first}"
        assert other_bodies == bodies, f"{label}: {name} water-body grades differ from {first}"
    counts = {grade.value: list(points.values()).count(grade.value) for grade in Grade}
    body_counts = {grade.value: list(bodies.values()).count(grade.value) for grade in Grade}
    return {"engines": list(engines), "points": counts, "water_bodies": body_counts}


def main() -> None:
    rules = load_rules(None)
    figures: dict[str, Any] = {"samples": SAMPLES, "points": POINTS, "runs": RUNS}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        samples, january, points = _generate(folder)
        figures["generate_seconds"] = round(time.perf_counter() - started, 2)
        print("generated", figures["generate_seconds"], flush=True)
        grade_file, file_grades = _grade_file(samples, points, folder / "out", SAMPLES)
        january_file, january_file_grades = _grade_file(
            january, points, folder / "out_january", JANUARY
        )
        print("grade-file", grade_file, flush=True)
        engines = _engines(samples, points, rules)
        january_engines = _engines(january, points, rules)
        file_bodies = dict(
            pd.read_csv(folder / "out" / "water_bodies.csv", dtype=str)[
                ["water_body_id", "grade"]
            ].values
        )
        january_bodies = dict(
            pd.read_csv(folder / "out_january" / "water_bodies.csv", dtype=str)[
                ["water_body_id", "grade"]
            ].values
        )
        february = _ingestion_csv(samples, folder)
        databases, stored = _databases(january, points, february, january_engines["rows"])
        agreement = {
            "all": _same(
                "20M",
                {"grade-file": (file_grades, file_bodies), **engines.pop("grades")},
            ),
            "january": _same(
                "January",
                {
                    "grade-file": (january_file_grades, january_bodies),
                    **january_engines.pop("grades"),
                    **{f"assess_{backend}": g for backend, g in stored.items()},
                },
            ),
        }
    ibis_s, pandas_s = engines["ibis_seconds"], engines["pandas_seconds"]
    figures |= {
        "grade_file": grade_file
        | {
            "target_seconds": TARGET_SECONDS,
            "ratio_to_target": round(grade_file["seconds"] / TARGET_SECONDS, 2),
        },
        "grade_file_january": january_file,
        "ibis_grading": {
            "seconds": round(ibis_s, 2),
            "samples_per_second": round(SAMPLES / ibis_s),
        },
        "pandas_grading": {
            "seconds": round(pandas_s, 2),
            "samples_per_second": round(SAMPLES / pandas_s),
        },
        "ratio_pandas_to_ibis": round(pandas_s / ibis_s, 2),
        "ceiling_sum_four_columns": {
            "in_memory_seconds": round(engines["scan_seconds"], 2),
            "parquet_seconds": round(engines["parquet_scan_seconds"], 2),
            "ratio_ibis_to_in_memory_scan": round(ibis_s / engines["scan_seconds"], 2),
        },
        "january": {
            "samples": january_engines["rows"],
            "ibis_seconds": round(january_engines["ibis_seconds"], 2),
            "pandas_seconds": round(january_engines["pandas_seconds"], 2),
        },
        "databases": databases,
        "grades_identical": agreement,
        "bench_process_peak_rss_mb": round(peak_rss_mb()),
        "median_grade_file_seconds": round(statistics.median(grade_file["seconds_all_runs"]), 2),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    print("wrote", write_result("grading", figures))


if __name__ == "__main__":
    main()
