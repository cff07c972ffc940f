"""The nine headline KPIs, as of a date, for the city and for each town.

Every figure is computed from records: a record's state as of a date is the state of
its latest state change on or before that date; enterprises count from the day their
agreement is signed. Town figures count rivers by their lead town; the city's counts
and sums are the sums of the towns'; the city's percentage comes from summed counts.

``kpis`` and ``headline`` (the command line, the API, the pages) read every town's
figures for a date through the figures cache (``kpi.cache``): computed once, reused
until a write is committed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.campaign.choices import WWTP_KINDS, ProjectKind, ProjectState
from gongjian.campaign.models import Project, ProjectStateChange
from gongjian.kpi.cache import figures_cache
from gongjian.renewal.choices import CLEARED_OR_LATER, EnterpriseKind
from gongjian.renewal.models import Enterprise, Parcel, ParcelStateChange
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.latest import latest_baseline_id, latest_grades
from gongjian.water.models import (
    BaselineMember,
    River,
    RiverStateChange,
)

KPI_KEYS = (
    "renewal.cleared_mu",
    "renewal.attracted",
    "renewal.expansions",
    "renewal.investment_yi",
    "water.rivers_entered",
    "water.rivers_completed",
    "water.sewer_km",
    "water.wwtp_started",
    "water.black_odor_reduction_pct",
)

WAN_PER_YI = Decimal(10_000)
TWO_PLACES = Decimal("0.01")

ENTERED_OR_LATER = tuple(RemediationState)[1:]
COMPLETED_OR_LATER = tuple(RemediationState)[2:]
SEWER_DONE = (ProjectState.completed, ProjectState.accepted)
WWTP_STARTED = (ProjectState.started, ProjectState.completed, ProjectState.accepted)


@dataclass
class Figures:
    """Exact, unrounded figures of one town (or the city, as the towns' sum)."""

    cleared_mu: Decimal = Decimal(0)
    attracted: int = 0
    expansions: int = 0
    investment_wan: Decimal = Decimal(0)
    rivers_entered: int = 0
    rivers_completed: int = 0
    sewer_km: Decimal = Decimal(0)
    wwtp_started: int = 0
    baseline_bodies: int = 0
    baseline_clean: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def black_odor_reduction_pct(self) -> Decimal | None:
        """Baseline bodies graded ``none`` ÷ baseline bodies × 100; None without a baseline."""
        if self.baseline_bodies == 0:
            return None
        return Decimal(self.baseline_clean) * 100 / Decimal(self.baseline_bodies)

    def as_kpi(self) -> dict[str, int | float | None]:
        """The flat KPI object of SPEC: counts as integers, other figures to 2 places."""
        pct = self.black_odor_reduction_pct
        return {
            "renewal.cleared_mu": _round(self.cleared_mu),
            "renewal.attracted": self.attracted,
            "renewal.expansions": self.expansions,
            "renewal.investment_yi": _round(self.investment_wan / WAN_PER_YI),
            "water.rivers_entered": self.rivers_entered,
            "water.rivers_completed": self.rivers_completed,
            "water.sewer_km": _round(self.sewer_km),
            "water.wwtp_started": self.wwtp_started,
            "water.black_odor_reduction_pct": None if pct is None else _round(pct),
        }


def _round(value: Decimal) -> float:
    return float(value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


def state_as_of(
    record_key: InstrumentedAttribute[int],
    to_state: InstrumentedAttribute[str],
    changed_on: InstrumentedAttribute[dt.date],
    change_id: InstrumentedAttribute[int],
    as_of: dt.date,
) -> Any:
    """A subquery ``(record_id, state)``: each record's state at the end of ``as_of``."""
    rank = (
        func.row_number()
        .over(partition_by=record_key, order_by=(changed_on.desc(), change_id.desc()))
        .label("rank")
    )
    ranked = (
        select(record_key.label("record_id"), to_state.label("state"), rank)
        .where(changed_on <= as_of)
        .subquery()
    )
    return select(ranked.c.record_id, ranked.c.state).where(ranked.c.rank == 1).subquery()


def _grouped(session: Session, stmt: Select[Any]) -> Iterable[Any]:
    return session.execute(stmt).all()


def figures_by_town(session: Session, as_of: dt.date) -> dict[int, Figures]:
    """Every town's figures at the end of ``as_of`` (towns with nothing get zeros)."""
    by_town: dict[int, Figures] = defaultdict(Figures)
    for town_id in session.scalars(select(Town.id)):
        by_town[town_id] = Figures()

    parcels = state_as_of(
        ParcelStateChange.parcel_id,
        ParcelStateChange.to_state,
        ParcelStateChange.changed_on,
        ParcelStateChange.id,
        as_of,
    )
    for town_id, area in _grouped(
        session,
        select(Parcel.town_id, func.sum(Parcel.area_mu))
        .join(parcels, parcels.c.record_id == Parcel.id)
        .where(parcels.c.state.in_(CLEARED_OR_LATER))
        .group_by(Parcel.town_id),
    ):
        by_town[town_id].cleared_mu = area or Decimal(0)

    for town_id, kind, count, investment in _grouped(
        session,
        select(
            Enterprise.town_id,
            Enterprise.kind,
            func.count(),
            func.sum(Enterprise.investment_wan),
        )
        .where(Enterprise.agreement_signed_on <= as_of)
        .group_by(Enterprise.town_id, Enterprise.kind),
    ):
        figures = by_town[town_id]
        if kind == EnterpriseKind.attracted:
            figures.attracted = count
        elif kind == EnterpriseKind.expansion:
            figures.expansions = count
        figures.investment_wan += investment or Decimal(0)

    rivers = state_as_of(
        RiverStateChange.river_id,
        RiverStateChange.to_state,
        RiverStateChange.changed_on,
        RiverStateChange.id,
        as_of,
    )
    for town_id, state, count in _grouped(
        session,
        select(River.lead_town_id, rivers.c.state, func.count())
        .join(rivers, rivers.c.record_id == River.id)
        .group_by(River.lead_town_id, rivers.c.state),
    ):
        figures = by_town[town_id]
        if state in ENTERED_OR_LATER:
            figures.rivers_entered += count
        if state in COMPLETED_OR_LATER:
            figures.rivers_completed += count

    projects = state_as_of(
        ProjectStateChange.project_id,
        ProjectStateChange.to_state,
        ProjectStateChange.changed_on,
        ProjectStateChange.id,
        as_of,
    )
    project_rows = (
        select(Project.town_id, func.count(), func.sum(Project.sewer_km))
        .join(projects, projects.c.record_id == Project.id)
        .group_by(Project.town_id)
    )
    for town_id, _count, km in _grouped(
        session,
        project_rows.where(Project.kind == ProjectKind.sewer, projects.c.state.in_(SEWER_DONE)),
    ):
        by_town[town_id].sewer_km = km or Decimal(0)
    for town_id, count, _km in _grouped(
        session,
        project_rows.where(Project.kind.in_(WWTP_KINDS), projects.c.state.in_(WWTP_STARTED)),
    ):
        by_town[town_id].wwtp_started = count

    _add_black_odor(session, as_of, by_town)
    return dict(by_town)


def _add_black_odor(session: Session, as_of: dt.date, by_town: dict[int, Figures]) -> None:
    """Baseline bodies and those whose latest grade on or before ``as_of`` is ``none``."""
    baseline_id = session.scalar(select(latest_baseline_id(as_of)))
    if baseline_id is None:
        return
    latest = latest_grades(as_of)
    clean = case((latest.c.grade == Grade.none.value, 1), else_=0)
    for town_id, bodies, cleaned in _grouped(
        session,
        select(River.lead_town_id, func.count(), func.sum(clean))
        .select_from(BaselineMember)
        .join(River, River.id == BaselineMember.river_id)
        .outerjoin(latest, latest.c.river_id == BaselineMember.river_id)
        .where(BaselineMember.baseline_id == baseline_id)
        .group_by(River.lead_town_id),
    ):
        by_town[town_id].baseline_bodies = bodies
        by_town[town_id].baseline_clean = cleaned or 0


def town_figures(session: Session, as_of: dt.date) -> dict[int, Figures]:
    """``figures_by_town`` through the figures cache (read-only: shared between requests)."""
    return figures_cache.get(session, ("figures", as_of), lambda: figures_by_town(session, as_of))


def kpis(session: Session, *, as_of: dt.date, town_id: int | None = None) -> dict[str, Any]:
    """The KPI object of SPEC for the city (``town_id=None``) or one town."""

    def compute() -> dict[str, Any]:
        by_town = town_figures(session, as_of)
        if town_id is not None:
            return by_town.get(town_id, Figures()).as_kpi()
        return sum(by_town.values(), Figures()).as_kpi()

    return dict(figures_cache.get(session, ("kpi", as_of, town_id), compute))


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of one scope as of a date: what ``GET /api/v1/kpi`` answers."""

    scope: str
    as_of: dt.date
    kpi: dict[str, Any]


def headline(
    session: Session, *, actor: Actor, as_of: dt.date, town: str | None = None
) -> KpiReport:
    """The headline KPIs for the city or a town (name or code), checked and ready to show."""
    authorize(session, actor, Action.view, "kpi")
    if town is None:
        return KpiReport(scope="city", as_of=as_of, kpi=kpis(session, as_of=as_of))
    found = find_town(session, town)
    return KpiReport(
        scope=found.name, as_of=as_of, kpi=kpis(session, as_of=as_of, town_id=found.id)
    )
