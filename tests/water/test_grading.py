"""The grading engine: every bound of the guideline's table, the shares, the water body
rules and severe segments, and the same expression giving the same grades on DuckDB,
SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gongjian.water.choices import Grade
from gongjian.water.grading import (
    DECIMAL_SCALES,
    SQLITE_SCALES,
    DecidingRule,
    PointEvidence,
    Scales,
    decided_by,
    point_grades,
    severe_segments,
    water_body_grades,
)
from gongjian.water.rules import INDICATORS, Rules, load_rules

RULES = load_rules()
VALUE_COLUMNS = (*INDICATORS, "depth_cm")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

Sample = dict[str, Any]


def _scaled(value: str | None, scale: int) -> int | None:
    if value is None:
        return None
    scaled = Decimal(value) * scale
    assert scaled == scaled.to_integral_value(), f"{value} does not fit scale {scale}"
    return int(scaled)


def sample_table(samples: Sequence[Sample], storage: str) -> pa.Table:
    """Samples (values as decimal strings) as SQLite holds them (``scaled`` integers) or
    as exact decimals (``decimal``)."""
    columns: dict[str, pa.Array] = {
        "point_id": pa.array([s["point_id"] for s in samples], pa.string())
    }
    for column in VALUE_COLUMNS:
        values = [s.get(column) for s in samples]
        if storage == "scaled":
            scale = SQLITE_SCALES.of(column)
            columns[column] = pa.array([_scaled(v, scale) for v in values], pa.int64())
        else:
            columns[column] = pa.array(
                [None if v is None else Decimal(v) for v in values], pa.decimal128(18, 3)
            )
    return pa.table(columns)


def point_table(points: Sequence[tuple[str, str, str]]) -> pa.Table:
    """Points as ``(point_id, water_body_id, chainage_m)``."""
    return pa.table(
        {
            "point_id": pa.array([p[0] for p in points], pa.string()),
            "water_body_id": pa.array([p[1] for p in points], pa.string()),
            "chainage_m": pa.array([Decimal(p[2]) for p in points], pa.decimal128(12, 1)),
        }
    )


def scales_of(storage: str) -> Scales:
    return SQLITE_SCALES if storage == "scaled" else DECIMAL_SCALES


class Engine:
    """Where a case is graded: DuckDB over values held as scaled integers or as decimals,
    SQLite (scaled integers, as the platform stores them there) or PostgreSQL (NUMERIC)."""

    def __init__(self, name: str, connection: Any, schema: str | None = None) -> None:
        self.name = name
        self.connection = connection
        self.schema = schema
        self.storage = "decimal" if name in ("duckdb-decimal", "postgresql") else "scaled"

    def table(self, data: pa.Table) -> ibis.Table:
        """``data`` as a table of this engine (on SQLite, decimals as integer tenths)."""
        if self.name.startswith("duckdb"):
            return ibis.memtable(data)
        if self.name == "sqlite":
            for i, column in enumerate(data.schema):
                if pa.types.is_decimal(column.type):
                    tenths = pc.multiply(data.column(i), pa.scalar(Decimal(10))).cast(pa.int64())
                    data = data.set_column(i, column.name, tenths)
        name = f"t_{uuid.uuid4().hex[:12]}"
        if self.schema is None:
            return self.connection.create_table(name, data)
        return self.connection.create_table(name, data, database=self.schema)

    def metres(self, value: Any) -> Decimal:
        """A chainage the engine returned, in metres."""
        return Decimal(value) / 10 if self.name == "sqlite" else Decimal(value)

    def rows(self, expression: ibis.Table) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.connection.to_pyarrow(expression).to_pylist()
        return rows


ENGINES = ("duckdb-scaled", "duckdb-decimal", "sqlite", "postgresql")
DUCKDB = Engine("duckdb-scaled", ibis.duckdb.connect())


@pytest.fixture(scope="module")
def sqlite_connection() -> Iterator[Any]:
    connection = ibis.sqlite.connect()
    yield connection
    connection.disconnect()


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[Any, str]]:
    """An ibis connection to the test PostgreSQL and a schema of its own, dropped after."""
    connection = ibis.connect(PG_URL)
    schema = f"gjtest_grading_{uuid.uuid4().hex[:8]}"
    connection.raw_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield connection, schema
    finally:
        connection.raw_sql(f'DROP SCHEMA "{schema}" CASCADE')
        connection.disconnect()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Every engine the rules must give the same answers on."""
    name: str = request.param
    if name == "sqlite":
        return Engine(name, request.getfixturevalue("sqlite_connection"))
    if name == "postgresql":
        connection, schema = request.getfixturevalue("postgres")
        return Engine(name, connection, schema)
    return Engine(name, ibis.duckdb.connect())


