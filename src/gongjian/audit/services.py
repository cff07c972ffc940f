"""Reading the audit log and verifying it, for the roles that may."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
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
from gongjian.periods import city_zone


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page narrows the log to: a username, a record (its resource and
    id), an action, an outcome (``ok`` or ``refused``), and a range of days (in the
    city's time zone, both ends included)."""

    actor: str | None = None
    resource: str | None = None
    record_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def criteria(self) -> list[ColumnElement[bool]]:
        """The filters as SQL conditions on ``AuditEntry``."""
        found: list[ColumnElement[bool]] = []
        for column, value in (
            (AuditEntry.actor, self.actor),
            (AuditEntry.resource, self.resource),
            (AuditEntry.record_id, self.record_id),
            (AuditEntry.action, self.action),
            (AuditEntry.outcome, self.outcome),
        ):
            if value:
                found.append(column == value)
        zone = city_zone()
        if self.since is not None:
            found.append(AuditEntry.at >= dt.datetime.combine(self.since, dt.time(), zone))
        if self.until is not None:
            next_day = self.until + dt.timedelta(days=1)
            found.append(AuditEntry.at < dt.datetime.combine(next_day, dt.time(), zone))
        return found


def list_entries(
    session: Session,
    *,
    actor: Actor,
    limit: int,
    offset: int,
    filters: AuditFilters | None = None,
) -> tuple[int, list[AuditEntry]]:
    """The newest entries first, and how many match ``filters`` (auditor and admin
    only)."""
    criteria = filters.criteria() if filters else []
    stmt = restrict(
        session,
        actor,
        select(AuditEntry).where(*criteria).order_by(AuditEntry.seq.desc()),
        "audit_entry",
    )
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*criteria)) or 0
    return total, list(session.scalars(stmt.limit(limit).offset(offset)))


def logged_kinds(session: Session, *, actor: Actor) -> tuple[list[str], list[str]]:
    """The actions and the resources the log holds, each sorted (auditor and admin
    only): the choices of the audit page's filters."""
    authorize(session, actor, Action.view, "audit_entry")
    actions = session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    resources = session.scalars(
        select(AuditEntry.resource).distinct().order_by(AuditEntry.resource)
    )
    return list(actions), list(resources)


@dataclass(frozen=True)
class FieldChange:
    """One field of an entry's before and after, as text (``None``: the field is not
    there on that side), and whether it changed."""

    field: str
    before: str | None
    after: str | None
    changed: bool


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _fields(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {"": value}


def entry_changes(before: str | None, after: str | None) -> list[FieldChange]:
    """The fields of an entry's ``before`` and ``after`` (canonical JSON texts), changed
    ones first, each group in the order the fields appear."""
    old, new = _fields(before), _fields(after)
    names = list(dict.fromkeys([*old, *new]))
    changes = [
        FieldChange(
            name,
            _shown(old[name]) if name in old else None,
            _shown(new[name]) if name in new else None,
            changed=(name in old) != (name in new) or old.get(name) != new.get(name),
        )
        for name in names
    ]
    return [c for c in changes if c.changed] + [c for c in changes if not c.changed]


def holds_demo(session: Session) -> bool:
    """Whether the database holds the demo city (example data): its load wrote the audit
    entry with action ``demo``."""
    found = session.scalar(select(AuditEntry.seq).where(AuditEntry.action == "demo").limit(1))
    return found is not None


def verify_log(session: Session, *, actor: Actor) -> Verification:
    """Verify the whole chain (auditor and admin only)."""
    authorize(session, actor, Action.view, "audit_entry")
    return verify(session)


__all__ = [
    "AuditFilters",
    "FieldChange",
    "entry_changes",
    "list_entries",
    "logged_kinds",
    "record",
    "verify_log",
]
