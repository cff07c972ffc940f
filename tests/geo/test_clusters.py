"""Contiguous clusters: what touches, what a gap joins, what a cluster adds up to.

Parcels are drawn in metres in an azimuthal equidistant projection centred where they lie
(true distances and shapes at this scale) and brought back to WGS84 degrees.
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from gongjian.errors import Invalid
from gongjian.geo.area import M2_PER_MU, area_m2, m2_to_mu
from gongjian.geo.clusters import (
    ClusterRow,
    ClusterSummary,
    find_clusters,
    parcel_areas_m2,
    summarize,
)

GEOD = Geod(ellps="WGS84")
ZHONGSHAN = (113.38, 22.52)


def drawn_at(lon: float, lat: float, geometry: BaseGeometry) -> BaseGeometry:
    """``geometry``, drawn in metres around (lon, lat), in WGS84 degrees."""
    to_degrees = Transformer.from_crs(
        f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m", "EPSG:4326", always_xy=True
    )
    return shapely.transform(
        geometry, lambda c: np.column_stack(to_degrees.transform(c[:, 0], c[:, 1]))
    )


def metres(geometry: BaseGeometry) -> BaseGeometry:
    return drawn_at(*ZHONGSHAN, geometry)


def box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A rectangle given in metres, in WGS84."""
    shape = metres(shapely.box(x0, y0, x1, y1))
    assert isinstance(shape, Polygon)
    return shape


def clusters(rows: list[ClusterRow]) -> dict[str, str]:
    return {row.parcel_id: row.cluster_id for row in rows}


def geod_mu(*geometries: BaseGeometry) -> Decimal:
    return m2_to_mu(sum(area_m2(mapping(g)) for g in geometries))


def test_parcels_sharing_an_edge_are_one_cluster() -> None:
    rows = find_clusters([("a", box(0, 0, 100, 100)), ("b", box(100, 0, 200, 100))])
    assert clusters(rows) == {"a": "a", "b": "a"}
    assert [row.cluster_parcels for row in rows] == [2, 2]


def test_parcels_sharing_only_a_corner_are_one_cluster() -> None:
    rows = find_clusters([("a", box(0, 0, 100, 100)), ("b", box(100, 100, 200, 200))])
    assert clusters(rows) == {"a": "a", "b": "a"}


def test_a_chain_of_three_is_one_cluster_though_its_ends_do_not_touch() -> None:
    a, b, c = box(0, 0, 100, 100), box(100, 0, 200, 100), box(200, 0, 300, 100)
    assert not a.intersects(c)
    rows = find_clusters([("c", c), ("a", a), ("b", b)])
    assert clusters(rows) == {"c": "a", "a": "a", "b": "a"}
    assert {row.cluster_parcels for row in rows} == {3}


def test_a_parcel_filling_another_parcels_hole_joins_it() -> None:
    outer, hole = box(0, 0, 300, 300), box(100, 100, 200, 200)
    ring = Polygon(outer.exterior, [hole.exterior])
    rows = find_clusters([("ring", ring), ("island", hole)])
    assert clusters(rows) == {"ring": "island", "island": "island"}
    assert rows[0].cluster_area_mu == geod_mu(outer)


def test_overlapping_parcels_are_one_cluster_and_both_areas_count() -> None:
    a, b = box(0, 0, 100, 100), box(50, 50, 150, 150)
    rows = find_clusters([("a", a), ("b", b)])
    assert clusters(rows) == {"a": "a", "b": "a"}
    assert rows[0].cluster_area_mu == geod_mu(a, b)


def test_separate_parcels_are_clusters_of_one() -> None:
    rows = find_clusters([("a", box(0, 0, 100, 100)), ("b", box(101, 0, 200, 100))])
    assert rows == [
        ClusterRow("a", "a", geod_mu(box(0, 0, 100, 100)), 1, False),
        ClusterRow("b", "b", geod_mu(box(101, 0, 200, 100)), 1, False),
    ]