def grade_points(
    samples: Sequence[Sample],
    points: Sequence[tuple[str, str, str]] | None = None,
    *,
    engine: Engine = DUCKDB,
    rules: Rules = RULES,
) -> dict[str, dict[str, Any]]:
    """Each point's row of ``point_grades``, run on ``engine``."""
    if points is None:
        points = [(pid, "W", "0") for pid in sorted({s["point_id"] for s in samples})]
    expression = point_grades(
        engine.table(sample_table(samples, engine.storage)),
        engine.table(point_table(points)),
        rules,
        scales_of(engine.storage),
    )
    return {row["point_id"]: row for row in engine.rows(expression)}


def level(field: str, value: str, engine: Engine, depth: str | None = None, **kw: Any) -> str:
    """The grade of a point whose three samples all hold ``value``: the level of value."""
    samples = [{"point_id": "P", field: value, "depth_cm": depth, "n": n} for n in range(3)]
    grade: str = grade_points(samples, engine=engine, **kw)["P"]["grade"]
    return grade


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("transparency_cm", "9.99", "severe"),
        ("transparency_cm", "10", "mild"),
        ("transparency_cm", "25", "mild"),
        ("transparency_cm", "25.01", "none"),
        ("do_mg_l", "0.199", "severe"),
        ("do_mg_l", "0.2", "mild"),
        ("do_mg_l", "2.0", "mild"),
        ("do_mg_l", "2.001", "none"),
        ("orp_mv", "-200.01", "severe"),
        ("orp_mv", "-200", "mild"),
        ("orp_mv", "50", "mild"),
        ("orp_mv", "50.01", "none"),
        ("nh3n_mg_l", "7.999", "none"),
        ("nh3n_mg_l", "8.0", "mild"),
        ("nh3n_mg_l", "15", "mild"),
        ("nh3n_mg_l", "15.001", "severe"),
    ],
)
def test_every_bound_of_the_table(engine: Engine, field: str, value: str, expected: str) -> None:
    assert level(field, value, engine) == expected


@pytest.mark.parametrize(
    ("value", "depth", "expected"),
    [
        ("20", "20", "none"),
        ("19.99", "20", "mild"),
        ("8", "20", "mild"),
        ("7.99", "20", "severe"),
        ("24.99", "24.99", "none"),
        ("24.99", "25", "mild"),
        ("9.99", "25", "severe"),
        ("30", "20", "none"),
        ("0", "0", "none"),
    ],
)
def test_shallow_water_judges_transparency_against_the_depth(
    engine: Engine, value: str, depth: str, expected: str
) -> None:
    assert level("transparency_cm", value, engine, depth) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("20", "mild"), ("8", "severe"), ("9.99", "severe"), ("26", "none")]
)
def test_shallow_water_switched_off_applies_the_table(
    engine: Engine, value: str, expected: str
) -> None:
    off = RULES.model_copy(update={"shallow_water": False})
    assert level("transparency_cm", value, engine, "20", rules=off) == expected


def test_without_a_depth_the_table_applies(engine: Engine) -> None:
    assert level("transparency_cm", "20", engine, None) == "mild"


def _series(point_id: str, **columns: Sequence[str | None]) -> list[Sample]:
    """Samples of one point, column by column: ``do_mg_l=["0.1", "3", None]``."""
    length = max(len(values) for values in columns.values())
    return [
        {"point_id": point_id, **{c: v[i] for c, v in columns.items() if i < len(v)}}
        for i in range(length)
    ]


SEVERE_DO, MILD_DO, CLEAN_DO = "0.1", "1", "5"
SEVERE_T, CLEAN_T = "5", "40"


def test_three_of_five_is_sixty_percent(engine: Engine) -> None:
    rows = grade_points(
        [
            *_series("A", do_mg_l=[SEVERE_DO] * 3 + [CLEAN_DO] * 2),
            *_series("B", do_mg_l=[SEVERE_DO] * 2 + [CLEAN_DO] * 3),
        ],
        engine=engine,
    )
    assert (rows["A"]["grade"], rows["A"]["rule"]) == ("severe", "one_indicator")
    # One indicator at 40% decides nothing, neither severe nor mild.
    assert (rows["B"]["grade"], rows["B"]["rule"]) == ("none", "no_indicator")


