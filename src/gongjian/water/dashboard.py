"""What the dashboard's river pages read: the list of rivers, filtered, sorted and paged
as of a day, and everything a river's page shows.

The list reads each river as it stood at the end of the day asked about: its latest
current grade (``latest.latest_grades``), its remediation state (its latest change on or
before the day, else 列入清单, as the KPIs count it), whether it is on the latest
baseline frozen by then, and its priority score (``priorities.priorities``). A river
never graded is listed under 数据不足, since no data is no evidence that it is clean.
Whatever the number of rivers, a page costs a fixed number of queries: the rivers are
filtered in one, scored in the few that ``priorities`` needs, sorted in memory (there
are hundreds, not millions), and only the rows of the page look up their last sampling.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import allowed, authorize, restrict, scoped_town
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.kpi.services import Figures, figures_by_town, state_as_of
from gongjian.periods import Period, city_zone, end_of_day, parse_period, period_of
from gongjian.towns.models import Town
from gongjian.water import plans, priorities, remediation
from gongjian.water.choices import ComplaintCategory, Grade, RemediationState
from gongjian.water.latest import latest_baseline_id, latest_grades
from gongjian.water.models import (
    Assessment,
    Baseline,
    BaselineMember,
    Complaint,
    MonitoringPoint,
    PointGrade,
    River,
    RiverReach,
    RiverStateChange,
    Sample,
    WaterBodyGrade,
)
from gongjian.water.services import RIVERS, dashboard_river

PAGE_SIZE = 50
"""Rivers per page unless the page asks for fewer."""
PAGE_SIZE_MAX = 100
"""The most rivers one page shows."""
COMPLAINTS_SHOWN = 50
"""The latest complaints a river's page lists (the counts cover them all)."""
SORT_KEYS = ("priority", "name", "town", "length", "grade", "state")
"""What the list sorts by; ``-key`` sorts the other way."""
DEFAULT_SORT = "-priority"
"""Urgent first (先急后缓)."""
GRADE_ORDER = {grade: index for index, grade in enumerate(Grade)}
"""Grades in the order the list sorts them: 不黑不臭, 轻度, 重度, 数据不足, then
rivers never graded."""
STATE_ORDER = {state: index for index, state in enumerate(RemediationState)}


@dataclass(frozen=True)
class RiverFilters:
    """The filters of the list (the URL contract of ``/rivers``)."""

    as_of: dt.date
    town: str | None = None
    grade: Grade | None = None
    state: RemediationState | None = None
    reached: RemediationState | None = None
    baseline: bool = False


Choice = TypeVar("Choice", Grade, RemediationState)


def _choice(
    kind: type[Choice], text: str | None, column: str, problems: list[Problem]
) -> Choice | None:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        problems.append(Problem(f"可选：{'、'.join(kind.values())}", column=column, value=text))
        return None


def river_filters(
    *,
    as_of: dt.date,
    town: str | None = None,
    grade: str | None = None,
    state: str | None = None,
    reached: str | None = None,
    baseline: bool = False,
) -> RiverFilters:
    """The list's filters from the words of a request (empty means no filter); an
    unknown grade or state is ``Invalid``."""
    problems: list[Problem] = []
    found = RiverFilters(
        as_of=as_of,
        town=town or None,
        grade=_choice(Grade, grade, "grade", problems),
        state=_choice(RemediationState, state, "state", problems),
        reached=_choice(RemediationState, reached, "reached", problems),
        baseline=baseline,
    )
    if problems:
        raise Invalid("河涌筛选条件有误：" + "；".join(map(str, problems)), problems)
    return found


def parse_sort(text: str | None) -> tuple[str, bool]:
    """``(key, descending)`` of a ``sort`` parameter (``priority``, ``-name``, ...)."""
    text = (text or DEFAULT_SORT).strip()
    key = text.removeprefix("-")
    if key not in SORT_KEYS:
        problem = Problem(
            f"可选：{'、'.join(SORT_KEYS)}（前加 - 为倒序）", column="sort", value=text
        )
        raise Invalid(f"无法按此排序：{problem}", [problem])
    return key, text.startswith("-")


