"""The land-reserve ledger (挂账收储 / 供地出库): reserved once, never released beyond
what was reserved, dated sensibly, the balance per parcel, town and city as of a day,
one permission check per entry and an audit entry for each."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from gongjian.periods import today
from gongjian.renewal.choices import ReserveEntryKind
from gongjian.renewal.models import Parcel, ReserveEntry
from gongjian.renewal.reserve import (
    balance,
    list_entries,
    release,
    release_value,
    reserve_on_account,
)
from tests.renewal import helpers
from tests.renewal.helpers import town_actor, town_of

CITY = Actor(username="city-reserve", role=Role.city)
D = Decimal
RESERVED_ON = dt.date(2022, 5, 10)
make_parcel = partial(helpers.make_parcel, town="黄圃")
"""A parcel of 黄圃 unless told otherwise."""


def reserve(
    session: Session,
    parcel: str,
    area: str,
    value: str,
    on: dt.date = RESERVED_ON,
    actor: Actor = CITY,
) -> None:
    """Reserve ``area`` mu of ``parcel`` at ``value`` 万元."""
    reserve_on_account(
        session,
        actor=actor,
        parcel=parcel,
        area_mu=D(area),
        valuation_wan=D(value),
        entry_on=on,
        funding_source="土地储备专项债",
    )


def take_out(session: Session, parcel: str, area: str, on: dt.date, actor: Actor = CITY) -> None:
    """Release ``area`` mu of ``parcel``."""
    release(session, actor=actor, parcel=parcel, area_mu=D(area), entry_on=on)


def _entries(session: Session, parcel: Parcel) -> list[ReserveEntry]:
    return list(
        session.scalars(
            select(ReserveEntry)
            .where(ReserveEntry.parcel_id == parcel.id)
            .order_by(ReserveEntry.id)
        )
    )


def test_a_parcel_is_reserved_once(session: Session) -> None:
    parcel = make_parcel(session, "RS-ONCE")
    reserve(session, "RS-ONCE", "12.50", "1500.00")
    with pytest.raises(Conflict) as twice:
        reserve(session, "RS-ONCE", "1.00", "10.00", on=dt.date(2022, 6, 1))
    assert twice.value.message == (
        "地块“RS-ONCE”已于 2022-05-10 挂账收储 12.50 亩（估值 1500.00 万元），不能重复收储"
    )
    assert [(e.kind, e.area_mu) for e in _entries(session, parcel)] == [
        (ReserveEntryKind.reserve_on_account, D("12.50"))
    ]


def _flush_in_savepoint(session: Session, entry: ReserveEntry) -> None:
    with session.begin_nested():
        session.add(entry)
        session.flush()


def test_the_partial_unique_index_stands_behind_the_check(session: Session) -> None:
    parcel = make_parcel(session, "RS-INDEX")
    reserve(session, "RS-INDEX", "5", "50")

    def entry(kind: ReserveEntryKind, valuation_wan: str) -> ReserveEntry:
        """An entry of 1 mu written straight to the table, past the service's checks."""
        return ReserveEntry(
            parcel_id=parcel.id,
            town_id=parcel.town_id,
            kind=kind,
            area_mu=D(1),
            valuation_wan=D(valuation_wan),
            entry_on=RESERVED_ON,
        )

    with pytest.raises(IntegrityError):
        _flush_in_savepoint(session, entry(ReserveEntryKind.reserve_on_account, "1"))
    session.add(entry(ReserveEntryKind.release, "10"))
    session.flush()


def test_a_reserve_is_checked_before_anything_is_written(session: Session) -> None:
    parcel = make_parcel(session, "RS-CHECK", area_mu="10.00")
    with pytest.raises(Invalid) as larger:
        reserve(session, "RS-CHECK", "10.01", "100")
    assert "收储面积 10.01 亩超过地块面积 10.00 亩" in str(larger.value)
    assert larger.value.problems[0].column == "area_mu"
    with pytest.raises(Invalid) as bad:
        reserve_on_account(
            session,
            actor=CITY,
            parcel="RS-CHECK",
            area_mu=D(0),
            valuation_wan=D("10.001"),
            entry_on=today() + dt.timedelta(days=1),
            funding_source="x" * 81,
        )
    assert {p.column for p in bad.value.problems} == {
        "area_mu",
        "valuation_wan",
        "entry_on",
        "funding_source",
    }
    with pytest.raises(Invalid, match="不能为负数"):
        reserve(session, "RS-CHECK", "1", "-1")
    with pytest.raises(NotFound, match="RS-NONE"):
        reserve(session, "RS-NONE", "1", "1")
    assert _entries(session, parcel) == []
    reserve(session, "RS-CHECK", "10.00", "0", on=today())
    assert len(_entries(session, parcel)) == 1


