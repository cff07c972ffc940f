"""Checking parcel geometry one record at a time (``check_geometry``) and a GeoJSON file
at once (``read_features``): every problem found, named, located."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gongjian.errors import Invalid
from gongjian.geo.choices import InputCrs
from gongjian.geo.crs import wgs84_to_gcj02_arrays
from gongjian.geo.shapes import MAX_PROBLEMS, ParcelFeature, check_geometry, read_features

SQUARE = [[113.38, 22.52], [113.39, 22.52], [113.39, 22.53], [113.38, 22.53], [113.38, 22.52]]
BOW_TIE = [[113.38, 22.52], [113.39, 22.53], [113.39, 22.52], [113.38, 22.53], [113.38, 22.52]]


def polygon(*rings: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def feature(parcel_id: Any, geometry: Any) -> dict[str, Any]:
    properties = {} if parcel_id is None else {"parcel_id": parcel_id}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def write(directory: Path, *features: Any, name: str = "parcels.geojson") -> Path:
    path = directory / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def test_a_good_polygon_comes_back_in_wgs84_oriented_counter_clockwise() -> None:
    clockwise = list(reversed(SQUARE))
    geometry, reasons = check_geometry(polygon(clockwise))
    assert reasons == []
    assert isinstance(geometry, Polygon)
    assert geometry.exterior.is_ccw
    assert shapely.equals(geometry, shapely.box(113.38, 22.52, 113.39, 22.53))


def test_holes_come_back_clockwise_in_every_part() -> None:
    hole = [[113.383, 22.523], [113.386, 22.523], [113.386, 22.526], [113.383, 22.526]]
    geometry, reasons = check_geometry(
        {
            "type": "MultiPolygon",
            "coordinates": [[SQUARE, hole], [[[x + 0.1, y] for x, y in SQUARE]]],
        }
    )
    assert reasons == []
    assert isinstance(geometry, MultiPolygon)
    first, second = geometry.geoms
    assert first.exterior.is_ccw
    assert second.exterior.is_ccw
    assert not first.interiors[0].is_ccw


def test_an_unclosed_ring_is_closed_as_geojson_readers_do() -> None:
    geometry, reasons = check_geometry(polygon(SQUARE[:-1]))
    assert reasons == []
    assert geometry is not None
    assert shapely.equals(geometry, shapely.box(113.38, 22.52, 113.39, 22.53))


def test_a_third_coordinate_is_ignored() -> None:
    geometry, reasons = check_geometry(polygon([[x, y, 5.0] for x, y in SQUARE]))
    assert reasons == []
    assert geometry is not None
    assert not geometry.has_z


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON ((113.38 22.52, 113.39 22.52, 113.39 22.53, 113.38 22.53, 113.38 22.52))",
        json.dumps(polygon(SQUARE)),
    ],
)
def test_wkt_and_geojson_text_are_read(text: str) -> None:
    geometry, reasons = check_geometry(text)
    assert reasons == []
    assert isinstance(geometry, Polygon)


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (None, "缺少几何"),
        ("", "缺少几何"),
        ("POLYGON ((1 2", "无法解析"),
        ({"coordinates": [SQUARE]}, "缺少 type"),
        ({"type": "Point", "coordinates": [113.38, 22.52]}, "几何类型是 Point"),
        ("POINT (113.38 22.52)", "几何类型是 Point"),
        ({"type": "LineString", "coordinates": SQUARE}, "几何类型是 LineString"),
        (polygon(), "几何为空"),
        ("POLYGON EMPTY", "几何为空"),
        ({"type": "MultiPolygon", "coordinates": []}, "几何为空"),
        ({"type": "Polygon"}, "缺少 coordinates"),
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], []]}, "第 2 个多边形没有坐标"),
        (polygon([[113.38, 22.52], [113.39, 22.52]]), "外环只有 2 个不同的点"),
        (polygon(SQUARE, [[113.383, 22.523]]), "第 1 个内环只有 1 个不同的点"),
        (polygon([[113.38, "22.52"], *SQUARE[1:]]), '坐标值不是数字："22.52"'),
        (polygon([[113.38, True], *SQUARE[1:]]), "坐标值不是数字：true"),
        (polygon([[113.38], *SQUARE[1:]]), "不是 [经度, 纬度] 数组"),
        (polygon([[113.38, float("nan")], *SQUARE[1:]]), "不是有限数"),
        (polygon([[113.38, float("inf")], *SQUARE[1:]]), "不是有限数"),
        (polygon([[x + 200, y] for x, y in SQUARE]), "超出经纬度范围"),
        (polygon([[x, y + 80] for x, y in SQUARE]), "超出经纬度范围"),
        (polygon([[x - 111, y + 26] for x, y in SQUARE]), "在中国范围之外"),
        (polygon([[y, x] for x, y in SQUARE]), "经纬度可能颠倒：坐标 (22.52, 113.38)"),
        (polygon(BOW_TIE), "多边形无效：自相交，位置 113.385,22.525"),
        (
            polygon(SQUARE, [[113.40, 22.52], [113.41, 22.52], [113.41, 22.53]]),
            "多边形无效：内环（洞）在外环之外，位置 113.4,22.52",
        ),
        (
            {
                "type": "MultiPolygon",
                "coordinates": [[SQUARE], [[[x + 0.005, y] for x, y in SQUARE]]],
            },
            "多边形无效：自相交",
        ),
    ],
)
def test_each_problem_is_refused_with_its_reason(geometry: Any, expected: str) -> None:
    shape, reasons = check_geometry(geometry)
    assert shape is None
    assert len(reasons) == 1
    assert expected in reasons[0]


def test_china_box_edges_are_inside() -> None:
    corner = [[73.0, 3.0], [73.01, 3.0], [73.01, 3.01], [73.0, 3.01]]
    assert check_geometry(polygon(corner))[1] == []
    far = [[135.99, 53.99], [136.0, 53.99], [136.0, 54.0], [135.99, 54.0]]
    assert check_geometry(polygon(far))[1] == []


def test_gcj02_is_checked_in_its_own_coordinates_then_brought_to_wgs84() -> None:
    wgs = shapely.box(113.38, 22.52, 113.39, 22.53)
    gcj_lon, gcj_lat = wgs84_to_gcj02_arrays(*shapely.get_coordinates(wgs.exterior).T)
    given = polygon(np.column_stack((gcj_lon, gcj_lat)).tolist())
    geometry, reasons = check_geometry(given, InputCrs.gcj02)
    assert reasons == []
    assert geometry is not None
    assert shapely.hausdorff_distance(geometry, wgs) < 1e-9
    as_wgs84, _ = check_geometry(given, InputCrs.wgs84)
    assert as_wgs84 is not None
    assert shapely.hausdorff_distance(as_wgs84, wgs) > 0.003


def test_gcj02_self_intersection_is_located_in_the_coordinates_given() -> None:
    _shape, reasons = check_geometry(polygon(BOW_TIE), InputCrs.gcj02)
    x, y = reasons[0].rsplit("位置 ", 1)[1].split(",")
    assert float(x) == pytest.approx(113.385, abs=2e-6)  # the crossing as drawn in GCJ-02,
    assert float(y) == pytest.approx(22.525, abs=2e-6)  # not ~500 m away in WGS84


def test_read_features_reads_ids_as_text(tmp_path: Path) -> None:
    moved = [[x + 0.01, y] for x, y in SQUARE]
    path = write(
        tmp_path,
        {**feature("007", polygon(SQUARE)), "properties": {"parcel_id": " 007 ", "town": "三角"}},
        feature(10, polygon(moved)),
    )
    parcels = read_features(path)
    assert [(p.index, p.parcel_id) for p in parcels] == [(0, "007"), (1, "10")]
    assert parcels[0].properties == {"parcel_id": " 007 ", "town": "三角"}
    assert isinstance(parcels[0], ParcelFeature)


def test_read_features_without_required_ids(tmp_path: Path) -> None:
    path = write(tmp_path, feature(None, polygon(SQUARE)))
    assert read_features(path, require_id=False)[0].parcel_id is None
    with pytest.raises(Invalid):
        read_features(path)


def test_read_features_reports_every_problem_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        feature("A", polygon(SQUARE)),
        feature(None, polygon(SQUARE)),
        feature("A", polygon(BOW_TIE)),
        feature(1.5, {"type": "Point", "coordinates": [113.38, 22.52]}),
        ["not", "a", "feature"],
        feature("B", None),
    )
    with pytest.raises(Invalid) as caught:
        read_features(path)
    found = [(p.row, p.column, p.reason) for p in caught.value.problems]
    assert found == [
        (1, "parcel_id", "缺少地块编号 parcel_id"),
        (2, "parcel_id", "地块编号 “A” 重复：第 0 个要素已使用"),
        (2, "geometry", "地块 “A”：多边形无效：自相交，位置 113.385,22.525"),
        (3, "parcel_id", "parcel_id 应为文本或整数，而不是 1.5"),
        (3, "geometry", "几何类型是 Point，地块应为 Polygon 或 MultiPolygon"),
        (4, None, "不是 GeoJSON Feature 对象"),
        (5, "geometry", "地块 “B”：缺少几何（geometry 为空）"),
    ]
    assert {p.file for p in caught.value.problems} == {str(path)}
    assert "7 处问题" in caught.value.message


def test_read_features_lists_at_most_fifty_problems(tmp_path: Path) -> None:
    path = write(tmp_path, *(feature(f"P{k}", None) for k in range(MAX_PROBLEMS + 7)))
    with pytest.raises(Invalid) as caught:
        read_features(path)
    assert len(caught.value.problems) == MAX_PROBLEMS
    assert f"{MAX_PROBLEMS + 7} 处问题" in caught.value.message
    assert f"仅列出前 {MAX_PROBLEMS} 处" in caught.value.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"type": "FeatureCollection", "features": [', "不是有效的 JSON：第 1 行"),
        ('{"name": "地块"}'.encode("gbk"), "不是 UTF-8 编码"),
        (b'{"type": "Feature", "geometry": null}', "不是 GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": {}}', "不是 GeoJSON FeatureCollection"),
        (b"[]", "不是 GeoJSON FeatureCollection"),
    ],
)
def test_read_features_refuses_a_file_that_is_not_a_feature_collection(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.geojson"
    path.write_bytes(content)
    with pytest.raises(Invalid) as caught:
        read_features(path)
    [problem] = caught.value.problems
    assert problem.file == str(path)
    assert problem.row is None
    assert expected in problem.reason


def test_read_features_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.geojson"
    document = {"type": "FeatureCollection", "features": [feature("A", polygon(SQUARE))]}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document).encode())
    assert [p.parcel_id for p in read_features(path)] == ["A"]


def test_read_features_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        read_features(tmp_path / "none.geojson")
    assert "无法读取文件" in caught.value.problems[0].reason


@pytest.mark.parametrize("valid", [True, False])
def test_reading_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path, valid: bool) -> None:
    path = write(tmp_path, feature("A", polygon(SQUARE if valid else BOW_TIE)))
    assert gc.isenabled()
    try:
        read_features(path)
    except Invalid:
        assert not valid
    assert gc.isenabled()
