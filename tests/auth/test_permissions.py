"""SPEC's roles through the service layer: who may read and write what; refusals are
403 (``Forbidden``) and logged, missing records are 404 (``NotFound``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.audit.services import list_entries
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action, Role
from gongjian.auth.permissions import allowed
from gongjian.auth.services import list_users
from gongjian.campaign.models import Project
from gongjian.campaign.services import PROJECTS
from gongjian.errors import Forbidden, NotFound
from gongjian.records import change_record, list_records, read_record
from gongjian.towns.models import Town
from gongjian.water.models import Complaint, River
from gongjian.water.services import RIVERS, complaint_contact, get_complaint

CITY = Actor(username="city-renewal", role=Role.city)
AUDITOR = Actor(username="auditor", role=Role.auditor)
ADMIN = Actor(username="admin", role=Role.admin)


def _town_actor(town_id: int) -> Actor:
    return Actor(username=f"town-{town_id}", role=Role.town, town_id=town_id)


def _other_town(session: Session, town_id: int) -> int:
    other = session.scalars(select(Town.id).where(Town.id != town_id)).first()
    assert other is not None
    return other


def _refusals(session: Session, actor: Actor) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == actor.username, AuditEntry.outcome == "refused"
            )
        )
    )


def _any(session: Session, model: type[Project] | type[River] | type[Complaint]) -> object:
    found = session.scalars(select(model).order_by(model.id)).first()
    assert found is not None
    return found


def test_town_user_cannot_change_another_towns_project(demo_session: Session) -> None:
    project = _any(demo_session, Project)
    assert isinstance(project, Project)
    intruder = _town_actor(_other_town(demo_session, project.town_id))
    original = project.name
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        change_record(
            demo_session, PROJECTS, actor=intruder, code=project.code, changes={"name": "改名"}
        )
    demo_session.expire_all()
    assert (
        demo_session.scalars(select(Project.name).where(Project.code == project.code)).one()
        == original
    )
    (refusal,) = _refusals(demo_session, intruder)
    assert (refusal.action, refusal.resource, refusal.record_id) == (
        "change",
        "project",
        project.code,
    )


def test_town_user_changes_own_project_and_it_is_audited(demo_session: Session) -> None:
    project = _any(demo_session, Project)
    assert isinstance(project, Project)
    owner = _town_actor(project.town_id)
    change_record(
        demo_session, PROJECTS, actor=owner, code=project.code, changes={"owner": "某某办"}
    )
    entry = demo_session.scalars(
        select(AuditEntry).where(AuditEntry.actor == owner.username, AuditEntry.outcome == "ok")
    ).one()
    assert entry.record_id == project.code
    assert entry.after is not None
    assert "某某办" in entry.after


def test_town_user_cannot_move_a_project_to_another_town(demo_session: Session) -> None:
    project = _any(demo_session, Project)
    assert isinstance(project, Project)
    owner = _town_actor(project.town_id)
    other = _other_town(demo_session, project.town_id)
    with pytest.raises(Forbidden):
        change_record(
            demo_session, PROJECTS, actor=owner, code=project.code, changes={"town_id": other}
        )


def test_town_user_reads_every_towns_records(demo_session: Session) -> None:
    river = _any(demo_session, River)
    assert isinstance(river, River)
    reader = _town_actor(_other_town(demo_session, river.lead_town_id))
    assert read_record(demo_session, RIVERS, actor=reader, code=river.code).id == river.id
    total, rows = list_records(
        demo_session, RIVERS, actor=reader, town_id=None, limit=500, offset=0
    )
    assert total == len(rows)
    assert len({r.lead_town_id for r in rows}) > 1


def test_auditor_reads_everything_but_writes_nothing(demo_session: Session) -> None:
    project = _any(demo_session, Project)
    assert isinstance(project, Project)
    total, _ = list_entries(demo_session, actor=AUDITOR, limit=10, offset=0)
    assert total > 0
    with pytest.raises(Forbidden):
        change_record(
            demo_session, PROJECTS, actor=AUDITOR, code=project.code, changes={"name": "x"}
        )
    assert len(_refusals(demo_session, AUDITOR)) == 1


@pytest.mark.parametrize("role", [Role.city, Role.town])
def test_audit_log_is_hidden_from_city_and_town(demo_session: Session, role: Role) -> None:
    actor = Actor(username=f"probe-{role}", role=role, town_id=1 if role is Role.town else None)
    with pytest.raises(Forbidden, match="审计监督"):
        list_entries(demo_session, actor=actor, limit=10, offset=0)
    assert [e.resource for e in _refusals(demo_session, actor)] == ["audit_entry"]


@pytest.mark.parametrize("role", [Role.city, Role.auditor, Role.town])
def test_user_accounts_are_admin_only(demo_session: Session, role: Role) -> None:
    actor = Actor(username=f"probe-{role}", role=role, town_id=1 if role is Role.town else None)
    with pytest.raises(Forbidden, match="平台管理员"):
        list_users(demo_session, actor=actor)
    assert len(_refusals(demo_session, actor)) == 1
    assert list_users(demo_session, actor=ADMIN)


def test_complainant_data_for_city_and_the_town_concerned_only(demo_session: Session) -> None:
    complaint = _any(demo_session, Complaint)
    assert isinstance(complaint, Complaint)
    concerned = _town_actor(complaint.town_id)
    other = _town_actor(_other_town(demo_session, complaint.town_id))
    for actor in (CITY, concerned, ADMIN):
        assert complaint_contact(demo_session, actor=actor, receipt_no=complaint.receipt_no)
        assert get_complaint(demo_session, actor=actor, receipt_no=complaint.receipt_no)[1]
    for actor in (other, AUDITOR):
        assert not get_complaint(demo_session, actor=actor, receipt_no=complaint.receipt_no)[1]
        with pytest.raises(Forbidden):
            complaint_contact(demo_session, actor=actor, receipt_no=complaint.receipt_no)
        assert [e.resource for e in _refusals(demo_session, actor)] == ["complaint_contact"]


def test_missing_record_is_not_found_not_forbidden(demo_session: Session) -> None:
    intruder = _town_actor(1)
    with pytest.raises(NotFound, match="NO-SUCH"):
        change_record(demo_session, PROJECTS, actor=intruder, code="NO-SUCH", changes={"name": "x"})


def test_public_sees_only_published_rivers(demo_session: Session) -> None:
    public = Actor.public()
    total, rows = list_records(
        demo_session, RIVERS, actor=public, town_id=None, limit=500, offset=0
    )
    assert rows
    assert all(r.published for r in rows)
    hidden = demo_session.scalars(select(River).where(River.published.is_(False))).first()
    assert hidden is not None
    with pytest.raises(NotFound):
        read_record(demo_session, RIVERS, actor=public, code=hidden.code)
    assert total < demo_session.query(River).count()


@pytest.mark.parametrize(
    ("role", "action", "resource", "same_town", "expected"),
    [
        (Role.admin, Action.delete, "audit_entry", False, True),
        (Role.city, Action.approve, "commitment", False, True),
        (Role.city, Action.publish, "briefing", False, True),
        (Role.town, Action.approve, "commitment", True, False),
        (Role.town, Action.publish, "briefing", True, False),
        (Role.town, Action.add, "project", True, True),
        (Role.town, Action.add, "project", False, False),
        (Role.town, Action.change, "batch", True, False),
        (Role.auditor, Action.view, "audit_entry", False, True),
        (Role.auditor, Action.add, "project", True, False),
        (Role.public, Action.view, "kpi", False, True),
        (Role.public, Action.view, "project", False, False),
        (Role.public, Action.add, "complaint", False, True),
        (Role.public, Action.view, "audit_entry", False, False),
    ],
)
def test_role_matrix(
    role: Role, action: Action, resource: str, same_town: bool, expected: bool
) -> None:
    actor = Actor(username="x", role=role, town_id=5 if role is Role.town else None)
    assert allowed(actor, action, resource, 5 if same_town else 6) is expected
