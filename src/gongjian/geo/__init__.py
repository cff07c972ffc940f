"""Geometry: areas on the ellipsoid, GeoJSON shapes, coordinate systems."""
