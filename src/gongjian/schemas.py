"""Schema pieces shared by every domain's API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")


class ReadModel(BaseModel):
    """Base of every ``*Read`` schema: built from model attributes."""

    model_config = ConfigDict(from_attributes=True)


class UpdateModel(BaseModel):
    """Base of every ``*Update`` schema: unknown fields are refused, all fields optional."""

    model_config = ConfigDict(extra="forbid")


class Paging(BaseModel):
    """Paging of a list request."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with the total the filters match."""

    total: int
    limit: int
    offset: int
    items: list[ItemT]

    @classmethod
    def of(
        cls, schema: type[ReadModel], paging: Paging, total: int, rows: Sequence[Any]
    ) -> Page[Any]:
        """The page of ``rows`` (models) read through ``schema``."""
        return cls(
            total=total,
            limit=paging.limit,
            offset=paging.offset,
            items=[schema.model_validate(row) for row in rows],
        )
