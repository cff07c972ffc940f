"""Areas on the WGS84 ellipsoid do not depend on how the input's rings are wound."""

from __future__ import annotations

from decimal import Decimal

from gongjian.geo.area import area_m2, area_mu

CCW = [[113.02, 22.0], [113.03, 22.0], [113.03, 22.01], [113.02, 22.01], [113.02, 22.0]]
CW = list(reversed(CCW))
HOLE_CCW = [
    [113.022, 22.002],
    [113.024, 22.002],
    [113.024, 22.004],
    [113.022, 22.004],
    [113.022, 22.002],
]


def test_a_ring_measures_the_same_either_way_round() -> None:
    one = area_m2({"type": "Polygon", "coordinates": [CCW]})
    assert one == area_m2({"type": "Polygon", "coordinates": [CW]})
    assert 1_100_000 < one < 1_200_000


def test_parts_of_opposite_winding_add_up() -> None:
    one = area_m2({"type": "Polygon", "coordinates": [CCW]})
    shifted = [[x - 0.02, y] for x, y in CW]
    both = area_m2({"type": "MultiPolygon", "coordinates": [[CCW], [shifted]]})
    assert abs(both - 2 * one) < 1


def test_a_hole_is_taken_away_whichever_way_it_is_wound() -> None:
    outer = area_m2({"type": "Polygon", "coordinates": [CCW]})
    hole = area_m2({"type": "Polygon", "coordinates": [HOLE_CCW]})
    for ring in (HOLE_CCW, list(reversed(HOLE_CCW))):
        with_hole = area_m2({"type": "Polygon", "coordinates": [CCW, ring]})
        assert abs(with_hole - (outer - hole)) < 0.01
    assert area_mu({"type": "Polygon", "coordinates": [CW]}) == (
        Decimal(repr(outer)) / Decimal("666.67")
    ).quantize(Decimal("0.01"))
