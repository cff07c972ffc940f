"""Input coordinate systems: WGS84, CGCS2000 and GCJ-02, and the way back to WGS84.

The platform stores every geometry in WGS84 longitude and latitude (EPSG:4326, degrees).
CGCS2000 (EPSG:4490) differs from WGS84 by a few centimetres, far below what a parcel
boundary means, so it is taken as WGS84 unchanged. GCJ-02, the offset system of Chinese
commercial maps (高德, 腾讯, Google 中国), moves points by up to several hundred metres
with a published, non-invertible formula; ``gcj02_to_wgs84`` inverts it by iteration to
well under a millimetre (``docs/geo.md``).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from gongjian.geo.choices import InputCrs

KRASOVSKY_A = 6378245.0
"""Semi-major axis of the Krasovsky 1940 ellipsoid that GCJ-02 is defined on, in metres."""
KRASOVSKY_EE = 0.00669342162296594323
"""Its first eccentricity squared."""

GCJ02_LON_RANGE = (72.004, 137.8347)
"""Longitudes (degrees) where GCJ-02 offsets points: China's rough box, as every public
implementation draws it; outside it GCJ-02 equals WGS84."""
GCJ02_LAT_RANGE = (0.8293, 55.8271)
"""Latitudes (degrees) of the same box."""

INVERSE_TOLERANCE_DEG = 1e-9
"""The inverse stops when the forward image of its answer is this close (in degrees,
about 0.1 mm) to the GCJ-02 point given."""
INVERSE_MAX_ITERATIONS = 30
"""Bound on the inverse's iterations; it converges in three to five."""

G = TypeVar("G", bound=BaseGeometry)
FloatArray = NDArray[np.float64]


def _outside_gcj02_box(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return (
        (lon < GCJ02_LON_RANGE[0])
        | (lon > GCJ02_LON_RANGE[1])
        | (lat < GCJ02_LAT_RANGE[0])
        | (lat > GCJ02_LAT_RANGE[1])
    )


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset (degrees of longitude, degrees of latitude) of WGS84 points,
    zero outside China's rough box."""
    x, y = lon - 105.0, lat - 35.0
    waves = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += waves
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon += waves
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    sin_lat = np.sin(rad_lat)
    magic = 1.0 - KRASOVSKY_EE * sin_lat * sin_lat
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _outside_gcj02_box(lon, lat)
    return np.where(outside, 0.0, d_lon), np.where(outside, 0.0, d_lat)


def wgs84_to_gcj02_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 longitudes and latitudes (degrees, arrays of one shape) in GCJ-02.

    The public algorithm (Krasovsky ellipsoid, the published polynomial and sine terms);
    points outside China's rough box are returned unchanged.
    """
    lon_a, lat_a = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _offset(lon_a, lat_a)
    return lon_a + d_lon, lat_a + d_lat


def gcj02_to_wgs84_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 longitudes and latitudes (degrees, arrays of one shape) in WGS84.

    Fixed-point iteration on the forward transform: start from the GCJ-02 point and
    subtract the difference between its forward image and the target until every image is
    within ``INVERSE_TOLERANCE_DEG`` (1e-9°, ~0.1 mm) of its target, at most
    ``INVERSE_MAX_ITERATIONS`` times. The offset changes by at most a few thousandths of a
    degree per degree, so each step gains two to three digits; the round trip is exact to
    well under 0.5 m (the tests measure it across China with ``pyproj.Geod``).
    """
    target_lon = np.asarray(lon, dtype=np.float64)
    target_lat = np.asarray(lat, dtype=np.float64)
    wgs_lon, wgs_lat = target_lon.copy(), target_lat.copy()
    for _ in range(INVERSE_MAX_ITERATIONS):
        image_lon, image_lat = wgs84_to_gcj02_arrays(wgs_lon, wgs_lat)
        miss_lon, miss_lat = image_lon - target_lon, image_lat - target_lat
        if np.all(np.abs(miss_lon) < INVERSE_TOLERANCE_DEG) and np.all(
            np.abs(miss_lat) < INVERSE_TOLERANCE_DEG
        ):
            break
        wgs_lon -= miss_lon
        wgs_lat -= miss_lat
    return wgs_lon, wgs_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """One WGS84 point (longitude, latitude in degrees) in GCJ-02."""
    gcj_lon, gcj_lat = wgs84_to_gcj02_arrays(lon, lat)
    return float(gcj_lon), float(gcj_lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """One GCJ-02 point (longitude, latitude in degrees) in WGS84, to well under 0.5 m."""
    wgs_lon, wgs_lat = gcj02_to_wgs84_arrays(lon, lat)
    return float(wgs_lon), float(wgs_lat)


def _gcj02_coordinates_to_wgs84(coordinates: FloatArray) -> FloatArray:
    """An (N, 2) array of GCJ-02 coordinates in WGS84, for ``shapely.transform``."""
    lon, lat = gcj02_to_wgs84_arrays(coordinates[:, 0], coordinates[:, 1])
    return np.column_stack((lon, lat))


def to_wgs84(geometry: G, crs: InputCrs) -> G:
    """``geometry``, given in ``crs`` (degrees), in WGS84 (EPSG:4326, degrees).

    WGS84 and CGCS2000 come back as they are; GCJ-02 is inverted vertex by vertex in one
    vectorised pass (Z values are dropped).
    """
    if crs is InputCrs.gcj02:
        transformed: G = shapely.transform(geometry, _gcj02_coordinates_to_wgs84)
        return transformed
    return geometry
