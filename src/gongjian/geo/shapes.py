"""Parcel geometry from GeoJSON, WKT and forms: read, check, bring to WGS84.

Every record of a file is checked and the problems of all of them are reported at once.
Within one geometry the checks run in this order and the first that fails is reported
(the later ones mean nothing on wrong coordinates): the structure (a Polygon or
MultiPolygon of numeric positions), finite coordinates, longitude and latitude in range
and inside China's box (with a hint when they look swapped), then the transformation to
WGS84 (``geo.crs``), then the polygon's validity (self-intersections and the like,
located in the input's own coordinates).

Rings are read as GeoJSON reads them: a ring whose closing position is missing is closed
(the first position is repeated), and a ring needs at least three distinct positions.
Only longitude and latitude are kept; a third number (height) is ignored. Accepted
geometries come back oriented as RFC 7946 asks (exterior rings counter-clockwise, holes
clockwise), which is what ``geo.area`` needs to measure holes correctly.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.polygon import orient

from gongjian.config import get_settings
from gongjian.errors import Invalid, Problem
from gongjian.geo.choices import InputCrs
from gongjian.geo.crs import to_wgs84, wgs84_to_gcj02

CHINA_LON_MIN = 73.0
"""China's extent for plausibility checks: westmost longitude, degrees."""
CHINA_LON_MAX = 136.0
"""Eastmost longitude, degrees."""
CHINA_LAT_MIN = 3.0
"""Southmost latitude, degrees (the South China Sea islands)."""
CHINA_LAT_MAX = 54.0
"""Northmost latitude, degrees."""

MAX_PROBLEMS = 50
"""Problems listed when a file is refused; the message gives the full count."""

POLYGONAL = ("Polygon", "MultiPolygon")

_VALIDITY_REASONS = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Hole lies outside shell": "内环（洞）在外环之外",
    "Nested holes": "内环相互嵌套",
    "Interior is disconnected": "内部不连通（被内环分割）",
    "Nested shells": "多个外环相互嵌套",
    "Duplicate Rings": "环重复",
    "Too few distinct points in geometry component": "环的不同点少于 3 个",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}
"""GEOS validity reasons (``shapely.is_valid_reason``) in Chinese."""

_REASON_AT = re.compile(r"^(?P<what>[^\[]+?)\s*(?:\[(?P<x>\S+) (?P<y>\S+)(?: \S+)?\])?$")

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class ParcelFeature:
    """One feature of a parcel file, checked, its geometry in WGS84 (EPSG:4326, degrees).

    ``index`` is the feature's 0-based position in the file's ``features``; ``parcel_id``
    is the text of ``properties.parcel_id`` (``None`` only when it was not required);
    ``properties`` are the feature's properties as the file gives them.
    """

    index: int
    parcel_id: str | None
    geometry: Polygon | MultiPolygon
    properties: dict[str, Any]


class _Refused(Exception):
    """A geometry check that stops the others; ``reason`` is for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _number(value: Any) -> float:
    """A JSON number as a float; text, booleans and the like are refused."""
    if type(value) is not float and type(value) is not int:
        raise _Refused(f"坐标值不是数字：{json.dumps(value, ensure_ascii=False, default=str)[:40]}")
    return float(value)


def _ring(positions: Any, where: str) -> Ring:
    """A ring's positions as (lon, lat) pairs, closed if the file left it open."""
    if not isinstance(positions, list | tuple):
        raise _Refused(f"{where}不是坐标数组")
    ring: Ring = []
    for position in positions:
        if not isinstance(position, list | tuple) or len(position) < 2:
            raise _Refused(f"{where}中有坐标不是 [经度, 纬度] 数组")
        ring.append((_number(position[0]), _number(position[1])))
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(set(ring)) < 3:
        raise _Refused(f"{where}只有 {len(set(ring))} 个不同的点，至少需要 3 个")
    return ring


def _polygon(rings: Any, name: str) -> list[Ring]:
    """A polygon's rings, the exterior first; ``name`` says which polygon, for messages."""
    if not isinstance(rings, list | tuple):
        raise _Refused(f"{name or '多边形'}的坐标不是环的数组")
    if not rings:
        raise _Refused(f"{name or '多边形'}没有坐标")
    owner = f"{name}的" if name else ""
    return [
        _ring(ring, f"{owner}{'外环' if k == 0 else f'第 {k} 个内环'}")
        for k, ring in enumerate(rings)
    ]


def _parts(geometry: Mapping[str, Any]) -> list[list[Ring]]:
    """The polygons of a GeoJSON Polygon or MultiPolygon as lists of closed rings; none
    when the geometry is empty."""
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list | tuple):
        raise _Refused("几何缺少 coordinates 数组")
    if not coordinates:
        return []
    if geometry["type"] == "Polygon":
        return [_polygon(coordinates, "")]
    return [_polygon(part, f"第 {k} 个多边形") for k, part in enumerate(coordinates, start=1)]


