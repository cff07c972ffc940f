"""Choices of the geo package, kept apart from the numerical code so that naming a
coordinate system loads neither numpy nor pyproj."""

from gongjian.choices import LabeledChoice


class InputCrs(LabeledChoice):
    """The coordinate system a file or a form gives its longitudes and latitudes in."""

    wgs84 = ("wgs84", "WGS84（EPSG:4326，GPS）")
    cgcs2000 = ("cgcs2000", "CGCS2000（EPSG:4490，国家大地坐标系，按 WGS84 处理）")
    gcj02 = ("gcj02", "GCJ-02（国测局坐标，高德、腾讯地图）")
