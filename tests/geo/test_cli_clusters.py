"""``gongjian clusters``: a GeoJSON file in, one CSV row per parcel out; or exit 2 naming
every problem by feature index and parcel, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from gongjian.cli import app
from gongjian.geo.crs import wgs84_to_gcj02_arrays

PARCELS = Path(__file__).resolve().parents[1] / "data" / "geo" / "parcels.geojson"

EXPECTED = (
    "parcel_id,cluster_id,cluster_area_mu,cluster_parcels,flagged\r\n"
    "9,10,307.60,2,true\r\n"
    "10,10,307.60,2,true\r\n"
    "A-1,A-1,34.18,1,false\r\n"
    "B,B,16.06,1,false\r\n"
)
"""The fixture at the defaults: 9 and 10 share an edge (153.80 mu each); A-1 (two squares)
and B lie 3.09 m apart."""

SQUARE = [[113.38, 22.52], [113.381, 22.52], [113.381, 22.521], [113.38, 22.521], [113.38, 22.52]]
BOW_TIE = [[113.38, 22.52], [113.39, 22.53], [113.39, 22.52], [113.38, 22.53], [113.38, 22.52]]


def run(*arguments: str | Path) -> Any:
    return CliRunner().invoke(app, ["clusters", *map(str, arguments)])


def test_help_lists_the_verb() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "clusters" in result.output


def test_writes_one_row_per_parcel(tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    result = run(PARCELS, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().decode("utf-8") == EXPECTED
    assert "地块 4 块，连片 3 片" in result.output
    assert "达到 100 亩的 1 片，共 307.60 亩" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.csv"]


def test_gap_and_threshold(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "clusters.csv"
    result = run(PARCELS, "--gap-m", "3.2", "--min-mu", "50", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines()[3:] == [
        "A-1,A-1,50.24,2,true",
        "B,A-1,50.24,2,true",
    ]
    assert "达到 50 亩的 2 片，共 357.84 亩" in result.output


def test_gcj02_input_is_brought_to_wgs84(tmp_path: Path) -> None:
    """The fixture moved into GCJ-02 clusters as the fixture does in WGS84."""
    document = json.loads(PARCELS.read_text(encoding="utf-8"))
    for feature in document["features"]:
        wgs = shapely.geometry.shape(feature["geometry"])
        gcj = shapely.transform(
            wgs, lambda c: np.column_stack(wgs84_to_gcj02_arrays(c[:, 0], c[:, 1]))
        )
        feature["geometry"] = shapely.geometry.mapping(gcj)
    path = tmp_path / "gcj02.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    as_gcj02, as_wgs84 = tmp_path / "gcj02.csv", tmp_path / "wgs84.csv"
    assert run(path, "--crs", "gcj02", "--out", as_gcj02).exit_code == 0
    assert run(path, "--out", as_wgs84).exit_code == 0
    assert as_gcj02.read_bytes().decode("utf-8") == EXPECTED
    assert as_wgs84.read_text(encoding="utf-8") != as_gcj02.read_text(encoding="utf-8")


def collection(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def parcel(parcel_id: str | None, geometry: Any) -> dict[str, Any]:
    properties = {} if parcel_id is None else {"parcel_id": parcel_id}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


GOOD = parcel("P1", polygon(SQUARE))

MALFORMED = {
    "not_json": ('{"type": "FeatureCollection", "features": [}', "::: 不是有效的 JSON"),
    "not_a_feature_collection": (
        json.dumps(GOOD),
        "::: 不是 GeoJSON FeatureCollection",
    ),
    "missing_parcel_id": (
        collection(GOOD, parcel(None, polygon(SQUARE))),
        ":1:parcel_id: 缺少地块编号 parcel_id",
    ),
    "duplicate_parcel_id": (
        collection(GOOD, parcel("P1", polygon(SQUARE))),
        ":1:parcel_id: 地块编号 “P1” 重复：第 0 个要素已使用",
    ),
    "point": (
        collection(GOOD, parcel("P2", {"type": "Point", "coordinates": [113.38, 22.52]})),
        ":1:geometry: 地块 “P2”：几何类型是 Point",
    ),
    "bow_tie": (
        collection(GOOD, parcel("P2", polygon(BOW_TIE))),
        ":1:geometry: 地块 “P2”：多边形无效：自相交，位置 113.385,22.525",
    ),
    "empty": (
        collection(GOOD, parcel("P2", {"type": "Polygon", "coordinates": []})),
        ":1:geometry: 地块 “P2”：几何为空",
    ),
    "out_of_range": (
        collection(GOOD, parcel("P2", polygon([[x, y + 70] for x, y in SQUARE]))),
        ":1:geometry: 地块 “P2”：坐标超出经纬度范围",
    ),
    "outside_china": (
        collection(GOOD, parcel("P2", polygon([[x - 111, y + 26] for x, y in SQUARE]))),
        ":1:geometry: 地块 “P2”：坐标在中国范围之外",
    ),
    "swapped": (
        collection(GOOD, parcel("P2", polygon([[y, x] for x, y in SQUARE]))),
        ":1:geometry: 地块 “P2”：经纬度可能颠倒",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_exits_2_naming_the_feature_and_writing_nothing(
    tmp_path: Path, case: str
) -> None:
    content, expected = MALFORMED[case]
    path = tmp_path / "parcels.geojson"
    path.write_text(content, encoding="utf-8")
    result = run(path, "--out", tmp_path / "clusters.csv")
    assert result.exit_code == 2, result.output
    assert f"{path}{expected}" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["parcels.geojson"]


def test_malformed_input_leaves_an_earlier_output_untouched(tmp_path: Path) -> None:
    path = tmp_path / "parcels.geojson"
    path.write_text(collection(GOOD, parcel("P2", polygon(BOW_TIE))), encoding="utf-8")
    out = tmp_path / "clusters.csv"
    out.write_text("earlier\n", encoding="utf-8")
    assert run(path, "--out", out).exit_code == 2
    assert out.read_text(encoding="utf-8") == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.csv", "parcels.geojson"]


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "parcels.geojson"
    path.write_text(
        collection(GOOD, parcel(None, polygon(BOW_TIE)), parcel("P1", None)), encoding="utf-8"
    )
    result = run(path, "--out", tmp_path / "clusters.csv")
    assert result.exit_code == 2
    assert f"{path}:1:parcel_id: " in result.output
    assert f"{path}:1:geometry: 多边形无效：自相交" in result.output
    assert f"{path}:2:parcel_id: 地块编号 “P1” 重复" in result.output
    assert f"{path}:2:geometry: 地块 “P1”：缺少几何" in result.output


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--gap-m", "-1"], "--gap-m 应为不小于 0 的米数"),
        (["--gap-m", "nan"], "--gap-m 应为不小于 0 的米数"),
        (["--min-mu", "-0.5"], "--min-mu 应为不小于 0 的亩数"),
        (["--min-mu", "many"], "--min-mu 应为亩数"),
        (["--crs", "bd09"], "--crs"),
    ],
)
def test_bad_options_exit_2_writing_nothing(
    tmp_path: Path, options: list[str], expected: str
) -> None:
    result = run(PARCELS, *options, "--out", tmp_path / "clusters.csv")
    assert result.exit_code == 2
    assert expected in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "none.geojson"
    result = run(path, "--out", tmp_path / "clusters.csv")
    assert result.exit_code == 2
    assert f"{path}::: 无法读取文件" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_fails_leaving_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    out.mkdir()
    result = run(PARCELS, "--out", out)
    assert result.exit_code == 1
    assert f"无法写入 {out}" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["clusters.csv"]
