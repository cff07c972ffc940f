"""The audit page for auditors and admins: the log filtered, before and after, and the
chain's verification.

``/audit`` lists the log newest first, a bounded page at a time, narrowed by user,
record (resource and id), action, outcome and a range of days; each entry shows who,
when, what, and its before and after field by field, changed fields first.
``/audit?verify=1`` also walks the hash chain (``audit verify``) and says whether it
holds or where it breaks; it changes nothing, so it is a link.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from gongjian.audit.models import AuditEntry
from gongjian.audit.services import (
    AuditFilters,
    entry_changes,
    list_entries,
    logged_kinds,
    verify_log,
)
from gongjian.auth.permissions import RESOURCE_LABELS
from gongjian.errors import Invalid, Problem
from gongjian.periods import city_zone
from gongjian.towns.models import Town
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.i18n import catalogue, language_of
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 100_000
Text = Annotated[str | None, Query(max_length=100)]


def _day(text: str | None, column: str) -> dt.date | None:
    if not text or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            "日期无效", [Problem("日期应为 2023-01-31", column=column, value=text)]
        ) from None


def _entry(
    entry: AuditEntry, towns: dict[int, str], action_label: dict[str, str]
) -> dict[str, Any]:
    """An entry as the page shows it."""
    return {
        "seq": entry.seq,
        "at": entry.at.astimezone(city_zone()),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "action_label": action_label.get(entry.action, entry.action),
        "outcome": entry.outcome,
        "resource": entry.resource,
        "resource_label": RESOURCE_LABELS.get(entry.resource, entry.resource),
        "record_id": entry.record_id,
        "town": towns.get(entry.town_id) if entry.town_id is not None else None,
        "detail": entry.detail,
        "changes": entry_changes(entry.before, entry.after),
        "hash": entry.hash,
    }


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    user: Text = None,
    resource: Text = None,
    record: Text = None,
    action: Text = None,
    outcome: Text = None,
    since: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    until: Annotated[str | None, Query(alias="to", max_length=20)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    verify: bool = False,
) -> Response:
    """The audit log, newest first, filtered and paged (auditor and admin only; others
    get the 403 page, and the refusal is logged); with ``verify=1``, the chain's
    verification at the top."""
    filters = AuditFilters(
        actor=(user or "").strip() or None,
        resource=resource or None,
        record_id=(record or "").strip() or None,
        action=action or None,
        outcome=outcome if outcome in ("ok", "refused") else None,
        since=_day(since, "from"),
        until=_day(until, "to"),
    )
    total, rows = list_entries(
        session, actor=actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, filters=filters
    )
    actions, resources = logged_kinds(session, actor=actor)
    verification = verify_log(session, actor=actor) if verify else None
    towns = dict(session.execute(select(Town.id, Town.name)).tuples().all())
    messages = catalogue(language_of(request))
    action_label = {
        a: messages[f"audit.action.{a}"] for a in actions if f"audit.action.{a}" in messages
    }
    query = {
        key: value
        for key, value in (
            ("user", filters.actor),
            ("resource", filters.resource),
            ("record", filters.record_id),
            ("action", filters.action),
            ("outcome", filters.outcome),
            ("from", filters.since.isoformat() if filters.since else None),
            ("to", filters.until.isoformat() if filters.until else None),
        )
        if value
    }
    pages = max(1, math.ceil(total / PAGE_SIZE))

    def page_href(number: int) -> str:
        return "/audit?" + urlencode({**query, "page": number})

    return render(
        request,
        "audit/index.html",
        filters=filters,
        filtered=bool(query),
        entries=[_entry(e, towns, action_label) for e in rows],
        total=total,
        page=page,
        pages=pages,
        page_href=page_href,
        verify_href="/audit?" + urlencode({**query, "page": page, "verify": 1}),
        verification=verification,
        actions=[(a, action_label.get(a, a)) for a in actions],
        resources=[(r, RESOURCE_LABELS.get(r, r)) for r in resources],
    )