def _check_size(geometry: Mapping[str, Any]) -> None:
    """Refuse a geometry of more vertices than the setting ``geometry_max_vertices``,
    counted before any of them is read."""
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if geometry.get("type") == "Polygon" else coordinates
    if not isinstance(polygons, list | tuple):
        return
    vertices = sum(
        len(ring)
        for polygon in polygons
        if isinstance(polygon, list | tuple)
        for ring in polygon
        if isinstance(ring, list | tuple)
    )
    most = get_settings().geometry_max_vertices
    if vertices > most:
        raise _Refused(f"顶点过多：{vertices:,} 个，上限 {most:,} 个（设置 geometry_max_vertices）")


def _degrees(value: float) -> str:
    """Degrees as people write them: up to six decimals (~0.1 m), no trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _in_china(lon: float, lat: float) -> bool:
    return CHINA_LON_MIN <= lon <= CHINA_LON_MAX and CHINA_LAT_MIN <= lat <= CHINA_LAT_MAX


def _point(lon: float, lat: float) -> str:
    return f"({_degrees(lon)}, {_degrees(lat)})"


def _check_positions(positions: list[tuple[float, float]]) -> None:
    """Refuse non-finite, out-of-range, swapped or non-Chinese coordinates."""
    for lon, lat in positions:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise _Refused(f"坐标不是有限数（NaN 或无穷大）：{_point(lon, lat)}")
    outside = [(lon, lat) for lon, lat in positions if not _in_china(lon, lat)]
    if not outside:
        return
    lon, lat = outside[0]
    if all(_in_china(lat, lon) for lon, lat in positions):
        raise _Refused(
            f"经纬度可能颠倒：坐标 {_point(lon, lat)} 不在中国范围内，对调后在"
            "（GeoJSON 的坐标顺序是 [经度, 纬度]）"
        )
    for lon, lat in outside:
        if abs(lon) > 180 or abs(lat) > 90:
            raise _Refused(
                f"坐标超出经纬度范围（经度 -180..180，纬度 -90..90）：{_point(lon, lat)}"
            )
    raise _Refused(
        f"坐标在中国范围之外（经度 {CHINA_LON_MIN:g}..{CHINA_LON_MAX:g}，"
        f"纬度 {CHINA_LAT_MIN:g}..{CHINA_LAT_MAX:g}）：{_point(lon, lat)}"
    )


def _validity(geometry: Polygon | MultiPolygon, crs: InputCrs) -> None:
    """Refuse an invalid polygon, naming GEOS's reason and its location in ``crs``."""
    reason = shapely.is_valid_reason(geometry)
    if reason == "Valid Geometry":
        return
    match = _REASON_AT.match(reason)
    if match is None:
        raise _Refused(f"多边形无效：{reason}")
    what = _VALIDITY_REASONS.get(match["what"], match["what"])
    if match["x"] is None:
        raise _Refused(f"多边形无效：{what}")
    lon, lat = float(match["x"]), float(match["y"])
    if crs is InputCrs.gcj02:
        lon, lat = wgs84_to_gcj02(lon, lat)
    raise _Refused(f"多边形无效：{what}，位置 {_degrees(lon)},{_degrees(lat)}")


def _geometry_mapping(geometry: Mapping[str, Any] | str | None) -> Mapping[str, Any]:
    """A GeoJSON geometry object from a mapping, GeoJSON text or WKT text."""
    if geometry is None:
        raise _Refused("缺少几何（geometry 为空）")
    if isinstance(geometry, str):
        text = geometry.strip()
        if not text:
            raise _Refused("缺少几何（geometry 为空）")
        try:
            geometry = json.loads(text) if text.startswith("{") else mapping(shapely.from_wkt(text))
        except (ValueError, GEOSException):
            raise _Refused("几何文本无法解析（应为 GeoJSON 或 WKT）") from None
    if not isinstance(geometry, Mapping) or not isinstance(geometry.get("type"), str):
        raise _Refused("几何不是 GeoJSON 几何对象（缺少 type）")
    if geometry["type"] not in POLYGONAL:
        raise _Refused(f"几何类型是 {geometry['type']}，地块应为 Polygon 或 MultiPolygon")
    return geometry


