"""One river, one plan: measures flagged overdue as of a day, the overdue list of a
town or the city, and a measure's progress recorded through the permission check."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.campaign.choices import Campaign, ProjectKind
from gongjian.campaign.models import Project, plan_measure_projects
from gongjian.errors import Forbidden, Invalid, NotFound
from gongjian.periods import today
from gongjian.water.choices import MeasureKind, MeasureState
from gongjian.water.models import PlanMeasure, River, RiverPlan
from gongjian.water.plans import get_plan, is_overdue, list_overdue_measures, update_measure
from tests.water.test_remediation import CITY, make_river, town_actor, town_of

AS_OF = dt.date(2022, 6, 30)
M = MeasureState


def make_plan(
    session: Session,
    river: River,
    measures: list[tuple[MeasureKind, dt.date, MeasureState, dt.date | None]],
) -> list[PlanMeasure]:
    """A plan for ``river`` with ``(kind, deadline, state, done_on)`` measures."""
    plan = RiverPlan(
        river_id=river.id, title=f"{river.name}一河一策", approved_on=dt.date(2022, 1, 1)
    )
    session.add(plan)
    session.flush()
    rows = [
        PlanMeasure(
            plan_id=plan.id,
            kind=kind,
            description=f"{river.name}{kind.label}",
            owner="镇街水务所",
            deadline=deadline,
            state=state,
            done_on=done_on,
        )
        for kind, deadline, state, done_on in measures
    ]
    session.add_all(rows)
    session.flush()
    return rows


MEASURES = [
    (MeasureKind.interception, dt.date(2022, 3, 31), M.in_progress, None),
    (MeasureKind.sewer, dt.date(2022, 4, 30), M.done, dt.date(2022, 4, 20)),
    (MeasureKind.dredging, dt.date(2022, 5, 31), M.done, dt.date(2022, 7, 15)),
    (MeasureKind.greening, AS_OF, M.planned, None),
    (MeasureKind.water_diversion, dt.date(2022, 2, 28), M.planned, None),
    (MeasureKind.outfall_remediation, dt.date(2022, 12, 31), M.in_progress, None),
]
"""Overdue as of AS_OF: interception, dredging (done only later), water_diversion."""


@pytest.mark.parametrize(
    ("deadline", "state", "done_on", "expected"),
    [
        (dt.date(2022, 6, 29), M.planned, None, True),
        (AS_OF, M.planned, None, False),
        (dt.date(2022, 6, 1), M.done, dt.date(2022, 6, 30), False),
        (dt.date(2022, 6, 1), M.done, dt.date(2022, 7, 1), True),
        (dt.date(2022, 6, 1), M.done, None, False),
    ],
)
def test_is_overdue(
    deadline: dt.date, state: MeasureState, done_on: dt.date | None, expected: bool
) -> None:
    assert is_overdue(deadline, state, done_on, AS_OF) is expected


def test_a_plan_flags_its_overdue_measures_and_names_their_projects(session: Session) -> None:
    river = make_river(session, "PL-ONE")
    rows = make_plan(session, river, MEASURES)
    project = Project(
        code="PL-PRJ-1",
        name="截污工程",
        campaign=Campaign.water,
        kind=ProjectKind.interception,
        town_id=river.lead_town_id,
    )
    session.add(project)
    session.flush()
    session.execute(
        insert(plan_measure_projects).values(measure_id=rows[0].id, project_id=project.id)
    )
    plan = get_plan(session, actor=CITY, river_code="PL-ONE", as_of=AS_OF)
    assert plan.title == "PL-ONE涌一河一策"
    by_kind = {m.kind: m for m in plan.measures}
    assert {kind for kind, m in by_kind.items() if m.overdue} == {
        MeasureKind.interception,
        MeasureKind.dredging,
        MeasureKind.water_diversion,
    }
    assert plan.overdue == 3
    assert by_kind[MeasureKind.interception].projects == ["PL-PRJ-1"]
    assert by_kind[MeasureKind.sewer].projects == []
    assert [m.deadline for m in plan.measures] == sorted(m.deadline for m in plan.measures)
    later = get_plan(session, actor=CITY, river_code="PL-ONE", as_of=dt.date(2022, 8, 1))
    assert not {m.kind: m for m in later.measures}[MeasureKind.dredging].overdue


def test_a_river_without_a_plan_is_not_found(session: Session) -> None:
    make_river(session, "PL-NONE")
    with pytest.raises(NotFound, match="还没有一河一策"):
        get_plan(session, actor=CITY, river_code="PL-NONE", as_of=AS_OF)
    with pytest.raises(NotFound, match="PL-MISSING"):
        get_plan(session, actor=CITY, river_code="PL-MISSING", as_of=AS_OF)


def test_overdue_measures_of_a_town_or_the_city(session: Session) -> None:
    first = make_river(session, "PL-A", town="石岐")
    second = make_river(session, "PL-B", town="坦洲")
    make_plan(session, first, MEASURES)
    make_plan(session, second, [(MeasureKind.sewer, dt.date(2022, 1, 31), M.in_progress, None)])
    city = list_overdue_measures(session, actor=CITY, as_of=AS_OF)
    assert [(m.river_code, m.kind, m.days_overdue) for m in city] == [
        ("PL-B", MeasureKind.sewer, 150),
        ("PL-A", MeasureKind.water_diversion, 122),
        ("PL-A", MeasureKind.interception, 91),
        ("PL-A", MeasureKind.dredging, 30),
    ]
    assert city[0].town == "坦洲"
    tanzhou = list_overdue_measures(session, actor=CITY, as_of=AS_OF, town="坦洲")
    assert [m.river_code for m in tanzhou] == ["PL-B"]
    reader = town_actor(town_of(session, "石岐"))
    assert len(list_overdue_measures(session, actor=reader, as_of=AS_OF)) == 4
    with pytest.raises(NotFound, match="东升"):
        list_overdue_measures(session, actor=CITY, as_of=AS_OF, town="东升")


def test_a_measure_done_needs_its_day_and_is_audited(session: Session) -> None:
    river = make_river(session, "PL-DONE", town="黄圃")
    (measure,) = make_plan(
        session, river, [(MeasureKind.sewer, dt.date(2022, 3, 31), M.in_progress, None)]
    )
    owner = town_actor(town_of(session, "黄圃"))
    with pytest.raises(Invalid) as missing:
        update_measure(session, actor=owner, measure_id=measure.id, state=M.done)
    assert [p.column for p in missing.value.problems] == ["done_on"]
    with pytest.raises(Invalid, match="有误"):
        update_measure(
            session,
            actor=owner,
            measure_id=measure.id,
            state=M.done,
            done_on=today() + dt.timedelta(days=1),
        )
    with pytest.raises(Invalid):
        update_measure(session, actor=owner, measure_id=measure.id, done_on=dt.date(2022, 3, 1))
    done = update_measure(
        session, actor=owner, measure_id=measure.id, state=M.done, done_on=dt.date(2022, 3, 20)
    )
    assert (done.state, done.done_on, done.overdue) == (M.done, dt.date(2022, 3, 20), False)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "river_plan", AuditEntry.outcome == "ok")
    ).one()
    assert (entry.actor, entry.record_id) == (owner.username, str(measure.id))
    assert entry.before == '{"done_on":null,"state":"in_progress"}'
    assert entry.after == '{"done_on":"2022-03-20","state":"done"}'
    reopened = update_measure(session, actor=CITY, measure_id=measure.id, state=M.in_progress)
    assert (reopened.state, reopened.done_on, reopened.overdue) == (M.in_progress, None, True)


def test_a_town_may_not_update_another_towns_measure(session: Session) -> None:
    river = make_river(session, "PL-OTHER", town="黄圃")
    (measure,) = make_plan(
        session, river, [(MeasureKind.sewer, dt.date(2022, 3, 31), M.in_progress, None)]
    )
    measure_id = measure.id
    session.commit()
    intruder = town_actor(town_of(session, "坦洲"))
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        update_measure(
            session,
            actor=intruder,
            measure_id=measure_id,
            state=M.done,
            done_on=dt.date(2022, 3, 1),
        )
    refusal = session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor == intruder.username, AuditEntry.outcome == "refused"
        )
    ).one()
    assert (refusal.resource, refusal.record_id) == ("river_plan", str(measure_id))
    unchanged = session.get(PlanMeasure, measure_id)
    assert unchanged is not None
    assert unchanged.state == M.in_progress


def test_a_missing_measure_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="987654"):
        update_measure(session, actor=CITY, measure_id=987654, state=M.done)
