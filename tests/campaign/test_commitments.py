"""Commitment letters: a town writes its own, the city any; targets checked against the
campaign's KPI keys; signed, then signed off by the city only (a town's attempt is 403
and logged), which locks them (any change 409, naming who and when); every write
audited. Progress reads exactly ``figures_by_town``, measured from the year's start."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign import commitments
from gongjian.campaign.choices import Campaign, Outlook
from gongjian.campaign.models import Commitment
from gongjian.campaign.rules import rounded
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from gongjian.kpi.services import figures_by_town, kpis
from gongjian.periods import today
from gongjian.renewal.choices import RenewalState
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.towns.models import Town

D = Decimal
CITY = Actor(username="city-commitments", role=Role.city)
AUDITOR = Actor(username="auditor-commitments", role=Role.auditor)
R, W = Campaign.renewal, Campaign.water
SIGNED = dt.date(2023, 1, 15)


def town_of(session: Session, name: str) -> Town:
    """The town called ``name``."""
    return session.scalars(select(Town).where(Town.name == name)).one()


def town_actor(town: Town) -> Actor:
    """An operator of ``town``."""
    return Actor(username=f"town-{town.name_en}", role=Role.town, town_id=town.id)


def clear(session: Session, town: str, mu: str, on: dt.date) -> Parcel:
    """A parcel of ``mu`` mu in ``town`` that reached 拆除整理完成 (cleared) on ``on``,
    written straight to the database (it counts in ``renewal.cleared_mu`` from then)."""
    count = session.query(Parcel).count()
    parcel = Parcel(
        code=f"T-CM-{count + 1:04d}",
        town_id=town_of(session, town).id,
        area_mu=D(mu),
        renewal_state=RenewalState.cleared,
    )
    session.add(parcel)
    session.flush()
    session.add(
        ParcelStateChange(
            parcel_id=parcel.id, to_state=RenewalState.cleared.value, changed_on=on, actor="t"
        )
    )
    session.flush()
    return parcel


def commit(
    session: Session,
    town: str,
    targets: dict[str, str],
    *,
    year: int = 2023,
    campaign: Campaign = R,
    signed_on: dt.date | None = SIGNED,
    approve: bool = False,
) -> Commitment:
    """``town``'s commitment with ``targets``, added (and signed off) by the city."""
    found = commitments.create_commitment(
        session,
        actor=CITY,
        town=town,
        year=year,
        campaign=campaign,
        targets={key: D(value) for key, value in targets.items()},
        signed_on=signed_on,
    )
    if approve:
        commitments.approve(session, actor=CITY, town=town, year=year, campaign=campaign)
    return found


def entries(session: Session, record_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.record_id == record_id).order_by(AuditEntry.seq)
        )
    )


def test_a_town_adds_its_own_commitment_and_it_is_audited(session: Session) -> None:
    shiqi = town_of(session, "石岐")
    found = commitments.create_commitment(
        session,
        actor=town_actor(shiqi),
        town="石岐",
        year=2023,
        campaign=W,
        targets={"water.sewer_km": D("12.5"), "water.black_odor_reduction_pct": D(45)},
    )
    assert (found.town_id, found.year, found.campaign) == (shiqi.id, 2023, "water")
    assert {t.indicator: t.target for t in found.targets} == {
        "water.sewer_km": D("12.50"),
        "water.black_odor_reduction_pct": D("45.00"),
    }
    assert found.approved_at is None
    [entry] = entries(session, f"{shiqi.code}/2023/water")
    assert (entry.action, entry.outcome, entry.town_id) == ("add", "ok", shiqi.id)
    assert json.loads(entry.after)["targets"] == {
        "water.sewer_km": "12.50",
        "water.black_odor_reduction_pct": "45.00",
    }
    listed = commitments.list_commitments(session, actor=AUDITOR, year=2023, campaign=W)
    assert [c.town.name for c in listed] == ["石岐"]


def test_a_town_may_not_write_another_towns_commitment(session: Session) -> None:
    dongqu = town_of(session, "东区")
    with pytest.raises(Forbidden, match="本镇街"):
        commitments.create_commitment(
            session,
            actor=town_actor(dongqu),
            town="石岐",
            year=2023,
            campaign=R,
            targets={"renewal.cleared_mu": D(10)},
        )
    refused = session.scalars(
        select(AuditEntry).where(
            AuditEntry.outcome == "refused", AuditEntry.resource == "commitment"
        )
    ).all()
    assert refused[-1].actor == town_actor(dongqu).username
    assert not commitments.list_commitments(session, actor=CITY, year=2023)


