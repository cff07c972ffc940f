"""The river pages of the dashboard: the list of rivers (``/rivers``) and a river's page
(``/rivers/{id}``, ``id`` the river's number), with the city's publish switch and the
forms of the dated state change and its correction.

Routes are thin: ``water.dashboard`` reads, ``water.services`` and
``water.remediation`` write. A refused state change (a state that is not next, a day
in the future, missing evidence) shows the river's page again with the reason beside
the form, never an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize_some
from gongjian.errors import Conflict, Invalid, StaleVersion
from gongjian.periods import city_zone, parse_as_of, today
from gongjian.water import dashboard, remediation, services
from gongjian.water.choices import Grade, RemediationState
from gongjian.web.conflicts import ConflictRow, conflict_page, move_rows
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.forms import form_choice, form_day
from gongjian.web.i18n import language_of, translate
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

DONE = ("published", "unpublished", "state", "corrected")
"""What a redirect after a write may report."""
STRIP_WIDTH = 1000
STRIP_MARGIN = 30
TICK_STEPS_M = (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)
MAX_TICKS = 8


def _query(params: dict[str, str | int | None]) -> str:
    return urlencode({name: value for name, value in params.items() if value not in (None, "")})


@router.get("/rivers", response_class=HTMLResponse)
def rivers(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    town: str | None = None,
    grade: str | None = None,
    state: str | None = None,
    reached: str | None = None,
    baseline: str | None = None,
    as_of: str | None = None,
    sort: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=dashboard.PAGE_SIZE_MAX)] = dashboard.PAGE_SIZE,
) -> Response:
    """The rivers (a town user: its own), filtered as of a day, sorted and paged."""
    filters = dashboard.river_filters(
        as_of=parse_as_of(as_of),
        town=town,
        grade=grade,
        state=state,
        reached=reached,
        baseline=baseline == "1",
    )
    listing = dashboard.list_rivers(
        session, actor=actor, filters=filters, sort=sort, page=page, page_size=size
    )
    sort_key, descending = dashboard.parse_sort(sort)
    chosen: dict[str, str | int | None] = {
        "town": listing.town.code if listing.town and actor.town_id is None else None,
        "grade": filters.grade,
        "state": filters.state,
        "reached": filters.reached,
        "baseline": "1" if filters.baseline else None,
        "as_of": as_of and filters.as_of.isoformat(),
    }
    sorted_by = f"{'-' if descending else ''}{sort_key}"
    paging = {**chosen, "sort": sorted_by, "size": size if size != dashboard.PAGE_SIZE else None}
    return render(
        request,
        "water/rivers.html",
        listing=listing,
        filters=filters,
        towns=dashboard.scope_towns(session, actor=actor),
        town_locked=actor.town_id is not None,
        grades=list(Grade),
        states=list(RemediationState),
        sort_key=sort_key,
        descending=descending,
        export_href="/exports/rivers" + (f"?{q}" if (q := _query(chosen)) else ""),
        page_href=lambda number: "/rivers?" + _query({**paging, "page": number}),
        sort_href=lambda key: (
            "/rivers?"
            + _query({**chosen, "sort": f"-{key}" if key == sort_key and not descending else key})
        ),
    )


@dataclass(frozen=True)
class StripGeometry:
    """Where things sit on the river's strip (an SVG ``STRIP_WIDTH`` wide): a chainage
    ``m`` is at ``x(m)``; the axis has a tick every ``step_m``."""

    length_m: Decimal
    step_m: int

    def x(self, chainage_m: Decimal | int) -> float:
        """The strip's x of a chainage (m from the upstream end)."""
        span = STRIP_WIDTH - 2 * STRIP_MARGIN
        return round(STRIP_MARGIN + float(chainage_m / self.length_m) * span, 1)

    @property
    def ticks(self) -> list[tuple[float, Decimal]]:
        """``(x, chainage)`` of each tick of the axis."""
        count = int(self.length_m // self.step_m) + 1
        return [(self.x(self.step_m * n), Decimal(self.step_m * n)) for n in range(count)]


def _strip(view: dashboard.RiverPage) -> StripGeometry:
    """The strip's scale: the river's length (or its farthest point or reach, if
    beyond), with ticks at a round step, at most ``MAX_TICKS`` of them."""
    length = max(
        [view.river.length_m, Decimal(1)]
        + [point.chainage_m for point in view.points]
        + [reach.end_m for reach in view.reaches]
    )
    step = next((s for s in TICK_STEPS_M if length / s <= MAX_TICKS), TICK_STEPS_M[-1])
    return StripGeometry(length, step)


def _river_page(
    request: Request,
    session: Session,
    actor: Actor,
    river_id: int,
    *,
    as_of: str | None = None,
    done: str | None = None,
    error: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The river's page; ``error`` is ``(form, message)`` of a refused write."""
    view = dashboard.river_page(session, actor=actor, river_id=river_id, as_of=parse_as_of(as_of))
    lang = language_of(request)
    return render(
        request,
        "water/river.html",
        status_code=status_code,
        view=view,
        strip=_strip(view),
        states=list(RemediationState),
        states_by_value={state.value: state for state in RemediationState},
        grades=list(Grade),
        city_day=lambda instant: instant.astimezone(city_zone()).date(),
        done=translate(lang, f"water.done.{done}") if done in DONE else None,
        error=error,
        today=today(),
    )


@router.get("/rivers/{river_id}", response_class=HTMLResponse)
def river(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    river_id: int,
    as_of: str | None = None,
    done: str | None = None,
) -> Response:
    """A river's page: points along it by grade, grade history with its evidence, plan,
    complaints, priority and remediation history."""
    return _river_page(request, session, actor, river_id, as_of=as_of, done=done)


def _done(river_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/rivers/{river_id}?done={what}", status_code=303)


@router.post("/rivers/{river_id}/publish")
def publish(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    river_id: int,
    published: Annotated[str, Form()],
    version: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    """Show the river on the public portal, or stop showing it (the city only), based on
    the river's version the page was shown with (the conflict page, 409, when it
    changed since)."""
    shown = published == "1"
    try:
        services.set_published(
            session, actor=actor, river_id=river_id, published=shown, version=version
        )
    except StaleVersion as exc:
        label = {True: "water.river.published", False: "water.river.unpublished"}
        lang = language_of(request)
        row = ConflictRow(
            "conflict.field.published",
            translate(lang, label[shown]),
            translate(lang, label[bool(exc.record["published"])]),
        )
        return conflict_page(request, exc, back=f"/rivers/{river_id}", rows=[row])
    session.commit()
    return _done(river_id, "published" if shown else "unpublished")


def _conflict(
    request: Request,
    exc: StaleVersion,
    river_id: int,
    state: RemediationState,
    on: str,
    reason: str,
) -> Response:
    """The conflict page of a state form sent on a river changed since it was shown."""
    current = RemediationState(exc.record["remediation_state"])
    rows = move_rows(state, current, on, reason)
    return conflict_page(request, exc, back=f"/rivers/{river_id}", rows=rows)


def _refused(exc: Conflict | Invalid) -> str:
    if isinstance(exc, Invalid) and exc.problems:
        return exc.message + "：" + "；".join(str(problem) for problem in exc.problems)
    return exc.message


@router.post("/rivers/{river_id}/state", response_class=HTMLResponse)
def change_state(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    river_id: int,
    to_state: Annotated[str, Form()] = "",
    on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    """Move the river one state forward on a day; a refusal is shown beside the form,
    a river changed since the page was shown gets the conflict page (409). Those who
    may change no river are refused (403) before the river is looked up, as in the API."""
    authorize_some(session, actor, Action.change, services.RIVERS.resource, record_id=river_id)
    return _move(
        request,
        session,
        actor,
        river_id,
        remediation.change_state,
        "state",
        "state",
        to_state=to_state,
        on=on,
        reason=reason,
        version=version,
    )


@router.post("/rivers/{river_id}/correction", response_class=HTMLResponse)
def correct_state(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    river_id: int,
    to_state: Annotated[str, Form()] = "",
    on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    """Correct a mistaken state (the city); the mistake stays in the history. A river
    changed since the page was shown gets the conflict page (409). Anyone else is
    refused (403) before the river is looked up, as in the API."""
    remediation.authorize_correction(session, actor, river_id)
    return _move(
        request,
        session,
        actor,
        river_id,
        remediation.correct_state,
        "correction",
        "corrected",
        to_state=to_state,
        on=on,
        reason=reason,
        version=version,
    )


def _move(
    request: Request,
    session: Session,
    actor: Actor,
    river_id: int,
    write: Callable[..., object],
    form_name: str,
    done: str,
    *,
    to_state: str,
    on: str,
    reason: str,
    version: int | None,
) -> Response:
    """The state form's submit, for a move (``remediation.change_state``) or a correction
    (``remediation.correct_state``): the form's problems or the refusal beside
    ``form_name``, the conflict page for a river changed since, else ``done``."""
    river = services.dashboard_river(session, actor=actor, river_id=river_id)
    problems: dict[str, list[str]] = {}
    state = form_choice(RemediationState, to_state, "to_state", problems)
    day = form_day(on, "on", "变更日期", problems, required=True)
    if state is None or day is None:
        error = (form_name, "；".join(p for found in problems.values() for p in found))
        return _river_page(request, session, actor, river_id, error=error, status_code=422)
    try:
        write(
            session,
            actor=actor,
            river_code=river.code,
            to_state=state,
            on=day,
            reason=reason,
            version=version,
        )
    except StaleVersion as exc:
        return _conflict(request, exc, river_id, state, on, reason)
    except (Conflict, Invalid) as exc:
        error = (form_name, _refused(exc))
        return _river_page(request, session, actor, river_id, error=error, status_code=exc.status)
    session.commit()
    return _done(river_id, done)