@dataclass(frozen=True)
class RiverRow:
    """A river as the list shows it, as of the list's day."""

    id: int
    code: str
    name: str
    town_code: str
    town_name: str
    length_m: Decimal
    grade: Grade | None
    """Its latest current grade; ``None`` when never graded."""
    grade_period: Period | None
    """The period of that grade."""
    state: RemediationState
    relapsed: bool
    published: bool
    on_baseline: bool
    priority: Decimal
    priority_rank: int
    """Its place in the priority order of the list's scope (city or town)."""
    last_sampled_on: dt.date | None = None
    """The day of its latest sample (city time); filled for the rows of the page."""


@dataclass(frozen=True)
class BaselineSummary:
    """The baseline's water bodies in the list's scope and how many of them count as
    cleaned (latest grade 不黑不臭) as of the list's day, as the KPI counts them."""

    frozen_on: dt.date
    source_period: str
    bodies: int
    cleaned: int

    @property
    def reduction_pct(self) -> Decimal | None:
        """The black-odour reduction against the baseline, in %, as the KPI computes it."""
        return Figures(
            baseline_bodies=self.bodies, baseline_clean=self.cleaned
        ).black_odor_reduction_pct


@dataclass(frozen=True)
class RiverList:
    """One page of the list, with what the page says about it."""

    rows: list[RiverRow]
    total: int
    page: int
    page_size: int
    town: Town | None
    """The scope: the town whose rivers are listed, ``None`` for the whole city."""
    baseline: BaselineSummary | None
    """With ``baseline=1``: the baseline's figures (``None`` when none is frozen yet)."""
    any_rivers: bool
    """Whether the scope has any river at all (else the list is empty for want of data,
    not because of the filters)."""

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def _state_column(as_of: dt.date) -> tuple[Any, ColumnElement[str]]:
    states = state_as_of(
        RiverStateChange.river_id,
        RiverStateChange.to_state,
        RiverStateChange.changed_on,
        RiverStateChange.id,
        as_of,
    )
    return states, func.coalesce(states.c.state, RemediationState.listed.value)


def _sort_key(key: str) -> Callable[[RiverRow], Any]:
    keys: dict[str, Callable[[RiverRow], Any]] = {
        "priority": lambda row: row.priority,
        "name": lambda row: row.name,
        "town": lambda row: row.town_code,
        "length": lambda row: row.length_m,
        "grade": lambda row: len(GRADE_ORDER) if row.grade is None else GRADE_ORDER[row.grade],
        "state": lambda row: STATE_ORDER[row.state],
    }
    return keys[key]


def _last_sampled(session: Session, river_ids: list[int], as_of: dt.date) -> dict[int, dt.date]:
    """The day (city time) of each river's latest sample by the end of ``as_of``."""
    if not river_ids:
        return {}
    found = session.execute(
        select(MonitoringPoint.river_id, func.max(Sample.sampled_at))
        .join(Sample, Sample.point_id == MonitoringPoint.id)
        .where(MonitoringPoint.river_id.in_(river_ids), Sample.sampled_at <= end_of_day(as_of))
        .group_by(MonitoringPoint.river_id)
    )
    return {
        river_id: instant.astimezone(city_zone()).date()
        for river_id, instant in found
        if instant is not None
    }


def _baseline_summary(
    session: Session, as_of: dt.date, town_id: int | None
) -> BaselineSummary | None:
    """The baseline's figures in the scope, counted by the KPIs' own function."""
    frozen = session.scalars(
        select(Baseline)
        .where(Baseline.frozen_on <= as_of)
        .order_by(Baseline.frozen_on.desc())
        .limit(1)
    ).first()
    if frozen is None:
        return None
    by_town = figures_by_town(session, as_of)
    figures = (
        by_town.get(town_id, Figures()) if town_id is not None else sum(by_town.values(), Figures())
    )
    return BaselineSummary(
        frozen.frozen_on, frozen.source_period, figures.baseline_bodies, figures.baseline_clean
    )