@pytest.mark.parametrize("actor", [AUDITOR, Actor.public()])
def test_auditors_and_the_public_write_none(session: Session, actor: Actor) -> None:
    with pytest.raises(Forbidden):
        commitments.create_commitment(
            session,
            actor=actor,
            town="石岐",
            year=2023,
            campaign=R,
            targets={"renewal.cleared_mu": D(10)},
        )


def test_the_public_reads_no_commitment(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "10"})
    with pytest.raises(Forbidden):
        commitments.list_commitments(session, actor=Actor.public())


def test_one_commitment_per_town_year_and_campaign(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "10"})
    commit(session, "石岐", {"water.sewer_km": "1"}, campaign=W)
    commit(session, "石岐", {"renewal.cleared_mu": "20"}, year=2024)
    with pytest.raises(Conflict, match="已存在"):
        commit(session, "石岐", {"renewal.attracted": "1"})


def test_wrong_targets_are_refused_naming_each(session: Session) -> None:
    with pytest.raises(Invalid) as refused:
        commitments.create_commitment(
            session,
            actor=CITY,
            town="石岐",
            year=2023,
            campaign=R,
            targets={
                "water.sewer_km": D(5),
                "renewal.attracted": D("2.5"),
                "renewal.cleared_mu": D(-1),
            },
            signed_on=today() + dt.timedelta(days=1),
        )
    columns = {problem.column for problem in refused.value.problems}
    assert columns == {
        "targets.water.sewer_km",
        "targets.renewal.attracted",
        "targets.renewal.cleared_mu",
        "signed_on",
    }
    assert not commitments.list_commitments(session, actor=CITY)


def test_targets_are_set_and_taken_off_with_before_and_after(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "100", "renewal.attracted": "3"})
    found = commitments.set_targets(
        session,
        actor=town_actor(town_of(session, "石岐")),
        town="石岐",
        year=2023,
        campaign=R,
        targets={
            "renewal.cleared_mu": D(120),
            "renewal.attracted": None,
            "renewal.expansions": D(2),
        },
    )
    assert {t.indicator: t.target for t in found.targets} == {
        "renewal.cleared_mu": D("120.00"),
        "renewal.expansions": D("2.00"),
    }
    last = entries(session, f"{town_of(session, '石岐').code}/2023/renewal")[-1]
    assert json.loads(last.before)["targets"] == {
        "renewal.cleared_mu": "100.00",
        "renewal.attracted": "3.00",
    }
    assert json.loads(last.after)["targets"] == {
        "renewal.cleared_mu": "120.00",
        "renewal.expansions": "2.00",
    }
    with pytest.raises(NotFound):
        commitments.set_targets(
            session,
            actor=CITY,
            town="石岐",
            year=2031,
            campaign=R,
            targets={"renewal.attracted": D(1)},
        )


def test_signing_records_the_day_never_a_future_one(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "100"}, signed_on=None)
    found = commitments.sign(
        session, actor=CITY, town="石岐", year=2023, campaign=R, signed_on=dt.date(2023, 1, 20)
    )
    assert found.signed_on == dt.date(2023, 1, 20)
    with pytest.raises(Invalid, match="签署日期"):
        commitments.sign(
            session,
            actor=CITY,
            town="石岐",
            year=2023,
            campaign=R,
            signed_on=today() + dt.timedelta(days=1),
        )


def test_only_a_signed_commitment_with_targets_is_signed_off(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "100"}, signed_on=None)
    with pytest.raises(Conflict, match="尚未由镇街签署"):
        commitments.approve(session, actor=CITY, town="石岐", year=2023, campaign=R)
    commit(session, "东区", {"renewal.cleared_mu": "100"})
    commitments.set_targets(
        session,
        actor=CITY,
        town="东区",
        year=2023,
        campaign=R,
        targets={"renewal.cleared_mu": None},
    )
    with pytest.raises(Conflict, match="没有任何目标"):
        commitments.approve(session, actor=CITY, town="东区", year=2023, campaign=R)


def test_a_town_signing_off_is_refused_and_logged(session: Session) -> None:
    shiqi = town_of(session, "石岐")
    commit(session, "石岐", {"renewal.cleared_mu": "100"})
    with pytest.raises(Forbidden, match="市攻坚办"):
        commitments.approve(session, actor=town_actor(shiqi), town="石岐", year=2023, campaign=R)
    refused = session.scalars(
        select(AuditEntry).where(
            AuditEntry.outcome == "refused",
            AuditEntry.action == "approve",
            AuditEntry.resource == "commitment",
        )
    ).all()
    assert refused[-1].actor == town_actor(shiqi).username
    assert refused[-1].town_id == shiqi.id


