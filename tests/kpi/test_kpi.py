"""The headline KPIs: the definitions of SPEC, as of a date, the city as the sum of its
towns, and the percentage from summed counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.campaign.choices import ProjectKind, ProjectState
from gongjian.campaign.models import Project, ProjectStateChange
from gongjian.db import utcnow
from gongjian.kpi.services import KPI_KEYS, Figures, figures_by_town, kpis
from gongjian.renewal.choices import EnterpriseKind, RenewalState
from gongjian.renewal.models import Enterprise, Parcel, ParcelStateChange
from gongjian.towns.models import Town
from gongjian.water.choices import Grade
from gongjian.water.models import (
    Assessment,
    Baseline,
    BaselineMember,
    River,
    WaterBodyGrade,
)

REPORT_DAY = dt.date(2023, 1, 31)


@pytest.mark.parametrize("as_of", [dt.date(2022, 6, 30), REPORT_DAY])
def test_city_is_the_sum_of_its_towns(demo_session: Session, as_of: dt.date) -> None:
    by_town = figures_by_town(demo_session, as_of)
    assert len(by_town) == 23
    city = kpis(demo_session, as_of=as_of)
    assert list(city) == list(KPI_KEYS)
    total = sum(by_town.values(), Figures())
    for key in ("attracted", "expansions", "rivers_entered", "rivers_completed", "wwtp_started"):
        assert city[f"{'renewal' if key in ('attracted', 'expansions') else 'water'}.{key}"] == sum(
            getattr(f, key) for f in by_town.values()
        )
        assert isinstance(getattr(total, key), int)
    assert city["renewal.cleared_mu"] == float(round(total.cleared_mu, 2))
    assert city["water.sewer_km"] == float(round(total.sewer_km, 2))
    assert city["renewal.investment_yi"] == float(round(total.investment_wan / 10_000, 2))
    towns_kpi = [kpis(demo_session, as_of=as_of, town_id=t) for t in by_town]
    assert sum(k["water.rivers_entered"] for k in towns_kpi) == city["water.rivers_entered"]
    assert sum(k["renewal.cleared_mu"] for k in towns_kpi) == pytest.approx(
        city["renewal.cleared_mu"], abs=0.005 * 23
    )


def test_demo_figures_grow_over_the_campaign(demo_session: Session) -> None:
    early = kpis(demo_session, as_of=dt.date(2022, 1, 1))
    late = kpis(demo_session, as_of=REPORT_DAY)
    assert late["water.rivers_entered"] > early["water.rivers_entered"]
    assert late["renewal.cleared_mu"] > early["renewal.cleared_mu"]
    assert early["water.black_odor_reduction_pct"] == 0
    assert late["water.black_odor_reduction_pct"] > 40
    assert kpis(demo_session, as_of=dt.date(2021, 12, 31))["water.black_odor_reduction_pct"] is None


def _town(session: Session, name: str) -> Town:
    return session.scalars(select(Town).where(Town.name == name)).one()


def test_states_count_as_they_stood_at_the_end_of_the_day(session: Session) -> None:
    town = _town(session, "神湾")
    parcel = Parcel(code="KPI-P1", town_id=town.id, area_mu=Decimal("12.34"))
    session.add(parcel)
    session.flush()
    for state, day in (
        (RenewalState.identified, dt.date(2022, 1, 5)),
        (RenewalState.demolishing, dt.date(2022, 3, 1)),
        (RenewalState.cleared, dt.date(2022, 5, 31)),
    ):
        session.add(
            ParcelStateChange(parcel_id=parcel.id, to_state=state, changed_on=day, actor="t")
        )
    session.add(
        Enterprise(
            code="KPI-E1",
            name="示例企业",
            kind=EnterpriseKind.attracted,
            town_id=town.id,
            agreement_signed_on=dt.date(2022, 6, 1),
            investment_wan=Decimal("12345.67"),
        )
    )
    session.flush()
    before = kpis(session, as_of=dt.date(2022, 5, 30), town_id=town.id)
    on_the_day = kpis(session, as_of=dt.date(2022, 5, 31), town_id=town.id)
    signed = kpis(session, as_of=dt.date(2022, 6, 1), town_id=town.id)
    assert before["renewal.cleared_mu"] == 0
    assert on_the_day["renewal.cleared_mu"] == 12.34
    assert on_the_day["renewal.attracted"] == 0
    assert (signed["renewal.attracted"], signed["renewal.investment_yi"]) == (1, 1.23)


def test_sewer_counts_only_completed_or_accepted(session: Session) -> None:
    town = _town(session, "板芙")
    order = list(ProjectState)
    for i, last in enumerate([ProjectState.started, ProjectState.completed, ProjectState.accepted]):
        project = Project(
            code=f"KPI-S{i}",
            name="管网",
            campaign="water",
            kind=ProjectKind.sewer,
            town_id=town.id,
            state=last,
            sewer_km=Decimal("1.250"),
        )
        session.add(project)
        session.flush()
        for n, state in enumerate(order[: order.index(last) + 1]):
            session.add(
                ProjectStateChange(
                    project_id=project.id,
                    to_state=state,
                    changed_on=dt.date(2022, 2, 1 + n),
                    actor="t",
                )
            )
    session.flush()
    figures = kpis(session, as_of=REPORT_DAY, town_id=town.id)
    assert figures["water.sewer_km"] == 2.5


PERIODS = (
    ("2021-12", dt.date(2021, 12, 1), dt.date(2021, 12, 31)),
    ("2023-01", dt.date(2023, 1, 1), dt.date(2023, 1, 31)),
)


def test_percentage_comes_from_summed_counts(session: Session) -> None:
    """Town A: 1 of 1 baseline body clean (100%); town B: 1 of 3 (33.33%). The city is
    2 of 4 = 50%, not the mean of the towns' percentages (66.67%)."""
    town_a, town_b = _town(session, "石岐"), _town(session, "东区")
    baseline = Baseline(
        frozen_on=dt.date(2022, 1, 1), source_period="2021-12", frozen_at=utcnow(), frozen_by="t"
    )
    session.add(baseline)
    assessments = {
        period: Assessment(
            period=period,
            period_start=start,
            period_end=end,
            samples=0,
            rules_hash="0" * 64,
            warnings={"warnings": []},
            assessed_at=utcnow(),
            actor="t",
        )
        for period, start, end in PERIODS
    }
    session.add_all(assessments.values())
    session.flush()
    grades = {("A1", town_a): [Grade.severe, Grade.none]}
    grades |= {
        ("B1", town_b): [Grade.severe, Grade.none],
        ("B2", town_b): [Grade.mild, Grade.mild],
        ("B3", town_b): [Grade.severe, Grade.insufficient],
    }
    for (code, town), (december, january) in grades.items():
        river = River(code=f"KPI-{code}", name=code, lead_town_id=town.id, length_m=Decimal(1000))
        session.add(river)
        session.flush()
        session.add(BaselineMember(baseline_id=baseline.id, river_id=river.id, grade=december))
        for (period, start, end), grade in zip(PERIODS, (december, january), strict=True):
            session.add(
                WaterBodyGrade(
                    assessment_id=assessments[period].id,
                    river_id=river.id,
                    period=period,
                    period_start=start,
                    period_end=end,
                    grade=grade,
                    evidence={},
                    decided_by="test",
                    rules_hash="0" * 64,
                    assessed_at=utcnow(),
                    points_graded=3,
                    points_severe=0,
                    severe_segments={"segments": []},
                )
            )
    session.flush()
    assert (
        kpis(session, as_of=REPORT_DAY, town_id=town_a.id)["water.black_odor_reduction_pct"]
        == 100.0
    )
    assert (
        kpis(session, as_of=REPORT_DAY, town_id=town_b.id)["water.black_odor_reduction_pct"]
        == 33.33
    )
    assert kpis(session, as_of=REPORT_DAY)["water.black_odor_reduction_pct"] == 50.0
    # As of the day before January's grades end, the latest grades are December's.
    assert kpis(session, as_of=dt.date(2023, 1, 30))["water.black_odor_reduction_pct"] == 0.0
    # Before the baseline was frozen there is no baseline: null, never 0.
    assert kpis(session, as_of=dt.date(2021, 12, 31))["water.black_odor_reduction_pct"] is None
    other = _town(session, "南区")
    assert (
        kpis(session, as_of=REPORT_DAY, town_id=other.id)["water.black_odor_reduction_pct"] is None
    )
