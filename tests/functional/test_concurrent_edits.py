"""Concurrent edits: two people edit the same project from what each of them read. The
first change wins; the second, based on a version that is no longer the project's, is
refused with 409 naming both versions (over the API, in JSON with the project as it is;
through the page, on the conflict page) and nothing of it is written. Every change moves
the version, a state change and a task-list import included."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.campaign.models import Project, ProjectStateChange
from gongjian.campaign.projects import update_project
from gongjian.errors import StaleVersion
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory
from tests.functional.test_tasklists_api import XLSX, project_list
from tests.web.conftest import csrf_from, sign_in

PASSWORD = "concurrent-password-1"
#: Two city users and the town the projects belong to.
USERS = {"a": ("ce-city-a", Role.city, None), "b": ("ce-city-b", Role.city, None)}
USERS["town"] = ("ce-shiqi", Role.town, "石岐")
HIDDEN_VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture(scope="module")
def edit_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of its own (the tests commit): the towns and the users above."""
    engine = databases.new("concurrent_edits")
    with Session(engine) as session:
        system = Actor.system("test")
        for username, role, town in USERS.values():
            add_user(
                session, actor=system, username=username, password=PASSWORD, role=role, town=town
            )
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def two_clients(edit_engine: Engine) -> Iterator[tuple[TestClient, TestClient]]:
    """Two browsers (each with its own cookies) on one app."""
    app = create_app(edit_engine)
    with (
        TestClient(app, follow_redirects=False) as first,
        TestClient(app, follow_redirects=False) as second,
    ):
        yield first, second


def auth(who: str) -> tuple[str, str]:
    return USERS[who][0], PASSWORD


def add_project(client: TestClient, code: str) -> None:
    body = {"code": code, "name": f"{code}工程", "kind": "sewer", "town": "石岐"}
    body["listed_on"] = "2022-01-03"
    response = client.post("/api/v1/projects", json=body, auth=auth("a"))
    assert response.status_code == 201, response.text


def stored(engine: Engine, code: str) -> Project:
    with Session(engine) as session:
        found = session.scalars(select(Project).where(Project.code == code)).one()
        session.expunge(found)
        return found


def changes_of(engine: Engine, code: str) -> list[AuditEntry]:
    """The audit entries that changed project ``code`` (refusals and views left out)."""
    with Session(engine) as session:
        stmt = select(AuditEntry).where(
            AuditEntry.resource == "project",
            AuditEntry.record_id == code,
            AuditEntry.outcome == "ok",
            AuditEntry.action.in_(("change", "approve")),
        )
        return list(session.scalars(stmt.order_by(AuditEntry.seq)))


def test_the_second_of_two_api_edits_from_one_read_gets_409_and_writes_nothing(
    two_clients: tuple[TestClient, TestClient], edit_engine: Engine
) -> None:
    first, second = two_clients
    add_project(first, "CE-API-1")
    read_a = first.get("/api/v1/projects/CE-API-1", auth=auth("a"))
    read_b = second.get("/api/v1/projects/CE-API-1", auth=auth("b"))
    assert read_a.json()["version"] == read_b.json()["version"] == 1
    assert read_a.headers["etag"] == '"1"'

    won = first.patch(
        "/api/v1/projects/CE-API-1", json={"owner": "甲单位", "version": 1}, auth=auth("a")
    )
    assert won.status_code == 200, won.text
    assert (won.json()["owner"], won.json()["version"]) == ("甲单位", 2)
    assert won.headers["etag"] == '"2"'

    lost = second.patch(
        "/api/v1/projects/CE-API-1",
        json={"owner": "乙单位", "budget_wan": "99.00", "version": 1},
        auth=auth("b"),
    )
    assert lost.status_code == 409, lost.text
    body = lost.json()
    assert (body["sent_version"], body["current_version"]) == (1, 2)
    assert body["current"]["owner"] == "甲单位"
    assert body["current"]["version"] == 2
    assert "第 1 版" in body["message"]
    assert "第 2 版" in body["message"]

    project = stored(edit_engine, "CE-API-1")
    assert (project.owner, project.budget_wan, project.version) == ("甲单位", None, 2)
    entries = changes_of(edit_engine, "CE-API-1")
    assert [e.actor for e in entries] == [USERS["a"][0]]
    assert "乙单位" not in (entries[0].after or "")

    # read again, the second client's change goes through on top of the first's
    fresh = second.get("/api/v1/projects/CE-API-1", auth=auth("b")).json()["version"]
    retried = second.patch(
        "/api/v1/projects/CE-API-1", json={"owner": "乙单位", "version": fresh}, auth=auth("b")
    )
    assert (retried.status_code, retried.json()["version"]) == (200, 3)


