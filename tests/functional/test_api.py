"""The first web process: health, the KPI endpoint, and the permission check through the
API (403 and logged, 404 only for what does not exist)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.campaign.models import Project
from gongjian.demo.generate import DEMO_USERS
from gongjian.kpi.services import KPI_KEYS, kpis
from gongjian.towns.models import Town
from gongjian.water.models import Complaint
from gongjian.web.app import create_app

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(demo_engine)) as test_client:
        yield test_client


def _auth(username: str) -> tuple[str, str]:
    return (username, PASSWORDS[username])


def _user(role: str, town: str | None = None) -> str:
    return next(u for u, _, r, t, _ in DEMO_USERS if r == role and (town is None or t == town))


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_kpi_answers_the_spec_shape_for_anyone(client: TestClient, demo_engine: Engine) -> None:
    response = client.get("/api/v1/kpi", params={"as_of": "2023-01-31"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"scope", "as_of", "kpi"}
    assert (body["scope"], body["as_of"]) == ("city", "2023-01-31")
    assert list(body["kpi"]) == list(KPI_KEYS)
    with Session(demo_engine) as session:
        assert body["kpi"] == kpis(session, as_of=dt.date(2023, 1, 31))


def test_kpi_for_a_town_by_name_or_code(client: TestClient, demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        town = session.scalars(select(Town).where(Town.name == "小榄")).one()
        expected = kpis(session, as_of=dt.date(2022, 12, 31), town_id=town.id)
    for key in (town.name, town.code):
        body = client.get("/api/v1/kpi", params={"town": key, "as_of": "2022-12"}).json()
        assert (body["scope"], body["as_of"], body["kpi"]) == ("小榄", "2022-12-31", expected)


def test_kpi_bad_input_is_a_clear_error(client: TestClient) -> None:
    response = client.get("/api/v1/kpi", params={"as_of": "2023-13-45"})
    assert response.status_code == 422
    assert "2023-13-45" in response.text
    missing = client.get("/api/v1/kpi", params={"town": "东升"})
    assert missing.status_code == 404
    assert "东升" in missing.json()["message"]


def _refusals(engine: Engine, username: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.actor == username, AuditEntry.outcome == "refused"
                )
            )
        )


def test_town_user_cannot_edit_another_towns_project(
    client: TestClient, demo_engine: Engine
) -> None:
    with Session(demo_engine) as session:
        project = session.scalars(select(Project).order_by(Project.id)).first()
        assert project is not None
        own_town = session.get(Town, project.town_id)
        other_town = session.scalars(select(Town).where(Town.id != project.town_id)).first()
        assert own_town is not None
        assert other_town is not None
    intruder, owner = _user("town", other_town.name), _user("town", own_town.name)
    refused_before = len(_refusals(demo_engine, intruder))
    response = client.patch(
        f"/api/v1/projects/{project.code}",
        json={"owner": "越权修改", "version": project.version},
        auth=_auth(intruder),
    )
    assert response.status_code == 403
    assert "只能修改本镇街" in response.json()["message"]
    assert len(_refusals(demo_engine, intruder)) == refused_before + 1
    readable = client.get(f"/api/v1/projects/{project.code}", auth=_auth(intruder))
    assert readable.status_code == 200
    assert readable.json()["owner"] != "越权修改"
    allowed = client.patch(
        f"/api/v1/projects/{project.code}",
        json={"owner": "本镇街修改", "version": project.version},
        auth=_auth(owner),
    )
    assert allowed.status_code == 200
    assert allowed.json()["owner"] == "本镇街修改"


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/api/v1/audit", "town", 403),
        ("/api/v1/audit", "city", 403),
        ("/api/v1/audit", "auditor", 200),
        ("/api/v1/audit", "admin", 200),
        ("/api/v1/audit/verify", "auditor", 200),
        ("/api/v1/users", "city", 403),
        ("/api/v1/users", "auditor", 403),
        ("/api/v1/users", "admin", 200),
    ],
)
def test_sensitive_records(
    client: TestClient, demo_engine: Engine, path: str, role: str, status: int
) -> None:
    username = _user(role)
    before = len(_refusals(demo_engine, username))
    response = client.get(path, auth=_auth(username))
    assert response.status_code == status
    assert len(_refusals(demo_engine, username)) == before + (status == 403)


def test_anonymous_cannot_read_the_audit_log(client: TestClient) -> None:
    assert client.get("/api/v1/audit").status_code == 403
    assert client.get("/api/v1/projects").status_code == 403


def test_not_found_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/projects/NO-SUCH-CODE", auth=_auth(_user("city")))
    assert response.status_code == 404
    assert "NO-SUCH-CODE" in response.json()["message"]


def test_wrong_password_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/projects", auth=(_user("city"), "wrong-password"))
    assert response.status_code == 401


def test_invalid_body_is_422_and_writes_nothing(client: TestClient, demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        project = session.scalars(select(Project).order_by(Project.id)).first()
        assert project is not None
    response = client.patch(
        f"/api/v1/projects/{project.code}",
        json={"budget_wan": "-5", "colour": "red", "version": project.version},
        auth=_auth(_user("city")),
    )
    assert response.status_code == 422
    columns = {p["column"] for p in response.json()["problems"]}
    assert {"budget_wan", "colour"} <= columns


def test_openapi_describes_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/kpi", "/api/v1/projects/{code}", "/api/v1/audit"} <= set(paths)


def test_complainant_contact_for_city_and_the_town_concerned(
    client: TestClient, demo_engine: Engine
) -> None:
    with Session(demo_engine) as session:
        complaint = session.scalars(select(Complaint).order_by(Complaint.id)).first()
        assert complaint is not None
        concerned = session.get(Town, complaint.town_id)
        other = session.scalars(select(Town).where(Town.id != complaint.town_id)).first()
        assert concerned is not None
        assert other is not None
    path = f"/api/v1/complaints/{complaint.receipt_no}/contact"
    stranger = _user("town", other.name)
    before = len(_refusals(demo_engine, stranger))
    assert client.get(path, auth=_auth(stranger)).status_code == 403
    assert len(_refusals(demo_engine, stranger)) == before + 1
    assert client.get(path, auth=_auth(_user("auditor"))).status_code == 403
    for username in (_user("town", concerned.name), _user("city")):
        answer = client.get(path, auth=_auth(username))
        assert answer.status_code == 200
        assert answer.json()["complainant_phone"] == complaint.complainant_phone
    summary = client.get(f"/api/v1/complaints/{complaint.receipt_no}", auth=_auth(stranger))
    assert summary.status_code == 200
    assert complaint.complainant_phone not in summary.text
