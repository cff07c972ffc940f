"""Input coordinate systems: GCJ-02 against published vectors, its inverse to well under
half a metre across China, and whole geometries brought to WGS84."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

from gongjian.geo.choices import InputCrs
from gongjian.geo.crs import (
    gcj02_to_wgs84,
    gcj02_to_wgs84_arrays,
    to_wgs84,
    wgs84_to_gcj02,
    wgs84_to_gcj02_arrays,
)

GEOD = Geod(ellps="WGS84")

PUBLISHED = [
    # (WGS84 lon, lat), (GCJ-02 lon, lat)
    # googollee/eviltransform, go/transform_test.go: Shanghai, Shenzhen, Beijing
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # wandergis/coordtransform, test/app.js: Tiananmen
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED)
def test_forward_matches_published_vectors(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-6)


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED)
def test_inverse_of_published_vectors(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = gcj02_to_wgs84(*gcj)
    _az, _back, metres = GEOD.inv(lon, lat, *wgs)
    assert metres < 0.01


def test_inverse_round_trip_across_china_is_well_under_half_a_metre() -> None:
    lon, lat = np.meshgrid(np.arange(74.0, 135.5, 0.73), np.arange(18.0, 53.5, 0.61))
    lon, lat = lon.ravel(), lat.ravel()
    gcj_lon, gcj_lat = wgs84_to_gcj02_arrays(lon, lat)
    assert np.all(np.hypot(gcj_lon - lon, gcj_lat - lat) > 1e-4)  # the offset is real
    back_lon, back_lat = gcj02_to_wgs84_arrays(gcj_lon, gcj_lat)
    _az, _back, metres = GEOD.inv(lon, lat, back_lon, back_lat)
    assert len(metres) > 5000
    assert np.max(metres) < 0.5
    assert np.max(metres) < 0.001  # in fact under a millimetre
    image_lon, image_lat = wgs84_to_gcj02_arrays(back_lon, back_lat)
    assert np.max(np.abs(image_lon - gcj_lon)) < 1e-9
    assert np.max(np.abs(image_lat - gcj_lat)) < 1e-9


def test_scalar_and_array_forms_agree() -> None:
    lon, lat = np.array([113.38, 116.404]), np.array([22.52, 39.915])
    gcj_lon, gcj_lat = wgs84_to_gcj02_arrays(lon, lat)
    for k in range(2):
        assert wgs84_to_gcj02(lon[k], lat[k]) == (gcj_lon[k], gcj_lat[k])
        assert gcj02_to_wgs84(gcj_lon[k], gcj_lat[k]) == pytest.approx((lon[k], lat[k]), abs=1e-9)


@pytest.mark.parametrize("point", [(2.35, 48.85), (-74.0, 40.7), (151.2, -33.9), (0.0, 0.0)])
def test_points_outside_china_are_unchanged(point: tuple[float, float]) -> None:
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_input_crs_values_and_labels() -> None:
    assert [crs.value for crs in InputCrs] == ["wgs84", "cgcs2000", "gcj02"]
    assert InputCrs("gcj02") is InputCrs.gcj02
    assert "国测局" in InputCrs.gcj02.label
    assert "EPSG:4490" in InputCrs.cgcs2000.label
    assert InputCrs.parse(InputCrs.wgs84.label) is InputCrs.wgs84


def _square(lon: float, lat: float, side: float = 0.001) -> Polygon:
    return shapely.box(lon, lat, lon + side, lat + side)


@pytest.mark.parametrize("crs", [InputCrs.wgs84, InputCrs.cgcs2000])
def test_wgs84_and_cgcs2000_are_taken_as_they_are(crs: InputCrs) -> None:
    square = _square(113.38, 22.52)
    assert to_wgs84(square, crs) is square


def test_gcj02_geometry_is_brought_back_vertex_by_vertex() -> None:
    wgs = MultiPolygon(
        [
            Polygon(_square(113.38, 22.52, 0.01).exterior, [_square(113.383, 22.523).exterior]),
            _square(113.40, 22.52),
        ]
    )
    gcj = shapely.transform(wgs, lambda c: np.column_stack(wgs84_to_gcj02_arrays(c[:, 0], c[:, 1])))
    assert shapely.hausdorff_distance(gcj, wgs) > 0.003  # hundreds of metres apart
    back = to_wgs84(gcj, InputCrs.gcj02)
    assert isinstance(back, MultiPolygon)
    assert shapely.get_num_coordinates(back) == shapely.get_num_coordinates(wgs)
    assert np.max(np.abs(shapely.get_coordinates(back) - shapely.get_coordinates(wgs))) < 1e-9
