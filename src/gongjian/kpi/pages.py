"""The command dashboard: the city overview (``/``) and a town's page (``/towns/{town}``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
