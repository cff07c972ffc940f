"""Leases and sublandlords (二房东): the pure rules (markup, chains, medians, quarters),
the lease service's checks (same parcel, area, loops, town scope), the markup flags
and the towns' quarterly rent index."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from gongjian.renewal.leases import (
    add_lease,
    get_lease,
    list_leases,
    sublease_flags,
    town_rent_index,
    update_lease,
)
from gongjian.renewal.models import Lease
from gongjian.renewal.rent_rules import (
    ChainCycle,
    Quarter,
    chain_to_original,
    change_pct,
    cycle_if_parent,
    exceeds_by_more_than,
    in_force,
    median,
    parse_quarter,
    quarter_of,
    quarters_between,
    rent_index,
)
from tests.renewal import helpers
from tests.renewal.helpers import town_actor, town_of

CITY = Actor(username="city-leases", role=Role.city)
D = Decimal
Q = Quarter
make_parcel = partial(helpers.make_parcel, town="板芙")
"""A parcel of 板芙 unless told otherwise."""


def lease(
    session: Session,
    code: str,
    rent: str,
    *,
    parcel: str | None = None,
    parent: str | None = None,
    area: str = "1000",
    start: dt.date = dt.date(2022, 1, 1),
    end: dt.date | None = None,
    actor: Actor = CITY,
) -> None:
    """Add a lease (or a sublease of ``parent``) through the service."""
    add_lease(
        session,
        actor=actor,
        code=code,
        lessor=f"{code}出租方",
        lessee=f"{code}承租方",
        area_m2=D(area),
        rent_yuan_m2_month=D(rent),
        start_on=start,
        end_on=end,
        parcel=parcel,
        parent=parent,
    )


# --- pure rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "parent", "flagged"),
    [
        ("13.00", "10.00", False),
        ("13.01", "10.00", True),
        ("43.32", "33.33", False),
        ("43.33", "33.33", True),
        ("9.00", "10.00", False),
    ],
)
def test_markup_is_compared_exactly(child: str, parent: str, flagged: bool) -> None:
    assert exceeds_by_more_than(D(child), D(parent), D(30)) is flagged


def test_a_markup_just_over_the_bound_never_shows_as_the_bound() -> None:
    assert change_pct(D("13.00"), D("10.00")) == D("30.00")
    assert change_pct(D("43.33"), D("33.33")) == D("30.01")
    assert change_pct(D("9.00"), D("10.00")) == D("-10.00")
    with pytest.raises(ValueError, match="positive"):
        change_pct(D(1), D(0))


def test_chains_are_walked_to_the_original() -> None:
    parents: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 9}
    assert chain_to_original(3, parents) == [1, 2, 3]
    assert chain_to_original(1, parents) == [1]
    assert chain_to_original(4, parents) == [9, 4]
    with pytest.raises(ChainCycle) as loop:
        chain_to_original(5, {5: 6, 6: 7, 7: 6})
    assert loop.value.ids == [6, 7, 6]


def test_a_parent_that_closes_a_loop_is_found() -> None:
    parents: dict[int, int | None] = {1: None, 2: 1, 3: 2}
    assert cycle_if_parent(1, 3, parents) == [1, 3, 2, 1]
    assert cycle_if_parent(2, 2, parents) == [2, 2]
    assert cycle_if_parent(3, 1, parents) is None
    assert cycle_if_parent(4, 3, parents) is None


def test_median_of_odd_and_even_counts() -> None:
    assert median([D("30"), D("10"), D("20")]) == D("20")
    assert median([D("10.01"), D("10.02")]) == D("10.015")
    assert median([D("40"), D("10"), D("30"), D("20")]) == D("25")
    assert median([D("7.50")]) == D("7.50")
    assert median([]) is None


def test_quarter_arithmetic() -> None:
    q4 = Q(2022, 4)
    assert (q4.label, q4.start, q4.end) == ("2022-Q4", dt.date(2022, 10, 1), dt.date(2022, 12, 31))
    assert q4.following() == Q(2023, 1)
    assert Q(2023, 1).previous() == q4
    assert Q(2023, 1).end == dt.date(2023, 3, 31)
    assert Q(2024, 1).end == dt.date(2024, 3, 31)
    assert Q(2023, 2).year_before() == Q(2022, 2)
    assert quarter_of(dt.date(2023, 4, 1)) == Q(2023, 2)
    assert quarter_of(dt.date(2023, 3, 31)) == Q(2023, 1)
    assert quarters_between(Q(2022, 3), Q(2023, 2)) == [
        Q(2022, 3),
        Q(2022, 4),
        Q(2023, 1),
        Q(2023, 2),
    ]
    assert quarters_between(Q(2023, 2), Q(2023, 1)) == []
    for text, expected in (
        ("2023-Q1", Q(2023, 1)),
        ("2023q4", Q(2023, 4)),
        ("2023-05-20", Q(2023, 2)),
    ):
        assert parse_quarter(text) == expected
    for wrong in ("2023-Q5", "0000-Q1", "9999-Q4", "2023", "later"):
        with pytest.raises(Invalid) as bad:
            parse_quarter(wrong, field="from")
        assert bad.value.problems[0].column == "from"


def test_in_force_on_any_day_of_the_span() -> None:
    first, last = dt.date(2023, 1, 1), dt.date(2023, 3, 31)
    assert in_force(dt.date(2020, 1, 1), None, first, last)
    assert in_force(dt.date(2020, 1, 1), first, first, last)
    assert in_force(last, None, first, last)
    assert not in_force(dt.date(2020, 1, 1), dt.date(2022, 12, 31), first, last)
    assert not in_force(dt.date(2023, 4, 1), None, first, last)


def test_rent_index_flags_a_rise_above_the_bound_only() -> None:
    rents = {
        Q(2022, 1): [D("10"), D("20"), D("30")],
        Q(2022, 2): [D("20")],
        Q(2023, 1): [D("21"), D("23")],
        Q(2023, 2): [D("22.01")],
    }
    rows = rent_index(rents, [Q(2022, 4), Q(2023, 1), Q(2023, 2)], D(10))
    assert [
        (r.quarter, r.leases, r.median, r.year_before, r.rise_pct, r.flagged) for r in rows
    ] == [
        (Q(2022, 4), 0, None, None, None, False),
        (Q(2023, 1), 2, D("22"), D("20"), D("10.00"), False),
        (Q(2023, 2), 1, D("22.01"), D("20"), D("10.05"), True),
    ]


# --- leases through the service -----------------------------------------------------


def test_a_sublease_at_exactly_the_markup_is_not_flagged_just_above_it_is(
    session: Session,
) -> None:
    make_parcel(session, "LS-MARK")
    lease(session, "LS-M0", "10.00", parcel="LS-MARK")
    lease(session, "LS-M1", "13.00", parent="LS-M0")
    lease(session, "LS-M2", "13.01", parent="LS-M0")
    flags = sublease_flags(session, actor=CITY, town="板芙")
    assert [f.code for f in flags] == ["LS-M2"]
    (flag,) = flags
    assert (flag.parent, flag.parent_rent, flag.rent_yuan_m2_month, flag.markup_pct) == (
        "LS-M0",
        D("10.00"),
        D("13.01"),
        D("30.10"),
    )
    assert flag.over_parent
    assert not flag.over_original
    assert (flag.chain, flag.original, flag.lessor) == (["LS-M0", "LS-M2"], "LS-M0", "LS-M2出租方")
    assert [f.code for f in sublease_flags(session, actor=CITY, markup_pct=D(31))] == []


def test_three_levels_find_the_original_and_the_total_markup(session: Session) -> None:
    make_parcel(session, "LS-CHAIN")
    lease(session, "LS-C0", "10.00", parcel="LS-CHAIN", area="3000")
    lease(session, "LS-C1", "12.00", parent="LS-C0", area="2000")
    lease(session, "LS-C2", "14.40", parent="LS-C1", area="500")
    found = get_lease(session, actor=CITY, code="LS-C2")
    assert [link.code for link in found.chain] == ["LS-C0", "LS-C1", "LS-C2"]
    assert [link.markup_pct for link in found.chain] == [None, D("20.00"), D("20.00")]
    assert (found.original, found.original_rent, found.total_markup_pct) == (
        "LS-C0",
        D("10.00"),
        D("44.00"),
    )
    assert (found.parcel, found.parent) == ("LS-CHAIN", "LS-C1")
    top = get_lease(session, actor=CITY, code="LS-C0")
    assert (top.subleases, top.total_markup_pct, len(top.chain)) == (["LS-C1"], D(0), 1)
    (flag,) = sublease_flags(session, actor=CITY, town="板芙")
    assert (flag.code, flag.over_parent, flag.over_original) == ("LS-C2", False, True)
    assert (flag.chain, flag.total_markup_pct) == (["LS-C0", "LS-C1", "LS-C2"], D("44.00"))


def test_a_parent_that_would_close_a_loop_is_refused(session: Session) -> None:
    make_parcel(session, "LS-LOOP")
    lease(session, "LS-L0", "10.00", parcel="LS-LOOP")
    lease(session, "LS-L1", "11.00", parent="LS-L0")
    lease(session, "LS-L2", "12.00", parent="LS-L1")
    with pytest.raises(Invalid) as loop:
        update_lease(session, actor=CITY, code="LS-L0", changes={"parent": "LS-L2"})
    assert "LS-L0 → LS-L2 → LS-L1 → LS-L0" in str(loop.value)
    assert loop.value.problems[0].column == "parent"
    with pytest.raises(Invalid, match="LS-L1 → LS-L1"):
        update_lease(session, actor=CITY, code="LS-L1", changes={"parent": "LS-L1"})
    stored = session.scalars(select(Lease).where(Lease.code == "LS-L0")).one()
    assert stored.parent_lease_id is None
    assert get_lease(session, actor=CITY, code="LS-L2").original == "LS-L0"


def test_a_sublease_lies_on_its_parents_parcel_within_its_area(session: Session) -> None:
    make_parcel(session, "LS-SAME")
    make_parcel(session, "LS-OTHER")
    lease(session, "LS-S0", "10.00", parcel="LS-SAME", area="800")
    with pytest.raises(Invalid) as elsewhere:
        lease(session, "LS-S1", "11.00", parcel="LS-OTHER", parent="LS-S0")
    assert "同一地块（LS-SAME）" in str(elsewhere.value)
    with pytest.raises(Invalid) as larger:
        lease(session, "LS-S2", "11.001", parent="LS-S0", area="800.01")
    assert "800.01 m² 超过上级租赁“LS-S0”的面积 800.00 m²" in str(larger.value)
    assert {p.column for p in larger.value.problems} == {"area_m2", "rent_yuan_m2_month"}
    lease(session, "LS-S3", "11.00", parent="LS-S0", area="800")
    assert get_lease(session, actor=CITY, code="LS-S3").parcel == "LS-SAME"
    with pytest.raises(Invalid, match=re.escape("不能小于其转租“LS-S3”的面积 800.00 m²")):
        update_lease(session, actor=CITY, code="LS-S0", changes={"area_m2": D("799")})
    with pytest.raises(Invalid, match="不能改到其他地块"):
        update_lease(session, actor=CITY, code="LS-S0", changes={"parcel": "LS-OTHER"})
    codes = session.scalars(select(Lease.code).where(Lease.code.like("LS-S%"))).all()
    assert sorted(codes) == ["LS-S0", "LS-S3"]


def test_bad_input_names_every_field_and_writes_nothing(session: Session) -> None:
    make_parcel(session, "LS-BAD")
    with pytest.raises(Invalid) as bad:
        add_lease(
            session,
            actor=CITY,
            code="LS-B0",
            lessor=" ",
            lessee="乙",
            area_m2=D("-1"),
            rent_yuan_m2_month=D("12.345"),
            start_on=dt.date(2023, 1, 1),
            end_on=dt.date(2022, 12, 31),
            parcel="LS-BAD",
        )
    assert {p.column for p in bad.value.problems} == {
        "lessor",
        "area_m2",
        "rent_yuan_m2_month",
        "end_on",
    }
    with pytest.raises(Invalid) as missing:
        lease(session, "LS-B1", "10", parcel="LS-NONE")
    assert missing.value.problems[0].column == "parcel"
    with pytest.raises(Invalid) as no_parent:
        lease(session, "LS-B2", "10", parent="LS-NONE")
    assert no_parent.value.problems[0].column == "parent"
    with pytest.raises(Invalid, match="地块"):
        lease(session, "LS-B3", "10")
    with pytest.raises(Invalid, match="租金（元/m²/月）必须大于 0"):
        lease(session, "LS-B4", "0", parcel="LS-BAD")
    assert session.scalars(select(Lease).where(Lease.code.like("LS-B%"))).all() == []
    lease(session, "LS-B5", "10", parcel="LS-BAD")
    with pytest.raises(Conflict, match="已存在"):
        lease(session, "LS-B5", "10", parcel="LS-BAD")


def test_towns_write_leases_on_their_own_parcels_only(session: Session) -> None:
    make_parcel(session, "LS-TOWN", town="神湾")
    lease(session, "LS-T0", "10.00", parcel="LS-TOWN")
    session.commit()
    owner = town_actor(town_of(session, "神湾"))
    intruder = town_actor(town_of(session, "坦洲"))
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        lease(session, "LS-T1", "11.00", parent="LS-T0", actor=intruder)
    with pytest.raises(Forbidden):
        update_lease(session, actor=intruder, code="LS-T0", changes={"rent_yuan_m2_month": D(9)})
    refusals = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.actor == intruder.username, AuditEntry.outcome == "refused")
        .order_by(AuditEntry.seq)
    ).all()
    assert [(e.action, e.resource, e.record_id) for e in refusals] == [
        ("add", "lease", "LS-T1"),
        ("change", "lease", "LS-T0"),
    ]
    lease(session, "LS-T1", "11.00", parent="LS-T0", actor=owner)
    changed = update_lease(
        session, actor=owner, code="LS-T1", changes={"rent_yuan_m2_month": D("12.50")}
    )
    assert changed.rent_yuan_m2_month == D("12.50")
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.record_id == "LS-T1",
            AuditEntry.action == "change",
            AuditEntry.outcome == "ok",
        )
    ).one()
    assert entry.before is not None
    assert entry.after is not None
    assert json.loads(entry.before)["rent_yuan_m2_month"] == "11.00"
    assert json.loads(entry.after)["rent_yuan_m2_month"] == "12.50"
    total, rows = list_leases(session, actor=intruder, town="神湾")
    assert (total, [r.code for r in rows]) == (2, ["LS-T0", "LS-T1"])
    total, rows = list_leases(session, actor=intruder, town="神湾", subleases=True)
    assert [r.code for r in rows] == ["LS-T1"]
    with pytest.raises(Forbidden):
        list_leases(session, actor=Actor.public())
    with pytest.raises(NotFound):
        get_lease(session, actor=owner, code="LS-NONE")
    with pytest.raises(NotFound, match="LS-NONE"):
        list_leases(session, actor=owner, parcel="LS-NONE")


def test_making_a_sublease_an_original_lease(session: Session) -> None:
    make_parcel(session, "LS-FREE")
    lease(session, "LS-F0", "10.00", parcel="LS-FREE")
    lease(session, "LS-F1", "20.00", parent="LS-F0")
    assert [f.code for f in sublease_flags(session, actor=CITY, town="板芙")] == ["LS-F1"]
    update_lease(session, actor=CITY, code="LS-F1", changes={"parent": None})
    assert sublease_flags(session, actor=CITY, town="板芙") == []
    assert get_lease(session, actor=CITY, code="LS-F1").chain[0].code == "LS-F1"


# --- the rent index -------------------------------------------------------------------


def _index_leases(session: Session) -> None:
    make_parcel(session, "LS-IDX", town="三乡")
    for code, rent, start, end in (
        ("LS-I1", "10", dt.date(2022, 1, 1), dt.date(2022, 6, 30)),
        ("LS-I2", "20", dt.date(2022, 1, 1), dt.date(2022, 6, 30)),
        ("LS-I3", "30", dt.date(2022, 1, 1), dt.date(2022, 6, 30)),
        ("LS-I4", "21", dt.date(2023, 1, 1), dt.date(2023, 3, 31)),
        ("LS-I5", "23", dt.date(2023, 3, 31), dt.date(2023, 3, 31)),
        ("LS-I6", "22.01", dt.date(2023, 4, 1), dt.date(2023, 6, 30)),
    ):
        lease(session, code, rent, parcel="LS-IDX", start=start, end=end)


def test_rent_index_medians_empty_quarters_and_the_year_on_year_flag(session: Session) -> None:
    _index_leases(session)
    rows = town_rent_index(
        session, actor=CITY, town="三乡", first=Q(2022, 2), last=Q(2023, 2), rise_pct=D(10)
    )
    assert [
        (r.town, r.quarter, r.leases, r.median_rent, r.year_before, r.rise_pct, r.flagged)
        for r in rows
    ] == [
        ("三乡", "2022-Q2", 3, D("20"), None, None, False),
        ("三乡", "2022-Q3", 0, None, None, None, False),
        ("三乡", "2022-Q4", 0, None, None, None, False),
        ("三乡", "2023-Q1", 2, D("22"), D("20"), D("10.00"), False),
        ("三乡", "2023-Q2", 1, D("22.01"), D("20"), D("10.05"), True),
    ]
    every_town = town_rent_index(session, actor=CITY, first=Q(2023, 1), last=Q(2023, 2))
    assert {r.town for r in every_town} == {"三乡"}


def test_rent_index_with_or_without_subleases(session: Session) -> None:
    make_parcel(session, "LS-SUB", town="港口")
    lease(session, "LS-U0", "10", parcel="LS-SUB", start=dt.date(2023, 1, 1))
    lease(session, "LS-U1", "30", parent="LS-U0", start=dt.date(2023, 2, 1))
    kwargs = {"actor": CITY, "town": "港口", "first": Q(2023, 1), "last": Q(2023, 1)}
    (both,) = town_rent_index(session, **kwargs)  # type: ignore[arg-type]
    (originals,) = town_rent_index(session, subleases=False, **kwargs)  # type: ignore[arg-type]
    assert (both.leases, both.median_rent) == (2, D("20"))
    assert (originals.leases, originals.median_rent) == (1, D("10"))


def test_rent_index_refuses_a_reversed_span(session: Session) -> None:
    with pytest.raises(Invalid) as bad:
        town_rent_index(session, actor=CITY, first=Q(2023, 2), last=Q(2023, 1))
    assert bad.value.problems[0].column == "from"
    with pytest.raises(Invalid, match="跨度过长"):
        town_rent_index(session, actor=CITY, first=Q(1990, 1), last=Q(2023, 1))
    with pytest.raises(NotFound, match="东升"):
        town_rent_index(session, actor=CITY, town="东升")
