"""The campaign pages of the dashboard: projects (``/projects``) and a project's page with
its dated state change (``/projects/{code}``), batches (``/batches``,
``/batches/{code}``), the ranking of the towns with the commendation list
(``/ranking``) and the dispatch of cadres (``/dispatch``).

Routes are thin: ``campaign.projects``, ``batches``, ``scoring`` and ``dispatch`` read
and write. Lists are confined to a town user's own town and paged like the renewal
lists (whose helpers they share); the ranking is a city summary every role reads; the
dispatch is for the city, the auditor and the admin (a town user gets the 403 page).
A refused write shows the page again with its reason beside the form.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import allowed, authorize_town_view, scoped_town, town_scope
from gongjian.campaign.batches import batch_states, batch_view, list_batches
from gongjian.campaign.choices import (
    BatchKind,
    Campaign,
    CommendationKind,
    ProjectKind,
    ProjectState,
)
from gongjian.campaign.dispatch import (
    DEFAULT_MAX,
    DEFAULT_MIN,
    DISPATCH,
    PRESSURE_PLACES,
    list_cadres,
    page_dispatches,
    recommend,
    record_dispatch,
)
from gongjian.campaign.projects import change_project_state, project_list, project_view
from gongjian.campaign.rules import COMPLETED_OR_LATER, QUANTITIES, STARTED_OR_LATER, rounded
from gongjian.campaign.scoring import (
    ITEM_LABELS,
    SCOPE_LABELS,
    committed_years,
    list_commendations,
    standings,
)
from gongjian.campaign.services import PROJECTS
from gongjian.errors import Conflict, Invalid, NotFound
from gongjian.periods import Period, parse_period, period_of, today
from gongjian.renewal.pages import (
    PAGE_SIZE,
    PageNumber,
    Pager,
    choice,
    choices,
    day_of,
    export_href,
    filters_of,
    flag,
)
from gongjian.towns.services import list_towns
from gongjian.web.conflicts import move_rows
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.forms import by_field, form_choice, form_day, state_form_answer
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

BATCH_CHOICES = 200
"""Most batches the project list's batch filter offers."""
CADRES_MAX = 100_000
"""Most cadres a recommendation shares out."""
DISPATCH_FIELDS = ("cadre", "town", "from_on", "to_on", "role")
MONTHS = 12


# --- Projects ---------------------------------------------------------------------------


