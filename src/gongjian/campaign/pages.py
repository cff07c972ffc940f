"""The campaign pages of the dashboard: projects, batches, ranking and dispatch."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
