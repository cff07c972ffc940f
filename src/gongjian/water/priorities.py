"""Urgent first (先急后缓): which rivers come first, and why, as of a day.

Each river scores points from five terms, each ``raw value × weight`` with the weights
of the setting ``priority_weights``:

- ``grade``: grade steps of its latest current grade on or before the day (none 0,
  mild 1, insufficient 1, severe 2; a river never graded counts as insufficient, since
  no data is no evidence that it is clean);
- ``severe_points``: the share (0–1) of its graded points that were severe in that grade;
- ``complaints``: complaints about it received in the 90 days up to the day, inclusive;
- ``baseline``: 1 when it is on the latest baseline frozen by the day;
- ``overdue_measures``: measures of its plan overdue as of the day.

Each term's points are rounded to 0.01 and the score is their sum, so the terms shown
always add up to the score. The whole list costs a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.config import get_settings
from gongjian.periods import Period, city_zone
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.latest import latest_baseline_id, latest_grades
from gongjian.water.models import (
    BaselineMember,
    Complaint,
    PlanMeasure,
    River,
    RiverPlan,
    WaterBodyGrade,
)
from gongjian.water.plans import PLAN, overdue_condition

COMPLAINT_DAYS = 90
"""Complaints count towards a river's priority for this many days, the day itself included."""
GRADE_STEPS = {Grade.none: 0, Grade.mild: 1, Grade.insufficient: 1, Grade.severe: 2}
"""Grade steps of the ``grade`` term."""
SHARE_PLACES = Decimal("0.0001")
POINT_PLACES = Decimal("0.01")

TERM_LABELS = {
    "grade": "黑臭等级",
    "severe_points": "重度黑臭检测点占比",
    "complaints": f"近{COMPLAINT_DAYS}天群众投诉",
    "baseline": "列入央督基线",
    "overdue_measures": "一河一策逾期措施",
}
"""The terms of the score, in the order they are shown, with their labels."""


@dataclass(frozen=True)
class PriorityTerm:
    """One term of a river's score: ``points = raw × weight`` (rounded to 0.01)."""

    name: str
    label: str
    raw: Decimal
    weight: Decimal
    points: Decimal


@dataclass(frozen=True)
class RiverPriority:
    """A river's priority score as of a day, with the terms that make it."""

    rank: int
    river_code: str
    river_name: str
    town: str
    remediation_state: RemediationState
    grade: Grade | None
    grade_period: str | None
    score: Decimal
    terms: list[PriorityTerm]


@dataclass(frozen=True)
class ComplaintCount:
    """How many complaints a river received in a period."""

    river_code: str
    river_name: str
    town: str
    complaints: int


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day``, city time."""
    return dt.datetime.combine(day, dt.time(), city_zone())


def _complaints_between(first: dt.date, last: dt.date) -> Select[Any]:
    """Complaints received per river from the start of ``first`` to the end of ``last``."""
    return (
        select(Complaint.river_id, func.count().label("complaints"))
        .where(
            Complaint.received_at >= _day_start(first),
            Complaint.received_at < _day_start(last + dt.timedelta(days=1)),
        )
        .group_by(Complaint.river_id)
    )


def _town_id(session: Session, town: str | None) -> int | None:
    return None if town is None else find_town(session, town).id


def complaint_counts(
    session: Session, *, actor: Actor, period: Period, town: str | None = None
) -> list[ComplaintCount]:
    """Complaints received in ``period`` (city time) per river, of the rivers a town
    (name or code) leads or of the whole city; rivers without any are left out; the
    most complained about first."""
    authorize(session, actor, Action.view, "complaint")
    town_id = _town_id(session, town)
    counts = _complaints_between(period.start, period.end).subquery()
    stmt = (
        select(River.code, River.name, Town.name, counts.c.complaints)
        .join(counts, counts.c.river_id == River.id)
        .join(Town, Town.id == River.lead_town_id)
        .order_by(counts.c.complaints.desc(), River.code)
    )
    if town_id is not None:
        stmt = stmt.where(River.lead_town_id == town_id)
    return [
        ComplaintCount(river_code=code, river_name=name, town=town_name, complaints=count)
        for code, name, town_name, count in session.execute(stmt)
    ]


def _latest_grades(session: Session, as_of: dt.date) -> dict[int, WaterBodyGrade]:
    """Each river's latest current grade of a period ended on or before ``as_of``."""
    latest = latest_grades(as_of)
    found = select(WaterBodyGrade).join(latest, latest.c.id == WaterBodyGrade.id)
    return {grade.river_id: grade for grade in session.scalars(found)}