@router.get("/projects", response_class=HTMLResponse)
def projects(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    campaign: str | None = None,
    kind: Annotated[list[str] | None, Query()] = None,
    state: Annotated[list[str] | None, Query()] = None,
    reached: str | None = None,
    town: str | None = None,
    overdue: str | None = None,
    batch: str | None = None,
    as_of: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """The projects (a town user: its own town's) by campaign, kind, state on a day,
    town, batch and whether they are overdue, paged, with their investment."""
    chosen = scoped_town(session, actor, PROJECTS.resource, town)
    kinds = choices(ProjectKind, kind or [], "kind")
    states = choices(ProjectState, state or [], "state")
    filters: dict[str, Any] = {
        "campaign": choice(Campaign, campaign, "campaign"),
        "states": states,
        "reached": choice(ProjectState, reached, "reached"),
        "overdue_only": flag(overdue),
        "batch": (batch or "").strip() or None,
        "as_of": day_of(as_of),
    }
    listing = project_list(
        session,
        actor=actor,
        town_id=chosen.id if chosen else None,
        kinds=kinds,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        **filters,
    )
    _, batches = list_batches(session, actor=actor, limit=BATCH_CHOICES)
    return render(
        request,
        "campaign/projects.html",
        listing=listing,
        pager=Pager.of(request, page, listing.total),
        towns=list_towns(session),
        town=chosen,
        town_locked=town_scope(actor) is not None,
        campaigns=list(Campaign),
        kinds=list(ProjectKind),
        all_states=list(ProjectState),
        batches=[summary.batch for summary in batches],
        chosen_kinds=kinds,
        filters=filters,
        campaign_label=lambda value: Campaign(value).label,
        kind_label=lambda value: ProjectKind(value).label,
        export_href=export_href("projects", request),
        filtered=bool(filters_of(request)),
    )


def _project_page(
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
    """A project's page; ``form``, ``error`` and ``problems`` (by field) are those of a
    refused state change."""
    view = project_view(session, actor=actor, code=code)
    project = view.detail.project
    kind = ProjectKind(project.kind)
    return render(
        request,
        "campaign/project.html",
        status_code=status_code,
        view=view,
        project=project,
        kind=kind,
        campaign=Campaign(project.campaign),
        state=ProjectState(project.state),
        state_label=lambda value: ProjectState(value).label if value else "—",
        quantities=[
            (quantity, getattr(project, quantity.field))
            for quantity in QUANTITIES
            if kind in quantity.kinds
        ],
        form=form or {"on": today().isoformat()},
        error=error,
        problems=problems or {},
        changed=request.query_params.get("changed") == "1",
    )


@router.get("/projects/{code}", response_class=HTMLResponse)
def project(request: Request, session: SessionDep, actor: PageActor, code: str) -> Response:
    """A project's page: its facts, whether it is overdue, the rivers or parcels it
    serves, its batches, its state history and the dated state change for those who may
    make it. A town user gets the 403 page for another town's project."""
    return _project_page(request, session, actor, code)


@router.post("/projects/{code}/state", response_class=HTMLResponse)
def project_state(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    code: str,
    to_state: Annotated[str, Form()] = "",
    on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    """Move the project to its next state on a day (its town or the city; 已验收 the city
    only); a refusal shows the page again with its reason beside the form. The form
    carries the version of the project it was shown with: when someone changed the
    project since, the answer is the conflict page (409) and nothing is written."""
    form = {"to_state": to_state, "on": on, "reason": reason}
    problems: dict[str, list[str]] = {}
    target = form_choice(ProjectState, to_state, "to_state", problems)
    day = form_day(on, "on", "变更日期", problems, required=True)
    if problems or day is None or target is None:
        return _project_page(
            request, session, actor, code, status_code=422, form=form, problems=problems
        )
    return state_form_answer(
        request,
        partial(
            change_project_state,
            session,
            actor=actor,
            code=code,
            to_state=target,
            on=day,
            reason=reason,
            version=version,
        ),
        page_url=f"/projects/{quote(code, safe='')}",
        again=partial(_project_page, request, session, actor, code, form=form),
        conflict_rows=lambda exc: move_rows(target, ProjectState(exc.record["state"]), on, reason),
        fields=("to_state", "on", "reason"),
    )


# --- Batches ----------------------------------------------------------------------------


@router.get("/batches", response_class=HTMLResponse)
def batches(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    kind: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """The concentrated start and demolition events (集中开工/集中拆除), each with its
    figures and progress (its projects by state)."""
    chosen = choice(BatchKind, kind, "kind")
    total, rows = list_batches(
        session, actor=actor, kind=chosen, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "campaign/batches.html",
        rows=rows,
        states=batch_states(session, [row.batch.id for row in rows]),
        started=STARTED_OR_LATER,
        completed=COMPLETED_OR_LATER,
        pager=Pager.of(request, page, total),
        kinds=list(BatchKind),
        kind=chosen,
        kind_label=lambda value: BatchKind(value).label,
        filtered=bool(filters_of(request)),
    )


@router.get("/batches/{code}", response_class=HTMLResponse)
def batch(request: Request, session: SessionDep, actor: PageActor, code: str) -> Response:
    """A batch's page: its figures, its progress, and its projects (a town user: its own
    town's)."""
    view = batch_view(session, actor=actor, code=code)
    return render(
        request,
        "campaign/batch.html",
        view=view,
        b=view.detail.batch,
        kind=BatchKind(view.detail.batch.kind),
        campaigns=list(Campaign),
        started=STARTED_OR_LATER,
        completed=COMPLETED_OR_LATER,
        state_label=lambda value: ProjectState(value).label,
        kind_label=lambda value: ProjectKind(value).label,
    )


# --- Ranking and commendation -----------------------------------------------------------


def _periods(years: list[int], shown: Period) -> list[Period]:
    """The months a ranking may be read at: those of the committed years up to this
    month (latest first), and the period shown."""
    now = today()
    months = [
        period_of(dt.date(year, month, 1))
        for year in years
        for month in range(1, MONTHS + 1)
        if dt.date(year, month, 1) <= now
    ]
    if shown not in months:
        months.append(shown)
    return sorted(months, key=lambda p: p.end, reverse=True)


def _default_period(years: list[int]) -> Period:
    """This month, or the last month of the latest committed year when this year has no
    commitments (a ranking scores commitments)."""
    now = today()
    past = [year for year in years if year <= now.year]
    if not past or past[-1] == now.year:
        return period_of(now)
    return period_of(dt.date(past[-1], 12, 31))


@router.get("/ranking", response_class=HTMLResponse)
def ranking(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    period: str | None = None,
    campaign: str | None = None,
) -> Response:
    """The 23 towns ranked by score for the year of ``period`` as of its last day, each
    score item by item, and the commendation list (suggested and written)."""
    years = committed_years(session, actor=actor)
    shown = parse_period(period) if period and period.strip() else _default_period(years)
    scope = choice(Campaign, campaign, "campaign")
    board, candidates = standings(
        session, actor=actor, year=shown.end.year, campaign=scope, as_of=shown.end
    )
    return render(
        request,
        "campaign/ranking.html",
        board=board,
        candidates=candidates,
        written=list_commendations(session, actor=actor, year=board.year),
        period=shown,
        periods=_periods(years, shown),
        committed=shown.end.year in years,
        campaigns=list(Campaign),
        campaign=scope,
        scope_label=lambda key: SCOPE_LABELS.get(key, key),
        item_labels=ITEM_LABELS,
        commendation_kind=lambda value: CommendationKind(value).label,
    )


# --- Dispatch of cadres -----------------------------------------------------------------


def _dispatch_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    page: int = 1,
    cadres: int | None = None,
    minimum: int = DEFAULT_MIN,
    maximum: int = DEFAULT_MAX,
    as_of: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: str | None = None,
    problems: dict[str, list[str]] | None = None,
) -> Response:
    """The dispatch page; ``form``, ``error`` and ``problems`` are those of a refused
    record of a dispatch."""
    authorize_town_view(session, actor, DISPATCH, town_id=None)
    total, rows = page_dispatches(
        session, actor=actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    day = day_of(as_of)
    recommendation, refused = None, None
    if cadres is not None:
        try:
            recommendation = recommend(
                session, actor=actor, cadres=cadres, minimum=minimum, maximum=maximum, as_of=day
            )
        except Invalid as exc:
            refused = exc
    can_record = allowed(actor, Action.add, DISPATCH)
    return render(
        request,
        "campaign/dispatch.html",
        status_code=status_code,
        rows=rows,
        pager=Pager.of(request, page, total),
        today=today(),
        recommendation=recommendation,
        refused=refused,
        asked={"cadres": cadres, "min": minimum, "max": maximum, "as_of": day},
        pressure=lambda value: rounded(value, PRESSURE_PLACES),
        cadre_list=list_cadres(session, actor=actor) if can_record else [],
        towns=list_towns(session) if can_record else [],
        can_record=can_record,
        form=form or {"from_on": today().isoformat()},
        error=error,
        problems=problems or {},
        recorded=request.query_params.get("recorded"),
    )


@router.get("/dispatch", response_class=HTMLResponse)
def dispatch(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    cadres: Annotated[int | None, Query(ge=1, le=CADRES_MAX)] = None,
    minimum: Annotated[int, Query(alias="min", ge=0, le=CADRES_MAX)] = DEFAULT_MIN,
    maximum: Annotated[int, Query(alias="max", ge=0, le=CADRES_MAX)] = DEFAULT_MAX,
    as_of: str | None = None,
    page: PageNumber = 1,
) -> Response:
    """The cadres sent down to the towns (下派干部), and the recommended dispatch of a
    number of cadres by the towns' pressure (largest remainder, each town between a
    minimum and a maximum); for the city, the form to record a dispatch. The city, the
    auditor and the admin see it; a town user gets the 403 page."""
    return _dispatch_page(
        request,
        session,
        actor,
        page=page,
        cadres=cadres,
        minimum=minimum,
        maximum=maximum,
        as_of=as_of,
    )


@router.post("/dispatch", response_class=HTMLResponse)
def dispatch_record(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    cadre: Annotated[str, Form()] = "",
    town: Annotated[str, Form()] = "",
    from_on: Annotated[str, Form()] = "",
    to_on: Annotated[str, Form()] = "",
    role: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Record that a cadre is sent down to a town from a day (the city only); a refusal
    shows the page again with its reason beside the form."""
    form = {"cadre": cadre, "town": town, "from_on": from_on, "to_on": to_on, "role": role}
    problems: dict[str, list[str]] = {}
    if not cadre.strip():
        problems["cadre"] = ["请选择干部"]
    if not town.strip():
        problems["town"] = ["请选择镇街"]
    start = form_day(from_on, "from_on", "开始日期", problems, required=True)
    end = form_day(to_on, "to_on", "结束日期", problems, required=False)
    if problems or start is None:
        return _dispatch_page(
            request, session, actor, status_code=422, form=form, problems=problems
        )
    try:
        found = record_dispatch(
            session, actor=actor, cadre=cadre, town=town, from_on=start, to_on=end, role=role
        )
    except Invalid as exc:
        return _dispatch_page(
            request,
            session,
            actor,
            status_code=422,
            form=form,
            error=exc.message,
            problems=by_field(exc.problems, DISPATCH_FIELDS),
        )
    except (Conflict, NotFound) as exc:
        return _dispatch_page(
            request, session, actor, status_code=exc.status, form=form, error=exc.message
        )
    return RedirectResponse(f"/dispatch?recorded={found.cadre}", status_code=303)