def check_geometry(
    geometry: Mapping[str, Any] | str | None, crs: InputCrs = InputCrs.wgs84
) -> tuple[Polygon | MultiPolygon | None, list[str]]:
    """Check one parcel geometry given in ``crs`` and bring it to WGS84.

    ``geometry`` is a GeoJSON geometry object, or text holding one (starting with ``{``)
    or WKT (``POLYGON ((113.38 22.52, ...))``), longitude first, in degrees. Returns the
    geometry in WGS84 (EPSG:4326), oriented as RFC 7946 asks, and no reasons; or ``None``
    and the reasons, in Chinese, that it is refused (see the module for the checks).
    """
    try:
        source = _geometry_mapping(geometry)
        _check_size(source)
        parts = _parts(source)
        if not parts:
            raise _Refused("几何为空（没有坐标）")
        _check_positions([position for part in parts for ring in part for position in ring])
        polygons = [Polygon(part[0], part[1:]) for part in parts]
        shape = to_wgs84(
            polygons[0] if source["type"] == "Polygon" else MultiPolygon(polygons), crs
        )
        _validity(shape, crs)
    except _Refused as refused:
        return None, [refused.reason]
    if isinstance(shape, Polygon):
        return orient(shape), []
    return MultiPolygon([orient(polygon) for polygon in shape.geoms]), []


def _parcel_id(properties: Mapping[str, Any]) -> str | None:
    """``properties.parcel_id`` as text; ``None`` when absent or blank."""
    value = properties.get("parcel_id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Refused(
            f"parcel_id 应为文本或整数，而不是 {json.dumps(value, ensure_ascii=False)[:40]}"
        )
    return str(value).strip()


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for the block. Reading a file allocates millions of
    objects without reference cycles (the decoded JSON, then the geometries), and each
    automatic collection would walk them all again: 200,000 parcels read in 4 s, not 7."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _load(path: Path) -> Any:
    """The JSON document in ``path`` (UTF-8, a byte-order mark allowed)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Refused(f"无法读取文件：{exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Refused(f"文件不是 UTF-8 编码（第 {exc.start} 个字节起无法解码）") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Refused(f"不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}") from None


def _features(path: Path) -> list[Any]:
    document = _load(path)
    if (
        not isinstance(document, dict)
        or document.get("type") != "FeatureCollection"
        or not isinstance(document.get("features"), list)
    ):
        raise _Refused(
            "不是 GeoJSON FeatureCollection（应有 type: FeatureCollection 与 features 数组）"
        )
    return list(document["features"])


def read_features(
    path: Path, *, crs: InputCrs = InputCrs.wgs84, require_id: bool = True
) -> list[ParcelFeature]:
    """The parcels of a GeoJSON FeatureCollection, checked, their geometry in WGS84.

    Each feature needs ``properties.parcel_id`` (text or an integer, read as text without
    surrounding spaces, unique in the file; optional when ``require_id`` is false) and a
    Polygon or MultiPolygon geometry in ``crs`` that passes ``check_geometry``. Raises
    ``Invalid`` listing every problem (the first ``MAX_PROBLEMS``), each with the file, the
    feature's 0-based index as ``row``, the column ``parcel_id`` or ``geometry``, and the
    parcel named.
    """
    with _cycle_collector_paused():
        return _read_features(path, crs, require_id)


def _read_features(path: Path, crs: InputCrs, require_id: bool) -> list[ParcelFeature]:
    file = str(path)
    try:
        features = _features(path)
    except _Refused as refused:
        raise Invalid(f"无法读取地块文件 {file}", [Problem(refused.reason, file=file)]) from None
    problems: list[Problem] = []
    parcels: list[ParcelFeature] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(Problem("不是 GeoJSON Feature 对象", file=file, row=index))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.append(
                Problem("properties 不是对象", file=file, row=index, column="parcel_id")
            )
            properties = {}
        id_problem: str | None = None
        try:
            parcel_id = _parcel_id(properties)
        except _Refused as refused:
            parcel_id, id_problem = None, refused.reason
        else:
            if parcel_id is None:
                id_problem = "缺少地块编号 parcel_id" if require_id else None
            elif parcel_id in seen:
                id_problem = f"地块编号 “{parcel_id}” 重复：第 {seen[parcel_id]} 个要素已使用"
            else:
                seen[parcel_id] = index
        if id_problem is not None:
            problems.append(Problem(id_problem, file=file, row=index, column="parcel_id"))
        geometry, reasons = check_geometry(feature.get("geometry"), crs)
        named = f"地块 “{parcel_id}”：" if parcel_id is not None else ""
        problems.extend(
            Problem(named + reason, file=file, row=index, column="geometry") for reason in reasons
        )
        if geometry is not None:
            parcels.append(ParcelFeature(index, parcel_id, geometry, properties))
    if problems:
        listed = "" if len(problems) <= MAX_PROBLEMS else f"，仅列出前 {MAX_PROBLEMS} 处"
        raise Invalid(
            f"地块文件 {file} 有 {len(problems)} 处问题{listed}，未作处理",
            problems[:MAX_PROBLEMS],
        )
    return parcels