def test_a_change_without_the_version_it_is_based_on_is_refused(
    two_clients: tuple[TestClient, TestClient], edit_engine: Engine
) -> None:
    first, _ = two_clients
    add_project(first, "CE-API-2")
    blind = first.patch("/api/v1/projects/CE-API-2", json={"owner": "盲改"}, auth=auth("a"))
    assert blind.status_code == 422
    assert [p["column"] for p in blind.json()["problems"]] == ["version"]
    assert stored(edit_engine, "CE-API-2").owner is None
    future = first.patch(
        "/api/v1/projects/CE-API-2", json={"owner": "x", "version": 5}, auth=auth("a")
    )
    assert (future.status_code, future.json()["current_version"]) == (409, 1)


def test_the_version_moves_on_every_change_state_changes_included(
    two_clients: tuple[TestClient, TestClient], edit_engine: Engine
) -> None:
    first, _ = two_clients
    add_project(first, "CE-VER-1")
    versions = [stored(edit_engine, "CE-VER-1").version]
    patched = first.patch(
        "/api/v1/projects/CE-VER-1", json={"owner": "甲", "version": 1}, auth=auth("a")
    )
    assert patched.status_code == 200
    versions.append(stored(edit_engine, "CE-VER-1").version)
    for to_state, on in (("approved", "2022-02-01"), ("started", "2022-03-01")):
        moved = first.post(
            "/api/v1/projects/CE-VER-1/state",
            json={"to_state": to_state, "on": on},
            auth=auth("town"),
        )
        assert moved.status_code == 201, moved.text
        versions.append(stored(edit_engine, "CE-VER-1").version)
    assert versions == [1, 2, 3, 4]
    stale_move = first.post(
        "/api/v1/projects/CE-VER-1/state",
        json={"to_state": "completed", "on": "2022-04-01", "version": 3},
        auth=auth("town"),
    )
    assert stale_move.status_code == 409
    assert (stale_move.json()["sent_version"], stale_move.json()["current_version"]) == (3, 4)
    assert stored(edit_engine, "CE-VER-1").state == "started"


def _project_form(client: TestClient, code: str) -> tuple[str, str]:
    """The CSRF token and the hidden version of a project page's state form."""
    page = client.get(f"/projects/{code}")
    assert page.status_code == 200, page.text
    version = HIDDEN_VERSION.search(page.text)
    assert version, "the state form carries no version"
    return csrf_from(page.text), version.group(1)


