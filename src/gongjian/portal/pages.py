"""The public portal: published rivers, a river's page, the complaint form and the
receipt lookup, in the accessible and elder modes.

No sign-in: every route acts as ``Actor.public()``. The complaint form posts with the
double-submit CSRF token of signed-out forms. The display modes (长者模式, 无障碍模式) are
cookies set by plain links, so they work without JavaScript and are remembered.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from gongjian.auth.actors import Actor
from gongjian.config import get_settings
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.periods import city_zone, today
from gongjian.portal import services
from gongjian.portal.choices import DisplayMode
from gongjian.reports.pages import docx_download
from gongjian.reports.publishing import published_briefing
from gongjian.water.choices import ComplaintCategory, Grade, MeasureState, RemediationState
from gongjian.water.priorities import COMPLAINT_DAYS
from gongjian.web import csrf
from gongjian.web.deps import SessionDep
from gongjian.web.i18n import LANG_COOKIE_MAX_AGE, language_of, translate
from gongjian.web.sessions import client_address, is_https, now
from gongjian.web.templating import render, safe_next

router = APIRouter(include_in_schema=False)

MODE_COOKIES = {DisplayMode.elder: "gongjian_elder", DisplayMode.a11y: "gongjian_a11y"}
"""The cookie that switches each display mode on (value ``1``)."""
FORM_FIELD_MAX = 64 * 1024
"""Largest text field of the complaint form, in bytes (the description is far shorter)."""
FORM_SLACK = 64 * 1024
"""What the complaint form may carry besides its photo (fields and multipart framing)."""


def display_modes(request: Request) -> frozenset[DisplayMode]:
    """The display modes the browser has switched on."""
    return frozenset(mode for mode, name in MODE_COOKIES.items() if request.cookies.get(name))


def _page(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A portal page: ``render`` with the display modes and the labels of the choices."""
    return render(
        request,
        name,
        status_code=status_code,
        headers=headers,
        modes=display_modes(request),
        display_modes=list(DisplayMode),
        grades=Grade,
        measure_states=MeasureState,
        remediation_states=RemediationState,
        **context,
    )


def _not_found(request: Request, message: str) -> HTMLResponse:
    return _page(request, "portal/not_found.html", status_code=404, message=message)


def _map_legend(request: Request) -> list[dict[str, str]]:
    """What the map's styles mean (``GongjianMap``'s legend): each grade, and not graded."""
    unknown = translate(language_of(request), "portal.grade.unknown")
    return [{"style": f"grade-{grade.value}", "label": grade.label} for grade in Grade] + [
        {"style": "grade-ungraded", "label": unknown}
    ]


@router.get("/portal", response_class=HTMLResponse)
def portal_home(
    request: Request, session: SessionDep, town: str | None = None, page: int = 1
) -> Response:
    """The published rivers as cards (filter by town, paged) with their map, and the
    published briefings."""
    actor = Actor.public()
    rivers = services.list_rivers(session, actor=actor, as_of=today(), town=town or None, page=page)
    briefings = services.published_briefings(session, actor=actor)
    return _page(
        request,
        "portal/home.html",
        rivers=rivers,
        briefings=briefings,
        map_legend=_map_legend(request),
        map_features="/portal/rivers.geojson?" + urlencode({"town": town or ""}),
        town_code=town or "",
        page_link=lambda n: "/portal?" + urlencode({"town": town or "", "page": n}),
    )


@router.get("/portal/rivers.geojson")
def portal_river_map(session: SessionDep, town: str | None = None) -> JSONResponse:
    """The published rivers (of one town when ``town`` is a town's code) as GeoJSON
    features for the portal's map, each with its grade, state and page."""
    rivers = services.river_map(session, actor=Actor.public(), as_of=today(), town=town or None)
    features = [
        {
            "type": "Feature",
            "geometry": river.geometry,
            "properties": {
                "name": river.name,
                "town": river.town,
                "grade": river.grade.value if river.grade else None,
                "grade_label": river.grade.label if river.grade else None,
                "state_label": river.state.label,
                "url": f"/portal/rivers/{river.id}",
            },
        }
        for river in rivers
    ]
    return JSONResponse(
        {"type": "FeatureCollection", "features": features},
        media_type="application/geo+json",
    )


