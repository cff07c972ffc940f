"""Stateless grading of files (``gongjian grade-file``): read, check, grade, write.

SAMPLES and POINTS are read with DuckDB as text, every column, so ids keep their leading
zeros and nothing is guessed; each cell is then checked here, and every problem is
reported with its file, row (the header is row 1) and column. Values become exact
integers in thousandths (a value with more than three decimal places is refused rather
than rounded, since rounding could move a bound), and the grading engine of
``grading.py`` runs on them in an in-memory DuckDB. The two result files are written
whole or not at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import ibis
import pyarrow as pa

from gongjian.errors import GongjianError, Invalid, Problem
from gongjian.water.choices import Grade
from gongjian.water.grading import (
    PointEvidence,
    Scales,
    decided_by,
    point_grades,
    sampling_warnings,
    severe_segments,
    water_body_grades,
)
from gongjian.water.rules import INDICATORS, Rules, load_rules

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
"""Where a timestamp without a zone was taken."""

PLACES = 3
SCALE = 10**PLACES
"""Every value is held as an integer number of thousandths."""

FILE_SCALES = Scales(
    transparency_cm=SCALE, do_mg_l=SCALE, orp_mv=SCALE, nh3n_mg_l=SCALE, depth_cm=SCALE
)

MAX_PROBLEMS = 50

SAMPLE_COLUMNS = ("point_id", "sampled_at", *INDICATORS)
OPTIONAL_SAMPLE_COLUMNS = ("depth_cm",)
POINT_COLUMNS = ("point_id", "water_body_id", "chainage_m")

MAGNITUDE = Decimal(10**9)
"""No real measurement or chainage reaches a thousand million in its unit; refusing such
values keeps every scaled product of the engine well inside 64-bit integers."""

LIMITS: dict[str, tuple[Decimal | None, Decimal | None]] = {
    "transparency_cm": (Decimal(0), None),
    "do_mg_l": (Decimal(0), Decimal(50)),
    "orp_mv": (Decimal(-1000), Decimal(1000)),
    "nh3n_mg_l": (Decimal(0), None),
    "depth_cm": (Decimal(0), None),
    "chainage_m": (Decimal(0), None),
}
"""The physically possible range of each number, both ends included (None: unbounded)."""

NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
NOT_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)


class Problems:
    """The problems found so far: the first ``MAX_PROBLEMS`` kept, all of them counted."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.total = 0

    def add(
        self, reason: str, *, file: str, row: int | None, column: str | None, value: str | None
    ) -> None:
        """Record one problem."""
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(Problem(reason, file=file, row=row, column=column, value=value))

    def raise_if_any(self) -> None:
        """Raise ``Invalid`` listing the problems, if there are any."""
        if not self.total:
            return
        shown = f"（列出前 {MAX_PROBLEMS} 个）" if self.total > MAX_PROBLEMS else ""
        raise Invalid(f"输入文件有 {self.total} 个问题{shown}，未写出任何结果", self.kept)


