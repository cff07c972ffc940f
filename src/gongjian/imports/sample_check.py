"""Checking a table of samples in DuckDB, every row at once: the rules SPEC sets for
``grade-file`` and for ingestion.

A value is refused, naming the file, the row (the header is row 1) and the column, when
it is not a finite number, is physically impossible (negative transparency, depth, DO or
NH3-N; DO over 50 mg/L; ORP outside −1000..1000 mV) or has more decimal places than the
platform keeps; a timestamp that does not parse, a row measuring none of the four
indicators, two rows for one point at one instant, and a point the platform does not
know are refused too. Up to ``MAX_PROBLEMS`` are listed and all are counted. The checked
rows hold every number in thousandths of its unit as an integer, so nothing downstream
rounds.

A file of millions of good rows is the common case, so it is made cheap: one scan counts
the rows breaking a rule of their own (on typed values: no number is turned into text),
and one sort of a 64-bit key (point, instant) finds repeated instants and unknown points
and measures the intervals between samplings. Only when either finds something does a
second, slower pass name the problems, rendering as text just the rows it lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from gongjian.errors import Invalid, Problem
from gongjian.imports.files import ROW_POSITION, quoted, row_position

MAX_PROBLEMS = 50
SCALE_PLACES = 3
"""Checked values are integers in thousandths of their unit."""

INDICATORS = ("transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l")
REQUIRED = ("point_id", "sampled_at", *INDICATORS)
POINT_COLUMNS = ("point_id", "water_body_id", "chainage_m")
OPTIONAL = ("depth_cm",)
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
NOT_FINITE = r"(?i)[+-]?(nan|inf|infinity)"
TOO_MANY_PLACES = r"\.\d{7,}"
"""More places than text is read with exactly (DECIMAL(18, 6), fast 64-bit decimals);
far beyond any instrument."""
MAGNITUDE = Decimal(10**9)
"""No real measurement reaches a thousand million in its unit; refusing such values keeps
every scaled product well inside 64-bit integers."""
CHECKED = "checked_samples"
KEYED = "checked_samples_keyed"
"""The checked samples of a clean table with each point as a number instead of its text
id: ``point_key, sampled_at`` and the numbers in thousandths (see ``sample_findings``)."""
SAMPLINGS = "sample_samplings"
"""Per point of the checked samples: ``point_id, samplings, irregular`` (see
``sample_findings``)."""
POINT_KEYS = "sample_point_keys"
"""The points a table of samples may name: ``point_id`` (text) and ``point_key``, its
number (0, 1, … in the order of the ids)."""
KEY_BITS = 62
"""Bits of the sort key (point, instant) kept clear of the sign of a BIGINT."""
NOT_FINITE_REASON = "不是有限数（NaN、无穷大不是数值）"
FOUR_MISSING = "透明度、溶解氧、氧化还原电位、氨氮四项都未测量"


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
    """Each column's DuckDB type by its name, the row position of a file aside."""
    return {
        str(name).strip(): str(kind)
        for name, kind, *_ in connection.execute(f"DESCRIBE {table}").fetchall()
        if name != ROW_POSITION
    }


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [str(row[0]) for row in connection.execute(f"DESCRIBE {table}").fetchall()]


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


@dataclass(frozen=True)
class NumberSql:
    """SQL over the raw table for one number column."""

    present: str
    """True where a value was given."""
    bad: str
    """True where the value is refused (never NULL)."""
    reason: str
    """Why it is refused, or NULL: evaluated only for the rows listed."""
    shown: str
    """The value as text for messages: evaluated only for the rows listed."""
    value: str
    """The value in thousandths (BIGINT); meaningful only where it is not refused."""


