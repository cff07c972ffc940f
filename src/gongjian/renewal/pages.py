"""The renewal pages of the dashboard: parcels, a parcel's page and clusters."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