def test_two_indicators_at_thirty_percent_exactly(engine: Engine) -> None:
    three_of_ten = [SEVERE_DO] * 3 + [CLEAN_DO] * 7
    rows = grade_points(
        [
            *_series("A", do_mg_l=three_of_ten, transparency_cm=[SEVERE_T] * 3 + [CLEAN_T] * 7),
            *_series("B", do_mg_l=three_of_ten, transparency_cm=[SEVERE_T] * 2 + [CLEAN_T] * 8),
            *_series("C", do_mg_l=[MILD_DO] * 3 + [CLEAN_DO] * 7, orp_mv=["0"] * 3 + ["100"] * 7),
            *_series("D", do_mg_l=[MILD_DO] * 6 + [CLEAN_DO] * 4),
        ],
        engine=engine,
    )
    assert (rows["A"]["grade"], rows["A"]["rule"]) == ("severe", "two_indicators")
    assert rows["B"]["grade"] == "none"
    assert (rows["C"]["grade"], rows["C"]["rule"]) == ("mild", "two_indicators")
    assert (rows["D"]["grade"], rows["D"]["rule"]) == ("mild", "one_indicator")


def test_missing_values_are_not_samples_of_that_indicator(engine: Engine) -> None:
    rows = grade_points(
        _series(
            "A",
            do_mg_l=[SEVERE_DO, SEVERE_DO, CLEAN_DO, None, None],
            orp_mv=["100"] * 5,
        ),
        engine=engine,
    )
    row = rows["A"]
    assert (row["samples"], row["do_mg_l_measured"], row["do_mg_l_severe"]) == (5, 3, 2)
    assert row["grade"] == "severe"  # 2 of 3 measured, not 2 of 5


def test_fewer_than_three_samples_is_insufficient(engine: Engine) -> None:
    rows = grade_points(
        _series("A", do_mg_l=[SEVERE_DO] * 2),
        points=[("A", "W", "0"), ("Z", "W", "100")],
        engine=engine,
    )
    assert (rows["A"]["grade"], rows["A"]["samples"]) == ("insufficient", 2)
    assert (rows["Z"]["grade"], rows["Z"]["samples"]) == ("insufficient", 0)
    assert rows["Z"]["rule"] == "too_few_samples"


def test_samples_of_points_not_listed_are_ignored() -> None:
    rows = grade_points(_series("X", do_mg_l=[SEVERE_DO] * 3), points=[("A", "W", "0")])
    assert list(rows) == ["A"]


def _evidence(row: dict[str, Any]) -> str:
    return decided_by(PointEvidence.from_row(row), RULES)


def test_decided_by_names_the_indicators_and_shares() -> None:
    rows = grade_points(
        [
            *_series("A", do_mg_l=[SEVERE_DO] * 4 + [CLEAN_DO]),
            *_series("B", do_mg_l=[SEVERE_DO] * 2),
            *_series(
                "C",
                do_mg_l=[SEVERE_DO] * 3 + [CLEAN_DO] * 7,
                nh3n_mg_l=["16"] * 3 + ["1"] * 7,
            ),
            *_series("D", transparency_cm=["20", "8", "7.99"], depth_cm=["20"] * 3),
            *_series("E", do_mg_l=[CLEAN_DO] * 3),
        ]
    )
    assert _evidence(rows["A"]) == "重度黑臭：溶解氧低于0.2 mg/L的样本 4/5（80%）"
    assert _evidence(rows["B"]) == "数据不足：只有 2 个样本，至少需要 3 个"
    assert _evidence(rows["C"]) == (
        "重度黑臭：溶解氧低于0.2 mg/L的样本 3/10（30%），氨氮高于15 mg/L的样本 3/10（30%），"
        "两项指标各达30%"
    )
    assert _evidence(rows["D"]).startswith("轻度黑臭：透明度不高于25 cm（水深不足25 cm")
    assert "2/3（66.7%）" in _evidence(rows["D"])
    assert _evidence(rows["E"]).startswith("不黑不臭：轻度及以上样本占比（溶解氧 0/3）")


def test_evidence_round_trips_as_plain_data() -> None:
    row = grade_points(_series("A", do_mg_l=[SEVERE_DO] * 3))["A"]
    evidence = PointEvidence.from_row(row).as_dict()
    assert evidence["grade"] == Grade.severe
    assert evidence["rule"] == DecidingRule.one_indicator
    assert evidence["indicators"]["do_mg_l"] == {
        "measured": 3,
        "severe": 3,
        "mild_or_worse": 3,
        "shallow": 0,
    }


