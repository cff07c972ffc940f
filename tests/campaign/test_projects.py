"""Projects through their services: added with their kind's quantities and the rivers or
parcels they serve, every transition allowed or refused (naming the next state), dated
and audited, accepted by the city only, actual dates set, audit involvement, overdue as
of a day, town scope, and the KPIs moving with the history."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign.choices import Campaign, OverdueReason, ProjectKind, ProjectState
from gongjian.campaign.models import Project, ProjectStateChange
from gongjian.campaign.projects import (
    add_project,
    change_project_state,
    get_project,
    list_projects,
    overdue_projects,
    project_history,
    set_audit_involvement,
    update_project,
)
from gongjian.campaign.rules import next_project_states
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from gongjian.kpi.services import kpis
from gongjian.periods import today
from gongjian.renewal.models import Parcel
from gongjian.towns.models import Town
from gongjian.water.models import River

S = ProjectState
K = ProjectKind
CITY = Actor(username="city-projects", role=Role.city)
AUDITOR = Actor(username="auditor-projects", role=Role.auditor)
LISTED = dt.date(2022, 1, 3)
"""The day test projects enter the plan; their changes follow a day apart."""
ORDER = list(ProjectState)


# --- Helpers shared with test_batches -------------------------------------------------


def town_of(session: Session, name: str) -> Town:
    """The town called ``name``."""
    return session.scalars(select(Town).where(Town.name == name)).one()


def town_actor(session: Session, name: str) -> Actor:
    """An operator of the town called ``name``."""
    town = town_of(session, name)
    return Actor(username=f"town-{town.code}", role=Role.town, town_id=town.id)


def make_river(session: Session, code: str, town: str = "石岐") -> River:
    """A river led by ``town``, written straight to the database."""
    river = River(
        code=code, name=f"{code}涌", lead_town_id=town_of(session, town).id, length_m=Decimal(1000)
    )
    session.add(river)
    session.flush()
    return river


def make_parcel(session: Session, code: str, town: str = "石岐") -> Parcel:
    """A parcel of ``town``, written straight to the database."""
    parcel = Parcel(code=code, town_id=town_of(session, town).id, area_mu=Decimal("20.00"))
    session.add(parcel)
    session.flush()
    return parcel


def add(
    session: Session,
    code: str,
    kind: K = K.dredging,
    *,
    town: str = "石岐",
    actor: Actor = CITY,
    **values: Any,
) -> Project:
    """Add project ``code`` of ``kind`` in ``town``, listed on ``LISTED``, as ``actor``."""
    values.setdefault("listed_on", LISTED)
    return add_project(
        session, actor=actor, code=code, name=f"{code}工程", kind=kind, town=town, **values
    )


def move(
    session: Session, code: str, to_state: S, on: dt.date, actor: Actor = CITY
) -> ProjectStateChange:
    """Move project ``code`` to ``to_state`` on ``on``."""
    return change_project_state(session, actor=actor, code=code, to_state=to_state, on=on)


def walk(session: Session, code: str, until: S, start: dt.date | None = None) -> dt.date:
    """Move project ``code`` from planned through to ``until``, a day apart from
    ``start`` (default: the day after ``LISTED``); the last day used."""
    day = start or LISTED + dt.timedelta(days=1)
    for state in ORDER[1 : ORDER.index(until) + 1]:
        move(session, code, state, day)
        day += dt.timedelta(days=1)
    return day - dt.timedelta(days=1)


def refusals(session: Session, actor: Actor) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == actor.username, AuditEntry.outcome == "refused"
            )
        )
    )


# --- Adding ---------------------------------------------------------------------------


def test_a_project_is_added_as_planned_with_its_campaign_and_history(session: Session) -> None:
    make_river(session, "R-ADD-1")
    project = add(
        session,
        "P-ADD-1",
        K.sewer,
        sewer_km=Decimal("12.5"),
        budget_wan=Decimal("1234.5"),
        spend_wan=Decimal("0"),
        planned_start_on=dt.date(2022, 3, 1),
        planned_end_on=dt.date(2022, 9, 30),
        rivers=["R-ADD-1", " R-ADD-1 "],
        owner=" 石岐街道住建局 ",
    )
    assert (project.campaign, project.state) == (Campaign.water, S.planned)
    session.expire_all()
    found = get_project(session, actor=AUDITOR, code="P-ADD-1")
    assert found.project.sewer_km == Decimal("12.500")
    assert found.project.budget_wan == Decimal("1234.50")
    assert found.project.owner == "石岐街道住建局"
    assert (found.rivers, found.parcels, found.town) == (["R-ADD-1"], [], "石岐")
    ((change,),) = [found.changes]
    assert (change.from_state, change.to_state, change.changed_on) == (None, "planned", LISTED)
    assert found.allowed_next == (S.approved,)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.record_id == "P-ADD-1", AuditEntry.action == "add")
    ).one()
    assert entry.detail is not None
    assert "R-ADD-1" in entry.detail
    assert json.loads(entry.after or "{}")["sewer_km"] == "12.500"


def test_a_renewal_project_lies_on_parcels_of_its_town(session: Session) -> None:
    make_parcel(session, "PC-1")
    make_parcel(session, "PC-2", town="东区")
    project = add(session, "P-DEM-1", K.demolition, area_mu=Decimal("40"), parcels=["PC-1"])
    assert project.campaign == Campaign.renewal
    assert get_project(session, actor=CITY, code="P-DEM-1").parcels == ["PC-1"]
    with pytest.raises(Invalid) as elsewhere:
        add(session, "P-DEM-2", K.demolition, parcels=["PC-2", "PC-NONE"])
    reasons = [(p.column, p.value) for p in elsewhere.value.problems]
    assert reasons == [("parcels", "PC-2"), ("parcels", "PC-NONE")]
    assert "东区" not in elsewhere.value.problems[0].reason
    assert "石岐" in elsewhere.value.problems[0].reason


@pytest.mark.parametrize(
    ("kind", "given", "refused"),
    [
        (K.greening, {"sewer_km": Decimal("1")}, "sewer_km"),
        (K.sewer, {"area_mu": Decimal("1")}, "area_mu"),
        (K.sewer, {"capacity_kt_d": Decimal("10")}, "capacity_kt_d"),
        (K.demolition, {"culvert_uncovered_m": Decimal("10")}, "culvert_uncovered_m"),
        (K.wwtp_new, {"sewer_km": Decimal("0")}, "sewer_km"),
    ],
)
def test_a_quantity_that_does_not_belong_to_the_kind_is_refused(
    session: Session, kind: K, given: dict[str, Decimal], refused: str
) -> None:
    with pytest.raises(Invalid) as wrong:
        add(session, "P-QTY", kind, **given)
    (problem,) = wrong.value.problems
    assert problem.column == refused
    assert kind.label in problem.reason
    assert "不填此项" in problem.reason
    assert session.scalars(select(Project).where(Project.code == "P-QTY")).first() is None


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        (K.wwtp_new, "capacity_kt_d", Decimal("50.25")),
        (K.wwtp_expansion, "capacity_kt_d", Decimal("20")),
        (K.renewal_construction, "area_mu", Decimal("12.34")),
        (K.culvert_uncovering, "culvert_uncovered_m", Decimal("350.5")),
    ],
)
def test_each_kind_keeps_its_own_quantity(
    session: Session, kind: K, field: str, value: Decimal
) -> None:
    project = add(session, "P-OWN-QTY", kind, **{field: value})
    assert getattr(project, field) == value


@pytest.mark.parametrize(
    ("values", "column"),
    [
        ({"budget_wan": Decimal("1.234")}, "budget_wan"),
        ({"spend_wan": Decimal("-1")}, "spend_wan"),
        ({"kind": K.sewer, "sewer_km": Decimal("1.2345")}, "sewer_km"),
        (
            {"planned_start_on": dt.date(2022, 5, 1), "planned_end_on": dt.date(2022, 4, 30)},
            "planned_end_on",
        ),
        ({"listed_on": today() + dt.timedelta(days=1)}, "listed_on"),
        ({"rivers": ["R-NONE"]}, "rivers"),
        ({"parcels": ["PC-ANY"]}, "parcels"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_fields_are_refused_by_name(
    session: Session, values: dict[str, Any], column: str
) -> None:
    values = dict(values)  # the parameters are shared by both backends
    kind = values.pop("kind", K.dredging)
    name = values.pop("name", "工程")
    with pytest.raises(Invalid) as wrong:
        add_project(session, actor=CITY, code="P-BAD", kind=kind, town="石岐", name=name, **values)
    assert column in [problem.column for problem in wrong.value.problems]


def test_a_planned_end_on_the_planned_start_is_fine(session: Session) -> None:
    day = dt.date(2022, 5, 1)
    project = add(session, "P-SAME-DAY", planned_start_on=day, planned_end_on=day)
    assert project.planned_end_on == day


def test_rivers_only_for_water_projects(session: Session) -> None:
    make_river(session, "R-REN-1")
    with pytest.raises(Invalid) as wrong:
        add(session, "P-REN-R", K.renewal_construction, rivers=["R-REN-1"])
    assert wrong.value.problems[0].column == "rivers"
    assert "工改" in wrong.value.problems[0].reason


def test_a_duplicate_code_is_a_conflict(session: Session) -> None:
    add(session, "P-DUP")
    with pytest.raises(Conflict):
        add(session, "P-DUP")


def test_an_unknown_town_is_named(session: Session) -> None:
    with pytest.raises(Invalid) as wrong:
        add(session, "P-TOWN", town="东升")
    assert wrong.value.problems[0].column == "town"


# --- States ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ORDER)
@pytest.mark.parametrize("current", ORDER)
def test_each_transition_is_allowed_or_refused_naming_the_next_state(
    session: Session, current: S, target: S
) -> None:
    add(session, "P-STATE")
    last = walk(session, "P-STATE", current) if current is not S.planned else LISTED
    on = last + dt.timedelta(days=1)
    if target in next_project_states(current):
        change = move(session, "P-STATE", target, on)
        assert (change.from_state, change.to_state, change.changed_on) == (
            current.value,
            target.value,
            on,
        )
        assert project_history(session, actor=CITY, code="P-STATE").project.state == target
    else:
        with pytest.raises(Conflict) as refused:
            move(session, "P-STATE", target, on)
        message = refused.value.message
        assert "P-STATE" in message
        for allowed in next_project_states(current):
            assert f"“{allowed.label}”（{allowed.value}）" in message
        assert project_history(session, actor=CITY, code="P-STATE").project.state == current


def test_the_whole_road_is_dated_audited_and_sets_actual_dates(session: Session) -> None:
    add(session, "P-ROAD")
    last = walk(session, "P-ROAD", S.accepted)
    found = project_history(session, actor=AUDITOR, code="P-ROAD")
    assert [c.to_state for c in found.changes] == [s.value for s in ORDER]
    assert [c.changed_on for c in found.changes] == [
        LISTED + dt.timedelta(days=k) for k in range(len(ORDER))
    ]
    assert found.project.actual_start_on == LISTED + dt.timedelta(days=2)
    assert found.project.actual_end_on == LISTED + dt.timedelta(days=3)
    assert found.allowed_next == ()
    assert last == LISTED + dt.timedelta(days=4)
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.record_id == "P-ROAD", AuditEntry.action != "add")
        .order_by(AuditEntry.seq)
    ).all()
    assert [e.action for e in entries] == ["change", "change", "change", "approve"]
    started = entries[1]
    assert json.loads(started.before or "{}") == {
        "state": "approved",
        "actual_start_on": None,
        "actual_end_on": None,
    }
    after = json.loads(started.after or "{}")
    assert (after["to_state"], after["actual_start_on"]) == ("started", "2022-01-05")
    assert entries[-1].actor == CITY.username


def test_an_actual_start_already_known_is_kept(session: Session) -> None:
    project = add(session, "P-KNOWN")
    project.actual_start_on = dt.date(2022, 1, 1)
    walk(session, "P-KNOWN", S.started)
    assert project.actual_start_on == dt.date(2022, 1, 1)


def test_a_change_is_neither_in_the_future_nor_before_the_previous_one(
    session: Session,
) -> None:
    add(session, "P-DAY")
    with pytest.raises(Invalid) as future:
        move(session, "P-DAY", S.approved, today() + dt.timedelta(days=1))
    assert future.value.problems[0].column == "on"
    with pytest.raises(Invalid) as earlier:
        move(session, "P-DAY", S.approved, LISTED - dt.timedelta(days=1))
    assert "上一次状态变更" in earlier.value.problems[0].reason
    move(session, "P-DAY", S.approved, LISTED)
    move(session, "P-DAY", S.started, today())


def test_a_town_moves_its_own_projects_but_only_the_city_accepts(session: Session) -> None:
    shiqi = town_actor(session, "石岐")
    add(session, "P-ACC", actor=shiqi)
    day = LISTED
    for state in (S.approved, S.started, S.completed):
        day += dt.timedelta(days=1)
        move(session, "P-ACC", state, day, actor=shiqi)
    with pytest.raises(Forbidden) as refused:
        move(session, "P-ACC", S.accepted, day, actor=shiqi)
    assert "市攻坚办" in refused.value.message
    (entry,) = refusals(session, shiqi)
    assert (entry.action, entry.resource, entry.record_id) == ("approve", "project", "P-ACC")


def test_the_city_accepts_and_the_acceptance_is_an_approval(session: Session) -> None:
    add(session, "P-CITY-ACC")
    walk(session, "P-CITY-ACC", S.completed)
    change = move(session, "P-CITY-ACC", S.accepted, LISTED + dt.timedelta(days=10))
    assert change.to_state == "accepted"
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.record_id == "P-CITY-ACC", AuditEntry.action == "approve"
        )
    ).one()
    assert entry.actor == CITY.username
    assert entry.outcome == "ok"


def test_another_town_an_auditor_and_the_public_are_refused(session: Session) -> None:
    add(session, "P-SCOPE", town="石岐")
    intruder = town_actor(session, "东区")
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        move(session, "P-SCOPE", S.approved, LISTED, actor=intruder)
    (entry,) = refusals(session, intruder)
    assert entry.record_id == "P-SCOPE"
    for stranger in (AUDITOR, Actor.public()):
        with pytest.raises(Forbidden):
            move(session, "P-SCOPE", S.approved, LISTED, actor=stranger)
    with pytest.raises(NotFound):
        move(session, "NO-SUCH", S.approved, LISTED)


def test_a_town_adds_and_edits_in_its_own_town_only(session: Session) -> None:
    shiqi = town_actor(session, "石岐")
    add(session, "P-OWN", actor=shiqi)
    updated = update_project(session, actor=shiqi, code="P-OWN", changes={"owner": "本镇"})
    assert updated.owner == "本镇"
    with pytest.raises(Forbidden):
        add(session, "P-FOREIGN", town="东区", actor=shiqi)
    assert refusals(session, shiqi)[0].record_id == "P-FOREIGN"


def test_a_town_cannot_edit_another_towns_project(session: Session) -> None:
    add(session, "P-OTHER", town="东区")
    shiqi = town_actor(session, "石岐")
    with pytest.raises(Forbidden):
        update_project(session, actor=shiqi, code="P-OTHER", changes={"owner": "越权"})


# --- Editing --------------------------------------------------------------------------


def test_an_edit_is_checked_like_an_addition_and_audited(session: Session) -> None:
    add(session, "P-EDIT", K.sewer, planned_start_on=dt.date(2022, 5, 1))
    with pytest.raises(Invalid) as foreign:
        update_project(session, actor=CITY, code="P-EDIT", changes={"area_mu": Decimal(3)})
    assert foreign.value.problems[0].column == "area_mu"
    with pytest.raises(Invalid) as reversed_plan:
        update_project(
            session, actor=CITY, code="P-EDIT", changes={"planned_end_on": dt.date(2022, 4, 1)}
        )
    assert reversed_plan.value.problems[0].column == "planned_end_on"
    with pytest.raises(Invalid) as state:
        update_project(session, actor=CITY, code="P-EDIT", changes={"state": "accepted"})
    assert state.value.problems[0].column == "state"
    changed = update_project(
        session,
        actor=CITY,
        code="P-EDIT",
        changes={"sewer_km": Decimal("3.2"), "budget_wan": Decimal("10")},
    )
    assert (changed.sewer_km, changed.budget_wan) == (Decimal("3.200"), Decimal("10.00"))
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.record_id == "P-EDIT", AuditEntry.action == "change")
    ).one()
    after, before = json.loads(entry.after or "{}"), json.loads(entry.before or "{}")
    assert (after["sewer_km"], after["budget_wan"]) == ("3.200", "10.00")
    assert (before["sewer_km"], before["budget_wan"]) == (None, None)


# --- Audit involvement ----------------------------------------------------------------


def test_audit_involvement_is_recorded_checked_and_audited(session: Session) -> None:
    add(session, "P-AUDIT")
    with pytest.raises(Invalid) as undated:
        set_audit_involvement(
            session, actor=CITY, code="P-AUDIT", joined_on=None, findings="重复计量"
        )
    assert undated.value.problems[0].column == "joined_on"
    with pytest.raises(Invalid) as future:
        set_audit_involvement(
            session, actor=CITY, code="P-AUDIT", joined_on=today() + dt.timedelta(days=1)
        )
    assert future.value.problems[0].column == "joined_on"
    with pytest.raises(Invalid) as fraction:
        set_audit_involvement(
            session,
            actor=CITY,
            code="P-AUDIT",
            joined_on=LISTED,
            saving_wan=Decimal("1.001"),
        )
    assert fraction.value.problems[0].column == "saving_wan"
    project = set_audit_involvement(
        session,
        actor=town_actor(session, "石岐"),
        code="P-AUDIT",
        joined_on=LISTED,
        findings=" 工程量清单重复计量，已核减 ",
        saving_wan=Decimal("12.5"),
    )
    assert (project.audit_joined_on, project.audit_findings, project.audit_saving_wan) == (
        LISTED,
        "工程量清单重复计量，已核减",
        Decimal("12.50"),
    )
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.record_id == "P-AUDIT", AuditEntry.action == "change")
    ).one()
    assert json.loads(entry.after or "{}")["audit_saving_wan"] == "12.50"
    cleared = set_audit_involvement(session, actor=CITY, code="P-AUDIT", joined_on=None)
    assert cleared.audit_saving_wan is None
    assert cleared.audit_joined_on is None
    with pytest.raises(Forbidden):
        set_audit_involvement(
            session, actor=town_actor(session, "东区"), code="P-AUDIT", joined_on=LISTED
        )


# --- Overdue --------------------------------------------------------------------------

PLANNED_START, PLANNED_END = dt.date(2022, 3, 1), dt.date(2022, 6, 30)


def planned(session: Session, code: str, *, town: str = "石岐", kind: K = K.dredging) -> None:
    add(
        session,
        code,
        kind,
        town=town,
        planned_start_on=PLANNED_START,
        planned_end_on=PLANNED_END,
    )


def late(session: Session, as_of: dt.date, **filters: Any) -> dict[str, tuple[str, int]]:
    found = overdue_projects(session, actor=AUDITOR, as_of=as_of, **filters)
    return {
        row.project.code: (row.reason.value, row.days)
        for row in found
        if row.project.code.startswith("P-LATE")
    }


def test_overdue_to_start_and_to_end_counted_in_days(session: Session) -> None:
    planned(session, "P-LATE-IDLE")
    planned(session, "P-LATE-WORK")
    planned(session, "P-LATE-DONE")
    move(session, "P-LATE-WORK", S.approved, dt.date(2022, 2, 1))
    move(session, "P-LATE-WORK", S.started, dt.date(2022, 3, 10))
    walk(session, "P-LATE-DONE", S.completed, start=dt.date(2022, 2, 1))
    assert late(session, PLANNED_START) == {}
    assert late(session, PLANNED_START + dt.timedelta(days=1)) == {
        "P-LATE-IDLE": ("start", 1),
        "P-LATE-WORK": ("start", 1),
    }
    # P-LATE-WORK started on 2022-03-10: late to start until the day before.
    assert late(session, dt.date(2022, 3, 9))["P-LATE-WORK"] == ("start", 8)
    assert "P-LATE-WORK" not in late(session, dt.date(2022, 3, 10))
    assert late(session, PLANNED_END) == {"P-LATE-IDLE": ("start", 121)}
    assert late(session, PLANNED_END + dt.timedelta(days=1)) == {
        "P-LATE-IDLE": ("end", 1),
        "P-LATE-WORK": ("end", 1),
    }
    found = overdue_projects(session, actor=AUDITOR, as_of=dt.date(2022, 7, 31))
    mine = [row for row in found if row.project.code.startswith("P-LATE")]
    assert [(row.project.code, row.days) for row in mine] == [
        ("P-LATE-IDLE", 31),
        ("P-LATE-WORK", 31),
    ]
    assert mine[0].reason is OverdueReason.end
    assert mine[0].state is S.planned
    assert mine[1].state is S.started
    assert mine[0].town == "石岐"


def test_overdue_reads_the_history_as_of_the_day(session: Session) -> None:
    planned(session, "P-LATE-PAST")
    walk(session, "P-LATE-PAST", S.completed, start=dt.date(2022, 8, 1))
    # Completed on 2022-08-03, a month late: as of 2022-07-31 it was overdue, as of
    # 2022-08-03 it no longer is; the answer for July does not change afterwards.
    assert late(session, dt.date(2022, 7, 31)) == {"P-LATE-PAST": ("end", 31)}
    assert late(session, dt.date(2022, 8, 3)) == {}
    # A project listed after the day was not on the list then.
    add(session, "P-LATE-NEW", planned_start_on=dt.date(2021, 6, 1), listed_on=dt.date(2022, 1, 10))
    assert "P-LATE-NEW" not in late(session, dt.date(2022, 1, 9))
    assert late(session, dt.date(2022, 1, 10))["P-LATE-NEW"] == ("start", 223)


def test_overdue_by_town_and_campaign(session: Session) -> None:
    planned(session, "P-LATE-SQ", town="石岐")
    planned(session, "P-LATE-DQ", town="东区")
    planned(session, "P-LATE-REN", town="石岐", kind=K.demolition)
    as_of = dt.date(2022, 7, 1)
    dongqu = town_of(session, "东区").id
    assert set(late(session, as_of, town_id=dongqu)) == {"P-LATE-DQ"}
    assert set(late(session, as_of, campaign=Campaign.renewal)) == {"P-LATE-REN"}
    assert set(late(session, as_of, campaign=Campaign.water)) == {"P-LATE-SQ", "P-LATE-DQ"}
    with pytest.raises(Forbidden):
        overdue_projects(session, actor=Actor.public(), as_of=as_of)


# --- Lists ----------------------------------------------------------------------------


def test_lists_filter_by_town_campaign_kind_state_and_overdue(session: Session) -> None:
    add(session, "P-LIST-1", K.sewer, planned_start_on=dt.date(2022, 2, 1))
    add(session, "P-LIST-2", K.demolition, town="东区")
    add(session, "P-LIST-3", K.greening)
    walk(session, "P-LIST-3", S.started)

    def codes(**filters: Any) -> set[str]:
        _total, rows = list_projects(session, actor=AUDITOR, limit=500, **filters)
        return {row.code for row in rows if row.code.startswith("P-LIST")}

    assert codes() == {"P-LIST-1", "P-LIST-2", "P-LIST-3"}
    assert codes(town="东区") == {"P-LIST-2"}
    assert codes(campaign=Campaign.water) == {"P-LIST-1", "P-LIST-3"}
    assert codes(kind=K.sewer) == {"P-LIST-1"}
    assert codes(state=S.started) == {"P-LIST-3"}
    assert codes(overdue_as_of=dt.date(2022, 3, 1)) == {"P-LIST-1"}
    assert codes(overdue_as_of=dt.date(2022, 3, 1), is_overdue=False) == {"P-LIST-2", "P-LIST-3"}
    total, rows = list_projects(session, actor=AUDITOR, kind=K.sewer, limit=500)
    assert total == len(rows)


# --- KPIs -----------------------------------------------------------------------------


def test_completing_a_sewer_project_moves_sewer_km_from_that_day(session: Session) -> None:
    town = town_of(session, "板芙")
    add(session, "P-KPI-SEWER", K.sewer, town="板芙", sewer_km=Decimal("7.125"))
    completed_on = walk(session, "P-KPI-SEWER", S.completed, start=dt.date(2022, 4, 1))
    day_before = completed_on - dt.timedelta(days=1)

    def km(day: dt.date) -> Decimal:
        return Decimal(str(kpis(session, as_of=day, town_id=town.id)["water.sewer_km"]))

    assert km(completed_on) - km(day_before) == Decimal("7.13")  # rounded to 2 places
    assert km(day_before) == km(dt.date(2022, 3, 1))
    move(session, "P-KPI-SEWER", S.accepted, completed_on + dt.timedelta(days=5))
    assert km(completed_on + dt.timedelta(days=5)) == km(completed_on)


def test_starting_a_plant_counts_it_from_that_day(session: Session) -> None:
    town = town_of(session, "神湾")
    add(session, "P-KPI-WWTP", K.wwtp_new, town="神湾", capacity_kt_d=Decimal("30"))
    started_on = walk(session, "P-KPI-WWTP", S.started, start=dt.date(2022, 4, 1))

    def plants(day: dt.date) -> int:
        return int(kpis(session, as_of=day, town_id=town.id)["water.wwtp_started"])

    assert plants(started_on) - plants(started_on - dt.timedelta(days=1)) == 1
