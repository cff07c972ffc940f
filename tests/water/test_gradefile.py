"""``grade-file``: files in, two CSVs out, or exit 2 naming the file, row and column of
every problem and writing nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from gongjian.cli.grade import register
from gongjian.errors import Invalid
from gongjian.water.gradefile import grade_file

POINTS = """point_id,water_body_id,chainage_m
007,R1,200
008,R1,800
009,R1,150.5
010,R1,1000
011,R2,0
"""

HEADER = "nh3n_mg_l,point_id,do_mg_l,sampled_at,orp_mv,transparency_cm,depth_cm"
"""Columns in an unusual order, depth included."""

SAMPLES = f"""{HEADER}
,007,0.1,2023-01-01T08:00:00+08:00,,5,
,007,0.1,2023-01-03T08:00:00,,5,
,007,0.1,2023-01-05 08:00,,5,
,008,0.1,2023-01-01T08:00:00,,5,
,008,0.1,2023-01-03T08:00:00,,5,
,008,0.1,2023-01-05T08:00:00,,5,
,009,,2023-01-01T08:00:00,,7.99,20
,009,,2023-01-03T08:00:00,,7.99,20
,009,,2023-01-05T08:00:00,,7.99,20
1.5,010,3,2023-01-05T08:00:00,,,
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def app() -> typer.Typer:
    """A command line holding only ``grade-file``, as ``register`` builds it."""
    application = typer.Typer()
    register(application)

    @application.command("version")
    def version() -> None:
        """A second command, so that Typer keeps ``grade-file`` as a sub-command."""

    return application


