"""The demo city: deterministic, complete, consistent, and near the report's figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from shapely.geometry import shape
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from gongjian.auth.services import authenticate
from gongjian.campaign.models import Project, ProjectStateChange
from gongjian.demo.common import CITY_ZONE, REPORT_DAY
from gongjian.demo.generate import DEMO_USERS, build_city, load_demo
from gongjian.demo.water import samples
from gongjian.errors import Conflict
from gongjian.geo.area import area_mu
from gongjian.kpi.services import kpis
from gongjian.migrate import downgrade_all, upgrade
from gongjian.models import AuditEntry, Base, User
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.towns.data import TOWNS
from gongjian.water.models import MonitoringPoint, River, RiverStateChange, Sample
from tests.conftest import DatabaseFactory

TOWN_ROWS = [(i, seed.code, seed.name) for i, seed in enumerate(TOWNS, start=1)]
#: Tables that other features fill (imports, station tokens, briefings).
FILLED_LATER = {
    "station_tokens",
    "station_token_points",
    "imports",
    "briefings",
    "commendations",
    "web_sessions",  # signing in on the web fills these
    "sign_in_failures",
}


def _quiet(_step: str, _done: int, _total: int) -> None:
    return None


def test_same_seed_same_city_other_seed_other_city() -> None:
    first, rivers = build_city(7, "small", TOWN_ROWS, _quiet)
    again, rivers_again = build_city(7, "small", TOWN_ROWS, _quiet)
    other, _ = build_city(8, "small", TOWN_ROWS, _quiet)
    assert first.rows == again.rows
    assert first.rows["rivers"] != other.rows["rivers"]
    drawn, drawn_again = samples(first, rivers), samples(again, rivers_again)
    assert np.array_equal(drawn.orp_mv, drawn_again.orp_mv)
    assert np.array_equal(drawn.missing, drawn_again.missing)


def test_every_kind_of_record_is_there(demo_session: Session) -> None:
    empty = [
        table.name
        for table in Base.metadata.sorted_tables
        if table.name not in FILLED_LATER
        and not demo_session.scalar(select(func.count()).select_from(table))
    ]
    assert empty == []


def test_the_23_real_towns_and_a_user_of_every_role(demo_session: Session) -> None:
    roles = dict(demo_session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles == {"admin": 1, "city": 2, "auditor": 1, "town": 23}
    town_users = {town for _, _, role, town, _ in DEMO_USERS if role == "town"}
    assert town_users == {seed.name for seed in TOWNS}


@pytest.mark.parametrize("role", ["admin", "city", "town", "auditor"])
def test_printed_demo_passwords_sign_in(demo_session: Session, role: str) -> None:
    username, password, *_ = next(user for user in DEMO_USERS if user[2] == role)
    actor = authenticate(demo_session, username, password)
    assert actor is not None
    assert actor.role.value == role


def _histories_match(
    session: Session, model: Any, changes: Any, key: Any, state_column: Any
) -> None:
    rows = session.execute(
        select(key, changes.to_state, changes.changed_on, changes.from_state).order_by(
            key, changes.id
        )
    ).all()
    last: dict[int, tuple[str, dt.date]] = {}
    for record_id, to_state, day, from_state in rows:
        if record_id in last:
            previous_state, previous_day = last[record_id]
            assert from_state == previous_state
            assert day >= previous_day
        else:
            assert from_state is None
        assert day <= REPORT_DAY
        last[record_id] = (to_state, day)
    current = dict(session.execute(select(model.id, state_column)).all())
    assert {k: v for k, (v, _) in last.items()} == current


def test_state_histories_are_ordered_and_end_in_the_current_state(demo_session: Session) -> None:
    _histories_match(
        demo_session, River, RiverStateChange, RiverStateChange.river_id, River.remediation_state
    )
    _histories_match(
        demo_session, Parcel, ParcelStateChange, ParcelStateChange.parcel_id, Parcel.renewal_state
    )
    _histories_match(
        demo_session, Project, ProjectStateChange, ProjectStateChange.project_id, Project.state
    )


def test_parcel_areas_are_ellipsoidal_and_park_parcels_touch(demo_session: Session) -> None:
    parcels = demo_session.scalars(select(Parcel).order_by(Parcel.id)).all()
    for parcel in parcels:
        assert parcel.geometry is not None
        assert parcel.area_mu == area_mu(parcel.geometry)
        assert Decimal(10) < parcel.area_mu < Decimal(200)
    by_park: dict[int | None, list[Parcel]] = {}
    for parcel in parcels:
        by_park.setdefault(parcel.park_id, []).append(parcel)
    for group in by_park.values():
        shapes = [shape(p.geometry) for p in group]
        for one in shapes:
            assert any(one.touches(other) for other in shapes if other is not one)
            assert not any(one.overlaps(other) for other in shapes if other is not one)


def test_rivers_have_three_points_or_more_200_to_600_m_apart(demo_session: Session) -> None:
    chainages: dict[int, list[Decimal]] = {}
    for river_id, chainage in demo_session.execute(
        select(MonitoringPoint.river_id, MonitoringPoint.chainage_m).order_by(
            MonitoringPoint.river_id, MonitoringPoint.chainage_m
        )
    ):
        chainages.setdefault(river_id, []).append(chainage)
    rivers = dict(demo_session.execute(select(River.id, River.length_m)).all())
    assert set(chainages) == set(rivers)
    for river_id, along in chainages.items():
        assert len(along) >= 3
        assert all(200 <= b - a <= 600 for a, b in pairwise(along))
        assert along[-1] < rivers[river_id]


def test_samples_read_back_as_drawn(demo_engine: Engine) -> None:
    demo, rivers = build_city(7, "small", TOWN_ROWS, _quiet)
    drawn = samples(demo, rivers)
    with Session(demo_engine) as session:
        assert session.scalar(select(func.count()).select_from(Sample)) == len(drawn)
        for row in (0, len(drawn) // 2, len(drawn) - 1):
            sample = session.get(Sample, (int(drawn.point_id[row]), drawn.sampled_at(row)))
            assert sample is not None
            assert dt.time(9) <= sample.sampled_at.astimezone(CITY_ZONE).time() < dt.time(13)
            assert sample.orp_mv in (None, Decimal(int(drawn.orp_mv[row])))
            assert sample.depth_cm == Decimal(int(drawn.depth_cm[row]))
            expected_do = Decimal(int(drawn.do_hundredth_mg_l[row])).scaleb(-2)
            assert sample.do_mg_l in (None, expected_do)


def test_headline_figures_are_the_report_s_at_a_tenth(demo_session: Session) -> None:
    figures = kpis(demo_session, as_of=REPORT_DAY)
    assert figures["renewal.cleared_mu"] > 1400
    assert (figures["renewal.attracted"], figures["renewal.expansions"]) == (11, 14)
    assert 65 <= figures["renewal.investment_yi"] <= 67
    assert figures["water.rivers_entered"] == 50
    assert 20 <= figures["water.rivers_completed"] <= 22
    assert 97.5 <= figures["water.sewer_km"] <= 99
    assert figures["water.wwtp_started"] >= 2


def test_loading_twice_is_refused_and_writes_nothing(demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(Conflict):
        load_demo(demo_engine, seed=7, scale="small")
    with Session(demo_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries
        demo_entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "demo")).all()
        assert len(demo_entries) == 1
        assert "samples" in (demo_entries[0].detail or "")


def test_reset_empties_a_loaded_city_and_loads_it_again(databases: DatabaseFactory) -> None:
    """``gongjian demo --reset``: every table goes, rows and all (SQLite included, whose
    foreign keys would refuse to drop a table still referred to), and the city loads
    again into the migrated, empty database."""
    engine = databases.new("reset", towns=False)
    try:
        first = load_demo(engine, seed=7, scale="small")
        downgrade_all(engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert load_demo(engine, seed=7, scale="small") == first
    finally:
        engine.dispose()
