"""Cadre dispatch: each town's pressure from its open targets, the recommendation by
largest remainder within the minimum and maximum (exactly N, impossible N refused,
each number explained), and the dispatches the city records (city only, audited)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.campaign import dispatch
from gongjian.campaign.choices import Campaign
from gongjian.campaign.models import Cadre
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from tests.campaign.test_commitments import AUDITOR, CITY, clear, commit, town_actor, town_of

D = Decimal
AS_OF = dt.date(2023, 6, 30)


def pressured(session: Session) -> None:
    """石岐 and 东区 promised 100 and 300 mu for 2023 (the city 400); 石岐 cleared 25 and
    promised 10 km of sewer (the city's only sewer target), none laid; 东区 weighs 2."""
    commit(session, "石岐", {"renewal.cleared_mu": "100"})
    commit(session, "石岐", {"water.sewer_km": "10"}, campaign=Campaign.water)
    commit(session, "东区", {"renewal.cleared_mu": "300"})
    clear(session, "石岐", "25", dt.date(2023, 3, 1))
    town_of(session, "东区").pressure_weight = D(2)
    session.flush()


def by_name(found: dispatch.Recommendation) -> dict[str, dispatch.TownRecommendation]:
    return {row.town.name: row for row in found.towns}


def test_pressure_is_the_open_share_times_the_size_weight(session: Session) -> None:
    pressured(session)
    towns = {
        p.town.name: p
        for p in dispatch.town_pressures(session, actor=AUDITOR, year=2023, as_of=AS_OF)
    }
    shiqi = towns["石岐"]
    assert [(t.indicator, t.open_share, t.size_weight) for t in shiqi.terms] == [
        ("renewal.cleared_mu", Fraction(3, 4), Fraction(1, 4)),  # 75 of 100 open; 100 of 400
        ("water.sewer_km", Fraction(1), Fraction(1)),
    ]
    assert shiqi.pressure == Fraction(19, 16)
    dongqu = towns["东区"]
    assert dongqu.raw == Fraction(3, 4)  # all 300 open, 300 of 400
    assert dongqu.pressure == Fraction(3, 2)  # × its weight 2
    assert towns["西区"].pressure == 0
    assert len(towns) == 23


def test_the_recommendation_by_largest_remainder(session: Session) -> None:
    pressured(session)
    found = dispatch.recommend(
        session, actor=AUDITOR, cadres=34, minimum=1, maximum=20, year=2023, as_of=AS_OF
    )
    assert sum(row.cadres for row in found.towns) == 34
    towns = by_name(found)
    # 11 above the minimums: 石岐 11 × 19/43 = 4.86, 东区 11 × 24/43 = 6.14; floors 4 and
    # 6, and the one seat left to 石岐's larger remainder.
    assert towns["石岐"].allotment.quota == Fraction(209, 43)
    assert (towns["石岐"].allotment.floor, towns["石岐"].allotment.extra) == (4, 1)
    assert (towns["石岐"].cadres, towns["东区"].cadres) == (6, 7)
    assert all(row.cadres == 1 for name, row in towns.items() if name not in ("石岐", "东区"))
    assert [row.town.name for row in found.towns[:2]] == ["东区", "石岐"]
    for number in ("4.8605", "取整 4", "余数 0.8605", "多分 1 人", "共 6 人"):
        assert number in towns["石岐"].explanation


def test_a_binding_maximum_passes_the_rest_on(session: Session) -> None:
    pressured(session)
    found = dispatch.recommend(
        session, actor=AUDITOR, cadres=34, minimum=1, maximum=5, year=2023, as_of=AS_OF
    )
    towns = by_name(found)
    assert sum(row.cadres for row in found.towns) == 34
    assert (towns["石岐"].cadres, towns["东区"].cadres) == (5, 5)
    assert towns["石岐"].allotment.capped
    assert "取上限 5 人" in towns["石岐"].explanation
    # 3 seats left among 21 towns without pressure: equal shares, tied: the smallest codes.
    extra = sorted(row.town.code for row in found.towns if row.cadres == 2)
    assert extra == ["442000003", "442000004", "442000005"]


@pytest.mark.parametrize(
    ("cadres", "minimum", "maximum", "needle"),
    [(45, 2, 20, "少于各方下限之和 46"), (461, 2, 20, "多于各方上限之和 460"), (50, 5, 3, "下限")],
)
def test_an_impossible_number_is_refused_saying_why(
    session: Session, cadres: int, minimum: int, maximum: int, needle: str
) -> None:
    with pytest.raises(Invalid) as refused:
        dispatch.recommend(
            session, actor=AUDITOR, cadres=cadres, minimum=minimum, maximum=maximum, year=2023
        )
    assert needle in str(refused.value)


@pytest.mark.parametrize(("cadres", "minimum", "maximum"), [(200, 2, 20), (46, 2, 20), (60, 0, 3)])
def test_the_demo_city_gets_exactly_n(
    demo_session: Session, cadres: int, minimum: int, maximum: int
) -> None:
    found = dispatch.recommend(
        demo_session,
        actor=AUDITOR,
        cadres=cadres,
        minimum=minimum,
        maximum=maximum,
        year=2023,
        as_of=dt.date(2023, 1, 31),
    )
    assert sum(row.cadres for row in found.towns) == cadres
    assert all(minimum <= row.cadres <= maximum for row in found.towns)
    assert len(found.towns) == 23
    pressures = [row.pressure.pressure for row in found.towns]
    assert max(pressures) > 0


def test_the_public_gets_no_recommendation(session: Session) -> None:
    with pytest.raises(Forbidden):
        dispatch.recommend(session, actor=Actor.public(), cadres=46, year=2023)


def cadre(session: Session, code: str = "T-GB01") -> Cadre:
    found = Cadre(code=code, name="王五", employer="市住建局", position="科长")
    session.add(found)
    session.flush()
    return found


def test_the_city_records_dispatches_and_they_are_audited(session: Session) -> None:
    cadre(session)
    cadre(session, "T-GB02")
    first = dispatch.record_dispatch(
        session,
        actor=CITY,
        cadre="T-GB01",
        town="石岐",
        from_on=dt.date(2023, 3, 1),
        to_on=dt.date(2023, 8, 31),
        role="驻镇工作组组长",
    )
    assert (first.cadre, first.town, first.role) == ("T-GB01", "石岐", "驻镇工作组组长")
    dispatch.record_dispatch(
        session, actor=CITY, cadre="T-GB01", town="东区", from_on=dt.date(2023, 9, 1), role="组员"
    )
    dispatch.record_dispatch(
        session, actor=CITY, cadre="T-GB02", town="石岐", from_on=dt.date(2023, 5, 1), role="组员"
    )
    [entry, *_] = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "dispatch").order_by(AuditEntry.seq)
    )
    assert (entry.action, entry.record_id, entry.town_id) == (
        "add",
        "T-GB01",
        town_of(session, "石岐").id,
    )
    shiqi = town_of(session, "石岐").id
    listed = dispatch.list_dispatches(session, actor=AUDITOR, town_id=shiqi)
    assert [(d.cadre, d.from_on) for d in listed] == [
        ("T-GB01", dt.date(2023, 3, 1)),
        ("T-GB02", dt.date(2023, 5, 1)),
    ]
    on_day = dispatch.list_dispatches(session, actor=AUDITOR, active_on=dt.date(2023, 10, 1))
    assert [(d.cadre, d.town) for d in on_day] == [("T-GB02", "石岐"), ("T-GB01", "东区")]


