"""Reading the audit log and verifying it, for the roles that may."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import (
    Verification,
    record,
    verify,
)  # record: re-exported until callers move
from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, restrict


def list_entries(
    session: Session, *, actor: Actor, limit: int, offset: int
) -> tuple[int, list[AuditEntry]]:
    """The newest entries first (auditor and admin only)."""
    stmt = restrict(
        session, actor, select(AuditEntry).order_by(AuditEntry.seq.desc()), "audit_entry"
    )
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return total, list(session.scalars(stmt.limit(limit).offset(offset)))


def verify_log(session: Session, *, actor: Actor) -> Verification:
    """Verify the whole chain (auditor and admin only)."""
    authorize(session, actor, Action.view, "audit_entry")
    return verify(session)


__all__ = ["list_entries", "record", "verify_log"]
