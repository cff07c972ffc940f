"""Renewal records: how parcels are found and scoped."""

from gongjian.records import RecordKind
from gongjian.renewal.models import Parcel

PARCELS = RecordKind(Parcel, "parcel", "town_id")
