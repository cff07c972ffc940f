"""Checking a table of samples in DuckDB, every row at once: the rules SPEC sets for
``grade-file`` and for ingestion.

A value is refused, naming the file, the row (the header is row 1) and the column, when
it is not a finite number, is physically impossible (negative transparency, depth, DO or
NH3-N; DO over 50 mg/L; ORP outside −1000..1000 mV) or has more decimal places than the
platform keeps; a timestamp that does not parse, a row measuring none of the four
indicators, two rows for one point at one instant, and a point the platform does not
know are refused too. Up to ``MAX_PROBLEMS`` are listed and all are counted. The good
table holds every number in thousandths of its unit as an integer, so nothing downstream
rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from gongjian.errors import Invalid, Problem
from gongjian.imports.files import quoted

MAX_PROBLEMS = 50
SCALE_PLACES = 3
"""Checked values are integers in thousandths of their unit."""

INDICATORS = ("transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l")
REQUIRED = ("point_id", "sampled_at", *INDICATORS)
POINT_COLUMNS = ("point_id", "water_body_id", "chainage_m")
OPTIONAL = ("depth_cm",)
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
NOT_FINITE = r"(?i)[+-]?(nan|inf|infinity)"
TOO_MANY_PLACES = r"\.\d{10,}"
"""More places than DuckDB reads exactly (DECIMAL(38, 9)); far beyond any instrument."""
MAGNITUDE = Decimal(10**9)
"""No real measurement reaches a thousand million in its unit; refusing such values keeps
every scaled product well inside 64-bit integers."""
CHECKED = "checked_samples"


@dataclass(frozen=True)
class Findings:
    """The problems found in one file: the first ``MAX_PROBLEMS`` and how many in all;
    ``complete`` is False when a required column is missing (the rows were not read)."""

    total: int = 0
    problems: tuple[Problem, ...] = ()
    complete: bool = True


def refuse_if_any(*findings: Findings) -> None:
    """Raise ``Invalid`` listing the problems of every file (at most ``MAX_PROBLEMS``)."""
    total = sum(f.total for f in findings)
    if not total:
        return
    kept = [p for f in findings for p in f.problems][:MAX_PROBLEMS]
    shown = f"（列出前 {MAX_PROBLEMS} 个）" if total > MAX_PROBLEMS else ""
    raise Invalid(f"输入有 {total} 个问题{shown}，未写入任何数据", kept)


def _missing(kinds: dict[str, str], required: tuple[str, ...], file: str) -> Findings:
    missing = [column for column in required if column not in kinds]
    return Findings(
        len(missing),
        tuple(Problem("缺少必需的列", file=file, row=1, column=c) for c in missing),
        complete=not missing,
    )


def _kinds(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {
        str(name).strip(): str(kind)
        for name, kind, *_ in connection.execute(f"DESCRIBE {table}").fetchall()
    }


@dataclass(frozen=True)
class Limits:
    """The physically possible range of a measurement, both ends included."""

    low: Decimal | None
    high: Decimal | None


LIMITS = {
    "chainage_m": Limits(Decimal(0), None),
    "transparency_cm": Limits(Decimal(0), None),
    "do_mg_l": Limits(Decimal(0), Decimal(50)),
    "orp_mv": Limits(Decimal(-1000), Decimal(1000)),
    "nh3n_mg_l": Limits(Decimal(0), None),
    "depth_cm": Limits(Decimal(0), None),
}

#: Decimal places kept for each value by ``grade-file`` (the database keeps its columns'
#: own: see ``gongjian.imports.samples``).
FILE_PLACES = dict.fromkeys((*INDICATORS, *OPTIONAL), SCALE_PLACES)


def _is_text(kind: str) -> bool:
    return kind.upper().startswith(("VARCHAR", "STRING", "TEXT", "BLOB"))


def _is_float(kind: str) -> bool:
    return kind.upper() in ("DOUBLE", "FLOAT", "REAL")


def _number(column: str, kind: str, places: int) -> tuple[str, str, str]:
    """SQL for one number column: (its text for messages, the reason it is refused or
    NULL, its value in thousandths or NULL)."""
    source = quoted(column)
    limits = LIMITS[column]
    shown = f"NULLIF(trim(CAST({source} AS VARCHAR)), '')"
    factor = 10**places
    if _is_float(kind):
        number = f"CAST(round({source} * {factor}) AS DECIMAL(38, 0)) / {factor}"
        malformed = f"WHEN NOT isfinite({source}) THEN '不是有限数（NaN、无穷大不是数值）'"
        inexact = f"abs({source} * {factor} - round({source} * {factor})) > 1e-6"
    elif _is_text(kind):
        number = f"TRY_CAST({shown} AS DECIMAL(38, 9))"
        malformed = (
            f"WHEN regexp_full_match({shown}, '{NOT_FINITE}')"
            " THEN '不是有限数（NaN、无穷大不是数值）'"
            f" WHEN NOT regexp_full_match({shown}, '{NUMBER}') OR {number} IS NULL"
            f" OR regexp_matches({shown}, '{TOO_MANY_PLACES}') THEN '不是数值'"
        )
        inexact = f"{number} * {factor} <> round({number} * {factor})"
    else:
        number = f"CAST({source} AS DECIMAL(38, 9))"
        malformed = ""
        inexact = f"{number} * {factor} <> round({number} * {factor})"
    bounds = [f"WHEN abs({number}) >= {MAGNITUDE} THEN '数值超出物理可能的范围'"]
    if limits.low is not None:
        reason = "数值不可能为负" if limits.low == 0 else f"数值不可能低于 {limits.low}"
        bounds.append(f"WHEN {number} < {limits.low} THEN '{reason}'")
    if limits.high is not None:
        bounds.append(f"WHEN {number} > {limits.high} THEN '数值不可能高于 {limits.high}'")
    reason = (
        f"CASE WHEN {shown} IS NULL THEN NULL {malformed} {' '.join(bounds)}"
        f" WHEN {inexact} THEN '小数位数超过 {places} 位（为免舍入改变判定，请核对原始数据）'"
        " END"
    )
    value = f"CAST({number} * {10**SCALE_PLACES} AS BIGINT)"
    return shown, reason, value


def _instant(kind: str) -> str:
    """SQL for the instant of ``sampled_at`` (NULL when it does not parse); a time
    without a zone is in the session's zone (the city's)."""
    if _is_text(kind):
        return "TRY_CAST(NULLIF(trim(sampled_at), '') AS TIMESTAMPTZ)"
    return "TRY_CAST(sampled_at AS TIMESTAMPTZ)"


def sample_findings(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    *,
    file: str,
    zone: str,
    places: Mapping[str, int],
    known_points: str | None = None,
    unknown_point: str = "没有这个检测点",
    first_row: int = 2,
) -> Findings:
    """Check the samples in DuckDB table ``table`` (as read by ``files.load``) and put
    the rows in ``checked_samples``: ``row_no, point_id, sampled_at`` (TIMESTAMPTZ) and
    each number in thousandths (meaningful only when no problem was found).

    ``known_points`` names a table whose ``code`` column lists the points that exist
    (``unknown_point`` says why another is refused); ``first_row`` is the number the
    first data row has in messages (2 in a file, whose header is row 1; 1 in an API
    batch)."""
    kinds = _kinds(connection, table)
    missing = _missing(kinds, REQUIRED, file)
    if missing.total:
        return missing
    connection.execute(f"SET TimeZone = '{zone}'")
    numbers = [c for c in (*INDICATORS, *OPTIONAL) if c in kinds]
    parts = [
        f"rowid + {int(first_row)} AS row_no",
        "NULLIF(trim(CAST(point_id AS VARCHAR)), '') AS point_id",
        "NULLIF(trim(CAST(sampled_at AS VARCHAR)), '') AS sampled_at_text",
        f"{_instant(kinds['sampled_at'])} AS sampled_at",
    ]
    for column in numbers:
        shown, reason, value = _number(column, kinds[column], places[column])
        parts += [f"{shown} AS {column}_text", f"{reason} AS {column}_reason"]
        parts.append(f"CASE WHEN {reason} IS NULL THEN {value} END AS {column}")
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE parsed AS SELECT {', '.join(parts)} FROM {table}"
    )
    checks = [
        "SELECT row_no, 1 AS o, 'point_id' AS col, NULL AS val, '缺少检测点编号' AS reason"
        " FROM parsed WHERE point_id IS NULL",
        "SELECT row_no, 2, 'sampled_at', sampled_at_text,"
        " CASE WHEN sampled_at_text IS NULL THEN '采样时间无法识别：为空'"
        " ELSE '采样时间无法识别（应为 ISO 8601，如 2023-01-05T09:30:00+08:00）' END"
        " FROM parsed WHERE sampled_at IS NULL",
        "SELECT row_no, 2, 'sampled_at', sampled_at_text,"
        " '与第' || first_row || '行的检测点和采样时间相同' FROM ("
        " SELECT row_no, sampled_at_text, min(row_no) OVER"
        " (PARTITION BY point_id, sampled_at) AS first_row FROM parsed"
        " WHERE point_id IS NOT NULL AND sampled_at IS NOT NULL) WHERE row_no > first_row",
        f"SELECT row_no, 8, '{','.join(INDICATORS)}', NULL,"
        " '透明度、溶解氧、氧化还原电位、氨氮四项都未测量' FROM parsed WHERE "
        + " AND ".join(f"{c}_text IS NULL" for c in INDICATORS),
    ]
    if known_points is not None:
        checks.append(
            f"SELECT row_no, 1, 'point_id', point_id, '{unknown_point}' FROM parsed"
            f" WHERE point_id IS NOT NULL AND point_id NOT IN (SELECT code FROM {known_points})"
        )
    for order, column in enumerate(numbers, start=3):
        checks.append(
            f"SELECT row_no, {order}, '{column}', {column}_text, {column}_reason"
            f" FROM parsed WHERE {column}_reason IS NOT NULL"
        )
    findings = _findings(connection, checks, file)
    nulls = "".join(f", NULL::BIGINT AS {c}" for c in OPTIONAL if c not in numbers)
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHECKED} AS SELECT row_no, point_id, sampled_at,"
        f" {', '.join(numbers)}{nulls} FROM parsed"
    )
    connection.execute("DROP TABLE parsed")
    return findings


def point_findings(connection: duckdb.DuckDBPyConnection, table: str, *, file: str) -> Findings:
    """Check the points of ``grade-file`` (``point_id, water_body_id, chainage_m``) in
    DuckDB table ``table`` and put them in ``checked_points``, ``chainage_m`` in
    thousandths of a metre."""
    kinds = _kinds(connection, table)
    missing = _missing(kinds, POINT_COLUMNS, file)
    if missing.total:
        return missing
    shown, reason, value = _number("chainage_m", kinds["chainage_m"], SCALE_PLACES)
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE parsed_points AS SELECT rowid + 2 AS row_no,"
        " NULLIF(trim(CAST(point_id AS VARCHAR)), '') AS point_id,"
        " NULLIF(trim(CAST(water_body_id AS VARCHAR)), '') AS water_body_id,"
        f" {shown} AS chainage_text,"
        f" CASE WHEN {shown} IS NULL THEN '缺少里程' ELSE {reason} END AS chainage_reason,"
        f" {value} AS chainage_m FROM {table}"
    )
    checks = [
        "SELECT row_no, 1 AS o, 'point_id' AS col, NULL AS val, '缺少检测点编号' AS reason"
        " FROM parsed_points WHERE point_id IS NULL",
        "SELECT row_no, 1, 'point_id', point_id, '检测点编号与第' || first_row || '行重复'"
        " FROM (SELECT row_no, point_id, min(row_no) OVER (PARTITION BY point_id) AS first_row"
        " FROM parsed_points WHERE point_id IS NOT NULL) WHERE row_no > first_row",
        "SELECT row_no, 2, 'water_body_id', NULL, '缺少水体编号' FROM parsed_points"
        " WHERE water_body_id IS NULL",
        "SELECT row_no, 3, 'chainage_m', chainage_text, chainage_reason FROM parsed_points"
        " WHERE chainage_reason IS NOT NULL",
    ]
    findings = _findings(connection, checks, file)
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE checked_points AS"
        " SELECT point_id, water_body_id, chainage_m FROM parsed_points"
    )
    connection.execute("DROP TABLE parsed_points")
    return findings


def _findings(connection: duckdb.DuckDBPyConnection, checks: list[str], file: str) -> Findings:
    union = " UNION ALL ".join(checks)
    total: int = connection.execute(f"SELECT count(*) FROM ({union})").fetchone()[0]  # type: ignore[index]
    if not total:
        return Findings()
    rows = connection.execute(
        f"SELECT row_no, col, val, reason FROM ({union}) ORDER BY row_no, o LIMIT {MAX_PROBLEMS}"
    ).fetchall()
    return Findings(
        total,
        tuple(
            Problem(reason, file=file, row=int(row), column=column, value=value)
            for row, column, value, reason in rows
        ),
    )


def check_samples(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    *,
    file: str,
    zone: str,
    places: Mapping[str, int],
    known_points: str | None = None,
    first_row: int = 2,
) -> int:
    """``sample_findings``, refused with ``Invalid`` when there is any problem; returns
    the number of rows."""
    refuse_if_any(
        sample_findings(
            connection,
            table,
            file=file,
            zone=zone,
            places=places,
            known_points=known_points,
            first_row=first_row,
        )
    )
    count: int = connection.execute(f"SELECT count(*) FROM {CHECKED}").fetchone()[0]  # type: ignore[index]
    return count
