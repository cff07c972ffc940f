"""The import page: upload a task list, see the dry run's problems, confirm; templates
and exports."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
