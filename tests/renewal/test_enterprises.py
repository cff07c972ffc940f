"""Enterprises (新招引 / 增资扩产) and theme parks (主题产业园): writes through one permission
check with before/after in the audit log, exact 万元, the renewal KPIs moved by exactly
what is signed, and the theme-park summary."""

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
from gongjian.kpi.services import figures_by_town, kpis
from gongjian.periods import today
from gongjian.renewal.choices import EnterpriseKind
from gongjian.renewal.enterprises import (
    add_enterprise,
    add_theme_park,
    get_enterprise,
    get_theme_park,
    list_enterprises,
    list_theme_parks,
    theme_park_summary,
    update_enterprise,
    update_theme_park,
)
from gongjian.renewal.models import Enterprise, ThemePark
from tests.renewal import helpers
from tests.renewal.helpers import town_actor, town_of

CITY = Actor(username="city-enterprises", role=Role.city)
D = Decimal
K = EnterpriseKind
SIGNED_ON = dt.date(2022, 9, 15)
make_parcel = partial(helpers.make_parcel, town="古镇")
"""A parcel of 古镇 unless told otherwise."""


def theme_park(session: Session, code: str) -> ThemePark:
    """A theme park added by the city."""
    return add_theme_park(
        session, actor=CITY, code=code, name=f"{code}主题产业园", theme="高端装备"
    )


def enterprise(
    session: Session,
    code: str,
    kind: EnterpriseKind = K.attracted,
    investment: str = "1000.00",
    *,
    town: str | None = "古镇",
    parcel: str | None = None,
    park: str | None = None,
    signed_on: dt.date | None = SIGNED_ON,
    actor: Actor = CITY,
) -> None:
    """Add an enterprise through the service."""
    add_enterprise(
        session,
        actor=actor,
        code=code,
        name=f"中山市{code}有限公司",
        kind=kind,
        investment_wan=D(investment),
        town=town,
        parcel=parcel,
        theme_park=park,
        agreement_signed_on=signed_on,
        industry="高端装备",
        jobs=120,
    )


def test_adding_reading_and_listing_enterprises(session: Session) -> None:
    theme_park(session, "EN-TP")
    make_parcel(session, "EN-P1", park="EN-TP")
    enterprise(session, "EN-A1", parcel="EN-P1", town=None)
    enterprise(session, "EN-A2", K.expansion, "2500.50", town="小榄", signed_on=None)
    enterprise(session, "EN-A3", K.expansion, "10", town="古镇")
    found = get_enterprise(session, actor=CITY, code="EN-A1")
    assert (found.town, found.parcel, found.theme_park, found.signed) == (
        "古镇",
        "EN-P1",
        "EN-TP",
        True,
    )
    assert found.investment_wan == D("1000.00")

    def codes(**filters: object) -> list[str]:
        _total, rows = list_enterprises(session, actor=CITY, **filters)  # type: ignore[arg-type]
        return [row.code for row in rows if row.code.startswith("EN-")]

    assert codes(town="古镇") == ["EN-A1", "EN-A3"]
    assert codes(kind=K.expansion) == ["EN-A2", "EN-A3"]
    assert codes(signed=False) == ["EN-A2"]
    assert codes(signed=True, kind=K.expansion) == ["EN-A3"]
    assert codes(theme_park="EN-TP") == ["EN-A1"]
    total, rows = list_enterprises(session, actor=CITY, town="古镇", limit=1, offset=1)
    assert (total, [r.code for r in rows]) == (2, ["EN-A3"])
    with pytest.raises(NotFound):
        list_enterprises(session, actor=CITY, theme_park="EN-NONE")
    with pytest.raises(NotFound, match="EN-NONE"):
        get_enterprise(session, actor=CITY, code="EN-NONE")
    with pytest.raises(Forbidden):
        list_enterprises(session, actor=Actor.public())