def _number(column: str, kind: str, places: int) -> NumberSql:
    """The SQL of one number column. A binary float stands for the decimal with at most
    ``places`` places it is the nearest float of, and is refused when there is none."""
    source = quoted(column)
    limits = LIMITS[column]
    shown = f"NULLIF(trim(CAST({source} AS VARCHAR)), '')"
    factor = 10**places
    widen = 10 ** (SCALE_PLACES - places)
    if _is_float(kind):
        units = f"round(CAST({source} AS DOUBLE) * {factor})"
        # Both sides compared as the column's own float type: exact, and no tolerance.
        # DuckDB's round(x, places) is that division, in half the time.
        exact = (
            f"round({source}, {places}) = {source}"
            if kind.upper() == "DOUBLE"
            else f"CAST({units} / {factor} AS {kind}) = {source}"
        )
        # isfinite first: a file's statistics leave NaN out, and DuckDB trusts them to
        # decide a comparison for every row at once.
        inside = [f"isfinite({source})", f"{source} > -{MAGNITUDE}", f"{source} < {MAGNITUDE}"]
        bounds = []
        if limits.low is not None:
            inside.append(f"{source} >= {limits.low}")
            reason = "数值不可能为负" if limits.low == 0 else f"数值不可能低于 {limits.low}"
            bounds.append(f"WHEN {units} < {limits.low * factor} THEN '{reason}'")
        if limits.high is not None:
            inside.append(f"{source} <= {limits.high}")
            bounds.append(
                f"WHEN {units} > {limits.high * factor} THEN '数值不可能高于 {limits.high}'"
            )
        bad = f"({source} IS NOT NULL AND NOT ({' AND '.join([*inside, exact])}))"
        reason = (
            f"CASE WHEN {source} IS NULL THEN NULL"
            f" WHEN NOT isfinite({source}) THEN '{NOT_FINITE_REASON}'"
            f" WHEN abs({source}) >= {MAGNITUDE} THEN '数值超出物理可能的范围'"
            f" {' '.join(bounds)}"
            f" WHEN NOT ({exact}) THEN '{_too_many_places(places)}' END"
        )
        value = f"TRY_CAST(CAST({source} AS DOUBLE) * {factor} AS BIGINT)"
        if widen != 1:
            value = f"{value} * {widen}"
        return NumberSql(f"{source} IS NOT NULL", bad, reason, shown, value)
    if _is_text(kind):
        number = f"TRY_CAST({shown} AS DECIMAL(18, 6))"
        malformed = (
            f"WHEN regexp_full_match({shown}, '{NOT_FINITE}') THEN '{NOT_FINITE_REASON}'"
            f" WHEN NOT regexp_full_match({shown}, '{NUMBER}') THEN '不是数值'"
            f" WHEN abs(TRY_CAST({shown} AS DOUBLE)) >= {MAGNITUDE}"
            " THEN '数值超出物理可能的范围'"
            f" WHEN regexp_matches({shown}, '{TOO_MANY_PLACES}')"
            f" THEN '{_too_many_places(places)}'"
            f" WHEN {number} IS NULL THEN '不是数值'"
        )
    else:
        number = f"TRY_CAST({source} AS DECIMAL(38, 9))"
        malformed = f"WHEN {number} IS NULL THEN '数值超出物理可能的范围'"
    bounds = [f"WHEN abs({number}) >= {MAGNITUDE} THEN '数值超出物理可能的范围'"]
    if limits.low is not None:
        reason = "数值不可能为负" if limits.low == 0 else f"数值不可能低于 {limits.low}"
        bounds.append(f"WHEN {number} < {limits.low} THEN '{reason}'")
    if limits.high is not None:
        bounds.append(f"WHEN {number} > {limits.high} THEN '数值不可能高于 {limits.high}'")
    reason = (
        f"CASE WHEN {shown} IS NULL THEN NULL {malformed} {' '.join(bounds)}"
        f" WHEN {number} * {factor} <> round({number} * {factor})"
        f" THEN '{_too_many_places(places)}' END"
    )
    value = f"TRY_CAST({number} * {10**SCALE_PLACES} AS BIGINT)"
    bad = f"(({reason}) IS NOT NULL)"
    if _is_text(kind):
        # Nearly every cell is a plain decimal that fits the places kept: such a cell is
        # only checked against the limits, and the regular expressions above run on the
        # others alone.
        inside = [f"{number} >= {limits.low}"] if limits.low is not None else []
        if limits.high is not None:
            inside.append(f"{number} <= {limits.high}")
        plain = f"regexp_full_match({shown}, '{_plain(places)}')"
        bad = f"(CASE WHEN {' AND '.join([plain, *inside])} THEN false ELSE {bad} END)"
    return NumberSql(f"{shown} IS NOT NULL", bad, reason, shown, value)


