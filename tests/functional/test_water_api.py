"""Rivers through the API and the command line: remediation states, corrections,
surveys, plans, priorities and complaint counts, with the status codes SPEC asks for
(403 logged, 404 only for what does not exist, 422 for bad input).

API tests run against the demo city inside a transaction rolled back at the end: the
app's session is the test's. Command-line tests run ``register()`` on a fresh Typer
app against a database of their own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import gongjian.db
from gongjian.audit.models import AuditEntry
from gongjian.cli.rivers import register
from gongjian.config import get_settings
from gongjian.demo.generate import DEMO_USERS
from gongjian.periods import city_zone
from gongjian.towns.models import Town
from gongjian.water.choices import MeasureState, RemediationState
from gongjian.water.models import (
    Complaint,
    MonitoringPoint,
    PlanMeasure,
    River,
    RiverPlan,
    RiverStateChange,
    RiverSurvey,
)
from gongjian.water.plans import is_overdue
from gongjian.web.app import create_app
from gongjian.web.deps import get_session
from tests.conftest import DatabaseFactory, new_complaint

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
REPORT_DAY = "2023-01-31"
AFTER_THE_DEMO = "2023-02-01"


@pytest.fixture
def client(demo_session: Session, demo_engine: Engine) -> Iterator[TestClient]:
    """The web app on the demo city, its every request in the test's transaction."""
    app = create_app(demo_engine)

    def test_session() -> Iterator[Session]:
        try:
            yield demo_session
        except BaseException:
            demo_session.rollback()
            raise
        demo_session.commit()

    app.dependency_overrides[get_session] = test_session
    with TestClient(app) as test_client:
        yield test_client


def _auth(username: str) -> tuple[str, str]:
    return (username, PASSWORDS[username])


def _user(role: str, town: str | None = None) -> str:
    return next(u for u, _, r, t, _ in DEMO_USERS if r == role and (town is None or t == town))


def _river(session: Session, state: RemediationState) -> tuple[River, str, str]:
    """A demo river in ``state``, its lead town's user and another town's user."""
    river = session.scalars(
        select(River).where(River.remediation_state == state.value).order_by(River.code)
    ).first()
    assert river is not None
    own = session.get(Town, river.lead_town_id)
    other = session.scalars(select(Town).where(Town.id != river.lead_town_id)).first()
    assert own is not None
    assert other is not None
    return river, _user("town", own.name), _user("town", other.name)


def _refusals(session: Session, username: str, record_id: object) -> list[AuditEntry]:
    """The refused attempts of ``username`` on ``record_id`` (other tests of the demo city
    leave refusals of their own)."""
    return list(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == username,
                AuditEntry.outcome == "refused",
                AuditEntry.record_id == str(record_id),
            )
        )
    )


def test_any_town_reads_a_rivers_history(client: TestClient, demo_session: Session) -> None:
    river, _own, stranger = _river(demo_session, RemediationState.evaluated)
    response = client.get(f"/api/v1/rivers/{river.code}/history", auth=_auth(stranger))
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["remediation_state"]) == (river.code, "evaluated")
    assert [c["to_state"] for c in body["changes"]] == [s.value for s in RemediationState][:4]
    missing = client.get("/api/v1/rivers/NO-SUCH/history", auth=_auth(stranger))
    assert missing.status_code == 404
    assert "NO-SUCH" in missing.json()["message"]


def test_a_town_moves_its_own_river_only(
    client: TestClient, demo_session: Session, demo_engine: Engine
) -> None:
    river, own, stranger = _river(demo_session, RemediationState.entered)
    path = f"/api/v1/rivers/{river.code}/state"
    body = {"to_state": "completed", "on": AFTER_THE_DEMO, "reason": "主体工程完工"}
    refused = client.post(path, json=body, auth=_auth(stranger))
    assert refused.status_code == 403
    assert "只能修改本镇街" in refused.json()["message"]
    assert [(e.action, e.record_id) for e in _refusals(demo_session, stranger, river.code)] == [
        ("change", river.code)
    ]
    assert client.post(path, json=body).status_code == 403
    moved = client.post(path, json=body, auth=_auth(own))
    assert moved.status_code == 201
    assert moved.json()["from_state"] == "entered"
    assert moved.json()["to_state"] == "completed"
    demo_session.refresh(river)
    assert river.remediation_state == RemediationState.completed
    with Session(demo_engine) as elsewhere:
        outside = elsewhere.scalars(select(River).where(River.code == river.code)).one()
        assert outside.remediation_state == RemediationState.entered


