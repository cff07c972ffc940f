"""The renewal pages of the dashboard: parcels (``/parcels``), a parcel's page with its
dated state change (``/parcels/{code}``), contiguous clusters (``/clusters``) and the
enterprises behind the renewal KPIs (``/enterprises``).

Routes are thin: ``renewal.services`` and ``renewal.enterprises`` read and write. Every
list is confined to a town user's own town (asking for another town is refused, 403
and logged), pages a bounded number of rows, and links its export
(``/exports/<kind>?<the same filters>``). A refused state change shows the parcel's page
again with the reason beside the form, never an error page.

The list helpers here (``Pager``, ``choice``, ``choices``, ``export_href``) serve the
campaign pages too.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.permissions import scoped_town, town_scope
from gongjian.choices import LabeledChoice
from gongjian.config import get_settings
from gongjian.errors import Invalid, Problem
from gongjian.periods import parse_as_of, today
from gongjian.renewal.choices import EnterpriseKind, MilestoneKind, Ownership, RenewalState
from gongjian.renewal.enterprises import ENTERPRISES, agreed_investment, list_enterprises
from gongjian.renewal.rules import UNITS, Measure
from gongjian.renewal.services import (
    PARCELS,
    change_state,
    cluster_views,
    list_parcels,
    parcel_detail,
)
from gongjian.towns.services import list_towns
from gongjian.web.conflicts import move_rows
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.forms import form_choice, form_day, state_form_answer
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
"""Rows per page of every list."""
CLUSTER_PAGE_SIZE = 20
"""Clusters per page (each lists its parcels)."""
GAP_MAX_M = 500
"""The widest gap between parcels the cluster page accepts, in metres."""
OUTLINE_SIZE = 240
"""Width and height of a parcel's outline drawing (SVG units)."""
TRUE = ("1", "true", "yes", "on")

C = TypeVar("C", bound=LabeledChoice)


# --- List helpers (the campaign pages use them too) --------------------------------------


def choice(of: type[C], value: str | None, column: str) -> C | None:
    """The member of ``of`` a filter names (identifier or Chinese label); ``None`` when
    empty; ``Invalid`` naming the choices otherwise."""
    return choices(of, [value] if value else [], column)[0] if value else None


def choices(of: type[C], values: Sequence[str], column: str) -> list[C]:
    """The members of ``of`` a repeated filter names, empty values ignored."""
    found = []
    for value in values:
        if not value.strip():
            continue
        try:
            found.append(of.parse(value.strip()))
        except ValueError:
            raise Invalid(
                f"筛选条件“{column}”的取值无效",
                [Problem(f"可选：{'、'.join(of.values())}", column=column, value=value)],
            ) from None
    return found


def flag(value: str | None) -> bool:
    """Whether a filter such as ``signed=1`` is on."""
    return (value or "").strip().lower() in TRUE


def day_of(value: str | None) -> dt.date | None:
    """The day ``as_of`` names (a date, or a period read as of its last day); ``None``
    when not given."""
    return parse_as_of(value) if value and value.strip() else None


def filters_of(request: Request) -> list[tuple[str, str]]:
    """The query's parameters as given, but ``page`` and empty ones: a list's filters."""
    return [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v.strip()]


def export_href(kind: str, request: Request) -> str:
    """The export of exactly what the list shows: ``/exports/<kind>?<its filters>``."""
    query = urlencode(filters_of(request))
    return f"/exports/{kind}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Pager:
    """Paging of a list: page ``number`` of ``total`` rows, ``size`` rows a page, and the
    links to the other pages (the same filters)."""

    path: str
    params: list[tuple[str, str]]
    number: int
    size: int
    total: int

    @classmethod
    def of(cls, request: Request, number: int, total: int, size: int = PAGE_SIZE) -> Pager:
        return cls(request.url.path, filters_of(request), number, size, total)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def href(self, number: int) -> str:
        return f"{self.path}?{urlencode([*self.params, ('page', str(number))])}"


