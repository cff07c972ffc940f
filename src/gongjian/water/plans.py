"""One river, one plan (一河一策): a river's measures with their owners and deadlines,
which of them are overdue as of a day, and their progress.

A measure is overdue as of a day when its deadline is before that day and it was not
done by then: its state is not 已完成, or its completion day (``done_on``) is after that
day, so a measure finished late still shows as overdue in a view of the past.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, authorize_some
from gongjian.campaign.models import Project, plan_measure_projects
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.periods import today
from gongjian.records import check_version, flush_versioned, read_record
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import MeasureKind, MeasureState
from gongjian.water.models import PlanMeasure, River, RiverPlan
from gongjian.water.services import RIVERS

PLAN = "river_plan"
"""The permission resource of plans and their measures."""


def is_overdue(
    deadline: dt.date, state: MeasureState, done_on: dt.date | None, as_of: dt.date
) -> bool:
    """Whether a measure is overdue at the end of ``as_of``: past its deadline and not
    done by then (a measure marked done without a day counts as done)."""
    done = state == MeasureState.done and (done_on is None or done_on <= as_of)
    return deadline < as_of and not done


def overdue_condition(as_of: dt.date) -> ColumnElement[bool]:
    """``is_overdue`` as a SQL condition on ``PlanMeasure``."""
    return and_(
        PlanMeasure.deadline < as_of,
        or_(PlanMeasure.state != MeasureState.done.value, PlanMeasure.done_on > as_of),
    )


@dataclass(frozen=True)
class MeasureStatus:
    """A plan measure as of a day: whether it is overdue, and its linked projects' codes."""

    id: int
    kind: MeasureKind
    description: str
    owner: str
    deadline: dt.date
    state: MeasureState
    done_on: dt.date | None
    overdue: bool
    projects: list[str]
    version: int


@dataclass(frozen=True)
class PlanView:
    """A river's plan with its measures as of ``as_of``."""

    river_code: str
    river_name: str
    title: str
    approved_on: dt.date | None
    as_of: dt.date
    measures: list[MeasureStatus]

    @property
    def overdue(self) -> int:
        """How many of its measures are overdue."""
        return sum(measure.overdue for measure in self.measures)


@dataclass(frozen=True)
class OverdueMeasure:
    """A measure past its deadline and not done, with its river and lead town."""

    id: int
    river_code: str
    river_name: str
    town: str
    kind: MeasureKind
    description: str
    owner: str
    deadline: dt.date
    state: MeasureState
    days_overdue: int
    """Days from the deadline to the day asked about."""


def _projects(session: Session, measure_ids: list[int]) -> dict[int, list[str]]:
    """The codes of the projects linked to each measure (one query)."""
    linked: dict[int, list[str]] = defaultdict(list)
    if not measure_ids:
        return linked
    for measure_id, code in session.execute(
        select(plan_measure_projects.c.measure_id, Project.code)
        .join(Project, Project.id == plan_measure_projects.c.project_id)
        .where(plan_measure_projects.c.measure_id.in_(measure_ids))
        .order_by(Project.code)
    ):
        linked[measure_id].append(code)
    return linked


def _status(measure: PlanMeasure, as_of: dt.date, projects: list[str]) -> MeasureStatus:
    state = MeasureState(measure.state)
    return MeasureStatus(
        id=measure.id,
        kind=MeasureKind(measure.kind),
        description=measure.description,
        owner=measure.owner,
        deadline=measure.deadline,
        state=state,
        done_on=measure.done_on,
        overdue=is_overdue(measure.deadline, state, measure.done_on, as_of),
        projects=projects,
        version=measure.version,
    )


def get_plan(session: Session, *, actor: Actor, river_code: str, as_of: dt.date) -> PlanView:
    """The river's plan (一河一策), each measure flagged overdue as of ``as_of``."""
    authorize(session, actor, Action.view, PLAN, record_id=river_code)
    river = read_record(session, RIVERS, actor=actor, code=river_code)
    plan = session.scalars(select(RiverPlan).where(RiverPlan.river_id == river.id)).first()
    if plan is None:
        raise NotFound(f"河涌“{river.code}”还没有一河一策")
    measures = list(
        session.scalars(
            select(PlanMeasure)
            .where(PlanMeasure.plan_id == plan.id)
            .order_by(PlanMeasure.deadline, PlanMeasure.id)
        )
    )
    linked = _projects(session, [measure.id for measure in measures])
    return PlanView(
        river_code=river.code,
        river_name=river.name,
        title=plan.title,
        approved_on=plan.approved_on,
        as_of=as_of,
        measures=[_status(measure, as_of, linked.get(measure.id, [])) for measure in measures],
    )


