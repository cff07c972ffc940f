"""Areas measured on the WGS84 ellipsoid, never in degrees."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

M2_PER_MU = Decimal("666.67")
"""1 mu (亩) in square metres, as SPEC fixes it."""

_GEOD = Geod(ellps="WGS84")


def _oriented(geometry: BaseGeometry) -> BaseGeometry:
    if isinstance(geometry, Polygon):
        return orient(geometry)
    if isinstance(geometry, MultiPolygon):
        return MultiPolygon([orient(part) for part in geometry.geoms])
    return geometry


def area_m2(geometry: dict[str, Any]) -> float:
    """The area of a GeoJSON Polygon or MultiPolygon (EPSG:4326) in square metres."""
    # pyproj sums signed ring areas: orient every part (outer rings counter-clockwise,
    # holes clockwise) so that the winding of the input cannot cancel or add them.
    area, _perimeter = _GEOD.geometry_area_perimeter(_oriented(shape(geometry)))
    return area


def m2_to_mu(square_metres: float) -> Decimal:
    """Square metres as mu, to two decimal places."""
    return (Decimal(repr(square_metres)) / M2_PER_MU).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def area_mu(geometry: dict[str, Any]) -> Decimal:
    """The ellipsoidal area of a GeoJSON polygon in mu, to two decimal places."""
    return m2_to_mu(area_m2(geometry))
