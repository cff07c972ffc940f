"""Water records: how rivers are found and scoped; complaints and their personal data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import allowed, authorize
from gongjian.errors import NotFound
from gongjian.records import RecordKind
from gongjian.water.models import Complaint, River

RIVERS = RecordKind(River, "river", "lead_town_id")


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
    """A complaint whose personal data ``actor`` asks for: 403 (logged) if not allowed."""
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
