"""The record of each import: which file, whose, when, how many rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gongjian.db import Base, check_non_negative, utcnow


class ImportRun(Base):
    """One file brought in: rows written by it point back here."""

    __tablename__ = "imports"
    __table_args__ = (*check_non_negative("rows"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), comment="samples, projects, parcels, ...")
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), comment="checksum of the file's bytes")
    rows: Mapped[int]
    actor: Mapped[str] = mapped_column(String(60))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ImportedFrom:
    """Adds ``import_id``: the import (file, user, time) that last wrote the row; ``None``
    for a row entered by hand."""

    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("imports.id"), comment="the import that last wrote it"
    )