def test_a_wrong_move_is_409_and_a_bad_body_422(client: TestClient, demo_session: Session) -> None:
    river, own, _stranger = _river(demo_session, RemediationState.entered)
    path = f"/api/v1/rivers/{river.code}/state"
    wrong = client.post(path, json={"to_state": "evaluated", "on": AFTER_THE_DEMO}, auth=_auth(own))
    assert wrong.status_code == 409
    assert "可改为：“完工”" in wrong.json()["message"]
    for body in (
        {"to_state": "finished", "on": AFTER_THE_DEMO},
        {"to_state": "completed", "on": "2023-02-30"},
        {"to_state": "completed"},
    ):
        assert client.post(path, json=body, auth=_auth(own)).status_code == 422
    future = client.post(
        path,
        json={"to_state": "completed", "on": str(dt.date.today() + dt.timedelta(days=2))},
        auth=_auth(own),
    )
    assert future.status_code == 422
    assert future.json()["problems"][0]["column"] == "on"
    assert (
        client.post(
            "/api/v1/rivers/NO-SUCH/state",
            json={"to_state": "completed", "on": AFTER_THE_DEMO},
            auth=_auth(own),
        ).status_code
        == 404
    )


def test_evaluation_without_evidence_is_409_with_the_reasons(
    client: TestClient, demo_session: Session
) -> None:
    river, _own, _stranger = _river(demo_session, RemediationState.completed)
    response = client.post(
        f"/api/v1/rivers/{river.code}/state",
        json={"to_state": "evaluated", "on": AFTER_THE_DEMO},
        auth=_auth(_user("city")),
    )
    assert response.status_code == 409
    message = response.json()["message"]
    assert "不能于 2023-02-01 改为“评估通过”" in message
    assert "没有公众满意度调查" in message


def test_only_the_city_corrects(client: TestClient, demo_session: Session) -> None:
    river, own, _stranger = _river(demo_session, RemediationState.completed)
    path = f"/api/v1/rivers/{river.code}/corrections"
    body = {"to_state": "entered", "on": AFTER_THE_DEMO, "reason": "误报完工"}
    refused = client.post(path, json=body, auth=_auth(own))
    assert refused.status_code == 403
    assert [(e.action, e.record_id) for e in _refusals(demo_session, own, river.code)] == [
        ("approve", river.code)
    ]
    assert (
        client.post(path, json={**body, "reason": ""}, auth=_auth(_user("city"))).status_code == 422
    )
    corrected = client.post(path, json=body, auth=_auth(_user("city")))
    assert corrected.status_code == 201
    assert corrected.json()["is_correction"] is True
    history = client.get(f"/api/v1/rivers/{river.code}/history", auth=_auth(own)).json()
    assert [(c["to_state"], c["is_correction"]) for c in history["changes"]][-2:] == [
        ("completed", False),
        ("entered", True),
    ]


def test_surveys(client: TestClient, demo_session: Session) -> None:
    river, own, stranger = _river(demo_session, RemediationState.completed)
    path = f"/api/v1/rivers/{river.code}/surveys"
    body = {"surveyed_on": AFTER_THE_DEMO, "valid_questionnaires": 150, "satisfied": 140}
    assert client.post(path, json=body, auth=_auth(stranger)).status_code == 403
    added = client.post(path, json=body, auth=_auth(own))
    assert added.status_code == 201
    assert (added.json()["satisfied"], added.json()["recorded_by"]) == (140, own)
    assert client.post(path, json={**body, "satisfied": 151}, auth=_auth(own)).status_code == 422
    assert (
        client.post(path, json={**body, "valid_questionnaires": 0}, auth=_auth(own)).status_code
        == 422
    )
    stored = demo_session.scalars(
        select(RiverSurvey).where(RiverSurvey.river_id == river.id, RiverSurvey.recorded_by == own)
    ).all()
    assert len(stored) == 1


