"""Batches (集中开工 / 集中拆除): added and filled by the city only, their figures computed
from their projects by campaign, a demolition batch refusing other kinds, additions and
removals audited with the projects before and after."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.campaign.batches import (
    add_batch,
    attach_projects,
    detach_projects,
    get_batch,
    list_batches,
)
from gongjian.campaign.choices import BatchKind, Campaign, ProjectKind
from gongjian.campaign.projects import get_project, list_projects, overdue_projects
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from tests.campaign.test_projects import AUDITOR, CITY, add, refusals, town_actor

K = ProjectKind
HELD_ON = dt.date(2022, 3, 15)


def projects(session: Session) -> None:
    """Five projects of both campaigns with budgets and quantities."""
    add(session, "B-SEWER", K.sewer, budget_wan=Decimal("1200.50"), sewer_km=Decimal("3.125"))
    add(
        session,
        "B-PLANT",
        K.wwtp_expansion,
        budget_wan=Decimal("8000"),
        capacity_kt_d=Decimal("20.5"),
    )
    add(session, "B-GREEN", K.greening)
    add(session, "B-DEMO-1", K.demolition, budget_wan=Decimal("300.25"), area_mu=Decimal("40.5"))
    add(session, "B-DEMO-2", K.demolition, town="东区", area_mu=Decimal("9.5"))


def start_batch(session: Session, *members: str) -> None:
    add_batch(
        session,
        actor=CITY,
        code="JZKG-T1",
        name="测试集中开工",
        kind=BatchKind.concentrated_start,
        held_on=HELD_ON,
        projects=list(members),
    )


def test_a_batch_adds_up_its_projects_by_campaign(session: Session) -> None:
    projects(session)
    start_batch(session, "B-SEWER", "B-PLANT", "B-GREEN", "B-DEMO-1")
    found = get_batch(session, actor=AUDITOR, code="JZKG-T1")
    assert [p.code for p in found.projects] == ["B-DEMO-1", "B-GREEN", "B-PLANT", "B-SEWER"]
    water = found.figures.by_campaign[Campaign.water]
    renewal = found.figures.by_campaign[Campaign.renewal]
    assert (water.projects, water.investment_wan) == (3, Decimal("9200.50"))
    assert (water.sewer_km, water.capacity_kt_d, water.area_mu) == (
        Decimal("3.125"),
        Decimal("20.50"),
        Decimal(0),
    )
    assert (renewal.projects, renewal.investment_wan, renewal.area_mu) == (
        1,
        Decimal("300.25"),
        Decimal("40.50"),
    )
    total = found.figures.total
    assert (total.projects, total.investment_wan, total.area_mu) == (
        4,
        Decimal("9500.75"),
        Decimal("40.50"),
    )
    assert get_project(session, actor=AUDITOR, code="B-SEWER").batches == ["JZKG-T1"]


def test_a_demolition_batch_refuses_other_kinds(session: Session) -> None:
    projects(session)
    with pytest.raises(Conflict) as refused:
        add_batch(
            session,
            actor=CITY,
            code="JZCC-T1",
            name="测试集中拆除",
            kind=BatchKind.concentrated_demolition,
            held_on=HELD_ON,
            projects=["B-DEMO-1", "B-SEWER", "B-GREEN"],
        )
    message = refused.value.message
    assert "B-SEWER" in message
    assert "B-GREEN" in message
    assert "B-DEMO-1" not in message
    assert "拆除整理" in message
    found = add_batch(
        session,
        actor=CITY,
        code="JZCC-T1",
        name="测试集中拆除",
        kind=BatchKind.concentrated_demolition,
        held_on=HELD_ON,
        projects=["B-DEMO-1"],
    )
    with pytest.raises(Conflict):
        attach_projects(session, actor=CITY, code="JZCC-T1", projects=["B-PLANT"])
    found = attach_projects(session, actor=CITY, code="JZCC-T1", projects=["B-DEMO-2"])
    totals = found.figures.by_campaign[Campaign.renewal]
    assert (totals.projects, totals.area_mu, totals.investment_wan) == (
        2,
        Decimal("50.00"),
        Decimal("300.25"),
    )
    assert found.figures.by_campaign[Campaign.water].projects == 0


def test_adding_and_removing_projects_is_audited(session: Session) -> None:
    projects(session)
    start_batch(session, "B-SEWER")
    attach_projects(session, actor=CITY, code="JZKG-T1", projects=["B-PLANT", "B-GREEN"])
    found = detach_projects(session, actor=CITY, code="JZKG-T1", projects=["B-SEWER"])
    assert [p.code for p in found.projects] == ["B-GREEN", "B-PLANT"]
    assert found.figures.total.sewer_km == 0
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.resource == "batch", AuditEntry.record_id == "JZKG-T1")
        .order_by(AuditEntry.seq)
    ).all()
    assert [e.action for e in entries] == ["add", "change", "change"]
    assert entries[0].detail is not None
    assert "B-SEWER" in entries[0].detail
    attached, detached = entries[1], entries[2]
    assert json.loads(attached.before or "{}") == {"projects": ["B-SEWER"]}
    assert json.loads(attached.after or "{}") == {"projects": ["B-GREEN", "B-PLANT", "B-SEWER"]}
    assert json.loads(detached.before or "{}") == {"projects": ["B-GREEN", "B-PLANT", "B-SEWER"]}
    assert json.loads(detached.after or "{}") == {"projects": ["B-GREEN", "B-PLANT"]}


def test_what_a_batch_cannot_take_or_give_back(session: Session) -> None:
    projects(session)
    start_batch(session, "B-SEWER")
    with pytest.raises(Conflict, match="已在批次"):
        attach_projects(session, actor=CITY, code="JZKG-T1", projects=["B-SEWER"])
    with pytest.raises(Conflict, match="不在批次"):
        detach_projects(session, actor=CITY, code="JZKG-T1", projects=["B-PLANT"])
    with pytest.raises(Invalid) as unknown:
        attach_projects(session, actor=CITY, code="JZKG-T1", projects=["B-NONE", "B-PLANT"])
    assert [p.value for p in unknown.value.problems] == ["B-NONE"]
    with pytest.raises(Invalid):
        attach_projects(session, actor=CITY, code="JZKG-T1", projects=[" "])
    with pytest.raises(NotFound):
        attach_projects(session, actor=CITY, code="NO-SUCH", projects=["B-PLANT"])
    with pytest.raises(Conflict):
        start_batch(session)


def test_batches_are_listed_with_their_figures_by_kind(session: Session) -> None:
    projects(session)
    start_batch(session, "B-SEWER", "B-DEMO-1")
    add_batch(
        session,
        actor=CITY,
        code="JZCC-T2",
        name="空批次",
        kind=BatchKind.concentrated_demolition,
        held_on=HELD_ON,
    )
    _total, rows = list_batches(session, actor=AUDITOR, limit=500)
    by_code = {row.batch.code: row.figures.total for row in rows}
    assert by_code["JZKG-T1"].projects == 2
    assert by_code["JZKG-T1"].investment_wan == Decimal("1500.75")
    assert by_code["JZCC-T2"].projects == 0
    _total, starts = list_batches(
        session, actor=AUDITOR, kind=BatchKind.concentrated_start, limit=500
    )
    assert {row.batch.kind for row in starts} == {BatchKind.concentrated_start}


def test_a_town_cannot_add_a_batch_and_the_attempt_is_logged(session: Session) -> None:
    shiqi = town_actor(session, "石岐")
    with pytest.raises(Forbidden):
        add_batch(
            session,
            actor=shiqi,
            code="JZKG-TOWN",
            name="镇街批次",
            kind=BatchKind.concentrated_start,
            held_on=HELD_ON,
        )
    (entry,) = refusals(session, shiqi)
    assert (entry.action, entry.resource, entry.record_id) == ("add", "batch", "JZKG-TOWN")


@pytest.mark.parametrize("who", ["town", "auditor"])
@pytest.mark.parametrize("change", [attach_projects, detach_projects])
def test_only_the_city_changes_a_batchs_projects(
    session: Session, who: str, change: Callable[..., object]
) -> None:
    projects(session)
    start_batch(session, "B-SEWER")
    stranger = town_actor(session, "石岐") if who == "town" else AUDITOR
    with pytest.raises(Forbidden):
        change(session, actor=stranger, code="JZKG-T1", projects=["B-SEWER"])
    (entry,) = refusals(session, stranger)
    assert (entry.action, entry.resource, entry.record_id) == ("change", "batch", "JZKG-T1")


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements ``session`` sends inside the block."""
    sent: list[str] = []
    connection = session.connection()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(connection, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", before)


@pytest.mark.parametrize(
    "listing",
    [
        lambda s, n: list_batches(s, actor=AUDITOR, limit=n),
        lambda s, n: list_projects(s, actor=AUDITOR, limit=n),
        lambda s, n: list_projects(
            s, actor=AUDITOR, limit=n, overdue_as_of=dt.date(2023, 1, 31), is_overdue=False
        ),
    ],
    ids=["batches", "projects", "projects-not-overdue"],
)
def test_a_listing_issues_the_same_queries_whatever_its_length(
    demo_session: Session, listing: Any
) -> None:
    with statements(demo_session) as few:
        _total, short = listing(demo_session, 2)
    with statements(demo_session) as many:
        _total, long = listing(demo_session, 200)
    assert len(long) > len(short) == 2
    assert len(many) == len(few) <= 5


def test_overdue_issues_the_same_queries_whatever_it_finds(demo_session: Session) -> None:
    with statements(demo_session) as early:
        none_yet = overdue_projects(demo_session, actor=AUDITOR, as_of=dt.date(2021, 1, 1))
    with statements(demo_session) as late:
        found = overdue_projects(demo_session, actor=AUDITOR, as_of=dt.date(2023, 1, 31))
    assert (none_yet, len(found) > 0) == ([], True)
    assert len(early) == len(late) <= 3
    assert all(row.days > 0 for row in found)
    assert [row.days for row in found] == sorted((row.days for row in found), reverse=True)


def test_the_demo_batches_obey_the_rules(demo_session: Session) -> None:
    _total, rows = list_batches(demo_session, actor=AUDITOR, limit=100)
    demolitions = [row for row in rows if row.batch.kind == BatchKind.concentrated_demolition]
    assert demolitions
    for row in demolitions:
        found = get_batch(demo_session, actor=AUDITOR, code=row.batch.code)
        assert {p.kind for p in found.projects} <= {K.demolition}
        assert found.figures.by_campaign[Campaign.water].projects == 0
        assert found.figures.total.area_mu == sum(
            (p.area_mu or Decimal(0) for p in found.projects), Decimal(0)
        )