def gap_pair(gap: float) -> tuple[Polygon, Polygon]:
    """Two 100 m squares ``gap`` metres apart, the gap in the middle of the drawing."""
    return box(-100 - gap / 2, -50, -gap / 2, 50), box(gap / 2, -50, 100 + gap / 2, 50)


@pytest.mark.parametrize("y", [-50, 50])
def test_the_gap_between_the_test_parcels_is_five_metres_on_the_ground(y: float) -> None:
    a, b = gap_pair(5)
    west, east = metres(Point(-2.5, y)), metres(Point(2.5, y))
    assert shapely.equals(a.exterior.intersection(west), west)  # facing corners
    assert shapely.equals(b.exterior.intersection(east), east)
    _az, _back, ground = GEOD.inv(west.x, west.y, east.x, east.y)
    assert ground == pytest.approx(5.0, abs=1e-6)


@pytest.mark.parametrize(
    ("gap_m", "joined"), [(0, False), (4, False), (4.999, False), (5, True), (6, True)]
)
def test_parcels_five_metres_apart_join_from_a_gap_of_five(gap_m: float, joined: bool) -> None:
    a, b = gap_pair(5)
    rows = find_clusters([("a", a), ("b", b)], gap_m=gap_m)
    assert clusters(rows) == {"a": "a", "b": "a" if joined else "b"}


@pytest.mark.parametrize(("gap_m", "joined"), [(9.999, False), (10.001, True)])
def test_gaps_are_true_to_a_millimetre_forty_kilometres_from_the_centre(
    gap_m: float, joined: bool
) -> None:
    """Two parcels 10 m apart drawn true where they lie, 30 km east and north of the
    middle of the data, which the clustering projects from."""
    far = (ZHONGSHAN[0] + 0.29, ZHONGSHAN[1] + 0.27)
    a = drawn_at(*far, shapely.box(-100, -50, 0, 50))
    b = drawn_at(*far, shapely.box(10, -50, 110, 50))
    opposite = drawn_at(ZHONGSHAN[0] - 0.29, ZHONGSHAN[1] - 0.27, shapely.box(0, 0, 50, 50))
    rows = find_clusters([("a", a), ("b", b), ("c", opposite)], gap_m=gap_m)
    assert clusters(rows)["b"] == ("a" if joined else "b")


def test_cluster_area_is_the_sum_of_its_parcels_ellipsoidal_areas() -> None:
    parcels = [box(0, 0, 100, 80), box(100, 0, 230, 80), box(0, 80, 60, 200)]
    rows = find_clusters([(f"p{k}", g) for k, g in enumerate(parcels)])
    assert {row.cluster_area_mu for row in rows} == {geod_mu(*parcels)}
    planar = Decimal(100 * 80 + 130 * 80 + 60 * 120) / M2_PER_MU
    assert abs(rows[0].cluster_area_mu - planar) < Decimal("0.01")


def test_parcel_areas_match_geo_area_whatever_the_orientation() -> None:
    outer, hole = box(0, 0, 300, 300), box(100, 100, 200, 200)
    same_way = Polygon(outer.exterior.coords[::-1], [hole.exterior.coords[::-1]])
    parts = MultiPolygon([orient(box(0, 0, 50, 50), -1), orient(box(60, 0, 100, 50), 1)])
    geometries = [outer, same_way, parts, orient(same_way)]
    areas = parcel_areas_m2(geometries)
    expected = [area_m2(mapping(orient(g) if isinstance(g, Polygon) else g)) for g in geometries]
    expected[2] = area_m2(mapping(box(0, 0, 50, 50))) + area_m2(mapping(box(60, 0, 100, 50)))
    assert areas == pytest.approx(expected, rel=1e-12)
    assert areas[1] == pytest.approx(area_m2(mapping(outer)) - area_m2(mapping(hole)), rel=1e-12)


def side_of(mu: str) -> float:
    """The side in metres of a square of ``mu`` mu."""
    return float(Decimal(mu) * M2_PER_MU) ** 0.5