def test_a_rivers_plan_flags_overdue_measures(client: TestClient, demo_session: Session) -> None:
    river, _own, stranger = _river(demo_session, RemediationState.entered)
    response = client.get(
        f"/api/v1/rivers/{river.code}/plan", params={"as_of": REPORT_DAY}, auth=_auth(stranger)
    )
    assert response.status_code == 200
    plan = response.json()
    measures = demo_session.scalars(
        select(PlanMeasure)
        .join(RiverPlan, RiverPlan.id == PlanMeasure.plan_id)
        .where(RiverPlan.river_id == river.id)
    ).all()
    expected = {
        m.id: is_overdue(m.deadline, MeasureState(m.state), m.done_on, dt.date(2023, 1, 31))
        for m in measures
    }
    assert {m["id"]: m["overdue"] for m in plan["measures"]} == expected
    assert plan["overdue"] == sum(expected.values())
    listed, *_ = _river(demo_session, RemediationState.listed)
    assert client.get(f"/api/v1/rivers/{listed.code}/plan", auth=_auth(stranger)).status_code == 404
    assert client.get(f"/api/v1/rivers/{river.code}/plan").status_code == 403
    assert (
        client.get(
            f"/api/v1/rivers/{river.code}/plan", params={"as_of": "soon"}, auth=_auth(stranger)
        ).status_code
        == 422
    )


def test_overdue_measures_of_the_city_and_of_a_town(client: TestClient) -> None:
    auth = _auth(_user("auditor"))
    city = client.get("/api/v1/plans/overdue", params={"as_of": REPORT_DAY}, auth=auth)
    assert city.status_code == 200
    rows = city.json()
    assert rows
    assert all(row["days_overdue"] > 0 and row["state"] != "done" for row in rows)
    town = rows[0]["town"]
    own = client.get("/api/v1/plans/overdue", params={"as_of": REPORT_DAY, "town": town}, auth=auth)
    assert own.status_code == 200
    assert {row["town"] for row in own.json()} == {town}
    assert (
        client.get("/api/v1/plans/overdue", params={"town": "东升"}, auth=auth).status_code == 404
    )


def test_updating_a_measure(client: TestClient, demo_session: Session) -> None:
    river, own, stranger = _river(demo_session, RemediationState.entered)
    measure = demo_session.scalars(
        select(PlanMeasure)
        .join(RiverPlan, RiverPlan.id == PlanMeasure.plan_id)
        .where(RiverPlan.river_id == river.id, PlanMeasure.state != MeasureState.done.value)
    ).first()
    assert measure is not None
    path = f"/api/v1/measures/{measure.id}"
    body = {"state": "done", "done_on": REPORT_DAY, "version": measure.version}
    assert client.patch(path, json=body, auth=_auth(stranger)).status_code == 403
    assert len(_refusals(demo_session, stranger, measure.id)) == 1
    finished = {"state": "finished", "version": measure.version}
    assert client.patch(path, json=finished, auth=_auth(own)).status_code == 422
    undated = {"state": "done", "version": measure.version}
    assert client.patch(path, json=undated, auth=_auth(own)).status_code == 422
    updated = client.patch(path, json=body, auth=_auth(own))
    assert updated.status_code == 200
    assert (updated.json()["state"], updated.json()["done_on"]) == ("done", REPORT_DAY)
    assert client.patch("/api/v1/measures/987654", json=body, auth=_auth(own)).status_code == 404