def _point_samples(point_id: str, grade: str) -> list[Sample]:
    """Three samples that give a point ``grade`` (or two, for insufficient)."""
    do = {"severe": SEVERE_DO, "mild": MILD_DO, "none": CLEAN_DO, "insufficient": SEVERE_DO}
    count = 2 if grade == "insufficient" else 3
    return _series(point_id, do_mg_l=[do[grade]] * count)


def grade_river(
    layout: Sequence[tuple[str, str, str]], engine: Engine = DUCKDB
) -> tuple[dict[str, Any], list[tuple[Decimal, Decimal]]]:
    """One water body ``W`` of points ``(point_id, chainage_m, grade)``: its row of
    ``water_body_grades`` and its severe segments."""
    samples = [s for pid, _, grade in layout for s in _point_samples(pid, grade)]
    points = [(pid, "W", chainage) for pid, chainage, _ in layout]
    graded = point_grades(
        engine.table(sample_table(samples, engine.storage)),
        engine.table(point_table(points)),
        RULES,
        scales_of(engine.storage),
    )
    (body,) = engine.rows(water_body_grades(graded, RULES))
    segments = engine.rows(severe_segments(graded, RULES))
    return body, sorted((engine.metres(s["start_m"]), engine.metres(s["end_m"])) for s in segments)


@pytest.mark.parametrize(
    ("grades", "expected"),
    [
        (["severe"] * 3 + ["none"] * 2, ("severe", 5, 3)),
        (["severe"] * 2 + ["none"] * 3, ("mild", 5, 2)),
        (["mild"] + ["none"] * 2, ("mild", 3, 0)),
        (["none"] * 3 + ["insufficient"] * 2, ("none", 3, 0)),
        (["severe"] * 2 + ["insufficient"] * 5, ("insufficient", 2, 2)),
        (["severe"] * 3 + ["none"] * 2 + ["insufficient"] * 4, ("severe", 5, 3)),
    ],
)
def test_water_body_grade(
    engine: Engine, grades: list[str], expected: tuple[str, int, int]
) -> None:
    layout = [(f"P{i:02d}", str(i * 300), grade) for i, grade in enumerate(grades)]
    body, _ = grade_river(layout, engine)
    assert (body["grade"], body["points_graded"], body["points_severe"]) == expected


def test_severe_segments_are_runs_of_three_broken_by_any_other_point(engine: Engine) -> None:
    layout = [
        ("a", "0", "severe"),
        ("b", "200", "severe"),
        ("c", "400", "severe"),
        ("d", "600", "insufficient"),
        ("e", "800", "severe"),
        ("f", "1000", "severe"),
        ("g", "1200", "mild"),
        ("h", "1400", "severe"),
        ("i", "1600", "severe"),
        ("j", "1800.5", "severe"),
        ("k", "2000", "severe"),
    ]
    random.Random(3).shuffle(layout)
    _, segments = grade_river(layout, engine)
    assert segments == [(Decimal("0"), Decimal("400")), (Decimal("1400"), Decimal("2000"))]


def test_points_at_the_same_chainage_are_ordered_by_point_id(engine: Engine) -> None:
    layout = [
        ("x", "0", "severe"),
        ("y", "100", "severe"),
        ("b", "200", "none"),
        ("a", "200", "severe"),
        ("z", "300", "severe"),
    ]
    _, segments = grade_river(layout, engine)
    assert segments == [(Decimal("0"), Decimal("200"))]


# The same expression on three backends -------------------------------------------------

BOUNDARY_VALUES = {
    "transparency_cm": ["9.99", "10", "25", "25.01", "3", "40", "7.99", "8"],
    "do_mg_l": ["0.199", "0.2", "2.0", "2.001", "0.05", "6.5"],
    "orp_mv": ["-200.01", "-200", "50", "50.01", "-350", "120"],
    "nh3n_mg_l": ["7.999", "8.0", "15", "15.001", "1.5", "22"],
    "depth_cm": ["20", "24.99", "25", "80"],
}


CLEAN_VALUES = {
    "transparency_cm": ["25.01", "40"],
    "do_mg_l": ["2.001", "6.5"],
    "orp_mv": ["50.01", "120"],
    "nh3n_mg_l": ["7.999", "1.5"],
    "depth_cm": ["25", "80"],
}


