"""Geometry: coordinate systems, parcel shapes, contiguous clusters, the clusters verb."""