def list_rivers(
    session: Session,
    *,
    actor: Actor,
    filters: RiverFilters,
    sort: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> RiverList:
    """One page of the rivers ``actor`` may see (a town user: the rivers its town
    leads) that pass ``filters``, sorted by ``sort`` (default: priority, highest
    first; ties by code)."""
    key, descending = parse_sort(sort)
    page_size = min(max(page_size, 1), PAGE_SIZE_MAX)
    town = scoped_town(session, actor, RIVERS.resource, filters.town)
    as_of = filters.as_of
    latest = latest_grades(as_of)
    states, state = _state_column(as_of)
    members = select(BaselineMember.river_id).where(
        BaselineMember.baseline_id == latest_baseline_id(as_of)
    )
    stmt = (
        select(
            River.id,
            River.code,
            River.name,
            Town.code,
            Town.name,
            River.length_m,
            latest.c.grade,
            WaterBodyGrade.period,
            state,
            River.relapsed,
            River.published,
            River.id.in_(members),
        )
        .join(Town, Town.id == River.lead_town_id)
        .outerjoin(latest, latest.c.river_id == River.id)
        .outerjoin(WaterBodyGrade, WaterBodyGrade.id == latest.c.id)
        .outerjoin(states, states.c.record_id == River.id)
        .order_by(River.code)
    )
    if town is not None:
        stmt = stmt.where(River.lead_town_id == town.id)
    stmt = restrict(session, actor, stmt, RIVERS.resource)
    scoped = stmt
    if filters.grade is Grade.insufficient:
        stmt = stmt.where(or_(latest.c.grade == Grade.insufficient.value, latest.c.grade.is_(None)))
    elif filters.grade is not None:
        stmt = stmt.where(latest.c.grade == filters.grade.value)
    if filters.state is not None:
        stmt = stmt.where(state == filters.state.value)
    if filters.reached is not None:
        later = list(RemediationState)[STATE_ORDER[filters.reached] :]
        stmt = stmt.where(state.in_([s.value for s in later]))
    if filters.baseline:
        stmt = stmt.where(River.id.in_(members))
    found = session.execute(stmt).all()
    any_rivers = bool(found) or bool(
        session.scalar(select(func.count()).select_from(scoped.order_by(None).subquery()))
    )
    scored = {
        river.river_code: river
        for river in priorities.priorities(
            session, actor=actor, as_of=as_of, top=None, town=town.code if town else None
        )
    }
    rows = [
        RiverRow(
            id=river_id,
            code=code,
            name=name,
            town_code=town_code,
            town_name=town_name,
            length_m=length_m,
            grade=Grade(grade) if grade is not None else None,
            grade_period=parse_period(period) if period is not None else None,
            state=RemediationState(river_state),
            relapsed=relapsed,
            published=published,
            on_baseline=bool(on_baseline),
            priority=scored[code].score,
            priority_rank=scored[code].rank,
        )
        for (
            river_id,
            code,
            name,
            town_code,
            town_name,
            length_m,
            grade,
            period,
            river_state,
            relapsed,
            published,
            on_baseline,
        ) in found
    ]
    rows.sort(key=_sort_key(key), reverse=descending)
    pages = max(1, math.ceil(len(rows) / page_size))
    page = min(max(page, 1), pages)
    shown = rows[(page - 1) * page_size : page * page_size]
    sampled = _last_sampled(session, [row.id for row in shown], as_of)
    shown = [replace(row, last_sampled_on=sampled.get(row.id)) for row in shown]
    return RiverList(
        rows=shown,
        total=len(rows),
        page=page,
        page_size=page_size,
        town=town,
        baseline=_baseline_summary(session, as_of, town.id if town else None)
        if filters.baseline
        else None,
        any_rivers=any_rivers,
    )


def scope_towns(session: Session, *, actor: Actor) -> list[Town]:
    """The towns ``actor`` may filter the list by: a town user's own, else all (in code
    order)."""
    stmt = select(Town).order_by(Town.code)
    if actor.town_id is not None:
        stmt = stmt.where(Town.id == actor.town_id)
    return list(session.scalars(stmt))


# --- a river's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class PointEvidence:
    """A monitoring point's grade in one grading, and the evidence in words."""

    code: str
    chainage_m: Decimal
    grade: Grade
    samples: int
    decided_by: str


@dataclass(frozen=True)
class GradeRecord:
    """A river's grade for one period as one grading (assessment) made it."""

    assessment_id: int
    period: Period
    grade: Grade
    decided_by: str
    points_graded: int
    points_severe: int
    severe_segments: list[tuple[Decimal, Decimal]]
    rules_hash: str
    assessed_at: dt.datetime
    superseded_at: dt.datetime | None
    """Set when a later grading of the same period replaced it."""
    points: list[PointEvidence]


@dataclass(frozen=True)
class StripPoint:
    """A monitoring point along the river with its grade in the latest grading (``None``
    when that grading did not grade it)."""

    code: str
    name: str | None
    chainage_m: Decimal
    grade: Grade | None
    decided_by: str | None


@dataclass(frozen=True)
class Reach:
    """The stretch of the river in one town, with its river chief (河长)."""

    town: str
    river_chief: str
    start_m: Decimal
    end_m: Decimal


@dataclass(frozen=True)
class ComplaintItem:
    """A complaint as the river's page lists it; the complainant's name and phone only
    when the reader may see them (``with_contact``)."""

    receipt_no: str
    category: ComplaintCategory
    description: str
    received_on: dt.date
    closed_on: dt.date | None
    with_contact: bool
    name: str | None
    phone: str | None


@dataclass(frozen=True)
class RiverComplaints:
    """The complaints about a river received by the page's day: counts per month
    (latest first) and the latest ``COMPLAINTS_SHOWN``."""

    total: int
    by_period: list[tuple[Period, int]]
    items: list[ComplaintItem]


@dataclass(frozen=True)
class RiverPermissions:
    """What the reader may do on the page."""

    change_state: bool
    correct_state: bool
    publish: bool


@dataclass
class RiverPage:
    """Everything a river's page shows, as of ``as_of``."""

    river: River
    town: Town
    as_of: dt.date
    reaches: list[Reach]
    points: list[StripPoint]
    latest: GradeRecord | None
    """The latest current grade of a period ended by ``as_of``."""
    history: list[GradeRecord]
    """Every grade of periods ended by ``as_of``, superseded ones included, latest
    period first and, within a period, the latest grading first."""
    warnings: list[dict[str, str]]
    """The latest grading's sampling-rule warnings about this river or its points."""
    plan: plans.PlanView | None
    complaints: RiverComplaints
    priority: priorities.RiverPriority | None
    ranked: int
    """How many rivers the priority rank is among (the city's, or a town user's town's)."""
    remediation: remediation.RiverHistory
    next_states: tuple[RemediationState, ...]
    may: RiverPermissions


def _history(session: Session, river: River, as_of: dt.date) -> list[GradeRecord]:
    grades = list(
        session.scalars(
            select(WaterBodyGrade)
            .where(WaterBodyGrade.river_id == river.id, WaterBodyGrade.period_end <= as_of)
            .order_by(
                WaterBodyGrade.period_end.desc(),
                WaterBodyGrade.period_start.asc(),
                WaterBodyGrade.assessed_at.desc(),
                WaterBodyGrade.id.desc(),
            )
        )
    )
    evidence: dict[int, list[PointEvidence]] = {}
    for code, chainage, grade in session.execute(
        select(MonitoringPoint.code, MonitoringPoint.chainage_m, PointGrade)
        .join(PointGrade, PointGrade.point_id == MonitoringPoint.id)
        .where(
            MonitoringPoint.river_id == river.id,
            PointGrade.assessment_id.in_([g.assessment_id for g in grades]),
        )
        .order_by(MonitoringPoint.chainage_m, MonitoringPoint.code)
    ):
        evidence.setdefault(grade.assessment_id, []).append(
            PointEvidence(code, chainage, Grade(grade.grade), grade.samples, grade.decided_by)
        )
    return [
        GradeRecord(
            assessment_id=grade.assessment_id,
            period=parse_period(grade.period),
            grade=Grade(grade.grade),
            decided_by=grade.decided_by,
            points_graded=grade.points_graded,
            points_severe=grade.points_severe,
            severe_segments=[
                (Decimal(str(start)), Decimal(str(end)))
                for start, end in grade.severe_segments.get("segments", [])
            ],
            rules_hash=grade.rules_hash,
            assessed_at=grade.assessed_at,
            superseded_at=grade.superseded_at,
            points=evidence.get(grade.assessment_id, []),
        )
        for grade in grades
    ]


def _strip(session: Session, river: River, latest: GradeRecord | None) -> list[StripPoint]:
    graded = {point.code: point for point in latest.points} if latest else {}
    return [
        StripPoint(
            code=code,
            name=name,
            chainage_m=chainage,
            grade=graded[code].grade if code in graded else None,
            decided_by=graded[code].decided_by if code in graded else None,
        )
        for code, name, chainage in session.execute(
            select(MonitoringPoint.code, MonitoringPoint.name, MonitoringPoint.chainage_m)
            .where(MonitoringPoint.river_id == river.id)
            .order_by(MonitoringPoint.chainage_m, MonitoringPoint.code)
        )
    ]


def _warnings(
    session: Session, river: River, latest: GradeRecord | None, points: list[StripPoint]
) -> list[dict[str, str]]:
    if latest is None:
        return []
    assessment = session.get(Assessment, latest.assessment_id)
    subjects = {river.code, *(point.code for point in points)}
    found: list[dict[str, str]] = (assessment.warnings if assessment else {}).get("warnings", [])
    return [warning for warning in found if warning.get("subject") in subjects]


def _reaches(session: Session, river: River) -> list[Reach]:
    return [
        Reach(town, chief, start, end)
        for town, chief, start, end in session.execute(
            select(
                Town.name,
                RiverReach.river_chief,
                RiverReach.start_chainage_m,
                RiverReach.end_chainage_m,
            )
            .join(Town, Town.id == RiverReach.town_id)
            .where(RiverReach.river_id == river.id)
            .order_by(RiverReach.start_chainage_m)
        )
    ]


def _complaints(session: Session, actor: Actor, river: River, as_of: dt.date) -> RiverComplaints:
    authorize(session, actor, Action.view, "complaint", record_id=river.code)
    zone = city_zone()
    received = Complaint.river_id == river.id, Complaint.received_at <= end_of_day(as_of)
    months = Counter(
        period_of(instant.astimezone(zone).date()).label
        for instant in session.scalars(select(Complaint.received_at).where(*received))
    )
    items = []
    for complaint in session.scalars(
        select(Complaint)
        .where(*received)
        .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        .limit(COMPLAINTS_SHOWN)
    ):
        contact = allowed(actor, Action.view, "complaint_contact", complaint.town_id)
        items.append(
            ComplaintItem(
                receipt_no=complaint.receipt_no,
                category=ComplaintCategory(complaint.category),
                description=complaint.description,
                received_on=complaint.received_at.astimezone(zone).date(),
                closed_on=complaint.closed_at.astimezone(zone).date()
                if complaint.closed_at
                else None,
                with_contact=contact,
                name=complaint.complainant_name if contact else None,
                phone=complaint.complainant_phone if contact else None,
            )
        )
    return RiverComplaints(
        total=sum(months.values()),
        by_period=[(parse_period(label), months[label]) for label in sorted(months, reverse=True)],
        items=items,
    )


def _plan(session: Session, actor: Actor, river: River, as_of: dt.date) -> plans.PlanView | None:
    try:
        return plans.get_plan(session, actor=actor, river_code=river.code, as_of=as_of)
    except NotFound:
        return None


def river_page(session: Session, *, actor: Actor, river_id: int, as_of: dt.date) -> RiverPage:
    """Everything the page of river ``river_id`` shows as of ``as_of``: its points along
    the chainage by their latest grade, its grade history with the evidence (superseded
    grades included), severe segments and sampling warnings, its plan, complaints,
    priority and remediation history, and what the reader may do. A town user may open
    only the rivers its town leads (403, logged, for another's)."""
    river = dashboard_river(session, actor=actor, river_id=river_id)
    town = session.get(Town, river.lead_town_id)
    assert town is not None  # a foreign key
    history = _history(session, river, as_of)
    latest = next((grade for grade in history if grade.superseded_at is None), None)
    points = _strip(session, river, latest)
    scope = scoped_town(session, actor, RIVERS.resource, None)
    ranked = priorities.priorities(
        session, actor=actor, as_of=as_of, top=None, town=scope.code if scope else None
    )
    return RiverPage(
        river=river,
        town=town,
        as_of=as_of,
        reaches=_reaches(session, river),
        points=points,
        latest=latest,
        history=history,
        warnings=_warnings(session, river, latest, points),
        plan=_plan(session, actor, river, as_of),
        complaints=_complaints(session, actor, river, as_of),
        priority=next((found for found in ranked if found.river_code == river.code), None),
        ranked=len(ranked),
        remediation=remediation.river_history(session, actor=actor, river_code=river.code),
        next_states=remediation.next_states(RemediationState(river.remediation_state)),
        may=RiverPermissions(
            change_state=allowed(actor, Action.change, RIVERS.resource, river.lead_town_id),
            correct_state=allowed(actor, Action.approve, RIVERS.resource, river.lead_town_id),
            publish=allowed(actor, Action.publish, RIVERS.resource, river.lead_town_id),
        ),
    )