def generated_city(seed: int = 11) -> tuple[list[Sample], list[tuple[str, str, str]]]:
    """A few hundred samples on 60 points of 6 water bodies: values at and around every
    bound, a fifth of them missing, some points short of samples, a dirty stretch in the
    middle of each water body, and points sharing a chainage."""
    chance = random.Random(seed)
    points = [
        (f"{i:03d}", f"R{i % 6}", str((i // 12) * 300 + chance.choice([0, 0, 150.5])))
        for i in range(60)
    ]
    samples: list[Sample] = []
    for index, (point_id, _, _) in enumerate(points):
        dirty_stretch = 1 <= index // 12 <= 3
        dirt = 1.0 if dirty_stretch else chance.choice([0.0, 0.2, 0.5])
        taken = chance.choice([5, 8, 10] if dirty_stretch else [0, 2, 3, 5, 8])
        for _ in range(taken):
            sample: Sample = {"point_id": point_id}
            for column, values in BOUNDARY_VALUES.items():
                if chance.random() > 0.2:
                    pool = values if chance.random() < dirt else CLEAN_VALUES[column]
                    sample[column] = chance.choice(pool)
            if not any(column in sample for column in INDICATORS):
                sample["do_mg_l"] = chance.choice(BOUNDARY_VALUES["do_mg_l"])
            samples.append(sample)
    return samples, points


def _results(
    connection: Any, samples: ibis.Table, points: ibis.Table, scales: Scales
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    graded = point_grades(samples, points, RULES, scales)
    grade_rows = [
        tuple(str(value) for value in row.values())
        for row in connection.to_pyarrow(graded.drop("chainage_m")).to_pylist()
    ]
    bodies = [
        tuple(row.values())
        for row in connection.to_pyarrow(water_body_grades(graded, RULES)).to_pylist()
    ]
    segments = [
        (row["water_body_id"], Decimal(row["start_m"]), Decimal(row["end_m"]), row["points"])
        for row in connection.to_pyarrow(severe_segments(graded, RULES)).to_pylist()
    ]
    return sorted(grade_rows), sorted(bodies), sorted(segments)


@pytest.fixture(scope="module")
def city() -> tuple[list[Sample], list[tuple[str, str, str]]]:
    return generated_city()


@pytest.fixture(scope="module")
def duckdb_results(
    city: tuple[list[Sample], list[tuple[str, str, str]]],
) -> tuple[list[tuple[Any, ...]], ...]:
    samples, points = city
    return _results(
        ibis.duckdb.connect(),
        ibis.memtable(sample_table(samples, "decimal")),
        ibis.memtable(point_table(points)),
        DECIMAL_SCALES,
    )


def test_generated_city_covers_every_grade(
    duckdb_results: tuple[list[tuple[Any, ...]], ...],
) -> None:
    grade_rows, _, segments = duckdb_results
    assert len(grade_rows) == 60
    assert {row[-2] for row in grade_rows} == set(Grade.values())
    assert segments


def test_sqlite_gives_the_same_grades(
    tmp_path: Path,
    city: tuple[list[Sample], list[tuple[str, str, str]]],
    duckdb_results: tuple[list[tuple[Any, ...]], ...],
) -> None:
    samples, points = city
    connection = ibis.sqlite.connect(tmp_path / "grades.sqlite3")
    # Chainages as tenths of a metre, values as the platform's scaled integers.
    point_rows = point_table(points).to_pylist()
    stored_points = connection.create_table(
        "monitoring_points",
        pa.table(
            {
                "point_id": [p["point_id"] for p in point_rows],
                "water_body_id": [p["water_body_id"] for p in point_rows],
                "chainage_m": pa.array([int(p["chainage_m"] * 10) for p in point_rows], pa.int64()),
            }
        ),
    )
    stored_samples = connection.create_table("samples", sample_table(samples, "scaled"))
    grade_rows, bodies, segments = _results(
        connection, stored_samples, stored_points, SQLITE_SCALES
    )
    expected_grades, expected_bodies, expected_segments = duckdb_results
    assert grade_rows == expected_grades
    assert bodies == expected_bodies
    assert segments == [(w, s * 10, e * 10, n) for w, s, e, n in expected_segments]


def test_postgresql_gives_the_same_grades(
    postgres: tuple[Any, str],
    city: tuple[list[Sample], list[tuple[str, str, str]]],
    duckdb_results: tuple[list[tuple[Any, ...]], ...],
) -> None:
    connection, schema = postgres
    samples, points = city
    stored_samples = connection.create_table(
        "samples", sample_table(samples, "decimal"), database=schema
    )
    stored_points = connection.create_table(
        "monitoring_points", point_table(points), database=schema
    )
    assert _results(connection, stored_samples, stored_points, DECIMAL_SCALES) == duckdb_results
