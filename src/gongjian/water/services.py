"""Water records: how rivers are found and scoped; complaints and their personal data."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import (
    allowed,
    authorize,
    authorize_some,
    authorize_town_view,
    restrict,
)
from gongjian.checks import text_problems
from gongjian.db import utcnow
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.periods import city_zone
from gongjian.portal.models import ComplaintPhoto
from gongjian.records import RecordKind, check_version
from gongjian.towns.services import find_town
from gongjian.water.choices import ComplaintCategory
from gongjian.water.models import Complaint, River

RIVERS = RecordKind(River, "river", "lead_town_id")

COMPLAINT_PERSONAL = ("complainant_name", "complainant_phone")
"""A complaint's personal data: never written to the audit log."""
DESCRIPTION_MAX = 1000
"""Longest description of a complaint, in characters."""
RECEIPT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""Letters of a receipt number's random part (no 0/O, 1/I that read alike)."""
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")


def _complaint(session: Session, receipt_no: str) -> Complaint:
    complaint = session.scalars(select(Complaint).where(Complaint.receipt_no == receipt_no)).first()
    if complaint is None:
        raise NotFound(f"没有回执号为“{receipt_no}”的投诉")
    return complaint


def get_complaint(session: Session, *, actor: Actor, receipt_no: str) -> tuple[Complaint, bool]:
    """A complaint and whether ``actor`` may see its personal data."""
    authorize(session, actor, Action.view, "complaint", record_id=receipt_no)
    complaint = _complaint(session, receipt_no)
    return complaint, allowed(actor, Action.view, "complaint_contact", complaint.town_id)


def complaint_contact(session: Session, *, actor: Actor, receipt_no: str) -> Complaint:
    """A complaint whose personal data ``actor`` asks for: 403 (logged) if not allowed,
    before the complaint is looked up for those who may see no complainant's data."""
    authorize_some(session, actor, Action.view, "complaint_contact", record_id=receipt_no)
    complaint = _complaint(session, receipt_no)
    authorize(
        session,
        actor,
        Action.view,
        "complaint_contact",
        town_id=complaint.town_id,
        record_id=receipt_no,
    )
    return complaint


def river_id(session: Session, code: str) -> int | None:
    """The id of the river coded ``code`` (spaces around it ignored), ``None`` if none."""
    return session.scalar(select(River.id).where(River.code == code.strip()))


def complaint_photo(session: Session, *, actor: Actor, receipt_no: str) -> ComplaintPhoto:
    """The photo a citizen attached to a complaint, for those who may see the
    complainant's personal data (403, logged, for anyone else); ``NotFound`` when the
    complaint has none."""
    complaint = complaint_contact(session, actor=actor, receipt_no=receipt_no)
    photo = attached_photo(session, complaint.id)
    if photo is None:
        raise NotFound(f"投诉 {receipt_no} 没有附照片")
    return photo


def attached_photo(session: Session, complaint_id: int) -> ComplaintPhoto | None:
    """The photo attached to the complaint ``complaint_id``, if any (no check: callers
    decide who may see it)."""
    return session.scalars(
        select(ComplaintPhoto).where(ComplaintPhoto.complaint_id == complaint_id)
    ).first()


def new_receipt_no(received_at: dt.datetime) -> str:
    """A receipt number: ``TS``, the day received (city time) and eight random letters
    (``TS20230131-K7QM2XRA``), so receipts cannot be guessed from one another."""
    day = received_at.astimezone(city_zone())
    tail = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"TS{day:%Y%m%d}-{tail}"


def add_complaint(
    session: Session,
    *,
    actor: Actor,
    river_id: int | None,
    category: str,
    description: str,
    complainant_name: str | None,
    complainant_phone: str | None,
    received_at: dt.datetime,
    detail: str | None = None,
    intake: bool = False,
) -> Complaint:
    """Record a complaint about a river the actor may see (the public: a published one),
    concerning the river's lead town, with a new receipt number. ``intake``: taken by
    the city or the town by telephone, letter or visit (the public may not; its
    complaints come through the portal).

    Every problem of the input is listed (``Invalid``, by field). The audit entry holds
    the complaint without its personal data (only whether a name or phone was given).
    """
    if intake:
        authorize_some(session, actor, Action.add, "complaint_intake")
    problems: list[Problem] = []
    river = None
    if river_id is not None:
        visible = restrict(session, actor, select(River), "river")
        river = session.scalars(visible.where(River.id == river_id)).first()
    if river is None:
        problems.append(Problem("请选择要投诉的河涌", column="river"))
    try:
        kind = ComplaintCategory(category)
    except ValueError:
        problems.append(Problem("请选择投诉类别", column="category", value=category))
    name = (complainant_name or "").strip() or None
    phone = (complainant_phone or "").strip() or None
    problems += text_problems(
        description,
        column="description",
        label="问题描述",
        max_length=DESCRIPTION_MAX,
        required=True,
    )
    problems += text_problems(name, column="name", label="姓名", max_length=40, required=False)
    if phone is not None and not _PHONE.match(phone):
        problems.append(Problem("电话号码只能包含数字、空格和“-”，6 至 20 位", column="phone"))
    if intake and received_at > utcnow():  # typed by a person (the portal gives its clock's)
        problems.append(Problem("受理时间不能晚于现在", column="received_at"))
    if problems:
        raise Invalid("投诉内容有误", problems)
    assert river is not None
    receipt_no = new_receipt_no(received_at)
    authorize(
        session,
        actor,
        Action.add,
        "complaint_intake" if intake else "complaint",
        town_id=river.lead_town_id,
        record_id=receipt_no,
    )
    complaint = Complaint(
        receipt_no=receipt_no,
        river_id=river.id,
        town_id=river.lead_town_id,
        category=kind,
        description=description.strip(),
        received_at=received_at,
        complainant_name=name,
        complainant_phone=phone,
    )
    session.add(complaint)
    session.flush()
    after = {k: v for k, v in snapshot(complaint).items() if k not in COMPLAINT_PERSONAL}
    after["complainant_given"] = name is not None or phone is not None
    record(
        session,
        actor=actor,
        action=Action.add.value,
        resource="complaint",
        record_id=receipt_no,
        town_id=river.lead_town_id,
        after=after,
        detail=detail or f"河涌“{river.code}”的群众投诉（{kind.label}）",
    )
    return complaint