def test_a_signed_off_commitment_is_locked(session: Session) -> None:
    shiqi = town_of(session, "石岐")
    found = commit(session, "石岐", {"renewal.cleared_mu": "100"}, approve=True)
    assert found.approved_by == CITY.username
    assert found.approved_at is not None
    last = entries(session, f"{shiqi.code}/2023/renewal")[-1]
    assert (last.action, json.loads(last.after)["approved_by"]) == ("approve", CITY.username)
    attempts = [
        lambda actor: commitments.set_targets(
            session,
            actor=actor,
            town="石岐",
            year=2023,
            campaign=R,
            targets={"renewal.cleared_mu": D(1)},
        ),
        lambda actor: commitments.sign(
            session, actor=actor, town="石岐", year=2023, campaign=R, signed_on=SIGNED
        ),
        lambda actor: commitments.approve(session, actor=actor, town="石岐", year=2023, campaign=R),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as refused:
            attempt(CITY)
        assert CITY.username in refused.value.message
        assert f"{found.approved_at.astimezone(commitments.city_zone()):%Y-%m-%d}" in (
            refused.value.message
        )
        assert "锁定" in refused.value.message
    with pytest.raises(Conflict, match="锁定"):
        attempts[0](town_actor(shiqi))
    assert {t.target for t in found.targets} == {D("100.00")}


def test_progress_reads_exactly_figures_by_town(demo_session: Session) -> None:
    as_of = dt.date(2023, 1, 31)
    now, start = (
        figures_by_town(demo_session, as_of),
        figures_by_town(demo_session, dt.date(2022, 12, 31)),
    )
    for town in ("石岐", "小榄", "坦洲"):
        town_id = town_of(demo_session, town).id
        official = kpis(demo_session, as_of=as_of, town_id=town_id)
        for campaign in Campaign:
            found = commitments.progress(
                demo_session, actor=AUDITOR, town=town, year=2023, campaign=campaign, as_of=as_of
            )
            assert found.as_of == as_of
            assert found.forecasts
            for row in found.forecasts:
                assert row.achieved == commitments.indicator_value(now[town_id], row.indicator)
                assert row.start == commitments.indicator_value(start[town_id], row.indicator)
                assert float(rounded(row.achieved)) == official[row.indicator]
                assert (row.elapsed_days, row.year_days) == (31, 365)


def test_progress_and_outlook_from_the_records(session: Session) -> None:
    clear(session, "石岐", "50", dt.date(2022, 6, 1))  # stood at the end of 2022
    commit(session, "石岐", {"renewal.cleared_mu": "415"})
    clear(session, "石岐", "90", dt.date(2023, 3, 1))
    day_100 = dt.date(2023, 4, 10)

    def outlook(as_of: dt.date) -> commitments.Forecast:
        found = commitments.progress(
            session, actor=CITY, town="石岐", year=2023, campaign=R, as_of=as_of
        )
        [row] = found.forecasts
        return row

    at_bound = outlook(day_100)
    assert (at_bound.start, at_bound.achieved, at_bound.target) == (D(50), D(140), D(415))
    assert at_bound.forecast_in_year == D("328.50")  # 90 × 365 / 100 = 90% of 365
    assert at_bound.outlook is Outlook.at_risk
    assert outlook(day_100 - dt.timedelta(days=1)).outlook is Outlook.at_risk
    assert outlook(day_100 + dt.timedelta(days=1)).outlook is Outlook.behind
    clear(session, "石岐", "10", dt.date(2023, 4, 1))
    assert outlook(day_100).outlook is Outlook.on_track  # 100 × 365 / 100 = 365: 100%


def test_progress_is_read_within_the_year(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "10"})
    clear(session, "石岐", "30", dt.date(2024, 2, 1))
    found = commitments.progress(
        session, actor=CITY, town="石岐", year=2023, campaign=R, as_of=dt.date(2024, 6, 30)
    )
    assert found.as_of == dt.date(2023, 12, 31)
    assert found.forecasts[0].achieved == 0
    with pytest.raises(Invalid, match="尚未开始"):
        commitments.progress(
            session, actor=CITY, town="石岐", year=2023, campaign=R, as_of=dt.date(2022, 12, 31)
        )
    with pytest.raises(NotFound, match="东区"):
        commitments.progress(session, actor=CITY, town="东区", year=2023, campaign=R)