def list_overdue_measures(
    session: Session, *, actor: Actor, as_of: dt.date, town: str | None = None
) -> list[OverdueMeasure]:
    """Every measure overdue as of ``as_of``, of the rivers a town (name or code) leads or
    of the whole city; the longest overdue first."""
    authorize(session, actor, Action.view, PLAN)
    stmt = (
        select(PlanMeasure, River.code, River.name, Town.name)
        .join(RiverPlan, RiverPlan.id == PlanMeasure.plan_id)
        .join(River, River.id == RiverPlan.river_id)
        .join(Town, Town.id == River.lead_town_id)
        .where(overdue_condition(as_of))
        .order_by(PlanMeasure.deadline, River.code, PlanMeasure.id)
    )
    if town is not None:
        stmt = stmt.where(River.lead_town_id == find_town(session, town).id)
    return [
        OverdueMeasure(
            id=measure.id,
            river_code=river_code,
            river_name=river_name,
            town=town_name,
            kind=MeasureKind(measure.kind),
            description=measure.description,
            owner=measure.owner,
            deadline=measure.deadline,
            state=MeasureState(measure.state),
            days_overdue=(as_of - measure.deadline).days,
        )
        for measure, river_code, river_name, town_name in session.execute(stmt)
    ]


def update_measure(
    session: Session,
    *,
    actor: Actor,
    measure_id: int,
    state: MeasureState | None = None,
    done_on: dt.date | None = None,
    version: int | None = None,
) -> MeasureStatus:
    """Record a measure's progress: its state and, once 已完成, the day it was done,
    based on the measure's ``version`` (``StaleVersion`` when it is at another now).

    A done measure needs its completion day (given, or already recorded), which may not
    be in the future; a measure not done has none (moving it back from 已完成 clears
    the day). A town may update only the measures of the rivers it leads.
    """
    authorize_some(session, actor, Action.change, PLAN, record_id=measure_id)
    found = session.execute(
        select(PlanMeasure, River)
        .join(RiverPlan, RiverPlan.id == PlanMeasure.plan_id)
        .join(River, River.id == RiverPlan.river_id)
        .where(PlanMeasure.id == measure_id)
    ).first()
    if found is None:
        raise NotFound(f"没有编号为 {measure_id} 的一河一策措施")
    measure, river = found
    authorize(session, actor, Action.change, PLAN, town_id=river.lead_town_id, record_id=measure_id)
    check_version(measure, resource=PLAN, code=str(measure_id), sent=version)
    new_state = MeasureState(state or measure.state)
    problems = []
    if new_state is MeasureState.done:
        new_done_on = done_on or measure.done_on
        if new_done_on is None:
            problems.append(Problem(f"“{new_state.label}”须填写完成日期", column="done_on"))
        elif new_done_on > today():
            problems.append(
                Problem("完成日期不能晚于今天", column="done_on", value=str(new_done_on))
            )
    else:
        new_done_on = None
        if done_on is not None:
            problems.append(
                Problem(
                    f"“{new_state.label}”的措施不能有完成日期", column="done_on", value=str(done_on)
                )
            )
    if problems:
        raise Invalid(f"措施 {measure_id} 的进展有误", problems)
    before = snapshot(measure)
    measure.state = new_state
    measure.done_on = new_done_on
    flush_versioned(session, measure, resource=PLAN, code=str(measure_id), sent=version)
    after = snapshot(measure)
    changed = [name for name in ("state", "done_on") if before[name] != after[name]]
    if changed:
        record(
            session,
            actor=actor,
            action=Action.change.value,
            resource=PLAN,
            record_id=str(measure_id),
            town_id=river.lead_town_id,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
            detail=f"河涌“{river.code}”措施“{measure.description}”：{new_state.label}",
        )
    linked = _projects(session, [measure.id])
    return _status(measure, today(), linked.get(measure.id, []))