def test_the_second_of_two_page_forms_from_one_read_gets_the_conflict_page(
    two_clients: tuple[TestClient, TestClient], edit_engine: Engine
) -> None:
    first, second = two_clients
    add_project(first, "CE-PAGE-1")
    for client, who in ((first, "a"), (second, "town")):
        assert sign_in(client, USERS[who][0], PASSWORD).status_code == 303
    token_a, version_a = _project_form(first, "CE-PAGE-1")
    token_b, version_b = _project_form(second, "CE-PAGE-1")
    assert version_a == version_b == "1"

    form = {"to_state": "approved", "on": "2022-02-01", "reason": "甲先提交"}
    won = first.post(
        "/projects/CE-PAGE-1/state", data=form | {"csrf_token": token_a, "version": version_a}
    )
    assert won.status_code == 303, won.text
    form = {"to_state": "approved", "on": "2022-02-02", "reason": "乙后提交"}
    lost = second.post(
        "/projects/CE-PAGE-1/state", data=form | {"csrf_token": token_b, "version": version_b}
    )
    assert lost.status_code == 409, lost.text
    page = lost.text
    assert "记录已被他人修改" in page
    assert re.search(r'data-version="sent">\s*第 1 版', page)
    assert re.search(r'data-version="current">\s*第 2 版', page)
    assert "乙后提交" in page  # what the user sent, beside the record now
    assert "相同" in page  # both asked for 已立项, which the project now is
    assert 'href="/projects/CE-PAGE-1"' in page  # reload and retry
    assert '<link rel="stylesheet" href="/static/css/conflict.css">' in page

    with Session(edit_engine) as session:
        project = session.scalars(select(Project).where(Project.code == "CE-PAGE-1")).one()
        moves = session.scalars(
            select(ProjectStateChange).where(ProjectStateChange.project_id == project.id)
        ).all()
        assert [m.reason for m in moves if m.to_state == "approved"] == ["甲先提交"]
        assert project.version == 2
    assert [e.actor for e in changes_of(edit_engine, "CE-PAGE-1")] == [USERS["a"][0]]

    in_english = second.get("/lang/en", params={"next": "/projects/CE-PAGE-1"})
    assert in_english.status_code in (302, 303, 307)
    lost_again = second.post(
        "/projects/CE-PAGE-1/state",
        data=form | {"csrf_token": token_b, "version": version_b, "to_state": "started"},
    )
    assert lost_again.status_code == 409
    assert "Someone else changed this record" in lost_again.text
    # 已开工 asked for, 已立项 now: marked in words and with a sign, not by colour alone
    assert re.search(r'class="differs".*?≠ </span>different', lost_again.text, re.S)


def test_a_task_list_import_updating_a_project_moves_its_version(
    two_clients: tuple[TestClient, TestClient], edit_engine: Engine
) -> None:
    first, _ = two_clients
    add_project(first, "CE-IMP-1")
    held = first.get("/api/v1/projects/CE-IMP-1", auth=auth("a")).json()["version"]
    assert held == 1
    content = project_list(
        [{"code": "CE-IMP-1", "name": "导入改名", "kind": "sewer", "town": "石岐"}]
    )
    imported = first.post(
        "/api/v1/imports/projects",
        params={"dry_run": "false"},
        files={"file": ("清单.xlsx", content, XLSX)},
        auth=auth("b"),
    )
    assert imported.status_code == 200, imported.text
    project = stored(edit_engine, "CE-IMP-1")
    assert (project.name, project.version) == ("导入改名", 2)
    stale = first.patch(
        "/api/v1/projects/CE-IMP-1", json={"owner": "旧读数", "version": held}, auth=auth("a")
    )
    assert stale.status_code == 409
    assert (stale.json()["sent_version"], stale.json()["current_version"]) == (1, 2)
    assert stale.json()["current"]["name"] == "导入改名"
    assert stored(edit_engine, "CE-IMP-1").owner is None


def test_the_orm_refuses_a_write_based_on_a_stale_read(
    two_clients: tuple[TestClient, TestClient], edit_engine: Engine
) -> None:
    """A service that names no version is still checked: the UPDATE says which version
    it read, and a row changed since by another transaction is not overwritten."""
    first, _ = two_clients
    add_project(first, "CE-ORM-1")
    city = Actor(username=USERS["a"][0], role=Role.city)
    with Session(edit_engine, expire_on_commit=False) as slow:
        project = slow.scalars(select(Project).where(Project.code == "CE-ORM-1")).one()
        slow.commit()  # the read is done; the object keeps version 1
        with Session(edit_engine) as fast:
            update_project(fast, actor=city, code="CE-ORM-1", changes={"owner": "快"})
            fast.commit()
        assert project.version == 1
        with pytest.raises(StaleVersion) as refused:
            update_project(slow, actor=city, code="CE-ORM-1", changes={"owner": "慢"})
        assert (refused.value.sent, refused.value.current) == (None, 2)
        assert refused.value.record["owner"] == "快"
        slow.rollback()
    assert stored(edit_engine, "CE-ORM-1").owner == "快"