@pytest.mark.parametrize(("min_mu", "flagged"), [("99.99", True), ("100", True), ("100.01", False)])
def test_flagged_from_exactly_min_mu(min_mu: str, flagged: bool) -> None:
    side = side_of("100")
    [row] = find_clusters([("a", box(0, 0, side, side))], min_mu=Decimal(min_mu))
    assert row.cluster_area_mu == Decimal("100.00")
    assert row.flagged is flagged


def test_default_threshold_is_one_hundred_mu() -> None:
    side = side_of("50")
    half, other = box(0, 0, side, side), box(side, 0, 2 * side, side)
    rows = find_clusters([("a", half), ("b", other)])
    assert rows[0].cluster_area_mu == Decimal("100.00")
    assert all(row.flagged for row in rows)
    assert not find_clusters([("a", half)])[0].flagged


def test_cluster_id_is_the_smallest_id_as_text() -> None:
    rows = find_clusters([("9", box(0, 0, 100, 100)), ("10", box(100, 0, 200, 100))])
    assert clusters(rows) == {"9": "10", "10": "10"}


def test_a_multipolygon_parcel_joins_what_each_of_its_parts_touches() -> None:
    both = MultiPolygon([box(0, 0, 100, 100), box(500, 0, 600, 100)])
    west, east = box(-100, 0, 0, 100), box(600, 0, 700, 100)
    rows = find_clusters([("west", west), ("both", both), ("east", east)])
    assert clusters(rows) == {"west": "both", "both": "both", "east": "both"}
    assert rows[0].cluster_area_mu == geod_mu(west, both, east)
    assert rows[0].cluster_parcels == 3


def test_rows_follow_the_input_and_do_not_depend_on_its_order() -> None:
    width = {0: 95, 1: 100}  # even columns leave 5 m to the next, odd ones touch it
    parcels = [
        (f"p{row}-{col}", box(col * 100, row * 100, col * 100 + width[col % 2], row * 100 + 100))
        for row in range(6)
        for col in range(6)
    ]
    expected = {row.parcel_id: row for row in find_clusters(parcels, gap_m=3)}
    shuffled = parcels[:]
    random.Random(4).shuffle(shuffled)
    rows = find_clusters(shuffled, gap_m=3)
    assert [row.parcel_id for row in rows] == [parcel_id for parcel_id, _ in shuffled]
    assert {row.parcel_id: row for row in rows} == expected
    assert {row.cluster_id for row in rows} == {"p0-0", "p0-1", "p0-3", "p0-5"}


def test_summary_counts_clusters_and_flagged_area() -> None:
    side = side_of("120")
    big = box(0, 0, side, side)
    rows = find_clusters(
        [("a", big), ("b", box(-500, -500, -400, -400)), ("c", box(-400, -500, -300, -400))],
        min_mu=Decimal(100),
    )
    assert summarize(rows) == ClusterSummary(
        parcels=3, clusters=2, flagged_clusters=1, flagged_mu=Decimal("120.00")
    )


def test_no_parcels_no_rows() -> None:
    assert find_clusters([]) == []
    assert summarize([]) == ClusterSummary(0, 0, 0, Decimal("0.00"))


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"gap_m": -1}, "gap_m"),
        ({"gap_m": float("nan")}, "gap_m"),
        ({"min_mu": Decimal(-1)}, "min_mu"),
        ({"min_mu": Decimal("NaN")}, "min_mu"),
    ],
)
def test_negative_or_undefined_arguments_are_refused(
    arguments: dict[str, object], expected: str
) -> None:
    with pytest.raises(Invalid, match=expected):
        find_clusters([("a", box(0, 0, 1, 1))], **arguments)  # type: ignore[arg-type]


def test_repeated_ids_are_refused() -> None:
    with pytest.raises(Invalid, match="地块编号重复：a"):
        find_clusters([("a", box(0, 0, 1, 1)), ("a", box(5, 5, 6, 6))])