def _plain(places: int) -> str:
    """A regular expression for the decimals every rule above lets through at once:
    up to 9 digits before the point (below ``MAGNITUDE``), and after it up to ``places``
    digits then zeros, 6 in all (``TOO_MANY_PLACES``)."""
    fraction = r"\.0{1,6}" if places == 0 else rf"\.\d{{1,{places}}}0{{0,{6 - places}}}"
    return rf"[+-]?\d{{1,9}}({fraction})?"


def _too_many_places(places: int) -> str:
    return f"小数位数超过 {places} 位（为免舍入改变判定，请核对原始数据）"


def _instant(kind: str) -> str:
    """SQL for the instant of ``sampled_at`` (NULL when it does not parse); a time
    without a zone is in the session's zone (the city's)."""
    if _is_text(kind):
        return "TRY_CAST(NULLIF(trim(sampled_at), '') AS TIMESTAMPTZ)"
    return "TRY_CAST(sampled_at AS TIMESTAMPTZ)"


POINT_ID = "NULLIF(trim(CAST(point_id AS VARCHAR)), '')"
INSTANT_TEXT = "NULLIF(trim(CAST(sampled_at AS VARCHAR)), '')"


@dataclass(frozen=True)
class _Samples:
    """What the checks of one table of samples share."""

    connection: duckdb.DuckDBPyConnection
    table: str
    file: str
    row_no: str
    instant: str
    numbers: Mapping[str, NumberSql]
    known_points: str | None
    unknown_point: str

    def all_missing(self) -> str:
        """SQL: the row measures none of the four indicators."""
        return f"NOT ({' OR '.join(self.numbers[c].present for c in INDICATORS)})"

    def one(self, sql: str) -> tuple[Any, ...]:
        row = self.connection.execute(sql).fetchone()
        assert row is not None
        return row


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
    intervals: tuple[dt.timedelta, dt.timedelta] | None = None,
) -> Findings:
    """Check the samples in DuckDB table ``table`` (as read by ``files.load``) and make
    ``checked_samples`` a view of them: ``row_no, point_id, sampled_at`` (TIMESTAMPTZ, in
    the session's zone, which stays ``zone``) and each number in thousandths (meaningful
    only when no problem was found).

    ``known_points`` names a table whose ``code`` column lists the points that exist
    (``unknown_point`` says why another is refused); ``first_row`` is the number the
    first data row has in messages (2 in a file, whose header is row 1; 1 in an API
    batch). When no problem is found, ``sample_samplings`` holds each sampled point's
    ``samplings`` and, when ``intervals`` (shortest, longest) is given, how many of the
    intervals between its consecutive samplings are ``irregular`` (outside it);
    ``sample_point_keys`` numbers the points, and ``checked_samples_keyed`` is the
    checked rows with that number as ``point_key`` in place of the text id (grouping and
    joining on a small integer is several times cheaper than on text)."""
    kinds = _kinds(connection, table)
    missing = _missing(kinds, REQUIRED, file)
    if missing.total:
        return missing
    connection.execute(f"SET TimeZone = '{zone}'")
    samples = _Samples(
        connection,
        table,
        file,
        f"{row_position(_columns(connection, table))} + {int(first_row)}",
        _instant(kinds["sampled_at"]),
        {
            column: _number(column, kinds[column], places[column])
            for column in (*INDICATORS, *OPTIONAL)
            if column in kinds
        },
        known_points,
        unknown_point,
    )
    values = [f"{sql.value} AS {column}" for column, sql in samples.numbers.items()]
    values += [f"NULL::BIGINT AS {c}" for c in OPTIONAL if c not in samples.numbers]
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW {CHECKED} AS SELECT {samples.row_no} AS row_no,"
        f" {POINT_ID} AS point_id, {samples.instant} AS sampled_at, {', '.join(values)}"
        f" FROM {table}"
    )
    if _clean(samples, intervals):
        connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {KEYED} AS SELECT k.point_key,"
            f" c.* EXCLUDE (row_no, point_id) FROM {CHECKED} c"
            f" JOIN {POINT_KEYS} k ON k.point_id = c.point_id"
        )
        return Findings()
    return _listed(samples)