def test_releases_never_exceed_what_was_reserved(session: Session) -> None:
    parcel = make_parcel(session, "RS-OUT")
    reserve(session, "RS-OUT", "10.00", "1000.00")
    take_out(session, "RS-OUT", "6.00", dt.date(2022, 8, 1))
    with pytest.raises(Invalid) as beyond:
        take_out(session, "RS-OUT", "5.00", dt.date(2022, 9, 1))
    assert "出库面积超过收储面积：收储 10.00 亩，已出库 6.00 亩，本次 5.00 亩，超出 1.00 亩" in str(
        beyond.value
    )
    assert beyond.value.problems[0].column == "area_mu"
    take_out(session, "RS-OUT", "4.00", dt.date(2022, 9, 1))
    with pytest.raises(Invalid, match=re.escape("超出 0.01 亩")):
        take_out(session, "RS-OUT", "0.01", dt.date(2022, 9, 2))
    assert [e.area_mu for e in _entries(session, parcel)] == [D("10.00"), D("6.00"), D("4.00")]


def test_a_release_is_dated_after_its_reserve_and_not_in_the_future(session: Session) -> None:
    make_parcel(session, "RS-DATE")
    with pytest.raises(Conflict, match="没有挂账收储"):
        take_out(session, "RS-DATE", "1", dt.date(2022, 8, 1))
    reserve(session, "RS-DATE", "5", "50")
    with pytest.raises(Invalid) as early:
        take_out(session, "RS-DATE", "1", RESERVED_ON - dt.timedelta(days=1))
    assert "不能早于挂账收储日期（2022-05-10）" in str(early.value)
    with pytest.raises(Invalid) as future:
        take_out(session, "RS-DATE", "1", today() + dt.timedelta(days=1))
    assert future.value.problems[0].column == "entry_on"
    take_out(session, "RS-DATE", "1", RESERVED_ON)


def test_book_value_follows_the_area_and_empties_to_zero(session: Session) -> None:
    assert release_value(D(3), D(100), D(0), D(0), D(1)) == D("33.33")
    assert release_value(D(3), D(100), D(2), D("66.66"), D(1)) == D("33.34")
    assert release_value(D(8), D("0.05"), D(0), D(0), D(1)) == D("0.01")
    make_parcel(session, "RS-BOOK")
    reserve(session, "RS-BOOK", "3.00", "100.00")
    for day in (1, 2, 3):
        take_out(session, "RS-BOOK", "1.00", dt.date(2022, 7, day))
    total, rows = list_entries(session, actor=CITY, parcel="RS-BOOK", kind=ReserveEntryKind.release)
    assert (total, [r.valuation_wan for r in rows]) == (3, [D("33.33"), D("33.33"), D("33.34")])
    found = balance(session, actor=CITY, as_of=dt.date(2022, 7, 3), parcel="RS-BOOK")
    (row,) = found.parcels
    assert (row.reserved_mu, row.released_mu, row.area_mu, row.valuation_wan) == (
        D("3.00"),
        D("3.00"),
        D("0.00"),
        D("0.00"),
    )


