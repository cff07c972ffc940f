"""The river pages of the dashboard: the list of rivers and a river's page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