def test_priorities(client: TestClient) -> None:
    auth = _auth(_user("city"))
    response = client.get("/api/v1/priorities", params={"as_of": REPORT_DAY, "top": 7}, auth=auth)
    assert response.status_code == 200
    rows = response.json()
    assert [row["rank"] for row in rows] == list(range(1, 8))
    scores = [Decimal(row["score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    for row in rows:
        assert sum(Decimal(t["points"]) for t in row["terms"]) == Decimal(row["score"])
        assert [t["name"] for t in row["terms"]] == [
            "grade",
            "severe_points",
            "complaints",
            "baseline",
            "overdue_measures",
        ]
    town = rows[0]["town"]
    own = client.get("/api/v1/priorities", params={"as_of": REPORT_DAY, "town": town}, auth=auth)
    assert {row["town"] for row in own.json()} == {town}
    assert client.get("/api/v1/priorities").status_code == 403
    assert client.get("/api/v1/priorities", params={"top": 0}, auth=auth).status_code == 422


def test_complaint_counts(client: TestClient, demo_session: Session) -> None:
    auth = _auth(_user("town"))
    response = client.get("/api/v1/complaints/counts", params={"period": "2022-06"}, auth=auth)
    assert response.status_code == 200
    counts = [row["complaints"] for row in response.json()]
    assert counts == sorted(counts, reverse=True)
    zone = city_zone()
    received = demo_session.scalar(
        select(func.count(Complaint.id)).where(
            Complaint.received_at >= dt.datetime(2022, 6, 1, tzinfo=zone),
            Complaint.received_at < dt.datetime(2022, 7, 1, tzinfo=zone),
        )
    )
    assert sum(counts) == received
    assert received
    bad = client.get("/api/v1/complaints/counts", params={"period": "2022-13"}, auth=auth)
    assert bad.status_code == 422
    assert "2022-13" in bad.text
    assert client.get("/api/v1/complaints/counts", auth=auth).status_code == 422
    assert client.get("/api/v1/complaints/counts", params={"period": "2022-06"}).status_code == 403


def _town_named(session: Session, town_id: int) -> str:
    return session.scalars(select(Town.name).where(Town.id == town_id)).one()


def test_complaints_are_listed_latest_first_without_personal_data(
    client: TestClient, demo_session: Session
) -> None:
    auth = _auth(_user("town"))
    listed = client.get("/api/v1/complaints", params={"limit": 500}, auth=auth)
    assert listed.status_code == 200
    page = listed.json()
    stored = list(demo_session.scalars(select(Complaint)))
    assert page["total"] == len(stored) > 0
    received = [dt.datetime.fromisoformat(item["received_at"]) for item in page["items"]]
    assert received == sorted(received, reverse=True)
    assert all(
        item["complainant_name"] is None and item["complainant_phone"] is None
        for item in page["items"]
    )
    assert any(c.complainant_phone for c in stored)

    one = stored[0]
    town = _town_named(demo_session, one.town_id)
    river = demo_session.get(River, one.river_id)
    assert river is not None
    filters: list[tuple[dict[str, str], list[Complaint]]] = [
        ({"town": town}, [c for c in stored if c.town_id == one.town_id]),
        ({"river": river.code}, [c for c in stored if c.river_id == one.river_id]),
        ({"category": one.category}, [c for c in stored if c.category == one.category]),
        ({"open": "true"}, [c for c in stored if c.closed_at is None]),
        ({"open": "false"}, [c for c in stored if c.closed_at is not None]),
    ]
    for params, expected in filters:
        found = client.get("/api/v1/complaints", params={"limit": 500, **params}, auth=auth)
        assert found.status_code == 200, params
        assert found.json()["total"] == len(expected), params
        assert {i["receipt_no"] for i in found.json()["items"]} == {
            c.receipt_no for c in expected
        }, params
    second = client.get("/api/v1/complaints", params={"limit": 1, "offset": 1}, auth=auth)
    assert [i["receipt_no"] for i in second.json()["items"]] == [page["items"][1]["receipt_no"]]
    assert client.get("/api/v1/complaints").status_code == 403
    missing = client.get("/api/v1/complaints", params={"river": "NOPE"}, auth=auth)
    assert missing.status_code == 404


def _open_complaint(session: Session) -> tuple[Complaint, str, str]:
    """A new open complaint about a demo river, its town's user and another town's."""
    river = session.scalars(select(River).order_by(River.code)).first()
    assert river is not None
    complaint = new_complaint(session, river.id, dt.datetime(2023, 1, 20, 10, tzinfo=city_zone()))
    town = _town_named(session, river.lead_town_id)
    users = {t: u for u, _, r, t, _ in DEMO_USERS if r == "town"}
    other = next(u for t, u in users.items() if t != town)
    return complaint, users[town], other


def test_a_complaint_is_closed_once_by_its_town_or_the_city(
    client: TestClient, demo_session: Session
) -> None:
    complaint, own, other = _open_complaint(demo_session)
    url = f"/api/v1/complaints/{complaint.receipt_no}/close"
    closing = {"closed_at": "2023-02-01T09:30:00+08:00", "note": "已清理漂浮物"}
    refused = client.post(url, json=closing, auth=_auth(other))
    assert refused.status_code == 403
    assert demo_session.scalar(
        select(func.count(AuditEntry.seq)).where(
            AuditEntry.record_id == complaint.receipt_no,
            AuditEntry.outcome == "refused",
            AuditEntry.actor == other,
        )
    )
    assert client.post(url, json=closing, auth=_auth(_user("auditor"))).status_code == 403
    done = client.post(url, json=closing, auth=_auth(own))
    assert done.status_code == 200, done.text
    assert dt.datetime.fromisoformat(done.json()["closed_at"]) == dt.datetime(
        2023, 2, 1, 9, 30, tzinfo=city_zone()
    )
    demo_session.expire_all()
    stored = demo_session.get(Complaint, complaint.id)
    assert stored is not None
    assert stored.closed_at == dt.datetime(2023, 2, 1, 1, 30, tzinfo=dt.UTC)
    [entry] = demo_session.scalars(
        select(AuditEntry).where(
            AuditEntry.record_id == complaint.receipt_no,
            AuditEntry.action == "change",
            AuditEntry.outcome == "ok",
        )
    )
    assert entry.actor == own
    assert json.loads(entry.before or "null") == {"closed_at": None}
    assert json.loads(entry.after or "{}")["closed_at"].startswith("2023-02-01T01:30")
    assert "已清理漂浮物" in (entry.detail or "")
    again = client.post(url, json={}, auth=_auth(_user("city")))
    assert again.status_code == 409
    assert "已于 2023-02-01 09:30 办结" in again.json()["message"]
    assert client.post("/api/v1/complaints/NOPE/close", json={}, auth=_auth(own)).status_code == 404


def test_a_closing_time_before_receipt_or_to_come_is_refused(
    client: TestClient, demo_session: Session
) -> None:
    complaint, own, _ = _open_complaint(demo_session)
    url = f"/api/v1/complaints/{complaint.receipt_no}/close"
    before = (complaint.received_at - dt.timedelta(minutes=1)).isoformat()
    to_come = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    for closed_at in (before, to_come):
        refused = client.post(url, json={"closed_at": closed_at}, auth=_auth(own))
        assert refused.status_code == 422, closed_at
        assert [p["column"] for p in refused.json()["problems"]] == ["closed_at"]
    naive = client.post(url, json={"closed_at": "2023-02-01T09:30:00"}, auth=_auth(own))
    assert naive.status_code == 422
    assert "closed_at" in naive.text
    demo_session.expire_all()
    stored = demo_session.get(Complaint, complaint.id)
    assert stored is not None
    assert stored.closed_at is None


def _telephoned(river: River) -> dict[str, str]:
    return {
        "river": river.code,
        "category": "odour",
        "description": "河面有臭味，傍晚更重",
        "received_at": "2023-01-20T10:05:00+08:00",
        "complainant_name": "李四",
        "complainant_phone": "0760-8888 1234",
    }


def test_a_complaint_taken_by_telephone_is_recorded_by_its_town_or_the_city(
    client: TestClient, demo_session: Session
) -> None:
    river = demo_session.scalars(select(River).order_by(River.code)).first()
    assert river is not None
    users = {t: u for u, _, r, t, _ in DEMO_USERS if r == "town"}
    own = users[_town_named(demo_session, river.lead_town_id)]
    other = next(u for u in users.values() if u != own)
    body = _telephoned(river)
    # The public complains through the portal; this route records what staff took.
    assert client.post("/api/v1/complaints", json=body).status_code == 403
    for refused_user in (other, _user("auditor")):
        refused = client.post("/api/v1/complaints", json=body, auth=_auth(refused_user))
        assert refused.status_code == 403, refused_user
    assert demo_session.scalar(
        select(func.count(AuditEntry.seq)).where(
            AuditEntry.resource == "complaint_intake",
            AuditEntry.outcome == "refused",
            AuditEntry.actor == other,
        )
    )
    created = client.post("/api/v1/complaints", json=body, auth=_auth(own))
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["river_id"], answer["town_id"]) == (river.id, river.lead_town_id)
    assert (answer["complainant_name"], answer["closed_at"]) == ("李四", None)
    demo_session.expire_all()
    stored = demo_session.scalars(
        select(Complaint).where(Complaint.receipt_no == answer["receipt_no"])
    ).one()
    assert (stored.category, stored.description) == ("odour", "河面有臭味，傍晚更重")
    assert stored.received_at == dt.datetime(2023, 1, 20, 2, 5, tzinfo=dt.UTC)
    assert stored.complainant_phone == "0760-8888 1234"
    [entry] = demo_session.scalars(
        select(AuditEntry).where(
            AuditEntry.record_id == stored.receipt_no, AuditEntry.outcome == "ok"
        )
    )
    assert (entry.actor, entry.action) == (own, "add")
    assert "李四" not in (entry.after or "")
    assert json.loads(entry.after or "{}")["complainant_given"] is True
    listed = client.get(
        "/api/v1/complaints", params={"river": river.code, "open": "true"}, auth=_auth(own)
    )
    assert stored.receipt_no in [row["receipt_no"] for row in listed.json()["items"]]
    by_city = client.post(
        "/api/v1/complaints", json={**body, "received_at": None}, auth=_auth(_user("city"))
    )
    assert by_city.status_code == 201, by_city.text
    received = dt.datetime.fromisoformat(by_city.json()["received_at"])
    assert abs(received - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_a_complaint_with_problems_is_refused_naming_each_field(
    client: TestClient, demo_session: Session
) -> None:
    river = demo_session.scalars(select(River).order_by(River.code)).first()
    assert river is not None
    before = demo_session.scalar(select(func.count(Complaint.id)))
    city = _auth(_user("city"))
    to_come = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    wrong = {**_telephoned(river), "river": "NOPE", "description": " ", "received_at": to_come}
    refused = client.post("/api/v1/complaints", json=wrong, auth=city)
    assert refused.status_code == 422
    assert {p["column"] for p in refused.json()["problems"]} == {
        "river",
        "description",
        "received_at",
    }
    for field, value in (("category", "noise"), ("received_at", "2023-01-20T10:05:00")):
        bad = client.post(
            "/api/v1/complaints", json={**_telephoned(river), field: value}, auth=city
        )
        assert bad.status_code == 422, field
        assert field in bad.text
    assert demo_session.scalar(select(func.count(Complaint.id))) == before


def test_openapi_describes_the_river_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/rivers/{code}/history",
        "/api/v1/rivers/{code}/state",
        "/api/v1/rivers/{code}/corrections",
        "/api/v1/rivers/{code}/surveys",
        "/api/v1/rivers/{code}/plan",
        "/api/v1/plans/overdue",
        "/api/v1/measures/{measure_id}",
        "/api/v1/priorities",
        "/api/v1/complaints/counts",
        "/api/v1/complaints",
        "/api/v1/complaints/{receipt_no}/close",
    } <= set(paths)
    assert "post" in paths["/api/v1/complaints"]


@pytest.fixture(scope="module")
def cli_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of its own for the command line, with one river of three points."""
    engine = databases.new("rivers_cli")
    with Session(engine) as session:
        town = session.scalars(select(Town).where(Town.name == "石岐")).one()
        river = River(code="CLI-R1", name="岐江支涌", lead_town_id=town.id, length_m=Decimal(900))
        session.add(river)
        session.flush()
        session.add_all(
            MonitoringPoint(code=f"CLI-R1-P{k}", river_id=river.id, chainage_m=Decimal(300 * k))
            for k in range(3)
        )
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def run(cli_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands use ``cli_engine``'s database (settings and engine are
    cached per process, so both are reset around the test)."""
    monkeypatch.setenv(
        "GONGJIAN_DATABASE_URL", cli_engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    monkeypatch.setattr(gongjian.db, "_engine", None)
    yield CliRunner()
    if gongjian.db._engine is not None:
        gongjian.db._engine.dispose()
    get_settings.cache_clear()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_moves_corrects_and_shows_a_river(run: CliRunner, cli_engine: Engine) -> None:
    app = _app()
    moved = run.invoke(app, ["river", "state", "CLI-R1", "进场", "--on", "2022-01-10"])
    assert moved.exit_code == 0, moved.output
    assert "列入清单 → 进场（2022-01-10）" in moved.stdout
    wrong = run.invoke(app, ["river", "state", "CLI-R1", "evaluated", "--on", "2022-01-11"])
    assert wrong.exit_code == 1
    assert "可改为：“完工”" in wrong.stderr
    unknown = run.invoke(app, ["river", "state", "CLI-R1", "finished", "--on", "2022-01-11"])
    assert unknown.exit_code == 2
    assert "finished" in unknown.stderr
    corrected = run.invoke(
        app, ["river", "correct", "CLI-R1", "listed", "--on", "2022-01-12", "--reason", "误报进场"]
    )
    assert corrected.exit_code == 0, corrected.output
    history = run.invoke(app, ["river", "history", "CLI-R1"])
    assert history.exit_code == 0, history.output
    assert "更正" in history.stdout
    assert "误报进场" in history.stdout
    surveyed = run.invoke(
        app,
        ["river", "survey", "CLI-R1", "--on", "2022-01-12", "--valid", "100", "--satisfied", "95"],
    )
    assert surveyed.exit_code == 0, surveyed.output
    no_plan = run.invoke(app, ["river", "plan", "CLI-R1"])
    assert no_plan.exit_code == 1
    assert "还没有一河一策" in no_plan.stderr
    with Session(cli_engine) as session:
        changes = session.scalars(select(RiverStateChange).order_by(RiverStateChange.id)).all()
        assert [(c.to_state, c.is_correction) for c in changes] == [
            ("entered", False),
            ("listed", True),
        ]
        assert session.scalars(select(RiverSurvey.satisfied)).all() == [95]


def test_cli_priorities(run: CliRunner) -> None:
    app = _app()
    printed = run.invoke(app, ["priorities", "--json", "--as-of", "2022-06-30", "--top", "5"])
    assert printed.exit_code == 0, printed.output
    (row,) = json.loads(printed.stdout)
    assert (row["river_code"], row["score"]) == ("CLI-R1", "40.00")
    assert sum(Decimal(t["points"]) for t in row["terms"]) == Decimal(row["score"])
    table = run.invoke(app, ["priorities", "--as-of", "2022-06-30"], env={"COLUMNS": "240"})
    assert table.exit_code == 0, table.output
    assert "CLI-R1" in table.stdout
    assert "先急后缓" in table.stdout
    bad = run.invoke(app, ["priorities", "--town", "东升"])
    assert bad.exit_code == 1
    assert "东升" in bad.stderr


def test_grades_of_a_river_with_their_points_and_reasons(
    client: TestClient, demo_session: Session
) -> None:
    river = demo_session.scalars(select(River).order_by(River.code)).first()
    assert river is not None
    path = f"/api/v1/rivers/{river.code}/grades"
    for role in ("city", "town", "auditor"):
        answer = client.get(path, params={"period": "2023-01"}, auth=_auth(_user(role)))
        assert answer.status_code == 200
        (grade,) = answer.json()
        assert grade["period"] == "2023-01"
        points = demo_session.scalar(
            select(func.count())
            .select_from(MonitoringPoint)
            .where(MonitoringPoint.river_id == river.id)
        )
        assert len(grade["points"]) == points
        assert all(p["decided_by"] for p in grade["points"])
    every = client.get(path, auth=_auth(_user("city"))).json()
    assert [g["period"] for g in every][:2] == ["2023-01", "2022-12"]
    assert len(every) == 16
    assert client.get(path).status_code == 403
    assert client.get("/api/v1/rivers/NOPE/grades", auth=_auth(_user("city"))).status_code == 404


def test_grading_and_the_baseline_through_the_api(client: TestClient) -> None:
    city, town = _auth(_user("city")), _auth(_user("town"))
    assert (
        client.post("/api/v1/assessments", json={"period": "2023-01"}, auth=town).status_code == 403
    )
    graded = client.post("/api/v1/assessments", json={"period": "2023-01"}, auth=city)
    assert graded.status_code == 200
    assert graded.json()[0]["status"] == "up_to_date"
    forced = client.post(
        "/api/v1/assessments",
        json={"from_period": "2022-12", "to_period": "2023-01", "force": True},
        auth=city,
    )
    assert [r["status"] for r in forced.json()] == ["regraded", "regraded"]
    history = client.get("/api/v1/assessments", params={"period": "2023-01"}, auth=city).json()
    assert [a["superseded_at"] is None for a in history] == [True, False]
    bad = client.post("/api/v1/assessments", json={"period": "2023-13"}, auth=city)
    assert bad.status_code == 422
    for wrong in (
        {"from_period": "2023-01", "to_period": "2022-12"},
        {"from_period": "2022-12"},
        {"from_period": "2022-12", "to_period": "2023-W02"},
        {"period": "2023-01", "to_period": "2023-01"},
    ):
        refused = client.post("/api/v1/assessments", json=wrong, auth=city)
        assert refused.status_code == 422, wrong
        assert refused.json()["problems"]
    latest = client.get("/api/v1/baselines/latest", auth=city).json()
    assert (latest["frozen_on"], latest["source_period"], len(latest["rivers"])) == (
        "2022-01-01",
        "2021-12",
        17,
    )
    again = client.post("/api/v1/baselines", json={"as_of": "2022-01-01"}, auth=city)
    assert again.status_code == 409


def test_only_the_city_publishes_a_river_on_the_portal(
    client: TestClient, demo_session: Session
) -> None:
    river, own, _stranger = _river(demo_session, RemediationState.entered)
    wanted = not river.published
    refused = client.put(
        f"/api/v1/rivers/{river.code}/published", json={"published": wanted}, auth=_auth(own)
    )
    assert refused.status_code == 403
    assert (
        client.patch(
            f"/api/v1/rivers/{river.code}",
            json={"published": wanted, "version": river.version},
            auth=_auth(own),
        ).status_code
        == 422
    )  # no longer an editable field
    done = client.put(
        f"/api/v1/rivers/{river.code}/published",
        json={"published": wanted},
        auth=_auth(_user("city")),
    )
    assert done.status_code == 200, done.text
    assert done.json()["published"] is wanted
    demo_session.refresh(river)
    assert river.published is wanted
    entry = demo_session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "publish", AuditEntry.record_id == river.code)
        .order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None
    assert json.loads(entry.after or "{}") == {"published": wanted}


def test_cli_lists_and_closes_complaints(run: CliRunner, cli_engine: Engine) -> None:
    with Session(cli_engine) as session:
        river = session.scalars(select(River).where(River.code == "CLI-R1")).one()
        receipt = new_complaint(
            session,
            river.id,
            dt.datetime(2023, 1, 5, 8, 15, tzinfo=city_zone()),
            category="black",
            name="张三",
            phone="13800000000",
        ).receipt_no
    app = _app()
    listed = run.invoke(app, ["complaint", "list", "--open", "--river", "CLI-R1"])
    assert listed.exit_code == 0, listed.output
    assert receipt in listed.stdout
    assert "2023-01-05 08:15" in listed.stdout
    assert "未办结" in listed.stdout
    assert "张三" not in listed.stdout
    early = run.invoke(app, ["complaint", "close", receipt, "--at", "2023-01-04 10:00"])
    assert early.exit_code == 2
    assert "办结时间不能早于受理时间（2023-01-05 08:15）" in early.stderr
    garbled = run.invoke(app, ["complaint", "close", receipt, "--at", "昨天"])
    assert garbled.exit_code == 2
    assert "--at" in garbled.stderr
    closed = run.invoke(
        app, ["complaint", "close", receipt, "--at", "2023-01-06 16:40", "--note", "已截污"]
    )
    assert closed.exit_code == 0, closed.output
    assert "已办结（2023-01-06 16:40）" in closed.stdout
    assert receipt not in run.invoke(app, ["complaint", "list", "--open"]).stdout
    assert receipt in run.invoke(app, ["complaint", "list", "--closed"]).stdout
    twice = run.invoke(app, ["complaint", "close", receipt])
    assert twice.exit_code == 1
    assert "已于 2023-01-06 16:40 办结" in twice.stderr


def test_cli_records_a_complaint_taken_by_telephone(run: CliRunner, cli_engine: Engine) -> None:
    app = _app()
    taken = ["complaint", "add", "--river", "CLI-R1", "--category", "漂浮垃圾"]
    added = run.invoke(
        app,
        [
            *taken,
            "--description",
            "漂浮垃圾堆积",
            "--at",
            "2023-01-07 08:30",
            "--phone",
            "13800000001",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "受理 2023-01-07 08:30" in added.stdout
    receipt = added.stdout.split("回执号 ")[1].split("（")[0]
    with Session(cli_engine) as session:
        stored = session.scalars(select(Complaint).where(Complaint.receipt_no == receipt)).one()
        assert (stored.category, stored.description) == ("floating_waste", "漂浮垃圾堆积")
        assert stored.received_at == dt.datetime(2023, 1, 7, 0, 30, tzinfo=dt.UTC)
        assert stored.complainant_phone == "13800000001"
    assert receipt in run.invoke(app, ["complaint", "list", "--open"]).stdout
    unknown = run.invoke(
        app, ["complaint", "add", "--river", "NOPE", "--category", "噪声", "--description", "臭"]
    )
    assert unknown.exit_code == 2
    assert "请选择要投诉的河涌" in unknown.stderr
    assert "请选择投诉类别" in unknown.stderr
    garbled = run.invoke(app, [*taken, "--description", "臭", "--at", "昨天"])
    assert garbled.exit_code == 2
    assert "--at" in garbled.stderr