def test_a_dispatch_is_checked(session: Session) -> None:
    cadre(session)
    dispatch.record_dispatch(
        session, actor=CITY, cadre="T-GB01", town="石岐", from_on=dt.date(2023, 3, 1), role="组长"
    )
    with pytest.raises(Conflict, match="石岐"):
        dispatch.record_dispatch(
            session,
            actor=CITY,
            cadre="T-GB01",
            town="东区",
            from_on=dt.date(2024, 1, 1),
            role="组员",
        )
    with pytest.raises(Invalid) as refused:
        dispatch.record_dispatch(
            session,
            actor=CITY,
            cadre="T-GB01",
            town="东区",
            from_on=dt.date(2022, 3, 1),
            to_on=dt.date(2022, 2, 1),
            role=" ",
        )
    assert {p.column for p in refused.value.problems} == {"to_on", "role"}
    with pytest.raises(NotFound, match="T-NONE"):
        dispatch.record_dispatch(
            session,
            actor=CITY,
            cadre="T-NONE",
            town="石岐",
            from_on=dt.date(2023, 1, 1),
            role="组员",
        )


@pytest.mark.parametrize("who", ["own town", "auditor"])
def test_only_the_city_records_dispatches(session: Session, who: str) -> None:
    cadre(session)
    shiqi = town_of(session, "石岐")
    actor = town_actor(shiqi) if who == "own town" else AUDITOR
    with pytest.raises(Forbidden, match="市攻坚办"):
        dispatch.record_dispatch(
            session,
            actor=actor,
            cadre="T-GB01",
            town="石岐",
            from_on=dt.date(2023, 3, 1),
            role="组长",
        )
    refused = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "dispatch", AuditEntry.outcome == "refused")
    ).all()
    assert refused[-1].actor == actor.username
    assert dispatch.list_dispatches(session, actor=town_actor(shiqi)) == []