PageNumber = Annotated[int, Query(ge=1, le=100_000)]


# --- Parcels ----------------------------------------------------------------------------


@router.get("/parcels", response_class=HTMLResponse)
def parcels(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    town: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
    reached: str | None = None,
    as_of: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """The parcels (a town user: its own town's), by state or state reached as of a day,
    paged, with their total area."""
    chosen = scoped_town(session, actor, PARCELS.resource, town)
    states = choices(RenewalState, state or [], "state")
    reached_state = choice(RenewalState, reached, "reached")
    day = day_of(as_of)
    listing = list_parcels(
        session,
        actor=actor,
        town_id=chosen.id if chosen else None,
        states=states,
        reached=reached_state,
        as_of=day,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "renewal/parcels.html",
        listing=listing,
        pager=Pager.of(request, page, listing.total),
        towns=list_towns(session),
        town=chosen,
        town_locked=town_scope(actor) is not None,
        states=list(RenewalState),
        chosen_states=states,
        reached=reached_state,
        as_of=day,
        export_href=export_href("parcels", request),
        filtered=bool(filters_of(request)),
    )


def outline(geometry: dict[str, Any] | None) -> str | None:
    """An SVG path drawing ``geometry`` (a GeoJSON polygon or multipolygon in degrees)
    centred in a square of ``OUTLINE_SIZE`` units, north up, metres alike in both
    directions; ``None`` when there is nothing to draw."""
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    rings = [ring for polygon in polygons for ring in polygon if ring]
    points = [(float(x), float(y)) for ring in rings for x, y, *_ in ring]
    if not points:
        return None
    west, east = min(x for x, _ in points), max(x for x, _ in points)
    south, north = min(y for _, y in points), max(y for _, y in points)
    stretch = math.cos(math.radians((south + north) / 2))
    span = max((east - west) * stretch, north - south) or 1.0
    scale = OUTLINE_SIZE * 0.9 / span
    left = (OUTLINE_SIZE - (east - west) * stretch * scale) / 2
    top = (OUTLINE_SIZE - (north - south) * scale) / 2

    def at(x: float, y: float) -> str:
        return f"{left + (x - west) * stretch * scale:.1f} {top + (north - y) * scale:.1f}"

    return " ".join(
        "M " + " L ".join(at(float(x), float(y)) for x, y, *_ in ring) + " Z" for ring in rings
    )


def _parcel_page(
    request: Request,
    session: Session,
    actor: Actor,
    code: str,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: str | None = None,
    problems: dict[str, list[str]] | None = None,
) -> Response:
    """A parcel's page; ``form``, ``error`` and ``problems`` (by field) are those of a
    refused state change."""
    view = parcel_detail(session, actor=actor, parcel_code=code)
    before, after = view.year(view.before_year), view.year(view.after_year)
    return render(
        request,
        "renewal/parcel.html",
        status_code=status_code,
        view=view,
        parcel=view.parcel,
        state=RenewalState(view.parcel.renewal_state),
        ownership=Ownership(view.parcel.ownership),
        state_label=lambda value: RenewalState(value).label if value else "—",
        milestone_label=lambda value: MilestoneKind(value).label,
        measures=[(measure, UNITS[measure]) for measure in Measure],
        before=before,
        after=after,
        outline=outline(view.parcel.geometry),
        outline_size=OUTLINE_SIZE,
        form=form or {"on": today().isoformat()},
        error=error,
        problems=problems or {},
        changed=request.query_params.get("changed") == "1",
    )


@router.get("/parcels/{code}", response_class=HTMLResponse)
def parcel(request: Request, session: SessionDep, actor: PageActor, code: str) -> Response:
    """A parcel's page: its facts and outline, state history, construction milestones,
    yearly figures with the identification explanation, before and after renewal, and
    the dated state change for those who may make it."""
    return _parcel_page(request, session, actor, code)


@router.post("/parcels/{code}/state", response_class=HTMLResponse)
def parcel_state(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    code: str,
    to_state: Annotated[str, Form()] = "",
    on: Annotated[str, Form()] = "",
    comment_until: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    """Move the parcel to another renewal state on a day (the parcel's town or the
    city); a refusal shows the page again with its reason beside the form. Based on the
    parcel's version the form was shown with: the conflict page (409) when it changed."""
    form = {"to_state": to_state, "on": on, "comment_until": comment_until, "reason": reason}
    problems: dict[str, list[str]] = {}
    target = form_choice(RenewalState, to_state, "to_state", problems)
    day = form_day(on, "on", "变更日期", problems, required=True)
    until = form_day(comment_until, "comment_until", "公示期截止日期", problems, required=False)
    if problems or day is None or target is None:
        return _parcel_page(
            request, session, actor, code, status_code=422, form=form, problems=problems
        )
    return state_form_answer(
        request,
        partial(
            change_state,
            session,
            actor=actor,
            parcel_code=code,
            to_state=target,
            on=day,
            comment_until=until,
            reason=reason,
            version=version,
        ),
        page_url=f"/parcels/{quote(code, safe='')}",
        again=partial(_parcel_page, request, session, actor, code, form=form),
        conflict_rows=lambda exc: move_rows(
            target, RenewalState(exc.record["renewal_state"]), on, reason
        ),
        fields=("to_state", "on", "comment_until", "reason"),
    )


# --- Clusters ---------------------------------------------------------------------------


@router.get("/clusters", response_class=HTMLResponse)
def clusters(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    town: str | None = None,
    gap_m: Annotated[float, Query(ge=0, le=GAP_MAX_M)] = 0,
    flagged: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """Contiguous clusters (连片) of two parcels or more, largest first, with their parcels
    and total area; those that reach the threshold are marked."""
    chosen = scoped_town(session, actor, PARCELS.resource, town)
    found, undrawn = cluster_views(
        session,
        actor=actor,
        town_id=chosen.id if chosen else None,
        gap_m=gap_m,
        flagged_only=flag(flagged),
    )
    pager = Pager.of(request, page, len(found), CLUSTER_PAGE_SIZE)
    return render(
        request,
        "renewal/clusters.html",
        clusters=found[pager.offset : pager.offset + pager.size],
        undrawn=undrawn,
        pager=pager,
        towns=list_towns(session),
        town=chosen,
        town_locked=town_scope(actor) is not None,
        gap_m=gap_m,
        min_mu=get_settings().cluster_min_mu,
        flagged=flag(flagged),
        filtered=bool(filters_of(request)),
    )


# --- Enterprises ------------------------------------------------------------------------


@router.get("/enterprises", response_class=HTMLResponse)
def enterprises(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    town: str | None = None,
    kind: str | None = None,
    signed: str | None = None,
    as_of: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """The enterprises attracted and expanding (a town user: its own town's): those with
    an agreement signed by a day are the records behind the KPIs 新招引企业, 增资扩产 and
    新增投资; their agreed investment in total at the top."""
    chosen = scoped_town(session, actor, ENTERPRISES.resource, town)
    filters: dict[str, Any] = {
        "town": chosen.code if chosen else None,
        "kind": choice(EnterpriseKind, kind, "kind"),
        "signed": True if flag(signed) else None,
        "as_of": day_of(as_of),
    }
    total, rows = list_enterprises(
        session, actor=actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters
    )
    return render(
        request,
        "renewal/enterprises.html",
        rows=rows,
        total=total,
        investment_wan=agreed_investment(session, actor=actor, **filters),
        pager=Pager.of(request, page, total),
        towns=list_towns(session),
        town=chosen,
        town_locked=town_scope(actor) is not None,
        kinds=list(EnterpriseKind),
        kind=filters["kind"],
        signed=filters["signed"],
        as_of=filters["as_of"],
        export_href=export_href("enterprises", request),
        filtered=bool(filters_of(request)),
    )