@dataclass(frozen=True)
class Sheet:
    """One input file as text: its column names and its rows, the header being row 1."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[str | None, ...]]

    def records(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        """Each data row with its row number (the first data row is row 2)."""
        for index, row in enumerate(self.rows):
            yield index + 2, dict(zip(self.columns, row, strict=True))


def _quoted(column: str) -> str:
    """A column name as a SQL identifier."""
    escaped = column.replace('"', '""')
    return f'"{escaped}"'


def _read(path: Path) -> Sheet:
    """Read a CSV (UTF-8) or Parquet file with DuckDB, every column as text."""
    name = str(path)
    if not path.is_file():
        raise Invalid("无法读取输入文件", [Problem("文件不存在", file=name)])
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        if path.suffix.lower() == ".parquet":
            source = "read_parquet(?)"
        else:
            source = (
                "read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"',"
                " escape = '\"', encoding = 'utf-8')"
            )
        described = connection.execute(f"SELECT * FROM {source} LIMIT 0", [name]).description
        columns = tuple(column[0] for column in described or ())
        as_text = ", ".join(f"CAST({_quoted(column)} AS VARCHAR)" for column in columns)
        rows = connection.execute(f"SELECT {as_text} FROM {source}", [name]).fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = f"无法读取（须为 UTF-8 编码的 CSV 或 Parquet 文件）：{first_line}"
        raise Invalid("无法读取输入文件", [Problem(reason, file=name)]) from None
    finally:
        connection.close()
    return Sheet(name, tuple(column.strip() for column in columns), rows)


def _missing_columns(sheet: Sheet, required: Sequence[str], problems: Problems) -> bool:
    """Report each required column the file lacks; True when one is missing."""
    missing = [column for column in required if column not in sheet.columns]
    for column in missing:
        problems.add("缺少必需的列", file=sheet.name, row=1, column=column, value=None)
    return bool(missing)


def _number(text: str, column: str) -> tuple[int | None, str | None]:
    """``text`` as an integer number of thousandths, or the reason it is not acceptable."""
    text = text.strip()
    if NOT_FINITE.fullmatch(text):
        return None, "不是有限数（NaN、无穷大不是数值）"
    if not NUMBER.fullmatch(text):
        return None, "不是数值"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, "不是数值"
    if abs(value) >= MAGNITUDE:
        return None, "数值超出物理可能的范围"
    low, high = LIMITS[column]
    if low is not None and value < low:
        return None, "数值不可能为负" if low == 0 else f"数值不可能低于 {low}"
    if high is not None and value > high:
        return None, f"数值不可能高于 {high}"
    scaled = value * SCALE
    if scaled != scaled.to_integral_value():
        return None, f"小数位数超过 {PLACES} 位（为免舍入改变判定，请核对原始数据）"
    return int(scaled), None


def _instant(text: str) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware datetime (no zone: Asia/Shanghai), or None."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=LOCAL_ZONE) if moment.tzinfo is None else moment


@dataclass
class Points:
    """POINTS after checking: each point's water body and chainage (thousandths of a m)."""

    water_body: dict[str, str] = field(default_factory=dict)
    chainage: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _check_points(sheet: Sheet, problems: Problems) -> Points:
    """Check every row of POINTS and keep the good ones."""
    points = Points()
    for row, record in sheet.records():
        point_id, water_body_id = record["point_id"], record["water_body_id"]
        chainage_text = record["chainage_m"]
        where: dict[str, Any] = {"file": sheet.name, "row": row}
        if not point_id:
            problems.add("缺少检测点编号", **where, column="point_id", value=None)
        elif point_id in points.rows:
            problems.add(
                f"检测点编号与第{points.rows[point_id]}行重复",
                **where,
                column="point_id",
                value=point_id,
            )
        if not water_body_id:
            problems.add("缺少水体编号", **where, column="water_body_id", value=None)
        chainage, reason = (
            (None, "缺少里程") if not chainage_text else _number(chainage_text, "chainage_m")
        )
        if reason:
            problems.add(reason, **where, column="chainage_m", value=chainage_text)
        if point_id and point_id not in points.rows:
            points.rows[point_id] = row
            if water_body_id and chainage is not None:
                points.water_body[point_id] = water_body_id
                points.chainage[point_id] = chainage
    return points


@dataclass
class Samples:
    """SAMPLES after checking: one list per column, values in thousandths, None = not
    measured; and each sample's instant, for the sampling warnings."""

    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {
            column: [] for column in ("point_id", *INDICATORS, *OPTIONAL_SAMPLE_COLUMNS)
        }
    )
    instants: list[dt.datetime] = field(default_factory=list)


