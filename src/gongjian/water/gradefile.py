"""``gongjian grade-file``: grade files of samples without a database (SPEC.md).

SAMPLES and POINTS are read into DuckDB as they are (ids stay text: ``007`` stays
``007``; a Parquet file is read in place, never copied), checked there row by row
(``gongjian.imports.sample_check``: every problem named by file, row and column, nothing
written when there is one), graded there by the Ibis expression of ``grading.py`` over
values held as integers in thousandths, and the two result files are written to
temporary names and renamed, so a failure leaves the output directory as it was.

The samples are scanned three times: once for the rules each row must keep, once sorted
by point and instant (repeated instants, unknown points, and the intervals the sampling
warnings count), once to grade. The grading groups the samples by their text point id
as the file gives it: numbering the points first would cost a join of every sample that
the faster grouping by number does not win back end to end (measured: 4.65 s against
3.5 s on 20 M samples). In the database the points are numbered already (``assess``).
DuckDB is held to ``MEMORY_LIMIT``, spilling to a temporary directory beyond it.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from gongjian.errors import GongjianError
from gongjian.imports.files import load
from gongjian.imports.sample_check import (
    CHECKED,
    FILE_PLACES,
    INDICATORS,
    SAMPLINGS,
    SCALE_PLACES,
    Findings,
    point_findings,
    refuse_if_any,
    sample_findings,
)
from gongjian.water.choices import Grade
from gongjian.water.grading import (
    PointEvidence,
    Samplings,
    Scales,
    decided_by,
    point_grades,
    sampling_warnings,
    severe_segments,
    water_body_grades,
)
from gongjian.water.rules import Rules, load_rules

FILE_ZONE = "Asia/Shanghai"
"""Where a timestamp without a zone in a file was taken (SPEC.md)."""

SCALE = 10**SCALE_PLACES
FILE_SCALES = Scales(
    transparency_cm=SCALE, do_mg_l=SCALE, orp_mv=SCALE, nh3n_mg_l=SCALE, depth_cm=SCALE
)
"""Checked values are integers in thousandths of their unit."""
MEMORY_LIMIT = "1GB"
"""What DuckDB may hold in memory; it spills sorts and joins to disk beyond it."""
PERFECT_HASH_BITS = 20
"""Group keys spanning up to this many bits are counted into an array (DuckDB's default
is 12 bits, 4,096 points: fewer than a city has)."""
DUCKDB_CONFIG: dict[str, str | int | bool] = {
    "memory_limit": MEMORY_LIMIT,
    # Every result read here is ordered by its query or sorted afterwards.
    "preserve_insertion_order": False,
    "perfect_ht_threshold": PERFECT_HASH_BITS,
}
"""How ``grade-file`` configures DuckDB (the benchmark grades with the same)."""
GRADED = "graded_points"
"""The points' grades, kept so the water bodies and segments do not grade again."""


@dataclass(frozen=True)
class GradeFileResult:
    """What ``grade_file`` wrote: grades counted, sampling warnings, the rules' hash."""

    points: Counter[Grade]
    water_bodies: Counter[Grade]
    warnings: list[str]
    rules_hash: str


def _metres(thousandths: int) -> str:
    """A chainage for people and files: ``200``, ``150.5``."""
    return f"{(Decimal(thousandths) / SCALE).normalize():f}"


def _read(
    connection: duckdb.DuckDBPyConnection, samples_path: Path, points_path: Path, rules: Rules
) -> tuple[Findings, Findings]:
    """Load and check both files; the samples are checked against POINTS only when
    POINTS could be read whole."""
    load(connection, points_path, "raw_points")
    load(connection, samples_path, "raw_samples")
    points = point_findings(connection, "raw_points", file=str(points_path))
    known = None
    if points.complete:
        connection.execute(
            "CREATE OR REPLACE TEMP VIEW known_points AS"
            " SELECT point_id AS code FROM checked_points"
        )
        known = "known_points"
    samples = sample_findings(
        connection,
        "raw_samples",
        file=str(samples_path),
        zone=FILE_ZONE,
        places=FILE_PLACES,
        known_points=known,
        unknown_point="POINTS 中没有这个检测点",
        intervals=(
            dt.timedelta(days=rules.sampling.interval_min_days),
            dt.timedelta(days=rules.sampling.interval_max_days),
        ),
    )
    return points, samples


def _warnings(connection: duckdb.DuckDBPyConnection, rules: Rules) -> list[str]:
    """The sampling-rule warnings, from the per-point counts the check made."""
    bodies: dict[str, list[tuple[Decimal, str]]] = {}
    for point_id, water_body_id, chainage in connection.execute(
        "SELECT point_id, water_body_id, chainage_m FROM checked_points"
    ).fetchall():
        bodies.setdefault(water_body_id, []).append((Decimal(chainage) / SCALE, point_id))
    rows = connection.execute(
        "SELECT p.point_id, coalesce(s.samplings, 0), coalesce(s.irregular, 0)"
        f" FROM checked_points p LEFT JOIN {SAMPLINGS} s ON s.point_id = p.point_id"
    ).fetchall()
    samplings = {
        point_id: Samplings(int(count), int(irregular)) for point_id, count, irregular in rows
    }
    return [w.message for w in sampling_warnings(bodies, samplings, rules)]