def _baseline_rivers(session: Session, as_of: dt.date) -> set[int]:
    """The rivers of the latest baseline frozen on or before ``as_of``."""
    members = select(BaselineMember.river_id).where(
        BaselineMember.baseline_id == latest_baseline_id(as_of)
    )
    return set(session.scalars(members))


def _overdue_counts(session: Session, as_of: dt.date) -> dict[int, int]:
    return {
        river_id: count
        for river_id, count in session.execute(
            select(RiverPlan.river_id, func.count())
            .join(PlanMeasure, PlanMeasure.plan_id == RiverPlan.id)
            .where(overdue_condition(as_of))
            .group_by(RiverPlan.river_id)
        )
    }


def _term(name: str, raw: Decimal, weights: dict[str, Decimal]) -> PriorityTerm:
    weight = weights.get(name, Decimal(0))
    points = (raw * weight).quantize(POINT_PLACES, rounding=ROUND_HALF_UP)
    return PriorityTerm(name=name, label=TERM_LABELS[name], raw=raw, weight=weight, points=points)


def _severe_share(grade: WaterBodyGrade | None) -> Decimal:
    """The share of the grade's graded points that are severe, to four places."""
    if grade is None or grade.points_graded == 0:
        return Decimal(0)
    share = Decimal(grade.points_severe) / Decimal(grade.points_graded)
    return share.quantize(SHARE_PLACES, rounding=ROUND_HALF_UP)


def priorities(
    session: Session,
    *,
    actor: Actor,
    as_of: dt.date,
    top: int | None = 20,
    town: str | None = None,
) -> list[RiverPriority]:
    """The ``top`` rivers by priority score as of ``as_of`` (highest first, then by
    code; every river when ``top`` is None), of the rivers a town (name or code) leads
    or of the whole city."""
    authorize(session, actor, Action.view, PLAN)
    town_id = _town_id(session, town)
    weights = get_settings().priority_weights
    rivers_stmt = select(River, Town.name).join(Town, Town.id == River.lead_town_id)
    if town_id is not None:
        rivers_stmt = rivers_stmt.where(River.lead_town_id == town_id)
    rivers = session.execute(rivers_stmt).all()
    grades = _latest_grades(session, as_of)
    recent = _complaints_between(as_of - dt.timedelta(days=COMPLAINT_DAYS - 1), as_of)
    complaints: dict[int, int] = {river_id: count for river_id, count in session.execute(recent)}
    baseline = _baseline_rivers(session, as_of)
    overdue = _overdue_counts(session, as_of)
    scored = []
    for river, town_name in rivers:
        grade = grades.get(river.id)
        level = Grade(grade.grade) if grade is not None else None
        terms = [
            _term("grade", Decimal(GRADE_STEPS[level or Grade.insufficient]), weights),
            _term("severe_points", _severe_share(grade), weights),
            _term("complaints", Decimal(complaints.get(river.id, 0)), weights),
            _term("baseline", Decimal(river.id in baseline), weights),
            _term("overdue_measures", Decimal(overdue.get(river.id, 0)), weights),
        ]
        score = sum((term.points for term in terms), Decimal(0))
        scored.append((river, town_name, level, grade, score, terms))
    scored.sort(key=lambda row: (-row[4], row[0].code))
    return [
        RiverPriority(
            rank=rank,
            river_code=river.code,
            river_name=river.name,
            town=town_name,
            remediation_state=RemediationState(river.remediation_state),
            grade=level,
            grade_period=grade.period if grade is not None else None,
            score=score,
            terms=terms,
        )
        for rank, (river, town_name, level, grade, score, terms) in enumerate(scored[:top], start=1)
    ]
