"""The public portal: published rivers, a river's page, the complaint form and the
receipt lookup, in the accessible and elder modes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