def test_grades_points_and_water_bodies(tmp_path: Path, app: typer.Typer) -> None:
    samples = _write(tmp_path, "samples.csv", SAMPLES)
    points = _write(tmp_path, "points.csv", POINTS)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["grade-file", str(samples), "--points", str(points), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "已分级检测点 5 个" in result.output
    by_point = {row["point_id"]: row for row in _rows(out / "points.csv")}
    assert list(_rows(out / "points.csv")[0]) == [
        "point_id",
        "water_body_id",
        "grade",
        "samples",
        "decided_by",
    ]
    assert {pid: (r["grade"], r["samples"]) for pid, r in by_point.items()} == {
        "007": ("severe", "3"),
        "008": ("severe", "3"),
        "009": ("severe", "3"),
        "010": ("insufficient", "1"),
        "011": ("insufficient", "0"),
    }
    assert by_point["007"]["water_body_id"] == "R1"
    assert by_point["009"]["decided_by"].startswith("重度黑臭：透明度低于10 cm（水深不足25 cm")
    assert by_point["011"]["decided_by"] == "数据不足：没有样本，至少需要 3 个"
    assert _rows(out / "water_bodies.csv") == [
        {
            "water_body_id": "R1",
            "grade": "severe",
            "points_graded": "3",
            "points_severe": "3",
            "severe_segments": "150.5-800",
        },
        {
            "water_body_id": "R2",
            "grade": "insufficient",
            "points_graded": "0",
            "points_severe": "0",
            "severe_segments": "",
        },
    ]


def test_parquet_input_and_two_segments(tmp_path: Path) -> None:
    point_ids = [f"{i:03d}" for i in range(7)]
    pq.write_table(
        pa.table(
            {
                "point_id": point_ids,
                "water_body_id": ["W"] * 7,
                "chainage_m": [0, 200, 400.5, 600, 800, 1000, 1200],
            }
        ),
        tmp_path / "points.parquet",
    )
    severe = {"000", "001", "002", "004", "005", "006"}
    samples = [
        (point_id, f"2023-01-0{day}T09:00:00+08:00", 0.1 if point_id in severe else 6.0)
        for point_id in point_ids
        for day in (1, 3, 5)
    ]
    pq.write_table(
        pa.table(
            {
                "point_id": [s[0] for s in samples],
                "sampled_at": [s[1] for s in samples],
                "do_mg_l": [s[2] for s in samples],
                "transparency_cm": pa.nulls(len(samples), pa.float64()),
                "orp_mv": pa.nulls(len(samples), pa.float64()),
                "nh3n_mg_l": pa.nulls(len(samples), pa.float64()),
            }
        ),
        tmp_path / "samples.parquet",
    )
    result = grade_file(tmp_path / "samples.parquet", tmp_path / "points.parquet", tmp_path / "out")
    assert sum(result.points.values()) == 7
    (body,) = _rows(tmp_path / "out" / "water_bodies.csv")
    assert body["grade"] == "severe"
    assert body["severe_segments"] == "0-400.5;800-1200"


def test_another_rules_file(tmp_path: Path) -> None:
    rules_text = (Path(__file__).parents[2] / "src/gongjian/water/rules.toml").read_text("utf-8")
    rules = _write(
        tmp_path, "rules.toml", rules_text.replace("shallow_water = true", "shallow_water = false")
    )
    grade_file(
        _write(tmp_path, "samples.csv", SAMPLES),
        _write(tmp_path, "points.csv", POINTS),
        tmp_path / "out",
        rules,
    )
    by_point = {row["point_id"]: row for row in _rows(tmp_path / "out" / "points.csv")}
    # 7.99 cm is severe by the table as it is under the shallow-water rule.
    assert by_point["009"]["grade"] == "severe"
    assert "水深" not in by_point["009"]["decided_by"]


GOOD_ROW = ",007,0.1,2023-01-07T08:00:00,,5,"


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (",007,NaN,2023-01-09T08:00:00,,5,", "do_mg_l", "不是有限数"),
        (",007,0.1,2023-01-09T08:00:00,,inf,", "transparency_cm", "不是有限数"),
        (",007,0.1,2023-01-09T08:00:00,,-Infinity,", "transparency_cm", "不是有限数"),
        (",007,abc,2023-01-09T08:00:00,,5,", "do_mg_l", "不是数值"),
        (",007,0.1,2023-01-09T08:00:00,,-0.01,", "transparency_cm", "不可能为负"),
        (",007,0.1,2023-01-09T08:00:00,,5,-1", "depth_cm", "不可能为负"),
        (",007,-0.001,2023-01-09T08:00:00,,5,", "do_mg_l", "不可能为负"),
        ("-1,007,,2023-01-09T08:00:00,,5,", "nh3n_mg_l", "不可能为负"),
        (",007,50.001,2023-01-09T08:00:00,,5,", "do_mg_l", "不可能高于 50"),
        (",007,0.1,2023-01-09T08:00:00,-1000.01,5,", "orp_mv", "不可能低于 -1000"),
        (",007,0.1,2023-01-09T08:00:00,1000.01,5,", "orp_mv", "不可能高于 1000"),
        (",007,0.1234,2023-01-09T08:00:00,,5,", "do_mg_l", "小数位数超过 3 位"),
        (",007,0.1,2023-13-09T08:00:00,,5,", "sampled_at", "采样时间无法识别"),
        (",007,0.1,,,5,", "sampled_at", "采样时间无法识别"),
        (",007,,2023-01-09T08:00:00,,,30", "transparency_cm,do_mg_l,orp_mv,nh3n_mg_l", "都未测量"),
        (",099,0.1,2023-01-09T08:00:00,,5,", "point_id", "POINTS 中没有这个检测点"),
        (",,0.1,2023-01-09T08:00:00,,5,", "point_id", "缺少检测点编号"),
        (",007,0.1,2023-01-01T00:00:00Z,,5,", "sampled_at", "与第2行的检测点和采样时间相同"),
        (",007,0.1,2023-01-01T08:00:00,,5,", "sampled_at", "与第2行的检测点和采样时间相同"),
    ],
)
def test_each_bad_sample_is_named_by_file_row_and_column(
    tmp_path: Path, app: typer.Typer, row: str, column: str, reason: str
) -> None:
    text = f"{HEADER}\n,007,0.1,2023-01-01T08:00:00+08:00,,5,\n{GOOD_ROW}\n{row}\n"
    samples = _write(tmp_path, "samples.csv", text)
    points = _write(tmp_path, "points.csv", POINTS)
    out = tmp_path / "out"
    with pytest.raises(Invalid) as caught:
        grade_file(samples, points, out)
    assert [(p.file, p.row, p.column) for p in caught.value.problems] == [(str(samples), 4, column)]
    assert reason in caught.value.problems[0].reason
    assert not out.exists()
    result = CliRunner().invoke(
        app, ["grade-file", str(samples), "--points", str(points), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert f"{samples}:4:{column}: " in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_values_at_the_physical_limits_are_accepted(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\n0,007,50,2023-01-01,-1000,0,0\n,007,0,2023-01-02,1000,,\n"
        "999999.999,007,,2023-01-03,,,\n"
    )
    grade_file(
        _write(tmp_path, "samples.csv", text), _write(tmp_path, "points.csv", POINTS), tmp_path
    )
    assert (tmp_path / "points.csv").exists()


@pytest.mark.parametrize(
    ("samples_header", "points_text", "file", "column"),
    [
        (HEADER.replace(",orp_mv", ""), POINTS, "samples.csv", "orp_mv"),
        (HEADER.replace("point_id,", ""), POINTS, "samples.csv", "point_id"),
        (HEADER, "point_id,water_body_id\n007,R1\n", "points.csv", "chainage_m"),
    ],
)
def test_a_missing_column_is_named_on_the_header_row(
    tmp_path: Path, samples_header: str, points_text: str, file: str, column: str
) -> None:
    directory = tmp_path / "in"
    directory.mkdir()
    samples = _write(directory, "samples.csv", f"{samples_header}\n")
    points = _write(directory, "points.csv", points_text)
    with pytest.raises(Invalid) as caught:
        grade_file(samples, points, tmp_path / "out")
    problem = caught.value.problems[0]
    assert (problem.file, problem.row, problem.column) == (str(directory / file), 1, column)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("points_text", "row", "column"),
    [
        ("point_id,water_body_id,chainage_m\n007,R1,-5\n", 2, "chainage_m"),
        ("point_id,water_body_id,chainage_m\n007,R1,nan\n", 2, "chainage_m"),
        ("point_id,water_body_id,chainage_m\n007,,5\n", 2, "water_body_id"),
        ("point_id,water_body_id,chainage_m\n007,R1,5\n007,R1,6\n", 3, "point_id"),
    ],
)
def test_bad_points_are_named(tmp_path: Path, points_text: str, row: int, column: str) -> None:
    points = _write(tmp_path, "points.csv", points_text)
    samples = _write(tmp_path, "samples.csv", f"{HEADER}\n")
    with pytest.raises(Invalid) as caught:
        grade_file(samples, points, tmp_path / "out")
    assert [(p.file, p.row, p.column) for p in caught.value.problems] == [
        (str(points), row, column)
    ]


def test_at_most_fifty_problems_and_old_results_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "points.csv").write_text("earlier results\n", encoding="utf-8")
    rows = "\n".join(
        f",007,-{i},2023-01-{1 + i % 28:02d}T{i % 24:02d}:00:00,,5," for i in range(1, 80)
    )
    samples = _write(tmp_path, "samples.csv", f"{HEADER}\n{rows}\n")
    with pytest.raises(Invalid) as caught:
        grade_file(samples, _write(tmp_path, "points.csv", POINTS), out)
    assert len(caught.value.problems) == 50
    assert "79 个问题" in caught.value.message
    assert (out / "points.csv").read_text(encoding="utf-8") == "earlier results\n"
    assert not (out / "water_bodies.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == ["points.csv"]


def test_unreadable_files_exit_2(tmp_path: Path, app: typer.Typer) -> None:
    points = _write(tmp_path, "points.csv", POINTS)
    (tmp_path / "latin1.csv").write_bytes(
        f"{HEADER}\n,007,0.1,2023-01-01,,5,\xb5\n".encode("latin-1")
    )
    for samples in (tmp_path / "absent.csv", tmp_path / "latin1.csv"):
        result = CliRunner().invoke(
            app, ["grade-file", str(samples), "--points", str(points), "--out", str(tmp_path / "o")]
        )
        assert result.exit_code == 2, result.output
        assert f"{samples}::: " in result.output
    assert not (tmp_path / "o").exists()


def test_a_bad_rules_file_exits_2(tmp_path: Path, app: typer.Typer) -> None:
    rules = _write(tmp_path, "rules.toml", 'shallow_water = "maybe"\n')
    result = CliRunner().invoke(
        app,
        [
            "grade-file",
            str(_write(tmp_path, "samples.csv", SAMPLES)),
            "--points",
            str(_write(tmp_path, "points.csv", POINTS)),
            "--out",
            str(tmp_path / "o"),
            "--rules",
            str(rules),
        ],
    )
    assert result.exit_code == 2
    assert f"{rules}::shallow_water: " in result.output


def test_sampling_rules_are_warned_about_but_graded(tmp_path: Path) -> None:
    result = grade_file(
        _write(tmp_path, "samples.csv", SAMPLES),
        _write(tmp_path, "points.csv", POINTS),
        tmp_path / "out",
    )
    assert result.warnings == [
        "水体 R1 检测点 009 与 007 相距 49.5 m，应在 200–600 m 之间",
        "水体 R2 只有 1 个检测点，应至少 3 个",
        "检测点 010 只采样 1 次，应至少 3 次",
        "检测点 011 只采样 0 次，应至少 3 次",
    ]
    assert result.points["severe"] == 3
