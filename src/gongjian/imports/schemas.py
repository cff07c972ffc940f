"""API schemas of ingestion."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from gongjian.imports.samples import MAX_BATCH


class SampleIn(BaseModel):
    """One sampling as a station sends it: the same fields as a file's columns. Numbers
    are read exactly (send them as JSON numbers or strings); ``sampled_at`` is ISO 8601,
    without a time zone read as the city's."""

    model_config = ConfigDict(extra="forbid")

    point_id: str = Field(description="检测点编号")
    sampled_at: str = Field(description="采样时间，ISO 8601")
    transparency_cm: Decimal | str | None = None
    do_mg_l: Decimal | str | None = None
    orp_mv: Decimal | str | None = None
    nh3n_mg_l: Decimal | str | None = None
    depth_cm: Decimal | str | None = None


class SampleBatch(BaseModel):
    """Up to 10,000 samples; ``dry_run`` checks them and writes nothing."""

    samples: list[SampleIn] = Field(max_length=MAX_BATCH)
    dry_run: bool = False


class ImportRead(BaseModel):
    """What an import did."""

    import_id: int | None
    filename: str
    sha256: str
    rows: int
    added: int
    skipped: int
    dry_run: bool


class RowChangeRead(BaseModel):
    """A stored record a list import changes: its row in the file, its key, and the
    columns (headers) that change."""

    row: int
    key: str
    columns: list[str]


class TaskListImportRead(BaseModel):
    """What a task-list import did (or, in a dry run, would do). ``import_id`` is
    ``None`` for a dry run and for a file that changes nothing (nothing is written)."""

    kind: str
    import_id: int | None
    filename: str
    sha256: str
    rows: int
    added: int
    updated: int
    unchanged: int
    dry_run: bool
    changes: list[RowChangeRead]
