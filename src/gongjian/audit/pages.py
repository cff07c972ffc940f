"""The audit page for auditors and admins: the log filtered, before and after, and the
chain's verification."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
