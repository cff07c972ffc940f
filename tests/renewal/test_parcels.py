"""Parcels through their renewal: every listed transition allowed and every other refused
(naming the allowed next states), dated and audited; the plan's comment period;
construction milestones in order; yearly figures, identification and before/after; a
town writes its own parcels only."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from gongjian.kpi.services import kpis
from gongjian.periods import today
from gongjian.renewal.choices import MilestoneKind, RenewalState
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.renewal.rules import Figures, Measure, next_states
from gongjian.renewal.services import (
    before_after,
    change_state,
    identify,
    parcel_history,
    record_milestone,
    set_performance,
)
from tests.renewal import helpers
from tests.renewal.helpers import town_actor, town_of

S = RenewalState
M = MilestoneKind
CITY = Actor(username="city-renewal", role=Role.city)
AUDITOR = Actor(username="auditor-renewal", role=Role.auditor)
START = dt.date(2022, 1, 10)
PATH_VIA_RESERVE = [
    S.plan_published,
    S.relocating,
    S.demolishing,
    S.cleared,
    S.reserved,
    S.supplied,
    S.construction,
    S.producing,
]
make_parcel = partial(helpers.make_parcel, town="石岐", area_mu="50")
"""A parcel of 50 mu in 石岐 unless told otherwise."""


def move(
    session: Session, code: str, to_state: S, on: dt.date, comment_until: dt.date | None = None
) -> ParcelStateChange:
    """Move parcel ``code`` to ``to_state`` on day ``on``, as the city."""
    return change_state(
        session,
        actor=CITY,
        parcel_code=code,
        to_state=to_state,
        on=on,
        comment_until=comment_until,
    )


def walk(session: Session, code: str, states: list[S], start: dt.date = START) -> dt.date:
    """Move parcel ``code`` through ``states``, a week apart; the last day used."""
    day = start
    for state in states:
        comment_until = day + dt.timedelta(days=3) if state is S.plan_published else None
        move(session, code, state, day, comment_until)
        day += dt.timedelta(days=7)
    return day - dt.timedelta(days=7)


@pytest.mark.parametrize("target", list(S))
@pytest.mark.parametrize("current", list(S))
def test_each_transition_is_allowed_or_refused_naming_the_next_states(
    session: Session, current: S, target: S
) -> None:
    parcel = make_parcel(session, "T-STATE", state=current)
    if current is S.plan_published:
        parcel.plan_comment_until = START - dt.timedelta(days=1)
    comment_until = START + dt.timedelta(days=30) if target is S.plan_published else None
    if target in next_states(current):
        change = move(session, "T-STATE", target, START, comment_until)
        assert (change.from_state, change.to_state) == (current.value, target.value)
        assert parcel.renewal_state == target
    else:
        with pytest.raises(Conflict) as refused:
            move(session, "T-STATE", target, START, comment_until)
        for allowed in next_states(current):
            assert allowed.label in refused.value.message
        assert parcel.renewal_state == current


def test_both_roads_from_cleared_to_producing_are_dated_and_audited(session: Session) -> None:
    make_parcel(session, "T-ROAD-1")
    make_parcel(session, "T-ROAD-2")
    walk(session, "T-ROAD-1", PATH_VIA_RESERVE)
    direct = [s for s in PATH_VIA_RESERVE if s is not S.reserved]
    walk(session, "T-ROAD-2", direct)
    history = parcel_history(session, actor=AUDITOR, parcel_code="T-ROAD-1")
    assert [c.to_state for c in history.changes] == [s.value for s in PATH_VIA_RESERVE]
    assert [c.changed_on for c in history.changes] == [
        START + dt.timedelta(days=7 * k) for k in range(len(PATH_VIA_RESERVE))
    ]
    assert history.allowed_next == ()
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.record_id == "T-ROAD-2").order_by(AuditEntry.seq)
    ).all()
    assert len(entries) == len(direct)
    assert json.loads(entries[-1].before)["renewal_state"] == S.construction.value
    assert json.loads(entries[-1].after)["to_state"] == S.producing.value
    assert entries[-1].actor == CITY.username


def test_plan_published_needs_a_comment_period_and_relocating_waits_for_its_end(
    session: Session,
) -> None:
    make_parcel(session, "T-PLAN")
    with pytest.raises(Invalid) as missing:
        move(session, "T-PLAN", S.plan_published, START)
    assert missing.value.problems[0].column == "comment_until"
    with pytest.raises(Invalid):
        move(session, "T-PLAN", S.plan_published, START, START - dt.timedelta(days=1))
    until = START + dt.timedelta(days=30)
    move(session, "T-PLAN", S.plan_published, START, until)
    with pytest.raises(Invalid) as early:
        move(session, "T-PLAN", S.relocating, until)
    assert str(until) in early.value.problems[0].reason
    move(session, "T-PLAN", S.relocating, until + dt.timedelta(days=1))


def test_a_change_is_neither_in_the_future_nor_before_the_previous_one(session: Session) -> None:
    make_parcel(session, "T-DAY")
    walk(session, "T-DAY", [S.plan_published])
    with pytest.raises(Invalid) as future:
        move(session, "T-DAY", S.relocating, today() + dt.timedelta(days=1))
    assert future.value.problems[0].column == "on"
    with pytest.raises(Invalid) as earlier:
        move(session, "T-DAY", S.relocating, START - dt.timedelta(days=1))
    assert "上一次状态变更" in earlier.value.problems[0].reason


def test_a_town_moves_its_own_parcels_only_and_a_refusal_is_logged(session: Session) -> None:
    make_parcel(session, "T-OWN", town="石岐")
    shiqi, other = town_of(session, "石岐"), town_of(session, "东区")
    change_state(
        session,
        actor=town_actor(shiqi),
        parcel_code="T-OWN",
        to_state=S.plan_published,
        on=START,
        comment_until=START,
    )
    intruder = town_actor(other)
    with pytest.raises(Forbidden):
        change_state(session, actor=intruder, parcel_code="T-OWN", to_state=S.relocating, on=START)
    refusal = session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor == intruder.username, AuditEntry.outcome == "refused"
        )
    ).first()
    assert refusal is not None
    assert refusal.record_id == "T-OWN"
    with pytest.raises(Forbidden):
        change_state(session, actor=AUDITOR, parcel_code="T-OWN", to_state=S.relocating, on=START)
    with pytest.raises(NotFound):
        move(session, "NO-SUCH", S.relocating, START)


def test_cleared_mu_counts_from_the_day_a_parcel_is_cleared(session: Session) -> None:
    make_parcel(session, "T-KPI", area_mu="123.45")
    day = dt.date(2022, 3, 1)
    before = kpis(session, as_of=day)["renewal.cleared_mu"]
    cleared_on = walk(session, "T-KPI", PATH_VIA_RESERVE[:4], start=dt.date(2022, 2, 1))
    assert kpis(session, as_of=cleared_on - dt.timedelta(days=1))["renewal.cleared_mu"] == before
    after = kpis(session, as_of=cleared_on)["renewal.cleared_mu"]
    assert Decimal(str(after)) - Decimal(str(before)) == Decimal("123.45")


def test_construction_milestones_in_order_with_their_areas(session: Session) -> None:
    make_parcel(session, "T-BUILD")

    def build(kind: MilestoneKind, area_m2: int | str, on: dt.date) -> None:
        record_milestone(
            session, actor=CITY, parcel_code="T-BUILD", kind=kind, area_m2=Decimal(area_m2), on=on
        )

    with pytest.raises(Conflict) as too_early:
        build(M.planning_application, 1000, START)
    assert "供地" in too_early.value.message
    last = walk(session, "T-BUILD", [s for s in PATH_VIA_RESERVE[:6]])
    with pytest.raises(Invalid) as unordered:
        build(M.construction_permit, 1000, last)
    assert "规划报建" in unordered.value.problems[0].reason
    build(M.planning_application, "52000.50", last)
    with pytest.raises(Invalid):
        build(M.construction_permit, 0, last)
    build(M.construction_permit, 50000, last + dt.timedelta(days=3))
    with pytest.raises(Conflict):
        build(M.completion_acceptance, 50000, last + dt.timedelta(days=4))
    day = walk(session, "T-BUILD", [S.construction], start=last + dt.timedelta(days=5))
    build(M.completion_acceptance, 49800, day + dt.timedelta(days=30))
    history = parcel_history(session, actor=CITY, parcel_code="T-BUILD")
    assert [(m.kind, m.area_m2) for m in history.milestones] == [
        (MilestoneKind.planning_application.value, Decimal("52000.50")),
        (MilestoneKind.construction_permit.value, Decimal(50000)),
        (MilestoneKind.completion_acceptance.value, Decimal(49800)),
    ]


def test_identification_explains_which_measure_put_each_parcel_on_the_list(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    for code in ("T-ID-OUT", "T-ID-TAX", "T-ID-FAR", "T-ID-OK", "T-ID-OTHER-YEAR"):
        make_parcel(session, code, town="黄圃")
    figures = {
        "T-ID-OUT": Figures(Decimal("99.99"), Decimal(6), Decimal(1)),
        "T-ID-TAX": Figures(Decimal(120), Decimal("4.99"), Decimal(1)),
        "T-ID-FAR": Figures(Decimal(120), Decimal(6), Decimal("0.59")),
        "T-ID-OK": Figures(Decimal(100), Decimal(5), Decimal("0.6")),
    }
    for code, values in figures.items():
        set_performance(session, actor=CITY, parcel_code=code, year=2030, figures=values)
    set_performance(
        session,
        actor=CITY,
        parcel_code="T-ID-OTHER-YEAR",
        year=2029,
        figures=Figures(Decimal(1), Decimal(1), Decimal("0.1")),
    )
    town_id = town_of(session, "黄圃").id
    bounds, found = identify(session, actor=AUDITOR, year=2030, town_id=town_id)
    assert bounds == Figures(Decimal(100), Decimal(5), Decimal("0.6"))
    assert {c.parcel.code: [f.measure for f in c.findings] for c in found} == {
        "T-ID-OUT": [Measure.output_per_mu],
        "T-ID-TAX": [Measure.tax_per_mu],
        "T-ID-FAR": [Measure.floor_area_ratio],
    }
    explained = {c.parcel.code: c.explanation for c in found}
    assert explained["T-ID-OUT"] == "亩均产值 99.99万元/亩 低于 100万元/亩"
    monkeypatch.setenv("GONGJIAN_IDENTIFICATION_THRESHOLDS", '{"2030": {"output_per_mu": 120.5}}')
    from gongjian.config import get_settings

    get_settings.cache_clear()
    try:
        _, stricter = identify(session, actor=AUDITOR, year=2030, town_id=town_id)
    finally:
        monkeypatch.delenv("GONGJIAN_IDENTIFICATION_THRESHOLDS")
        get_settings.cache_clear()
    assert {c.parcel.code for c in stricter} == {"T-ID-OUT", "T-ID-TAX", "T-ID-FAR", "T-ID-OK"}


def test_figures_are_corrected_in_place_and_audited(session: Session) -> None:
    make_parcel(session, "T-FIG")
    set_performance(
        session,
        actor=CITY,
        parcel_code="T-FIG",
        year=2022,
        figures=Figures(Decimal(10), None, None),
    )
    row = set_performance(
        session,
        actor=CITY,
        parcel_code="T-FIG",
        year=2022,
        figures=Figures(Decimal(12), Decimal(1), None),
    )
    assert (row.output_per_mu, row.tax_per_mu) == (Decimal(12), Decimal(1))
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.record_id == "T-FIG").order_by(AuditEntry.seq)
    ).all()
    assert Decimal(json.loads(entries[-1].before)["output_per_mu"]) == Decimal(10)
    assert Decimal(json.loads(entries[-1].after)["output_per_mu"]) == Decimal(12)


def test_before_and_after_per_parcel_and_land_weighted_per_town(session: Session) -> None:
    small = make_parcel(session, "T-BA-1", town="古镇", area_mu="10")
    make_parcel(session, "T-BA-2", town="古镇", area_mu="30")
    make_parcel(session, "T-BA-3", town="古镇", area_mu="5")
    for parcel_code in ("T-BA-1", "T-BA-2", "T-BA-3"):
        session.add(
            ParcelStateChange(
                parcel_id=session.scalars(
                    select(Parcel.id).where(Parcel.code == parcel_code)
                ).one(),
                to_state=S.identified.value,
                changed_on=dt.date(2021, 3, 1),
                actor="test",
            )
        )
    session.flush()
    rows = {
        ("T-BA-1", 2020): ("20", "1", "0.5"),
        ("T-BA-1", 2021): ("40", "2", "0.5"),
        ("T-BA-1", 2023): ("400", "20", "2.5"),
        ("T-BA-2", 2021): ("60", "3", "0.4"),
        ("T-BA-2", 2023): ("200", "10", "2.0"),
        ("T-BA-3", 2021): ("50", "2", "0.3"),
    }
    for (code, year), values in rows.items():
        figures = Figures(*(Decimal(v) for v in values))
        set_performance(session, actor=CITY, parcel_code=code, year=year, figures=figures)
    for code in ("T-BA-1", "T-BA-2"):
        walk(session, code, PATH_VIA_RESERVE, start=dt.date(2022, 11, 1))
    assert small.renewal_state == S.producing
    town_id = town_of(session, "古镇").id
    parcels, towns = before_after(session, actor=AUDITOR, town_id=town_id)
    by_code = {c.parcel.code: c for c in parcels}
    assert (by_code["T-BA-1"].before_year, by_code["T-BA-1"].after_year) == (2021, 2023)
    assert by_code["T-BA-3"].after is None
    (town,) = towns
    assert (town.parcels, town.area_mu) == (2, Decimal(40))
    assert town.mean("before", "output_per_mu") == Decimal("55.00")
    assert town.mean("after", "output_per_mu") == Decimal("250.00")
    assert town.mean("after", "floor_area_ratio") == Decimal("2.13")