def list_complaints(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    river: str | None = None,
    category: ComplaintCategory | None = None,
    open_only: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Complaint]]:
    """The complaints matching the filters (a town by name or code, a river by code, a
    category, ``open_only``: True the open ones, False the closed ones), the latest
    received first, with how many match in all. Every signed-in role reads them (the
    complainants' personal data is not part of a list: see ``complaint_contact``)."""
    authorize(session, actor, Action.view, "complaint")
    stmt = select(Complaint)
    if town is not None:
        stmt = stmt.where(Complaint.town_id == find_town(session, town).id)
    if river is not None:
        found = river_id(session, river)
        if found is None:
            raise NotFound(f"没有编号为“{river}”的河涌")
        stmt = stmt.where(Complaint.river_id == found)
    if category is not None:
        stmt = stmt.where(Complaint.category == category)
    if open_only is not None:
        closed = Complaint.closed_at.is_(None)
        stmt = stmt.where(closed if open_only else ~closed)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Complaint.received_at.desc(), Complaint.id.desc()).limit(limit).offset(offset)
    )
    return total, list(rows)


def close_complaint(
    session: Session,
    *,
    actor: Actor,
    receipt_no: str,
    closed_at: dt.datetime,
    note: str | None = None,
) -> Complaint:
    """Mark a complaint handled (办结) at ``closed_at``: the city, or the town the
    complaint concerns (anyone else 403, logged). Refused when it is closed already
    (``Conflict``), or when ``closed_at`` is before it was received or still to come
    (``Invalid``). Audited with the closing time before and after and the ``note``.
    The complaint is read for update: of two closings at once, the second sees the
    first."""
    authorize_some(session, actor, Action.change, "complaint", record_id=receipt_no)
    complaint = session.scalars(
        select(Complaint).where(Complaint.receipt_no == receipt_no).with_for_update()
    ).first()
    if complaint is None:
        raise NotFound(f"没有回执号为“{receipt_no}”的投诉")
    authorize(
        session,
        actor,
        Action.change,
        "complaint",
        town_id=complaint.town_id,
        record_id=receipt_no,
    )
    if complaint.closed_at is not None:
        shown = complaint.closed_at.astimezone(city_zone())
        raise Conflict(f"投诉“{receipt_no}”已于 {shown:%Y-%m-%d %H:%M} 办结")
    problems = text_problems(note, column="note", label="办结说明", max_length=500, required=False)
    if closed_at < complaint.received_at:
        received = complaint.received_at.astimezone(city_zone())
        problems.append(
            Problem(f"办结时间不能早于受理时间（{received:%Y-%m-%d %H:%M}）", column="closed_at")
        )
    if closed_at > utcnow():
        problems.append(Problem("办结时间不能晚于现在", column="closed_at"))
    if problems:
        raise Invalid("无法办结这件投诉", problems)
    complaint.closed_at = closed_at
    session.flush()
    record(
        session,
        actor=actor,
        action=Action.change.value,
        resource="complaint",
        record_id=receipt_no,
        town_id=complaint.town_id,
        before={"closed_at": None},
        after={"closed_at": closed_at.astimezone(dt.UTC).isoformat()},
        detail=f"投诉办结：{note.strip()}" if note and note.strip() else "投诉办结",
    )
    return complaint


# --- the dashboard's rivers and publishing them -----------------------------------------


def dashboard_river(session: Session, *, actor: Actor, river_id: int) -> River:
    """The river ``river_id`` for the dashboard: 404 when there is none (for the
    public, none published), 403 (logged) when a town user asks for a river another
    town leads."""
    stmt = restrict(session, actor, select(River).where(River.id == river_id), RIVERS.resource)
    river = session.scalars(stmt).first()
    if river is None:
        raise NotFound(f"没有编号为 {river_id} 的河涌")
    authorize_town_view(
        session, actor, RIVERS.resource, town_id=river.lead_town_id, record_id=river.code
    )
    return river


def set_published(
    session: Session, *, actor: Actor, river_id: int, published: bool, version: int | None = None
) -> River:
    """Show the river on the public portal, or stop showing it: the city's decision
    (anyone else is refused, 403 and logged). A change is audited with the flag before
    and after; asking for what already holds writes nothing. ``version``: the version of
    the river the decision is based on (``StaleVersion`` when it is at another now)."""
    authorize(session, actor, Action.publish, RIVERS.resource, record_id=river_id)
    river = session.get(River, river_id)
    if river is None:
        raise NotFound(f"没有编号为 {river_id} 的河涌")
    check_version(river, resource=RIVERS.resource, code=river.code, sent=version)
    if river.published == published:
        return river
    before = {"published": river.published}
    river.published = published
    session.flush()
    record(
        session,
        actor=actor,
        action=Action.publish.value,
        resource=RIVERS.resource,
        record_id=river.code,
        town_id=river.lead_town_id,
        before=before,
        after={"published": published},
        detail=f"河涌“{river.code}”{'在公众门户发布' if published else '从公众门户撤下'}",
    )
    return river
