"""Audit entries and the head of their chain, kept apart from them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gongjian.db import BIG_ID, Base


class AuditEntry(Base):
    """One audited event: who, when, what, on which record, before and after.

    ``before`` and ``after`` are canonical JSON texts, so the hash computed when the
    entry was written can be recomputed from the stored row. ``prev_hash`` links the
    entry to the one before it (``seq - 1``).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'refused')", name="outcome_valid"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_audit_entries_actor", "actor"),
        Index("ix_audit_entries_resource_record_id", "resource", "record_id"),
        Index("ix_audit_entries_at", "at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True, comment="position in the chain, from 1")
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(60), comment="username, or 'public' or 'system'")
    role: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(40), comment="e.g. change, add, import, view")
    outcome: Mapped[str] = mapped_column(String(8))
    resource: Mapped[str] = mapped_column(String(40), comment="kind of record, e.g. river")
    record_id: Mapped[str | None] = mapped_column(String(60))
    town_id: Mapped[int | None] = mapped_column(comment="town of the record, if any")
    before: Mapped[str | None] = mapped_column(Text, comment="canonical JSON")
    after: Mapped[str | None] = mapped_column(Text, comment="canonical JSON")
    detail: Mapped[str | None] = mapped_column(Text)
    hash_alg: Mapped[str] = mapped_column(String(10), comment="sha256 or sm3")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The head of the chain: how many entries there are and the last one's hash.

    Writers lock this single row to append, so entries are serialised; ``audit verify``
    compares it with the entries to find deletions at the end of the chain.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    count: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