def test_balance_per_parcel_town_and_city_as_of_a_day(session: Session) -> None:
    make_parcel(session, "RS-B1", town="黄圃")
    make_parcel(session, "RS-B2", town="黄圃")
    make_parcel(session, "RS-B3", town="南头")
    reserve(session, "RS-B1", "10.00", "800.00", on=dt.date(2022, 3, 1))
    reserve(session, "RS-B2", "4.50", "300.00", on=dt.date(2022, 4, 1))
    reserve(session, "RS-B3", "8.00", "1000.00", on=dt.date(2022, 4, 15))
    take_out(session, "RS-B1", "2.50", dt.date(2022, 6, 30))
    take_out(session, "RS-B3", "8.00", dt.date(2022, 7, 1))

    march = balance(session, actor=CITY, as_of=dt.date(2022, 3, 31))
    assert (march.area_mu, march.valuation_wan) == (D("10.00"), D("800.00"))
    assert [(t.town, t.area_mu) for t in march.towns] == [("黄圃", D("10.00"))]

    june = balance(session, actor=CITY, as_of=dt.date(2022, 6, 30))
    assert (june.scope, june.reserved_mu, june.released_mu, june.area_mu) == (
        "city",
        D("22.50"),
        D("2.50"),
        D("20.00"),
    )
    assert june.valuation_wan == D("800.00") - D("200.00") + D("300.00") + D("1000.00")
    assert [(t.town, t.parcels, t.area_mu, t.valuation_wan) for t in june.towns] == [
        ("黄圃", 2, D("12.00"), D("900.00")),
        ("南头", 1, D("8.00"), D("1000.00")),
    ]
    assert [(p.parcel, p.area_mu) for p in june.parcels] == [
        ("RS-B1", D("7.50")),
        ("RS-B2", D("4.50")),
        ("RS-B3", D("8.00")),
    ]

    july = balance(session, actor=CITY, as_of=dt.date(2022, 7, 1))
    assert (july.area_mu, july.valuation_wan) == (D("12.00"), D("900.00"))
    assert july.area_mu == sum((t.area_mu for t in july.towns), D(0))
    nantou = balance(session, actor=CITY, as_of=dt.date(2022, 7, 1), town="南头")
    assert (nantou.scope, nantou.area_mu, nantou.released_mu) == ("南头", D("0.00"), D("8.00"))
    before = balance(session, actor=CITY, as_of=dt.date(2022, 1, 1))
    assert (before.area_mu, before.towns, before.parcels) == (D(0), [], [])


def test_a_town_writes_the_ledger_of_its_own_parcels_only(session: Session) -> None:
    make_parcel(session, "RS-TOWN", town="东凤")
    session.commit()
    owner = town_actor(town_of(session, "东凤"))
    intruder = town_actor(town_of(session, "阜沙"))
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        reserve(session, "RS-TOWN", "5", "50", actor=intruder)
    (refusal,) = session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor == intruder.username, AuditEntry.outcome == "refused"
        )
    ).all()
    assert (refusal.action, refusal.resource, refusal.record_id) == (
        "add",
        "reserve_entry",
        "RS-TOWN",
    )
    for outsider in (Actor.public(), Actor(username="audit-reserve", role=Role.auditor)):
        with pytest.raises(Forbidden):
            reserve(session, "RS-TOWN", "5", "50", actor=outsider)
    reserve(session, "RS-TOWN", "5", "50", actor=owner)
    session.commit()
    with pytest.raises(Forbidden):
        take_out(session, "RS-TOWN", "1", dt.date(2022, 8, 1), actor=intruder)
    take_out(session, "RS-TOWN", "1", dt.date(2022, 8, 1), actor=owner)
    written = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.resource == "reserve_entry", AuditEntry.outcome == "ok")
        .order_by(AuditEntry.seq)
    ).all()
    assert [(e.actor, e.record_id) for e in written] == [
        (owner.username, "RS-TOWN"),
        (owner.username, "RS-TOWN"),
    ]
    assert written[1].after is not None
    after = json.loads(written[1].after)
    assert (after["kind"], after["area_mu"], after["valuation_wan"]) == ("release", "1.00", "10.00")
    assert "供地出库" in (written[1].detail or "")
    town_total = balance(session, actor=intruder, as_of=dt.date(2022, 8, 1), town="东凤")
    assert town_total.area_mu == D("4.00")
    assert session.scalar(select(func.count()).select_from(ReserveEntry)) == 2
    with pytest.raises(Forbidden):
        balance(session, actor=Actor.public(), as_of=dt.date(2022, 8, 1))
