"""Schema pieces shared by every domain's API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")


class ReadModel(BaseModel):
    """Base of every ``*Read`` schema: built from model attributes."""

    model_config = ConfigDict(from_attributes=True)


class VersionedRead(ReadModel):
    """Base of the ``*Read`` schema of a record people edit: it carries ``version``."""

    version: int = Field(
        description="记录版本：新增时为 1，每次修改加 1；修改时须在 version 字段回传所读取的版本"
    )


class UpdateModel(BaseModel):
    """Base of every ``*Update`` schema: unknown fields are refused, every field but
    ``version`` optional.

    ``version`` is the version of the record the change is based on (the ``version``
    of the record as read); when the record is at another version now, the change is
    refused with 409, naming both versions, and nothing is written.
    """

    model_config = ConfigDict(extra="forbid")

    version: int = Field(
        ge=1, description="所读取记录的版本（读取时的 version）；记录已被他人修改时返回 409"
    )


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