@router.get("/portal/rivers/{river_id}", response_class=HTMLResponse)
def portal_river(request: Request, session: SessionDep, river_id: int) -> Response:
    """A published river's page; an unpublished one is not found, like a missing one."""
    try:
        river = services.get_river(session, actor=Actor.public(), river_id=river_id, as_of=today())
    except NotFound as exc:
        return _not_found(request, exc.message)
    return _page(request, "portal/river.html", river=river, complaint_days=COMPLAINT_DAYS)


@router.get("/portal/briefings/{briefing_id}.docx")
def portal_briefing_docx(session: SessionDep, briefing_id: int) -> Response:
    """The .docx of a published briefing, rendered from the data it was published with."""
    shown, data = published_briefing(session, actor=Actor.public(), briefing_id=briefing_id)
    return docx_download(data, f"{shown.title}.docx")


@router.get("/portal/briefings/{briefing_id}", response_class=HTMLResponse)
def portal_briefing(request: Request, session: SessionDep, briefing_id: int) -> Response:
    """A published briefing as it was published (its stored figures, never recomputed),
    with its .docx; an unpublished one is not found, like a missing one."""
    try:
        shown, data = published_briefing(session, actor=Actor.public(), briefing_id=briefing_id)
    except NotFound as exc:
        return _not_found(request, exc.message)
    return _page(request, "portal/briefing.html", briefing=shown, data=data)


@dataclass
class ComplaintForm:
    """What the complaint form sent, and the problems found before the form was read
    (a request too large to read, a form that does not parse)."""

    river: str = ""
    category: str = ""
    description: str = ""
    name: str = ""
    phone: str = ""
    photo: bytes | None = None
    problems: list[Problem] = field(default_factory=list)
    status: int = 422


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def complaint_form(request: Request) -> ComplaintForm:
    """The complaint form as sent, its CSRF token checked (a wrong one: 403).

    A request longer than the photo limit allows is not read at all (nothing written):
    the form is shown again saying the photo is too large. The photo is read up to one
    byte past the limit, so a longer one is refused without being stored.
    """
    limit = get_settings().complaint_photo_max_kb * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_SLACK:
        max_kb = get_settings().complaint_photo_max_kb
        reason = f"照片过大（超过 {max_kb} KB），请缩小后重新选择；其他内容也请重新填写"
        return ComplaintForm(problems=[Problem(reason, column="photo")], status=413)
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=FORM_FIELD_MAX)
    except MultiPartException as exc:
        return ComplaintForm(problems=[Problem(f"无法读取提交的表单：{exc.message}")], status=400)
    await csrf.anonymous_csrf(request)
    upload = form.get("photo")
    photo = None
    if isinstance(upload, UploadFile) and upload.filename:
        photo = await upload.read(limit + 1)
    return ComplaintForm(
        river=_text(form, "river"),
        category=_text(form, "category"),
        description=_text(form, "description"),
        name=_text(form, "name"),
        phone=_text(form, "phone"),
        photo=photo,
    )


def _form_page(
    request: Request,
    session: SessionDep,
    form: ComplaintForm,
    *,
    status_code: int = 200,
    problems: list[Problem] | None = None,
) -> HTMLResponse:
    errors: dict[str, list[str]] = {}
    for problem in problems or []:
        errors.setdefault(problem.column or "form", []).append(problem.reason)
    return _page(
        request,
        "portal/complaint.html",
        status_code=status_code,
        form=form,
        errors=errors,
        river_groups=[
            (town, list(rivers))
            for town, rivers in groupby(
                services.river_choices(session, actor=Actor.public()), key=attrgetter("town")
            )
        ],
        categories=list(ComplaintCategory),
        photo_max_kb=get_settings().complaint_photo_max_kb,
    )