def test_bad_input_names_every_field_and_writes_nothing(session: Session) -> None:
    make_parcel(session, "EN-BADP", town="古镇")
    with pytest.raises(Invalid) as bad:
        add_enterprise(
            session,
            actor=CITY,
            code="EN-BAD",
            name="",
            kind=K.attracted,
            investment_wan=D("12.345"),
            actual_investment_wan=D("-1"),
            jobs=-3,
            agreement_signed_on=today() + dt.timedelta(days=1),
            town="小榄",
            parcel="EN-BADP",
        )
    assert {p.column for p in bad.value.problems} == {
        "name",
        "investment_wan",
        "actual_investment_wan",
        "jobs",
        "agreement_signed_on",
        "town",
    }
    assert "地块“EN-BADP”属于古镇" in str(bad.value)
    with pytest.raises(Invalid) as unknown:
        enterprise(session, "EN-BAD2", parcel="EN-NONE", park="EN-NONE", town="东升")
    assert {p.column for p in unknown.value.problems} == {"parcel", "theme_park", "town"}
    with pytest.raises(Invalid, match="须指定镇街"):
        enterprise(session, "EN-BAD3", town=None)
    with pytest.raises(Invalid, match="超出范围"):
        enterprise(session, "EN-BAD4", investment="100000000000000")
    with pytest.raises(NotFound):
        update_enterprise(session, actor=CITY, code="EN-NONE", changes={"jobs": 1})
    with pytest.raises(Invalid) as too_many:
        add_enterprise(
            session,
            actor=CITY,
            code="EN-BAD6",
            name="x",
            kind=K.expansion,
            investment_wan=D(1),
            town="古镇",
            jobs=10**12,
        )
    assert [p.column for p in too_many.value.problems] == ["jobs"]
    assert session.scalars(select(Enterprise).where(Enterprise.code.like("EN-BAD%"))).all() == []
    enterprise(session, "EN-BAD5")
    with pytest.raises(Conflict, match="已存在"):
        enterprise(session, "EN-BAD5")


def test_an_enterprise_on_a_theme_park_parcel_lies_in_that_park(session: Session) -> None:
    theme_park(session, "EN-TPA")
    theme_park(session, "EN-TPB")
    make_parcel(session, "EN-PA", park="EN-TPA")
    with pytest.raises(Invalid) as other:
        enterprise(session, "EN-X", parcel="EN-PA", park="EN-TPB")
    assert other.value.problems[0].column == "theme_park"
    enterprise(session, "EN-X", parcel="EN-PA", town=None)
    assert get_enterprise(session, actor=CITY, code="EN-X").theme_park == "EN-TPA"


def test_updates_are_checked_and_audited_with_before_and_after(session: Session) -> None:
    make_parcel(session, "EN-UP", town="横栏")
    enterprise(session, "EN-U1", town="古镇", signed_on=None)
    changed = update_enterprise(
        session,
        actor=CITY,
        code="EN-U1",
        changes={"investment_wan": D("1500.5"), "agreement_signed_on": SIGNED_ON},
    )
    assert (changed.investment_wan, changed.agreement_signed_on) == (D("1500.50"), SIGNED_ON)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.record_id == "EN-U1", AuditEntry.action == "change")
    ).one()
    assert entry.before is not None
    assert entry.after is not None
    before, after = json.loads(entry.before), json.loads(entry.after)
    assert (before["investment_wan"], after["investment_wan"]) == ("1000.00", "1500.50")
    assert (before["agreement_signed_on"], after["agreement_signed_on"]) == (None, "2022-09-15")
    moved = update_enterprise(session, actor=CITY, code="EN-U1", changes={"parcel": "EN-UP"})
    assert (moved.parcel, moved.town) == ("EN-UP", "横栏")
    with pytest.raises(Invalid) as bad:
        update_enterprise(
            session,
            actor=CITY,
            code="EN-U1",
            changes={"town": "古镇", "code": "X", "name": None, "investment_wan": None},
        )
    assert {p.column for p in bad.value.problems} == {"town", "code", "name", "investment_wan"}
    unsigned = update_enterprise(
        session, actor=CITY, code="EN-U1", changes={"agreement_signed_on": None, "parcel": None}
    )
    assert (unsigned.signed, unsigned.parcel, unsigned.town) == (False, None, "横栏")


def test_towns_write_their_own_enterprises_only(session: Session) -> None:
    enterprise(session, "EN-T1", town="大涌")
    session.commit()
    owner = town_actor(town_of(session, "大涌"))
    intruder = town_actor(town_of(session, "沙溪"))
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        update_enterprise(session, actor=intruder, code="EN-T1", changes={"jobs": 5})
    with pytest.raises(Forbidden):
        enterprise(session, "EN-T2", town="大涌", actor=intruder)
    with pytest.raises(Forbidden):
        update_enterprise(session, actor=owner, code="EN-T1", changes={"town": "沙溪"})
    refusals = session.scalars(
        select(AuditEntry).where(AuditEntry.outcome == "refused").order_by(AuditEntry.seq)
    ).all()
    assert [(e.actor, e.action, e.record_id) for e in refusals] == [
        (intruder.username, "change", "EN-T1"),
        (intruder.username, "add", "EN-T2"),
        (owner.username, "change", "EN-T1"),
    ]
    assert update_enterprise(session, actor=owner, code="EN-T1", changes={"jobs": 5}).jobs == 5
    enterprise(session, "EN-T3", town="大涌", actor=owner)
    assert get_enterprise(session, actor=intruder, code="EN-T3").town == "大涌"


