"""The complaint pages of the dashboard: the list of complaints (``/complaints``, a town
user: its own town's), a complaint's page (``/complaints/{receipt_no}``) with the
complainant's contact and photo for those who may see them and the form that closes it
(办结), and
the form that records a complaint taken by telephone, letter or visit
(``/complaints/new``: the city, or a town for the rivers it leads).

Routes are thin: ``water.services`` reads and writes. A refused closing (a time before
the complaint was received or still to come) shows the page again with the reason
beside the form; a complaint closed in the meantime says so (409).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import (
    allowed,
    authorize_some,
    authorize_town_view,
    scoped_town,
    town_scope,
)
from gongjian.errors import Conflict, Invalid
from gongjian.periods import parse_instant
from gongjian.portal.choices import PhotoType
from gongjian.renewal.pages import (
    PAGE_SIZE,
    PageNumber,
    Pager,
    choice,
    export_href,
    filters_of,
    flag,
)
from gongjian.towns.services import list_towns
from gongjian.water import services
from gongjian.water.choices import ComplaintCategory
from gongjian.water.models import Complaint, River
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.forms import by_field
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

RESOURCE = "complaint"
INTAKE = "complaint_intake"
INTAKE_FIELDS = ("river", "category", "description", "received_at", "name", "phone")


@router.get("/complaints", response_class=HTMLResponse)
def complaints(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    town: str | None = None,
    category: str | None = None,
    still_open: Annotated[str | None, Query(alias="open")] = None,
    page: PageNumber = 1,
) -> Response:
    """The complaints (a town user: its own town's), the latest received first, by
    category and whether still open, paged; no complainant's personal data."""
    chosen = scoped_town(session, actor, RESOURCE, town)
    kind = choice(ComplaintCategory, category, "category")
    open_only = True if flag(still_open) else None
    total, rows = services.list_complaints(
        session,
        actor=actor,
        town=chosen.code if chosen else None,
        category=kind,
        open_only=open_only,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "water/complaints.html",
        rows=rows,
        total=total,
        rivers=_rivers(session, rows),
        pager=Pager.of(request, page, total),
        towns=list_towns(session),
        town=chosen,
        town_locked=town_scope(actor) is not None,
        categories=list(ComplaintCategory),
        category_label=lambda value: ComplaintCategory(value).label,
        category=kind,
        open_only=open_only,
        export_href=export_href("complaints", request),
        filtered=bool(filters_of(request)),
        can_take=allowed(actor, Action.add, INTAKE, actor.town_id),
    )


def _rivers(session: Session, rows: list[Complaint]) -> dict[int, River]:
    ids = {row.river_id for row in rows}
    return {river.id: river for river in session.scalars(select(River).where(River.id.in_(ids)))}


def _intake_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: str | None = None,
    problems: dict[str, list[str]] | None = None,
) -> Response:
    authorize_some(session, actor, Action.add, INTAKE)
    rivers = select(River).order_by(River.code)
    if (own := town_scope(actor)) is not None:
        rivers = rivers.where(River.lead_town_id == own)
    return render(
        request,
        "water/complaint_new.html",
        status_code=status_code,
        rivers=session.scalars(rivers).all(),
        categories=list(ComplaintCategory),
        form=form or {},
        error=error,
        problems=problems or {},
    )


@router.get("/complaints/new", response_class=HTMLResponse)
def intake(request: Request, session: SessionDep, actor: PageActor) -> Response:
    """The form recording a complaint taken by telephone, letter or visit (the city; a
    town, for the rivers it leads)."""
    return _intake_page(request, session, actor)


@router.post("/complaints/new", response_class=HTMLResponse)
def take(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    river: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    received_at: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=1_000)] = "",
    phone: Annotated[str, Form(max_length=1_000)] = "",
) -> Response:
    """Record the complaint (received now when no time is given) and open its page;
    refused, the form again with each problem beside its field."""
    given = (river, category, description, received_at, name, phone)
    form = dict(zip(INTAKE_FIELDS, given, strict=True))
    try:
        found = services.add_complaint(
            session,
            actor=actor,
            river_id=int(river) if river.isdigit() else None,
            category=category,
            description=description,
            complainant_name=name,
            complainant_phone=phone,
            received_at=parse_instant(received_at, field="received_at"),
            intake=True,
        )
    except Invalid as exc:
        return _intake_page(
            request,
            session,
            actor,
            status_code=422,
            form=form,
            error=exc.message,
            problems=by_field(exc.problems, INTAKE_FIELDS),
        )
    return RedirectResponse(f"/complaints/{quote(found.receipt_no, safe='')}?added=1", 303)


def _complaint_page(
    request: Request,
    session: Session,
    actor: Actor,
    receipt_no: str,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: str | None = None,
    problems: dict[str, list[str]] | None = None,
) -> Response:
    complaint, with_contact = services.get_complaint(session, actor=actor, receipt_no=receipt_no)
    authorize_town_view(session, actor, RESOURCE, town_id=complaint.town_id, record_id=receipt_no)
    return render(
        request,
        "water/complaint.html",
        status_code=status_code,
        complaint=complaint,
        category=ComplaintCategory(complaint.category),
        river=session.get(River, complaint.river_id),
        with_contact=with_contact,
        photo=with_contact and services.attached_photo(session, complaint.id) is not None,
        can_close=complaint.closed_at is None
        and allowed(actor, Action.change, RESOURCE, complaint.town_id),
        form=form or {},
        error=error,
        problems=problems or {},
        closed=request.query_params.get("closed") == "1",
        added=request.query_params.get("added") == "1",
    )


@router.get("/complaints/{receipt_no}/photo")
def photo(session: SessionDep, actor: PageActor, receipt_no: str) -> Response:
    """The photo a citizen attached, for the city and the town concerned (the 403 page,
    logged, for anyone else); never kept in a shared cache."""
    found = services.complaint_photo(session, actor=actor, receipt_no=receipt_no)
    extension = "png" if found.content_type == PhotoType.png else "jpg"
    return Response(
        found.data,
        media_type=PhotoType(found.content_type).value,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'inline; filename="{receipt_no}.{extension}"',
        },
    )


@router.get("/complaints/{receipt_no}", response_class=HTMLResponse)
def complaint(request: Request, session: SessionDep, actor: PageActor, receipt_no: str) -> Response:
    """A complaint's page: what was reported, where and when, whether handled; the
    complainant's contact for the city and the town concerned; the closing form for
    those who may close it. A town user gets the 403 page for another town's."""
    return _complaint_page(request, session, actor, receipt_no)


@router.post("/complaints/{receipt_no}/close", response_class=HTMLResponse)
def close(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    receipt_no: str,
    closed_at: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Close the complaint at the time given (city time; now when empty)."""
    form = {"closed_at": closed_at, "note": note}
    try:
        services.close_complaint(
            session,
            actor=actor,
            receipt_no=receipt_no,
            closed_at=parse_instant(closed_at, field="closed_at"),
            note=note,
        )
    except Invalid as exc:
        return _complaint_page(
            request,
            session,
            actor,
            receipt_no,
            status_code=422,
            form=form,
            error=exc.message,
            problems=by_field(exc.problems, ("closed_at", "note")),
        )
    except Conflict as exc:
        return _complaint_page(
            request, session, actor, receipt_no, status_code=409, form=form, error=exc.message
        )
    return RedirectResponse(f"/complaints/{quote(receipt_no, safe='')}?closed=1", 303)