@router.get("/portal/complaints/new", response_class=HTMLResponse)
def complaint_new(request: Request, session: SessionDep, river: int | None = None) -> Response:
    """The complaint form (a river chosen beforehand when ``river`` is given)."""
    return _form_page(request, session, ComplaintForm(river=str(river or "")))


@router.post("/portal/complaints/new", response_class=HTMLResponse)
def complaint_submit(
    request: Request,
    session: SessionDep,
    form: Annotated[ComplaintForm, Depends(complaint_form)],
) -> Response:
    """Submit a complaint: a receipt number on success (to the lookup page), the form
    again with every problem beside its field, or a polite 429 over the rate limit."""
    if form.problems:
        return _form_page(request, session, form, status_code=form.status, problems=form.problems)
    moment = now(request)
    try:
        receipt_no = services.submit_complaint(
            session,
            actor=Actor.public(),
            client_address=client_address(request),
            now=moment,
            river_id=int(form.river) if form.river.isdigit() else None,
            category=form.category,
            description=form.description,
            name=form.name,
            phone=form.phone,
            photo=form.photo,
        )
    except services.TooManySubmissions as exc:
        return _too_many(request, exc.retry_at, moment)
    except Invalid as exc:
        return _form_page(request, session, form, status_code=422, problems=exc.problems)
    target = "/portal/receipts?" + urlencode({"receipt_no": receipt_no, "new": 1})
    return RedirectResponse(target, status_code=303)


def _too_many(request: Request, retry_at: dt.datetime, moment: dt.datetime) -> HTMLResponse:
    wait = max(1, math.ceil((retry_at - moment).total_seconds()))
    return _page(
        request,
        "portal/too_many.html",
        status_code=429,
        headers={"Retry-After": str(wait)},
        time=f"{retry_at.astimezone(city_zone()):%H:%M}",
        minutes=math.ceil(wait / 60),
        limit=get_settings().complaint_rate_limit,
        window=get_settings().complaint_rate_window_minutes,
    )


@router.get("/portal/receipts", response_class=HTMLResponse)
def receipts(
    request: Request, session: SessionDep, receipt_no: str = "", new: bool = False
) -> Response:
    """Look up a complaint's status by its receipt number (nothing personal shown)."""
    found = None
    missing = None
    if receipt_no.strip():
        try:
            found = services.lookup_receipt(
                session, actor=Actor.public(), receipt_no=receipt_no[:40]
            )
        except NotFound as exc:
            missing = exc.message
    return _page(
        request,
        "portal/receipts.html",
        status_code=404 if missing else 200,
        receipt_no=receipt_no.strip()[:40],
        found=found,
        missing=missing,
        new=new and found is not None,
    )


@router.get("/portal/mode/{mode}/{state}")
def switch_mode(request: Request, mode: str, state: str, next: str = "/portal") -> Response:
    """Switch a display mode on or off (remembered in a cookie for a year) and go back to
    ``next``. A link, not a form: it changes only how pages look, nothing stored."""
    try:
        chosen = DisplayMode(mode)
    except ValueError:
        return _not_found(request, f"没有名为“{mode}”的显示模式")
    if state not in ("on", "off"):
        return _not_found(request, f"显示模式只能开启（on）或关闭（off），不能是“{state}”")
    response = RedirectResponse(safe_next(next), status_code=303)
    if state == "on":
        response.set_cookie(
            MODE_COOKIES[chosen],
            "1",
            max_age=LANG_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=is_https(request),
            path="/",
        )
    else:
        response.delete_cookie(
            MODE_COOKIES[chosen], httponly=True, samesite="lax", secure=is_https(request), path="/"
        )
    return response