def test_a_signed_enterprise_moves_the_kpis_by_exactly_itself(session: Session) -> None:
    town = town_of(session, "三角")
    day_before = SIGNED_ON - dt.timedelta(days=1)
    before = figures_by_town(session, SIGNED_ON)[town.id]
    before_kpi = kpis(session, as_of=SIGNED_ON, town_id=town.id)
    enterprise(session, "EN-K1", K.attracted, "123456.78", town="三角")
    enterprise(session, "EN-K2", K.expansion, "200.00", town="三角")
    enterprise(session, "EN-K3", K.attracted, "999.99", town="三角", signed_on=None)
    after = figures_by_town(session, SIGNED_ON)[town.id]
    assert (after.attracted, after.expansions) == (before.attracted + 1, before.expansions + 1)
    assert after.investment_wan - before.investment_wan == D("123656.78")
    after_kpi = kpis(session, as_of=SIGNED_ON, town_id=town.id)
    assert after_kpi["renewal.attracted"] - before_kpi["renewal.attracted"] == 1
    assert after_kpi["renewal.expansions"] - before_kpi["renewal.expansions"] == 1
    assert after_kpi["renewal.investment_yi"] == before_kpi["renewal.investment_yi"] + 12.37
    assert figures_by_town(session, day_before)[town.id].attracted == before.attracted
    update_enterprise(session, actor=CITY, code="EN-K1", changes={"agreement_signed_on": None})
    assert figures_by_town(session, SIGNED_ON)[town.id].attracted == before.attracted


def test_theme_parks_are_written_by_the_city_only(session: Session) -> None:
    park = add_theme_park(session, actor=CITY, code="EN-TP1", name="精密主题园", theme="精密制造")
    assert (park.code, park.theme) == ("EN-TP1", "精密制造")
    session.commit()
    town_user = town_actor(town_of(session, "古镇"))
    with pytest.raises(Forbidden, match="市攻坚办"):
        add_theme_park(session, actor=town_user, code="EN-TP2", name="x", theme="y")
    with pytest.raises(Forbidden):
        update_theme_park(session, actor=town_user, code="EN-TP1", changes={"theme": "z"})
    with pytest.raises(Conflict):
        add_theme_park(session, actor=CITY, code="EN-TP1", name="另一园", theme="y")
    with pytest.raises(Invalid) as bad:
        add_theme_park(session, actor=CITY, code=" ", name="", theme="y" * 81)
    assert {p.column for p in bad.value.problems} == {"code", "name", "theme"}
    changed = update_theme_park(session, actor=CITY, code="EN-TP1", changes={"theme": "智能装备"})
    assert changed.theme == "智能装备"
    with pytest.raises(Invalid):
        update_theme_park(session, actor=CITY, code="EN-TP1", changes={"code": "X"})
    assert get_theme_park(session, actor=town_user, code="EN-TP1").name == "精密主题园"
    total, rows = list_theme_parks(session, actor=town_user)
    assert "EN-TP1" in [r.code for r in rows]
    assert total == len(rows)
    with pytest.raises(NotFound):
        get_theme_park(session, actor=CITY, code="EN-NONE")
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.resource == "theme_park",
            AuditEntry.action == "change",
            AuditEntry.outcome == "ok",
        )
    ).one()
    assert entry.town_id is None
    assert entry.after is not None
    assert json.loads(entry.after)["theme"] == "智能装备"


def test_theme_park_summary(session: Session) -> None:
    theme_park(session, "EN-SA")
    theme_park(session, "EN-SB")
    make_parcel(session, "EN-S1", area_mu="12.34", park="EN-SA")
    make_parcel(session, "EN-S2", area_mu="0.66", park="EN-SA")
    make_parcel(session, "EN-S3", area_mu="99")
    enterprise(session, "EN-E1", K.attracted, "100.10", park="EN-SA")
    enterprise(session, "EN-E2", K.attracted, "0.01", park="EN-SA")
    enterprise(session, "EN-E3", K.expansion, "5000.00", park="EN-SA")
    enterprise(session, "EN-E4", K.expansion, "777.00", park="EN-SA", signed_on=None)
    enterprise(session, "EN-E5", K.expansion, "3.00")
    summary = {row.code: row for row in theme_park_summary(session, actor=CITY)}
    a, b = summary["EN-SA"], summary["EN-SB"]
    assert (a.parcels, a.area_mu, a.attracted, a.expansions, a.unsigned) == (
        2,
        D("13.00"),
        2,
        1,
        1,
    )
    assert a.investment_wan == D("5100.11")
    assert (b.parcels, b.area_mu, b.attracted, b.expansions, b.unsigned, b.investment_wan) == (
        0,
        D(0),
        0,
        0,
        0,
        D(0),
    )
    with pytest.raises(Forbidden):
        theme_park_summary(session, actor=Actor.public())
