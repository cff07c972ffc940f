"""Appending to the audit chain and verifying it.

Each entry's hash covers its own fields and the previous entry's hash, so changing,
inserting or deleting an entry breaks the chain from that point on; the head row
(entry count and last hash), kept apart from the entries, catches deletions at the
end. Appends lock the head row, so concurrent writers are serialised.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry, AuditHead
from gongjian.auth.actors import Actor
from gongjian.config import get_settings
from gongjian.db import Base, utcnow

GENESIS_HASH = "0" * 64
HASH_ALGORITHMS = ("sha256", "sm3")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot put {type(value).__name__} into the audit log")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain
    )


def snapshot(record: Base) -> dict[str, Any]:
    """The column values of ``record`` as plain JSON-ready values (before/after)."""
    state = inspect(record)
    return {
        attr.key: json.loads(canonical_json(getattr(record, attr.key)))
        for attr in state.mapper.column_attrs
    }


def entry_hash(entry: AuditEntry) -> str:
    """The hash of ``entry``'s content and its link to the previous entry."""
    content = canonical_json(
        [
            entry.seq,
            entry.at.astimezone(dt.UTC).isoformat(),
            entry.actor,
            entry.role,
            entry.action,
            entry.outcome,
            entry.resource,
            entry.record_id,
            entry.town_id,
            entry.before,
            entry.after,
            entry.detail,
            entry.hash_alg,
            entry.prev_hash,
        ]
    )
    return hashlib.new(entry.hash_alg, content.encode("utf-8")).hexdigest()


def _lock_head(session: Session) -> AuditHead:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a no-op write takes the database's write lock now,
        # before the head is read, so no other writer can append in between.
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(count=AuditHead.count))
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    return head


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    resource: str,
    record_id: str | None = None,
    town_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str | None = None,
    outcome: str = "ok",
) -> AuditEntry:
    """Append one entry to the chain, in the session's transaction.

    A bulk operation (an import, a demo load) is one entry whose ``detail`` names the
    file, its checksum and its row count.
    """
    head = _lock_head(session)
    entry = AuditEntry(
        seq=head.count + 1,
        at=utcnow(),
        actor=actor.username,
        role=actor.role.value,
        action=action,
        outcome=outcome,
        resource=resource,
        record_id=record_id,
        town_id=town_id,
        before=None if before is None else canonical_json(before),
        after=None if after is None else canonical_json(after),
        detail=detail,
        hash_alg=get_settings().audit_hash,
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    head.count = entry.seq
    head.last_hash = entry.hash
    session.flush()
    return entry


@dataclass
class Verification:
    """The result of ``verify``: how many entries were read and what is wrong."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(session: Session) -> Iterator[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=5000)
    yield from session.scalars(stmt)


def verify(session: Session) -> Verification:
    """Walk the whole chain and report every entry that was changed, inserted or
    deleted, naming it by its sequence number."""
    result = Verification()
    previous_hash = GENESIS_HASH
    expected_seq = 1
    for entry in _entries(session):
        result.entries += 1
        if entry.seq > expected_seq:
            missing = (
                f"#{expected_seq}"
                if entry.seq == expected_seq + 1
                else f"#{expected_seq}–#{entry.seq - 1}"
            )
            result.problems.append(f"条目 {missing} 缺失（被删除），在条目 #{entry.seq} 之前")
        elif entry.prev_hash != previous_hash:
            result.problems.append(
                f"条目 #{entry.seq} 与前一条目的链接断开（前一条目被修改，或此条目为插入）"
            )
        if entry.hash_alg not in HASH_ALGORITHMS or entry_hash(entry) != entry.hash:
            result.problems.append(f"条目 #{entry.seq} 的内容被修改（哈希不符）")
        previous_hash = entry.hash
        expected_seq = entry.seq + 1
        session.expunge(entry)
    head = session.get(AuditHead, 1)
    last_seq = expected_seq - 1
    if head is None:
        result.problems.append("审计链头记录缺失")
    elif head.count > last_seq:
        missing = (
            f"#{head.count}" if head.count == last_seq + 1 else f"#{last_seq + 1}–#{head.count}"
        )
        result.problems.append(
            f"日志末尾的条目 {missing} 缺失（被删除）：链头记录共 {head.count} 条"
        )
    elif head.count < last_seq:
        result.problems.append(
            f"条目 #{head.count + 1} 起为链头之后插入的条目：链头记录共 {head.count} 条"
        )
    elif head.last_hash != previous_hash:
        result.problems.append(f"末条目 #{last_seq} 与链头记录的哈希不符（被修改或替换）")
    return result
