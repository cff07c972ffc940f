"""Checking samples in DuckDB: typed Parquet values read exactly, repeated instants and
unknown points found by the sorted pass as by the listing one, every problem counted,
and the intervals between samplings counted per point whatever the span of instants."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gongjian.imports.files import load
from gongjian.imports.sample_check import (
    CHECKED,
    FILE_PLACES,
    SAMPLINGS,
    Findings,
    sample_findings,
)

DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)
UTC = dt.UTC


def _check(
    tmp_path: Path,
    columns: dict[str, pa.Array],
    *,
    known: list[str] | None = None,
) -> tuple[duckdb.DuckDBPyConnection, Findings]:
    """Write ``columns`` as Parquet, load it and check it (known points ``known``)."""
    path = tmp_path / "samples.parquet"
    pq.write_table(pa.table(columns), path)
    connection = duckdb.connect()
    load(connection, path, "raw")
    if known is not None:
        connection.execute("CREATE TABLE known AS SELECT unnest(?) AS code", [known])
    findings = sample_findings(
        connection,
        "raw",
        file="s.parquet",
        zone="Asia/Shanghai",
        places=FILE_PLACES,
        known_points=None if known is None else "known",
        intervals=(DAY, WEEK),
    )
    return connection, findings


def _samples(
    points: list[str], instants: list[dt.datetime], values: pa.Array | None = None
) -> dict[str, pa.Array]:
    n = len(points)
    return {
        "point_id": pa.array(points),
        "sampled_at": pa.array(instants, pa.timestamp("us", tz="UTC")),
        "transparency_cm": pa.nulls(n, pa.float64()),
        "do_mg_l": values if values is not None else pa.array([1.5] * n),
        "orp_mv": pa.nulls(n, pa.float64()),
        "nh3n_mg_l": pa.nulls(n, pa.float64()),
    }


def _days(*offsets: float) -> list[dt.datetime]:
    return [dt.datetime(2023, 1, 1, tzinfo=UTC) + d * DAY for d in offsets]


def test_doubles_stand_for_their_decimals(tmp_path: Path) -> None:
    values = pa.array([0.1, 2.001, 0.007, 49.999])
    connection, findings = _check(tmp_path, _samples(["A"] * 4, _days(0, 2, 4, 6), values))
    assert findings == Findings()
    assert connection.execute(
        f"SELECT list(do_mg_l ORDER BY row_no) FROM {CHECKED}"
    ).fetchone() == ([100, 2001, 7, 49999],)


def test_single_precision_floats_are_scaled_in_double_precision(tmp_path: Path) -> None:
    values = pa.array([12345.678, 0.1, 7.5], pa.float32())
    columns = _samples(["A"] * 3, _days(0, 2, 4), values)
    columns["nh3n_mg_l"], columns["do_mg_l"] = values, pa.array([1.0, 1.0, 1.0])
    connection, findings = _check(tmp_path, columns)
    assert findings == Findings()
    assert connection.execute(
        f"SELECT list(nh3n_mg_l ORDER BY row_no) FROM {CHECKED}"
    ).fetchone() == ([12345678, 100, 7500],)


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        (0.1234, pa.float64(), "小数位数超过 3 位"),
        (0.1, pa.float32(), None),
        (0.1234, pa.float32(), "小数位数超过 3 位"),
        (float("nan"), pa.float64(), "不是有限数"),
        (float("-inf"), pa.float64(), "不是有限数"),
        (1e300, pa.float64(), "超出物理可能的范围"),
        (-0.0004, pa.float64(), "小数位数超过 3 位"),
        (50.001, pa.float64(), "不可能高于 50"),
    ],
)
def test_each_float_is_read_exactly_or_refused(
    tmp_path: Path, value: float, kind: pa.DataType, reason: str | None
) -> None:
    values = pa.array([1.0, value, 1.0], kind)
    _, findings = _check(tmp_path, _samples(["A"] * 3, _days(0, 2, 4), values))
    if reason is None:
        assert findings.total == 0
        return
    (problem,) = findings.problems
    assert (findings.total, problem.row, problem.column) == (1, 3, "do_mg_l")
    assert reason in problem.reason


def test_a_repeated_instant_and_an_unknown_point_are_named(tmp_path: Path) -> None:
    instants = _days(0, 2, 0, 3)
    _, findings = _check(tmp_path, _samples(["A", "A", "A", "B"], instants), known=["A"])
    assert findings.total == 2
    assert [(p.row, p.column, p.reason) for p in findings.problems] == [
        (4, "sampled_at", "与第2行的检测点和采样时间相同"),
        (5, "point_id", "没有这个检测点"),
    ]


def test_every_problem_of_a_row_is_counted(tmp_path: Path) -> None:
    columns = _samples(["A", None], _days(0, 2), pa.array([1.0, -1.0]))  # type: ignore[list-item]
    _, findings = _check(tmp_path, columns)
    assert findings.total == 2
    assert {p.column for p in findings.problems} == {"point_id", "do_mg_l"}


def test_intervals_are_counted_per_point(tmp_path: Path) -> None:
    # A: gaps of 2, 0.5 and 8 days (two irregular); B: one gap of 7 days.
    points = ["A", "B", "A", "A", "B", "A"]
    instants = _days(0, 10, 2, 2.5, 17, 10.5)
    connection, findings = _check(tmp_path, _samples(points, instants))
    assert findings == Findings()
    assert connection.execute(
        f"SELECT point_id, samplings, irregular FROM {SAMPLINGS} ORDER BY point_id"
    ).fetchall() == [("A", 4, 2), ("B", 2, 0)]


def test_instants_spanning_millennia_are_sorted_all_the_same(tmp_path: Path) -> None:
    """Too wide a span for one 64-bit key (point, microsecond): sorted by point, then
    instant, with the same counts."""
    points = [f"P{i:02d}" for i in range(40) for _ in range(3)]
    start = dt.datetime(1, 1, 1, tzinfo=UTC)
    instants = [start + dt.timedelta(days=day) for _ in range(40) for day in (0, 3, 3_000_000)]
    connection, findings = _check(tmp_path, _samples(points, instants))
    assert findings == Findings()
    assert connection.execute(
        f"SELECT count(*), sum(samplings), sum(irregular) FROM {SAMPLINGS}"
    ).fetchone() == (40, 120, 40)
    points[1] = "P00"
    instants[1] = instants[0]
    _, findings = _check(tmp_path, _samples(points, instants))
    assert [(p.row, p.column) for p in findings.problems] == [(3, "sampled_at")]