def _clean(samples: _Samples, intervals: tuple[dt.timedelta, dt.timedelta] | None) -> bool:
    """Whether no row breaks any rule, found in two passes; fills ``SAMPLINGS`` when so.

    The first pass counts the rows breaking a rule on their own. The second numbers the
    known points and sorts the rows by point and instant, so that each row follows the
    previous sampling of its point: no gap is a repeated instant, and a row whose point
    is unknown is not matched."""
    bad = " + ".join(f"count_if({sql.bad})" for sql in samples.numbers.values())
    rows, problems, first, last = samples.one(
        f"SELECT count(*), count_if({POINT_ID} IS NULL) + count_if({samples.instant} IS NULL)"
        f" + count_if({samples.all_missing()}) + {bad}, epoch_us(min({samples.instant})),"
        f" epoch_us(max({samples.instant})) FROM {samples.table}"
    )
    if problems:
        return False
    connection = samples.connection
    known = (
        f"SELECT DISTINCT code FROM {samples.known_points} WHERE code IS NOT NULL"
        if samples.known_points is not None
        else f"SELECT DISTINCT {POINT_ID} AS code FROM {samples.table}"
    )
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {POINT_KEYS} AS SELECT code AS point_id,"
        f" CAST(row_number() OVER (ORDER BY code) - 1 AS INTEGER) AS point_key FROM ({known})"
    )
    (points,) = samples.one(f"SELECT count(*) FROM {POINT_KEYS}")
    irregular = "NULL"
    if intervals is not None:
        shortest, longest = (int(i / dt.timedelta(microseconds=1)) for i in intervals)
        irregular = f"count_if(gap < {shortest} OR gap > {longest})"
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {SAMPLINGS} AS SELECT k.point_id, s.samplings,"
        f" s.repeated, s.irregular FROM (SELECT idx, count(*) AS samplings,"
        f" count_if(gap = 0) AS repeated, {irregular} AS irregular"
        f" FROM ({_gaps(samples, int(points), first or 0, last or 0)}) GROUP BY idx) s"
        f" JOIN {POINT_KEYS} k ON k.point_key = s.idx"
    )
    matched, repeated = samples.one(
        f"SELECT coalesce(sum(samplings), 0), coalesce(sum(repeated), 0) FROM {SAMPLINGS}"
    )
    return bool(matched == rows and not repeated)


def _gaps(samples: _Samples, points: int, first: int, last: int) -> str:
    """SQL for each row of a known point: ``idx`` (the point's number) and ``gap``, the
    microseconds since the point's previous sampling (NULL for its first).

    Where the point's number and the microseconds since ``first`` fit in one BIGINT
    together, the rows are sorted by that single key (several times faster than a
    window partitioned by point); otherwise by point, then instant."""
    rows = (
        f"SELECT k.point_key AS idx, epoch_us(r.instant) AS us FROM (SELECT {POINT_ID} AS code,"
        f" {samples.instant} AS instant FROM {samples.table}) r"
        f" JOIN {POINT_KEYS} k ON k.point_id = r.code"
    )
    shift = (last - first).bit_length()
    if shift + max(points, 1).bit_length() > KEY_BITS:
        return f"SELECT idx, us - lag(us) OVER (PARTITION BY idx ORDER BY us) AS gap FROM ({rows})"
    return (
        f"SELECT key >> {shift} AS idx, CASE WHEN previous >> {shift} = key >> {shift}"
        " THEN key - previous END AS gap FROM (SELECT key, lag(key) OVER (ORDER BY key)"
        f" AS previous FROM (SELECT (CAST(idx AS BIGINT) << {shift}) | (us - {first}) AS key"
        f" FROM ({rows})))"
    )


