"""Projects of both campaigns: added with the quantities their kind reports and the
rivers or parcels they serve, edited, moved through their states, given their audit
involvement (提前介入审计), and read as of a date (which are overdue).

A project moves 计划 (planned) → 已立项 (approved) → 已开工 (started) → 已完工 (completed)
→ 已验收 (accepted), one step at a time (``rules.PROJECT_TRANSITIONS``). Each move is
dated (a day in the city's time zone, never in the future, never before the project's
previous change), kept in its history (``ProjectStateChange``, which the KPIs read) and
written to the audit log with before and after. Acceptance (验收) is the city's
approval: a town's attempt is 403 and logged.

Every write goes through the permission check (a town writes its own town's projects
only). Money is in 万元, exact to two places, never a float.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import (
    allowed,
    authorize,
    authorize_some,
    authorize_town_view,
    refuse,
    restrict,
)
from gongjian.campaign.batches import BATCHES
from gongjian.campaign.choices import (
    PROJECT_CAMPAIGN,
    Campaign,
    OverdueReason,
    ProjectKind,
    ProjectState,
)
from gongjian.campaign.models import (
    Batch,
    Project,
    ProjectStateChange,
    batch_projects,
    project_parcels,
    project_rivers,
)
from gongjian.campaign.rules import (
    CITY_STATES,
    QUANTITIES,
    foreign_quantities,
    next_project_states,
    overdue,
    project_refusal,
    serves_parcels,
    serves_rivers,
)
from gongjian.campaign.services import PROJECTS
from gongjian.checks import amount_problems, cents, text_problems
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.kpi.services import state_as_of
from gongjian.periods import today
from gongjian.records import (
    add_record,
    change_record,
    check_version,
    list_records,
    narrowed,
    read_record,
)
from gongjian.renewal.models import Parcel
from gongjian.renewal.services import wanted_states
from gongjian.states import day_problems, move_detail, write_change
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.models import River

CODE_MAX = 30
NAME_MAX = 160
OWNER_MAX = 80
REASON_MAX = 500
FINDINGS_MAX = 2000
"""Longest texts the records hold (characters)."""

EDITABLE = frozenset(
    {
        "name",
        "owner",
        "planned_start_on",
        "planned_end_on",
        "budget_wan",
        "spend_wan",
        *(quantity.field for quantity in QUANTITIES),
    }
)
"""Fields ``update_project`` changes; states change by transitions, audit involvement by
``set_audit_involvement``, the town and kind not at all."""


# --- Reading ----------------------------------------------------------------------------


def _town_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Town.id, Town.name)).tuples().all())


def _changes(session: Session, project_id: int) -> list[ProjectStateChange]:
    return list(
        session.scalars(
            select(ProjectStateChange)
            .where(ProjectStateChange.project_id == project_id)
            .order_by(ProjectStateChange.changed_on, ProjectStateChange.id)
        )
    )


@dataclass(frozen=True)
class ProjectHistory:
    """A project with every change of its state, oldest first."""

    project: Project
    changes: list[ProjectStateChange]

    @property
    def allowed_next(self) -> tuple[ProjectState, ...]:
        return next_project_states(ProjectState(self.project.state))


@dataclass(frozen=True)
class ProjectDetail(ProjectHistory):
    """A project as shown: its history, its town by name, and the codes of the rivers or
    parcels it serves and of the batches that hold it."""

    town: str
    rivers: list[str]
    parcels: list[str]
    batches: list[str]


def project_history(session: Session, *, actor: Actor, code: str) -> ProjectHistory:
    """The project ``code`` and its state history (404 when there is none)."""
    project = read_record(session, PROJECTS, actor=actor, code=code)
    return ProjectHistory(project, _changes(session, project.id))


def get_project(session: Session, *, actor: Actor, code: str) -> ProjectDetail:
    """The project ``code`` with its history, town, rivers, parcels and batches."""
    project = read_record(session, PROJECTS, actor=actor, code=code)
    rivers = session.scalars(
        select(River.code)
        .join(project_rivers, project_rivers.c.river_id == River.id)
        .where(project_rivers.c.project_id == project.id)
        .order_by(River.code)
    )
    parcels = session.scalars(
        select(Parcel.code)
        .join(project_parcels, project_parcels.c.parcel_id == Parcel.id)
        .where(project_parcels.c.project_id == project.id)
        .order_by(Parcel.code)
    )
    batches = session.scalars(
        select(Batch.code)
        .join(batch_projects, batch_projects.c.batch_id == Batch.id)
        .where(batch_projects.c.project_id == project.id)
        .order_by(Batch.held_on, Batch.code)
    )
    town = session.scalar(select(Town.name).where(Town.id == project.town_id))
    return ProjectDetail(
        project,
        _changes(session, project.id),
        town=town or "",
        rivers=list(rivers),
        parcels=list(parcels),
        batches=list(batches),
    )


@dataclass(frozen=True)
class OverdueProject:
    """A project overdue as of a day: for its end or its start, by ``days`` days, in the
    state it was in at the end of that day."""

    project: Project
    town: str
    state: ProjectState
    reason: OverdueReason
    days: int


def overdue_projects(
    session: Session,
    *,
    actor: Actor,
    as_of: dt.date,
    town_id: int | None = None,
    campaign: Campaign | None = None,
) -> list[OverdueProject]:
    """The projects overdue at the end of ``as_of`` (``rules.overdue``), most overdue
    first, then by code; of one town and one campaign when given.

    A project's state is read from its history as of that day, so the answer for a past
    day does not change as the project moves on; a project whose history begins after
    that day was not yet on the list and is not counted.
    """
    states = state_as_of(
        ProjectStateChange.project_id,
        ProjectStateChange.to_state,
        ProjectStateChange.changed_on,
        ProjectStateChange.id,
        as_of,
    )
    stmt = (
        select(Project, states.c.state)
        .join(states, states.c.record_id == Project.id)
        .where(or_(Project.planned_start_on < as_of, Project.planned_end_on < as_of))
        .order_by(Project.code)
    )
    if town_id is not None:
        stmt = stmt.where(Project.town_id == town_id)
    if campaign is not None:
        stmt = stmt.where(Project.campaign == Campaign(campaign).value)
    rows = session.execute(restrict(session, actor, stmt, PROJECTS.resource)).tuples().all()
    towns = _town_names(session)
    found = []
    for project, state in rows:
        late = overdue(ProjectState(state), project.planned_start_on, project.planned_end_on, as_of)
        if late is not None:
            reason, days = late
            found.append(
                OverdueProject(project, towns[project.town_id], ProjectState(state), reason, days)
            )
    found.sort(key=lambda row: (-row.days, row.project.code))
    return found


def list_projects(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    campaign: Campaign | None = None,
    kind: ProjectKind | None = None,
    state: ProjectState | None = None,
    overdue_as_of: dt.date | None = None,
    is_overdue: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[Project]]:
    """A page of projects (by code) and how many match: of one town (name or code), one
    campaign, one kind, in one state now; with ``overdue_as_of``, only those overdue at
    the end of that day (or, with ``is_overdue=False``, only those not overdue)."""
    town_id = find_town(session, town).id if town else None
    criteria: list[ColumnElement[bool]] = []
    if campaign is not None:
        criteria.append(Project.campaign == Campaign(campaign).value)
    if kind is not None:
        criteria.append(Project.kind == ProjectKind(kind).value)
    if state is not None:
        criteria.append(Project.state == ProjectState(state).value)
    if overdue_as_of is not None:
        late = overdue_projects(
            session, actor=actor, as_of=overdue_as_of, town_id=town_id, campaign=campaign
        )
        ids = [row.project.id for row in late]
        criteria.append(Project.id.in_(ids) if is_overdue else Project.id.not_in(ids))
    return list_records(
        session,
        narrowed(PROJECTS, *criteria),
        actor=actor,
        town_id=town_id,
        limit=limit,
        offset=offset,
    )


@dataclass(frozen=True)
class ProjectRow:
    """A project as a list shows it: its town by name, its state on the list's day
    (``None`` before its history begins) and, if it is overdue that day, for what and by
    how many days."""

    project: Project
    town: str
    state: ProjectState | None
    late: tuple[OverdueReason, int] | None


@dataclass(frozen=True)
class ProjectList:
    """A page of projects, how many match the filters and their investment (sum of
    ``budget_wan``, 万元), read on ``day``."""

    total: int
    investment_wan: Decimal
    day: dt.date
    rows: list[ProjectRow]


def project_list(
    session: Session,
    *,
    actor: Actor,
    town_id: int | None = None,
    campaign: Campaign | None = None,
    kinds: Sequence[ProjectKind] = (),
    states: Sequence[ProjectState] = (),
    reached: ProjectState | None = None,
    overdue_only: bool = False,
    batch: str | None = None,
    as_of: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ProjectList:
    """A page of projects by code: of one town and campaign, of any of ``kinds``, in any
    of ``states`` or in ``reached`` or later, overdue only, of one batch (code;
    ``NotFound`` when there is none). States and lateness are read at the end of
    ``as_of`` (default today) from each project's history, as the KPIs and
    ``overdue_projects`` read them. A fixed number of queries whatever the page holds."""
    day = today() if as_of is None else as_of
    history = state_as_of(
        ProjectStateChange.project_id,
        ProjectStateChange.to_state,
        ProjectStateChange.changed_on,
        ProjectStateChange.id,
        day,
    )
    stmt = select(Project.id)
    if states or reached is not None:
        wanted = [s.value for s in wanted_states(ProjectState, states, reached)]
        stmt = stmt.join(history, history.c.record_id == Project.id)
        stmt = stmt.where(history.c.state.in_(wanted))
    else:
        stmt = stmt.outerjoin(history, history.c.record_id == Project.id)
    if town_id is not None:
        stmt = stmt.where(Project.town_id == town_id)
    if campaign is not None:
        stmt = stmt.where(Project.campaign == Campaign(campaign).value)
    if kinds:
        stmt = stmt.where(Project.kind.in_([ProjectKind(kind).value for kind in kinds]))
    if batch:
        found = read_record(session, BATCHES, actor=actor, code=batch)
        stmt = stmt.where(
            Project.id.in_(
                select(batch_projects.c.project_id).where(batch_projects.c.batch_id == found.id)
            )
        )
    if overdue_only:
        late = overdue_projects(session, actor=actor, as_of=day, town_id=town_id, campaign=campaign)
        stmt = stmt.where(Project.id.in_([row.project.id for row in late]))
    stmt = restrict(session, actor, stmt, PROJECTS.resource)
    matching = stmt.add_columns(Project.budget_wan).subquery()
    total, investment = session.execute(
        select(func.count(), func.sum(matching.c.budget_wan)).select_from(matching)
    ).one()
    page = (
        stmt.with_only_columns(Project, Town.name, history.c.state)
        .join(Town, Town.id == Project.town_id)
        .order_by(Project.code)
        .limit(limit)
        .offset(offset)
    )
    rows = []
    for project, town, state in session.execute(page).tuples():
        on_day = ProjectState(state) if state else None
        rows.append(
            ProjectRow(
                project,
                town,
                on_day,
                None
                if on_day is None
                else overdue(on_day, project.planned_start_on, project.planned_end_on, day),
            )
        )
    return ProjectList(total or 0, investment or Decimal("0.00"), day, rows)


@dataclass(frozen=True)
class ProjectView:
    """What a project's page shows: its detail, the rivers it serves and the parcels it
    lies on (``(id, code, name)``), whether it is overdue today, whether ``actor`` may
    change it and the next states ``actor`` may give it."""

    detail: ProjectDetail
    rivers: list[tuple[int, str, str]]
    parcels: list[tuple[int, str, str | None]]
    late: tuple[OverdueReason, int] | None
    can_change: bool
    next_states: tuple[ProjectState, ...]


def project_view(session: Session, *, actor: Actor, code: str) -> ProjectView:
    """The project ``code`` as its page shows it (404 when there is none; 403, logged,
    for a town user and another town's project)."""
    detail = get_project(session, actor=actor, code=code)
    project = detail.project
    authorize_town_view(
        session, actor, PROJECTS.resource, town_id=project.town_id, record_id=project.code
    )
    state = ProjectState(project.state)
    can_change = allowed(actor, Action.change, PROJECTS.resource, project.town_id)
    may_approve = allowed(actor, Action.approve, PROJECTS.resource, project.town_id)
    rivers = session.execute(
        select(River.id, River.code, River.name)
        .where(River.code.in_(detail.rivers))
        .order_by(River.code)
    ).tuples()
    parcels = session.execute(
        select(Parcel.id, Parcel.code, Parcel.name)
        .where(Parcel.code.in_(detail.parcels))
        .order_by(Parcel.code)
    ).tuples()
    return ProjectView(
        detail=detail,
        rivers=list(rivers),
        parcels=list(parcels),
        late=overdue(state, project.planned_start_on, project.planned_end_on, today()),
        can_change=can_change,
        next_states=tuple(
            s
            for s in next_project_states(state)
            if can_change and (s not in CITY_STATES or may_approve)
        ),
    )


# --- Checks -----------------------------------------------------------------------------


def writable_project(session: Session, actor: Actor, code: str) -> Project:
    """The project ``code`` if ``actor`` may change it: 403 (logged) for the public, the
    auditor or another town's user, 404 when there is no such project."""
    authorize_some(session, actor, Action.change, PROJECTS.resource, record_id=code)
    project = read_record(session, PROJECTS, actor=actor, code=code)
    authorize(
        session, actor, Action.change, PROJECTS.resource, town_id=project.town_id, record_id=code
    )
    return project


def _value_problems(kind: ProjectKind, values: Mapping[str, Any]) -> list[Problem]:
    """The checks of each project field present in ``values``: texts, amounts in 万元,
    the quantities ``kind`` reports (and none that it does not)."""
    problems: list[Problem] = []
    texts = {
        "code": ("项目编号", CODE_MAX, True),
        "name": ("项目名称", NAME_MAX, True),
        "owner": ("责任单位", OWNER_MAX, False),
    }
    for column, (label, max_length, required) in texts.items():
        if column in values:
            problems += text_problems(
                values[column], column=column, label=label, max_length=max_length, required=required
            )
    for column, label in (("budget_wan", "总投资（万元）"), ("spend_wan", "已完成投资（万元）")):
        if column in values:
            problems += amount_problems(values[column], column=column, label=label)
    problems += [
        Problem(reason, column=column, value=str(values[column]))
        for column, reason in foreign_quantities(kind, values)
    ]
    for quantity in QUANTITIES:
        if quantity.field in values and kind in quantity.kinds:
            problems += amount_problems(
                values[quantity.field],
                column=quantity.field,
                label=quantity.label,
                places=quantity.places,
                max_digits=quantity.max_digits,
            )
    return problems


def _plan_problems(start: dt.date | None, end: dt.date | None) -> list[Problem]:
    """A planned end may not come before the planned start."""
    if start is not None and end is not None and end < start:
        return [
            Problem(
                f"计划完工日期不能早于计划开工日期（{start}）",
                column="planned_end_on",
                value=str(end),
            )
        ]
    return []


def _exact(value: Decimal | None, places: int) -> Decimal | None:
    """An amount already checked, written with exactly ``places`` decimal places."""
    return None if value is None else value.quantize(Decimal(1).scaleb(-places))


def _cleaned(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Values as stored: texts stripped (empty as ``None`` where allowed), amounts with
    their column's places."""
    places = {"budget_wan": 2, "spend_wan": 2} | {q.field: q.places for q in QUANTITIES}
    cleaned: dict[str, Any] = {}
    for column, value in changes.items():
        if isinstance(value, str):
            value = value.strip() or None
        elif isinstance(value, Decimal):
            value = _exact(value, places[column])
        cleaned[column] = value
    return cleaned


def _codes(values: Sequence[str]) -> list[str]:
    """Codes given, stripped, each once, in the order given."""
    return list(dict.fromkeys(code.strip() for code in values if code.strip()))


def _served(
    session: Session,
    *,
    kind: ProjectKind,
    town: Town | None,
    rivers: Sequence[str],
    parcels: Sequence[str],
    problems: list[Problem],
) -> tuple[list[River], list[Parcel]]:
    """The rivers and parcels a new project of ``kind`` serves, checked: rivers only for
    the water campaign's kinds, parcels only for the renewal campaign's, every code
    known, every parcel in the project's town."""
    campaign = PROJECT_CAMPAIGN[kind]
    found_rivers: list[River] = []
    found_parcels: list[Parcel] = []
    if rivers and not serves_rivers(kind):
        problems.append(
            Problem(
                f"“{kind.label}”是{campaign.label}项目，不能关联河涌（只有治水项目关联河涌）",
                column="rivers",
            )
        )
    elif rivers:
        by_code = {
            river.code: river
            for river in session.scalars(select(River).where(River.code.in_(rivers)))
        }
        problems += [
            Problem(f"没有编号为“{code}”的河涌", column="rivers", value=code)
            for code in rivers
            if code not in by_code
        ]
        found_rivers = [by_code[code] for code in rivers if code in by_code]
    if parcels and not serves_parcels(kind):
        problems.append(
            Problem(
                f"“{kind.label}”是{campaign.label}项目，不能关联地块（只有工改项目关联地块）",
                column="parcels",
            )
        )
    elif parcels:
        parcels_by_code = {
            parcel.code: parcel
            for parcel in session.scalars(select(Parcel).where(Parcel.code.in_(parcels)))
        }
        for code in parcels:
            parcel = parcels_by_code.get(code)
            if parcel is None:
                problems.append(Problem(f"没有编号为“{code}”的地块", column="parcels", value=code))
            elif town is not None and parcel.town_id != town.id:
                problems.append(
                    Problem(f"地块“{code}”不在{town.name}", column="parcels", value=code)
                )
            else:
                found_parcels.append(parcel)
    return found_rivers, found_parcels


# --- Writing ----------------------------------------------------------------------------


def add_project(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: ProjectKind,
    town: str,
    owner: str | None = None,
    planned_start_on: dt.date | None = None,
    planned_end_on: dt.date | None = None,
    budget_wan: Decimal | None = None,
    spend_wan: Decimal | None = None,
    sewer_km: Decimal | None = None,
    capacity_kt_d: Decimal | None = None,
    area_mu: Decimal | None = None,
    culvert_uncovered_m: Decimal | None = None,
    rivers: Sequence[str] = (),
    parcels: Sequence[str] = (),
    listed_on: dt.date | None = None,
) -> Project:
    """Add a project of ``kind`` in ``town`` (name or code), as 计划 (planned) from
    ``listed_on`` (default today, never in the future), which opens its history.

    Its campaign follows from its kind. It reports only the quantities of its kind
    (``sewer_km`` for sewers, ``capacity_kt_d`` for wastewater plants, ``area_mu`` for
    demolition and renewal construction, ``culvert_uncovered_m`` for uncovering
    culverts); a water project may serve ``rivers``, a renewal project lies on
    ``parcels`` of its town (codes). ``Invalid`` names every wrong field and nothing is
    written; a town user adds only in their own town (403, logged); a code already used
    is a ``Conflict``.
    """
    authorize_some(session, actor, Action.add, PROJECTS.resource, record_id=code)
    kind = ProjectKind(kind)
    problems: list[Problem] = []
    try:
        found_town: Town | None = find_town(session, town)
    except NotFound as exc:
        problems.append(Problem(exc.message, column="town", value=town))
        found_town = None
    if found_town is not None:
        authorize(
            session, actor, Action.add, PROJECTS.resource, town_id=found_town.id, record_id=code
        )
    values: dict[str, Any] = {
        "code": code,
        "name": name,
        "owner": owner,
        "planned_start_on": planned_start_on,
        "planned_end_on": planned_end_on,
        "budget_wan": budget_wan,
        "spend_wan": spend_wan,
        "sewer_km": sewer_km,
        "capacity_kt_d": capacity_kt_d,
        "area_mu": area_mu,
        "culvert_uncovered_m": culvert_uncovered_m,
    }
    problems += _value_problems(kind, values)
    problems += _plan_problems(planned_start_on, planned_end_on)
    listed = today() if listed_on is None else listed_on
    if listed > today():
        problems.append(
            Problem(f"列入计划日期不能晚于今天（{today()}）", column="listed_on", value=str(listed))
        )
    served_rivers, served_parcels = _served(
        session,
        kind=kind,
        town=found_town,
        rivers=_codes(rivers),
        parcels=_codes(parcels),
        problems=problems,
    )
    if problems or found_town is None:
        raise Invalid(f"项目“{code}”的信息有误，未添加", problems)
    project = Project(
        campaign=PROJECT_CAMPAIGN[kind],
        kind=kind,
        town_id=found_town.id,
        state=ProjectState.planned,
        **_cleaned(values),
    )
    served = [r.code for r in served_rivers] + [p.code for p in served_parcels]
    detail = f"添加项目 {project.code}（{kind.label}，{found_town.name}）"
    if served:
        what = "服务河涌" if served_rivers else "关联地块"
        detail += f"；{what}：{'、'.join(served)}"
    add_record(session, PROJECTS, actor=actor, obj=project, detail=detail)
    if served_rivers:
        session.execute(
            project_rivers.insert(),
            [{"project_id": project.id, "river_id": river.id} for river in served_rivers],
        )
    if served_parcels:
        session.execute(
            project_parcels.insert(),
            [{"project_id": project.id, "parcel_id": parcel.id} for parcel in served_parcels],
        )
    session.add(
        ProjectStateChange(
            project_id=project.id,
            to_state=ProjectState.planned.value,
            changed_on=listed,
            reason="列入计划",
            actor=actor.username,
        )
    )
    session.flush()
    return project


def update_project(
    session: Session,
    *,
    actor: Actor,
    code: str,
    changes: Mapping[str, Any],
    version: int | None = None,
) -> Project:
    """Change the fields given of a project (``EDITABLE``), with the same checks as
    ``add_project``: its kind's quantities only, planned end not before planned start
    (the stored dates count for the one not given). Audited with before and after.
    ``version``: the version the change is based on (``StaleVersion`` when stale)."""
    project = writable_project(session, actor, code)
    kind = ProjectKind(project.kind)
    unknown = sorted(set(changes) - EDITABLE)
    problems = [Problem("不能修改此项（状态请用状态变更）", column=column) for column in unknown]
    known = {column: value for column, value in changes.items() if column in EDITABLE}
    if "name" in known and known["name"] is None:
        problems.append(Problem("项目名称不能为空", column="name"))
    problems += _value_problems(kind, known)
    problems += _plan_problems(
        known.get("planned_start_on", project.planned_start_on),
        known.get("planned_end_on", project.planned_end_on),
    )
    if problems:
        raise Invalid(f"项目“{project.code}”的修改有误，未修改", problems)
    return change_record(
        session, PROJECTS, actor=actor, code=code, changes=_cleaned(known), version=version
    )


def change_project_state(
    session: Session,
    *,
    actor: Actor,
    code: str,
    to_state: ProjectState,
    on: dt.date,
    reason: str | None = None,
    version: int | None = None,
) -> ProjectStateChange:
    """Move the project to ``to_state`` on day ``on`` (city time), if that is its next
    state (``Conflict`` naming the allowed next state otherwise). ``version``: the
    version of the project the move is based on (``StaleVersion`` when it is at another).

    已开工 (started) sets ``actual_start_on`` to the day when it is not set yet; 已完工
    (completed) sets ``actual_end_on`` to the day. 已验收 (accepted) is the city's
    approval: anyone else is refused (403, logged). ``Invalid`` when ``on`` is in the
    future or before the previous change.
    """
    to_state = ProjectState(to_state)
    project = writable_project(session, actor, code)
    if to_state in CITY_STATES and not allowed(
        actor, Action.approve, PROJECTS.resource, project.town_id
    ):
        refuse(
            session,
            actor,
            Action.approve,
            PROJECTS.resource,
            f"无权将项目改为“{to_state.label}”：项目验收由市攻坚办审批，镇街完工后请报市攻坚办验收",
            town_id=project.town_id,
            record_id=project.code,
        )
    check_version(project, resource=PROJECTS.resource, code=project.code, sent=version)
    current = ProjectState(project.state)
    if to_state not in next_project_states(current):
        raise Conflict(project_refusal(project.code, current, to_state))
    text = (reason or "").strip()
    problems = day_problems(
        session, ProjectStateChange, ProjectStateChange.project_id == project.id, ProjectState, on
    )
    if len(text) > REASON_MAX:
        problems.append(Problem(f"理由最多 {REASON_MAX} 字", column="reason"))
    if problems:
        raise Invalid(f"项目“{project.code}”不能于 {on} 改为“{to_state.label}”", problems)
    before = {
        "state": current.value,
        "actual_start_on": project.actual_start_on,
        "actual_end_on": project.actual_end_on,
    }
    change = ProjectStateChange(
        project_id=project.id,
        from_state=current.value,
        to_state=to_state.value,
        changed_on=on,
        reason=text or None,
        actor=actor.username,
    )
    project.state = to_state
    if to_state is ProjectState.started and project.actual_start_on is None:
        project.actual_start_on = on
    if to_state is ProjectState.completed:
        project.actual_end_on = on
    action = Action.approve if to_state in CITY_STATES else Action.change
    return write_change(
        session,
        change,
        actor=actor,
        action=action.value,
        resource=PROJECTS.resource,
        record_id=project.code,
        town_id=project.town_id,
        before=before,
        also={"actual_start_on": project.actual_start_on, "actual_end_on": project.actual_end_on},
        detail=move_detail("更新状态", current, to_state, on, text),
    )


def set_audit_involvement(
    session: Session,
    *,
    actor: Actor,
    code: str,
    joined_on: dt.date | None,
    findings: str | None = None,
    saving_wan: Decimal | None = None,
) -> Project:
    """Record (or replace, or with all ``None`` clear) the audit bureau's early
    involvement in the project (提前介入审计): the day it joined (not in the future), what
    it found, and the saving it found in 万元. Findings or a saving need the day.
    Written by the project's town or the city, audited with before and after."""
    project = writable_project(session, actor, code)
    text = (findings or "").strip() or None
    problems = amount_problems(saving_wan, column="saving_wan", label="审计核减（万元）")
    problems += text_problems(
        text, column="findings", label="审计意见", max_length=FINDINGS_MAX, required=False
    )
    if joined_on is None and (text is not None or saving_wan is not None):
        problems.append(Problem("填写审计意见或核减金额时须填写审计介入日期", column="joined_on"))
    if joined_on is not None and joined_on > today():
        problems.append(
            Problem(
                f"审计介入日期不能晚于今天（{today()}）", column="joined_on", value=str(joined_on)
            )
        )
    if problems:
        raise Invalid(f"项目“{project.code}”的提前介入审计信息有误", problems)
    changes = {
        "audit_joined_on": joined_on,
        "audit_findings": text,
        "audit_saving_wan": cents(saving_wan),
    }
    return change_record(session, PROJECTS, actor=actor, code=code, changes=changes)