def _check_samples(sheet: Sheet, known_points: set[str] | None, problems: Problems) -> Samples:
    """Check every row of SAMPLES; ``known_points`` None when POINTS could not be read."""
    samples = Samples()
    seen: dict[tuple[str, dt.datetime], int] = {}
    number_columns = [*INDICATORS, *(c for c in OPTIONAL_SAMPLE_COLUMNS if c in sheet.columns)]
    for row, record in sheet.records():
        where: dict[str, Any] = {"file": sheet.name, "row": row}
        good = True
        point_id = record["point_id"]
        if not point_id:
            problems.add("缺少检测点编号", **where, column="point_id", value=None)
            good = False
        elif known_points is not None and point_id not in known_points:
            problems.add("POINTS 中没有这个检测点", **where, column="point_id", value=point_id)
            good = False
        instant = _instant(record["sampled_at"] or "")
        if instant is None:
            problems.add(
                "采样时间无法识别（须为 ISO 8601，如 2023-01-05T09:30:00+08:00）",
                **where,
                column="sampled_at",
                value=record["sampled_at"],
            )
            good = False
        elif point_id:
            key = (point_id, instant.astimezone(dt.UTC))
            if key in seen:
                problems.add(
                    f"与第{seen[key]}行的检测点和采样时间相同",
                    **where,
                    column="sampled_at",
                    value=record["sampled_at"],
                )
                good = False
            else:
                seen[key] = row
        values: dict[str, int | None] = {}
        for column in number_columns:
            text = record[column]
            if not text:
                values[column] = None
                continue
            values[column], reason = _number(text, column)
            if reason:
                problems.add(reason, **where, column=column, value=text)
                good = False
        if all(not record[column] for column in INDICATORS):
            problems.add(
                "四项指标（透明度、溶解氧、氧化还原电位、氨氮）都未测量",
                **where,
                column=",".join(INDICATORS),
                value=None,
            )
            good = False
        if good and instant is not None:
            samples.columns["point_id"].append(point_id)
            for column in (*INDICATORS, *OPTIONAL_SAMPLE_COLUMNS):
                samples.columns[column].append(values.get(column))
            samples.instants.append(instant)
    return samples


@dataclass(frozen=True)
class PointRow:
    """One row of ``points.csv``."""

    point_id: str
    water_body_id: str
    grade: Grade
    samples: int
    decided_by: str


@dataclass(frozen=True)
class WaterBodyRow:
    """One row of ``water_bodies.csv``; segments in thousandths of a metre."""

    water_body_id: str
    grade: Grade
    points_graded: int
    points_severe: int
    severe_segments: tuple[tuple[int, int], ...]


def _grade(
    samples: Samples, points: Points, rules: Rules
) -> tuple[list[PointRow], list[WaterBodyRow]]:
    """Run the grading engine on DuckDB over the checked files."""
    sample_table = ibis.memtable(
        pa.table(
            {
                column: pa.array(values, pa.string() if column == "point_id" else pa.int64())
                for column, values in samples.columns.items()
            }
        )
    )
    point_ids = list(points.water_body)
    point_table = ibis.memtable(
        pa.table(
            {
                "point_id": pa.array(point_ids, pa.string()),
                "water_body_id": pa.array([points.water_body[p] for p in point_ids], pa.string()),
                "chainage_m": pa.array([points.chainage[p] for p in point_ids], pa.int64()),
            }
        )
    )
    connection = ibis.duckdb.connect()
    try:
        graded = point_grades(sample_table, point_table, rules, FILE_SCALES)
        point_rows = connection.to_pyarrow(graded).to_pylist()
        body_rows = connection.to_pyarrow(water_body_grades(graded, rules)).to_pylist()
        segment_rows = connection.to_pyarrow(severe_segments(graded, rules)).to_pylist()
    finally:
        connection.disconnect()
    segments: dict[str, list[tuple[int, int]]] = {}
    for segment in segment_rows:
        segments.setdefault(segment["water_body_id"], []).append(
            (segment["start_m"], segment["end_m"])
        )
    return (
        [
            PointRow(
                point_id=row["point_id"],
                water_body_id=row["water_body_id"],
                grade=Grade(row["grade"]),
                samples=row["samples"],
                decided_by=decided_by(PointEvidence.from_row(row), rules),
            )
            for row in sorted(
                point_rows, key=lambda r: (r["water_body_id"], r["chainage_m"], r["point_id"])
            )
        ],
        [
            WaterBodyRow(
                water_body_id=row["water_body_id"],
                grade=Grade(row["grade"]),
                points_graded=row["points_graded"],
                points_severe=row["points_severe"],
                severe_segments=tuple(sorted(segments.get(row["water_body_id"], []))),
            )
            for row in sorted(body_rows, key=lambda r: r["water_body_id"])
        ],
    )