def _listed(samples: _Samples) -> Findings:
    """Every problem counted, the first ``MAX_PROBLEMS`` named: one pass over the rows
    (a window finds the first row of each repeated point and instant), the text of a
    value rendered only for the rows listed."""
    unknown = "false"
    if samples.known_points is not None:
        unknown = (
            f"coalesce(__point IS NOT NULL AND __point NOT IN"
            f" (SELECT code FROM {samples.known_points}), false)"
        )
    flags = [
        "(__point IS NULL)",
        "__unknown",
        "(__instant IS NULL)",
        "__repeated",
        *(sql.bad for sql in samples.numbers.values()),
        samples.all_missing(),
    ]
    counted = (
        f"SELECT *, {' + '.join(f'CAST({f} AS INTEGER)' for f in flags)} AS __problems FROM"
        f" (SELECT *, coalesce(__point IS NOT NULL AND __instant IS NOT NULL AND __row_no >"
        f" __first_row, false) AS __repeated FROM (SELECT *, min(__row_no) OVER (PARTITION"
        f" BY __point, __instant) AS __first_row, {unknown} AS __unknown FROM (SELECT *,"
        f" {samples.row_no} AS __row_no, {POINT_ID} AS __point,"
        f" {samples.instant} AS __instant FROM {samples.table})))"
    )
    texts = ", ".join(f"{sql.shown}, {sql.reason}" for sql in samples.numbers.values())
    rows = samples.connection.execute(
        f"SELECT __total, __row_no, __point, __unknown, __instant IS NULL, {INSTANT_TEXT},"
        f" __repeated, __first_row, {samples.all_missing()}, {texts} FROM (SELECT *,"
        f" sum(__problems) OVER () AS __total FROM ({counted}) WHERE __problems > 0"
        f" ORDER BY __row_no LIMIT {MAX_PROBLEMS})"
    ).fetchall()
    if not rows:
        return Findings()
    problems = [p for row in rows for p in _row_problems(samples, row)]
    return Findings(int(rows[0][0]), tuple(problems[:MAX_PROBLEMS]))


def _row_problems(samples: _Samples, row: Sequence[Any]) -> list[Problem]:
    """The problems of one listed row, in the order of its columns."""
    _total, row_no, point, unknown, no_instant, instant_text, repeated, first, none = row[:9]
    file, number = samples.file, int(row_no)

    def problem(reason: str, column: str, value: str | None = None) -> Problem:
        return Problem(reason, file=file, row=number, column=column, value=value)

    found = []
    if point is None:
        found.append(problem("缺少检测点编号", "point_id"))
    if unknown:
        found.append(problem(samples.unknown_point, "point_id", point))
    if no_instant:
        reason = (
            "采样时间无法识别：为空"
            if instant_text is None
            else "采样时间无法识别（应为 ISO 8601，如 2023-01-05T09:30:00+08:00）"
        )
        found.append(problem(reason, "sampled_at", instant_text))
    if repeated:
        found.append(problem(f"与第{first}行的检测点和采样时间相同", "sampled_at", instant_text))
    texts = row[9:]
    for i, column in enumerate(samples.numbers):
        shown, reason = texts[2 * i], texts[2 * i + 1]
        if reason is not None:
            found.append(problem(reason, column, shown))
    if none:
        found.append(problem(FOUR_MISSING, ",".join(INDICATORS)))
    return found


def point_findings(connection: duckdb.DuckDBPyConnection, table: str, *, file: str) -> Findings:
    """Check the points of ``grade-file`` (``point_id, water_body_id, chainage_m``) in
    DuckDB table ``table`` and put them in ``checked_points``, ``chainage_m`` in
    thousandths of a metre."""
    kinds = _kinds(connection, table)
    missing = _missing(kinds, POINT_COLUMNS, file)
    if missing.total:
        return missing
    chainage = _number("chainage_m", kinds["chainage_m"], SCALE_PLACES)
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE parsed_points AS SELECT"
        f" {row_position(_columns(connection, table))} + 2 AS row_no,"
        f" {POINT_ID} AS point_id,"
        " NULLIF(trim(CAST(water_body_id AS VARCHAR)), '') AS water_body_id,"
        f" {chainage.shown} AS chainage_text,"
        f" CASE WHEN {chainage.shown} IS NULL THEN '缺少里程' ELSE {chainage.reason} END"
        f" AS chainage_reason, {chainage.value} AS chainage_m FROM {table}"
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