SAMPLES_SCHEMA = {
    "point_id": "string",
    **{name: "int64" for name in (*INDICATORS, "depth_cm")},
}
POINTS_SCHEMA = {"point_id": "string", "water_body_id": "string", "chainage_m": "int64"}
"""The checked tables as the grading expressions see them (numbers in thousandths)."""


def _rows(connection: duckdb.DuckDBPyConnection, expression: ir.Table) -> list[dict[str, Any]]:
    """The rows of ``expression``, compiled by Ibis and run on ``connection``."""
    cursor = connection.execute(str(ibis.to_sql(expression, dialect="duckdb")))
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _grade(
    connection: duckdb.DuckDBPyConnection, rules: Rules
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Grade in DuckDB; the rows of ``points.csv`` and ``water_bodies.csv``. The points'
    grades are kept in a table, so the samples are scanned once. The expressions are
    the ones ``assess`` runs in the database, over the checked tables by name."""
    graded = point_grades(
        ibis.table(SAMPLES_SCHEMA, name=CHECKED),
        ibis.table(POINTS_SCHEMA, name="checked_points"),
        rules,
        FILE_SCALES,
    )
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {GRADED} AS {ibis.to_sql(graded, dialect='duckdb')}"
    )
    stored = ibis.table(graded.schema(), name=GRADED)
    point_rows = _rows(connection, stored)
    body_rows = _rows(connection, water_body_grades(stored, rules))
    segments: dict[str, list[tuple[int, int]]] = {}
    for segment in _rows(connection, severe_segments(stored, rules)):
        segments.setdefault(segment["water_body_id"], []).append(
            (segment["start_m"], segment["end_m"])
        )
    points = [
        (
            row["point_id"],
            row["water_body_id"],
            row["grade"],
            row["samples"],
            decided_by(PointEvidence.from_row(row), rules),
        )
        for row in sorted(
            point_rows, key=lambda r: (r["water_body_id"], r["chainage_m"], r["point_id"])
        )
    ]
    bodies = [
        (
            row["water_body_id"],
            row["grade"],
            row["points_graded"],
            row["points_severe"],
            ";".join(
                f"{_metres(s)}-{_metres(e)}"
                for s, e in sorted(segments.get(row["water_body_id"], []))
            ),
        )
        for row in sorted(body_rows, key=lambda r: r["water_body_id"])
    ]
    return points, bodies


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write a CSV next to ``path`` under a temporary name; return that name."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return Path(name)


def _write(out_dir: Path, points: list[tuple[Any, ...]], bodies: list[tuple[Any, ...]]) -> None:
    """Write both result files, or neither."""
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written.append(
            _write_csv(
                out_dir / "points.csv",
                ("point_id", "water_body_id", "grade", "samples", "decided_by"),
                points,
            )
        )
        written.append(
            _write_csv(
                out_dir / "water_bodies.csv",
                ("water_body_id", "grade", "points_graded", "points_severe", "severe_segments"),
                bodies,
            )
        )
        for temporary, final in zip(written, ("points.csv", "water_bodies.csv"), strict=True):
            temporary.replace(out_dir / final)
    except OSError as exc:
        for temporary in written:
            temporary.unlink(missing_ok=True)
        raise GongjianError(f"无法写入输出目录 {out_dir}：{exc.strerror}") from None


def grade_file(
    samples_path: Path, points_path: Path, out_dir: Path, rules_path: Path | None = None
) -> GradeFileResult:
    """Grade the samples of one period from files and write ``points.csv`` and
    ``water_bodies.csv`` into ``out_dir``.

    Raises ``Invalid`` (listing up to 50 problems, each with file, row and column) and
    writes nothing when the rules or an input file break a rule of SPEC.md's
    ``grade-file``.
    """
    rules = load_rules(rules_path)
    with tempfile.TemporaryDirectory(prefix="gongjian-duckdb-") as spill:
        connection = duckdb.connect(config={**DUCKDB_CONFIG, "temp_directory": spill})
        try:
            connection.execute("SET enable_progress_bar = false")
            refuse_if_any(*_read(connection, samples_path, points_path, rules))
            points, bodies = _grade(connection, rules)
            warnings = _warnings(connection, rules)
        finally:
            connection.close()
    _write(out_dir, points, bodies)
    return GradeFileResult(
        points=Counter(Grade(p[2]) for p in points),
        water_bodies=Counter(Grade(b[1]) for b in bodies),
        warnings=warnings,
        rules_hash=rules.hash,
    )