def _metres(thousandths: int) -> str:
    """A chainage for people and files: ``200``, ``150.5``."""
    return f"{(Decimal(thousandths) / SCALE).normalize():f}"


def _warnings(samples: Samples, points: Points, rules: Rules) -> list[str]:
    """The sampling-rule warnings of the files' points and samples."""
    bodies: dict[str, list[tuple[Decimal, str]]] = {}
    for point_id, water_body_id in points.water_body.items():
        chainage = Decimal(points.chainage[point_id]).scaleb(-PLACES)
        bodies.setdefault(water_body_id, []).append((chainage, point_id))
    times: dict[str, list[dt.datetime]] = {point_id: [] for point_id in points.water_body}
    for point_id, instant in zip(samples.columns["point_id"], samples.instants, strict=True):
        times.setdefault(point_id, []).append(instant)
    return [warning.message for warning in sampling_warnings(bodies, times, rules)]


@dataclass(frozen=True)
class GradeFileResult:
    """What ``grade_file`` wrote, for the command's summary."""

    points: dict[Grade, int]
    water_bodies: dict[Grade, int]
    warnings: list[str]
    rules_hash: str


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write a CSV beside ``path`` under a temporary name; the caller renames it."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return Path(temporary)


def _write(out_dir: Path, point_rows: list[PointRow], body_rows: list[WaterBodyRow]) -> None:
    """Write both result files or neither: temporary files first, renamed at the end."""
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written.append(
            _write_csv(
                out_dir / "points.csv",
                ("point_id", "water_body_id", "grade", "samples", "decided_by"),
                [
                    (p.point_id, p.water_body_id, p.grade.value, p.samples, p.decided_by)
                    for p in point_rows
                ],
            )
        )
        written.append(
            _write_csv(
                out_dir / "water_bodies.csv",
                ("water_body_id", "grade", "points_graded", "points_severe", "severe_segments"),
                [
                    (
                        b.water_body_id,
                        b.grade.value,
                        b.points_graded,
                        b.points_severe,
                        ";".join(f"{_metres(s)}-{_metres(e)}" for s, e in b.severe_segments),
                    )
                    for b in body_rows
                ],
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
    problems = Problems()
    points_sheet, samples_sheet = _read(points_path), _read(samples_path)
    points_incomplete = _missing_columns(points_sheet, POINT_COLUMNS, problems)
    samples_incomplete = _missing_columns(samples_sheet, SAMPLE_COLUMNS, problems)
    points = Points() if points_incomplete else _check_points(points_sheet, problems)
    samples = (
        Samples()
        if samples_incomplete
        else _check_samples(
            samples_sheet, None if points_incomplete else set(points.rows), problems
        )
    )
    problems.raise_if_any()
    point_rows, body_rows = _grade(samples, points, rules)
    _write(out_dir, point_rows, body_rows)
    return GradeFileResult(
        points=Counter(row.grade for row in point_rows),
        water_bodies=Counter(row.grade for row in body_rows),
        warnings=_warnings(samples, points, rules),
        rules_hash=rules.hash,
    )
