"""Commitments, scores and rankings, adjustments, commendation and cadre dispatch as
their users call them: through the API (201, 403 logged, 404, 409 naming who signed off,
422) and through ``gongjian commitment|ranking|commend|dispatch`` in a separate process.

What writes runs on a database of its own (towns, a few accounts, a cadre), so that the
demo city stays untouched for other tests; what only reads uses the demo city.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.campaign import commitments
from gongjian.campaign.choices import Campaign
from gongjian.campaign.models import Cadre
from gongjian.demo.generate import DEMO_USERS
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory
from tests.functional.test_cli import gongjian

PASSWORD = "campaign-api-pw"
USERS = {
    "city": ("c-city", Role.city, None),
    "auditor": ("c-auditor", Role.auditor, None),
    "石岐": ("c-shiqi", Role.town, "石岐"),
    "东区": ("c-dongqu", Role.town, "东区"),
}
DEMO_PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}


@pytest.fixture(scope="module")
def api_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    engine = databases.new("campaign_api")
    with Session(engine) as session:
        system = Actor.system("test")
        for username, role, town in USERS.values():
            add_user(
                session, actor=system, username=username, password=PASSWORD, role=role, town=town
            )
        session.add(Cadre(code="API-GB1", name="赵六", employer="市水务局", position="科长"))
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def demo(demo_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(demo_engine)) as test_client:
        yield test_client


def auth(who: str) -> tuple[str, str]:
    return USERS[who][0], PASSWORD


def demo_auth(username: str) -> tuple[str, str]:
    return username, DEMO_PASSWORDS[username]


def refused(engine: Engine, who: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.actor == USERS[who][0], AuditEntry.outcome == "refused"
                )
            )
        )


def create(
    client: TestClient, town: str, year: int, who: str = "city", **extra: object
) -> Response:
    body = {
        "town": town,
        "year": year,
        "campaign": "water",
        "targets": {"water.sewer_km": "12.5", "water.rivers_entered": "3"},
        "signed_on": "2023-01-20",
        **extra,
    }
    return client.post("/api/v1/commitments", json=body, auth=auth(who))


def test_commitments_through_the_api(client: TestClient, api_engine: Engine) -> None:
    made = create(client, "石岐", 2023, who="石岐")
    assert made.status_code == 201, made.text
    assert made.json()["targets"][0] == {
        "indicator": "water.rivers_entered",
        "label": "进场整治河涌",
        "unit": "条",
        "target": "3.00",
    }
    assert made.json()["locked"] is False
    assert create(client, "石岐", 2023).status_code == 409
    assert create(client, "石岐", 2022, who="东区").status_code == 403
    assert refused(api_engine, "东区")
    bad = create(client, "东区", 2023, targets={"renewal.cleared_mu": "5"})
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["column"] == "targets.renewal.cleared_mu"
    path = "/api/v1/commitments/石岐/2023/water"
    assert client.get(path, auth=auth("auditor")).json()["town_code"] == "442000001"
    assert client.get(path).status_code == 403  # the public
    assert client.get("/api/v1/commitments/石岐/2023/fire", auth=auth("city")).status_code == 422
    assert client.get("/api/v1/commitments/石岐/1800/water", auth=auth("city")).status_code == 422
    assert client.get("/api/v1/commitments/东升/2023/water", auth=auth("city")).status_code == 404
    assert client.get("/api/v1/commitments/东区/2023/water", auth=auth("city")).status_code == 404
    listed = client.get("/api/v1/commitments", params={"year": 2023}, auth=auth("东区"))
    assert [c["town"] for c in listed.json()] == ["石岐"]

    targets = {"targets": {"water.sewer_km": "15", "water.rivers_entered": None}}
    other = client.put(f"{path}/targets", json=targets, auth=auth("东区"))
    assert other.status_code == 403
    own = client.put(f"{path}/targets", json=targets, auth=auth("石岐"))
    assert own.status_code == 200, own.text
    assert [t["indicator"] for t in own.json()["targets"]] == ["water.sewer_km"]
    signed = client.post(f"{path}/sign", json={"signed_on": "2023-01-25"}, auth=auth("石岐"))
    assert signed.json()["signed_on"] == "2023-01-25"

    by_town = client.post(f"{path}/approve", auth=auth("石岐"))
    assert by_town.status_code == 403
    assert any(e.action == "approve" for e in refused(api_engine, "石岐"))
    approved = client.post(f"{path}/approve", auth=auth("city"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["locked"] is True
    assert approved.json()["approved_by"] == USERS["city"][0]
    locked = client.put(f"{path}/targets", json=targets, auth=auth("石岐"))
    assert locked.status_code == 409
    assert USERS["city"][0] in locked.json()["message"]
    assert client.post(f"{path}/approve", auth=auth("city")).status_code == 409

    progress = client.get(f"{path}/progress", params={"as_of": "2023-03-31"}, auth=auth("东区"))
    assert progress.status_code == 200, progress.text
    [row] = progress.json()["indicators"]
    assert (row["indicator"], row["elapsed_days"], row["outlook"]) == (
        "water.sewer_km",
        90,
        "behind",
    )
    assert row["explanation"].endswith("滞后")
    future = client.get(f"{path}/progress", params={"as_of": "2022-12-31"}, auth=auth("city"))
    assert future.status_code == 422


def test_progress_and_ranking_of_the_demo_city(demo: TestClient) -> None:
    who = demo_auth("shenji")
    progress = demo.get(
        "/api/v1/commitments/石岐/2023/renewal/progress", params={"as_of": "2023-01"}, auth=who
    )
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["as_of"] == "2023-01-31"
    assert body["commitment"]["campaign"] == "renewal"
    assert {row["outlook"] for row in body["indicators"]} <= {"on_track", "at_risk", "behind"}

    board = demo.get("/api/v1/ranking", params={"year": 2022, "campaign": "water"}, auth=who)
    assert board.status_code == 200, board.text
    rows = board.json()["rows"]
    assert [row["rank"] for row in rows] == list(range(1, 24))
    scores = [Decimal(row["score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    for row in rows:
        assert sum(Decimal(item["points"]) for item in row["items"]) == Decimal(row["score"])
        assert all(item["explanation"] for item in row["items"])
    overall = demo.get("/api/v1/ranking", params={"year": 2022}, auth=who).json()
    assert overall["campaign"] == "both"
    shiqi = demo.get("/api/v1/scores/石岐", params={"year": 2022}, auth=who).json()
    assert shiqi["score"] == next(r["score"] for r in overall["rows"] if r["town"] == "石岐")
    assert demo.get("/api/v1/ranking", auth=who).status_code == 422  # no year
    assert demo.get("/api/v1/ranking", params={"year": 2022}).status_code == 403
    candidates = demo.get("/api/v1/commendations/candidates", params={"year": 2022}, auth=who)
    assert candidates.status_code == 200
    assert {c["campaign"] for c in candidates.json()} == {"renewal", "water", "both"}


def test_dispatch_recommendation_of_the_demo_city(demo: TestClient) -> None:
    who = demo_auth("town-shiqi")
    found = demo.get(
        "/api/v1/dispatch/recommendation",
        params={"cadres": 200, "min": 2, "max": 20, "year": 2023, "as_of": "2023-01-31"},
        auth=who,
    )
    assert found.status_code == 200, found.text
    towns = found.json()["towns"]
    assert sum(t["cadres"] for t in towns) == 200
    assert all(2 <= t["cadres"] <= 20 for t in towns)
    assert all(t["explanation"] for t in towns)
    too_few = demo.get(
        "/api/v1/dispatch/recommendation", params={"cadres": 40, "year": 2023}, auth=who
    )
    assert too_few.status_code == 422
    assert "46" in too_few.json()["problems"][0]["reason"]
    assert demo.get("/api/v1/dispatch/recommendation", params={"cadres": 200}).status_code == 403


def test_adjustments_commendations_and_dispatches(client: TestClient, api_engine: Engine) -> None:
    body = {
        "town": "东区",
        "year": 2023,
        "campaign": "renewal",
        "points": "2.5",
        "reason": "通报表扬",
    }
    assert client.post("/api/v1/score-adjustments", json=body, auth=auth("东区")).status_code == 403
    entered = client.post("/api/v1/score-adjustments", json=body, auth=auth("city"))
    assert entered.status_code == 201, entered.text
    assert entered.json()["town"] == "东区"
    wrong = client.post(
        "/api/v1/score-adjustments", json={**body, "points": "0.001"}, auth=auth("city")
    )
    assert wrong.status_code == 422
    listed = client.get("/api/v1/score-adjustments", params={"year": 2023}, auth=auth("石岐"))
    assert [a["points"] for a in listed.json()] == ["2.50"]

    assert (
        client.post("/api/v1/commendations", json={"year": 2023}, auth=auth("石岐")).status_code
        == 403
    )
    commended = client.post(
        "/api/v1/commendations", json={"year": 2023, "campaign": "renewal"}, auth=auth("city")
    )
    assert commended.status_code == 201, commended.text
    assert commended.json()["written"][0]["town"] == "东区"  # 2.5 points: first
    again = client.post(
        "/api/v1/commendations", json={"year": 2023, "campaign": "renewal"}, auth=auth("city")
    )
    assert again.json()["written"] == []
    nominated = client.post(
        "/api/v1/commendations/individuals",
        json={
            "year": 2023,
            "person_name": "赵六",
            "town": "东区",
            "citation": "驻镇一年，成效明显",
        },
        auth=auth("city"),
    )
    assert nominated.status_code == 201, nominated.text
    assert nominated.json()["campaign"] == "both"
    written = client.get("/api/v1/commendations", params={"year": 2023}, auth=auth("auditor"))
    assert written.json()[-1]["person_name"] == "赵六"

    sent = {"cadre": "API-GB1", "town": "东区", "from_on": "2023-03-01", "role": "驻镇工作组组长"}
    assert client.post("/api/v1/dispatches", json=sent, auth=auth("东区")).status_code == 403
    assert any(e.resource == "dispatch" for e in refused(api_engine, "东区"))
    recorded = client.post("/api/v1/dispatches", json=sent, auth=auth("city"))
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["cadre_name"] == "赵六"
    assert client.post("/api/v1/dispatches", json=sent, auth=auth("city")).status_code == 409
    missing = client.post("/api/v1/dispatches", json={**sent, "cadre": "NONE"}, auth=auth("city"))
    assert missing.status_code == 404
    active = client.get(
        "/api/v1/dispatches", params={"town": "东区", "active_on": "2023-06-01"}, auth=auth("石岐")
    )
    assert [d["cadre"] for d in active.json()] == ["API-GB1"]


def test_the_command_line(api_engine: Engine, demo_engine: Engine) -> None:
    with Session(api_engine) as session:
        commitments.create_commitment(
            session,
            actor=Actor.system("test"),
            town="西区",
            year=2022,
            campaign=Campaign.renewal,
            targets={"renewal.cleared_mu": Decimal(0)},
            signed_on=dt.date(2022, 1, 20),
        )
        session.commit()
    approved = gongjian(
        api_engine, "commitment", "approve", "西区", "--year", "2022", "--campaign", "工改"
    )
    assert approved.returncode == 0, approved.stderr
    assert "已锁定" in approved.stdout
    shown = gongjian(
        api_engine, "commitment", "show", "西区", "--year", "2022", "--campaign", "renewal"
    )
    assert "审定" in shown.stdout
    assert "renewal.cleared_mu" in shown.stdout
    again = gongjian(
        api_engine, "commitment", "approve", "西区", "--year", "2022", "--campaign", "renewal"
    )
    assert again.returncode == 1
    assert "锁定" in again.stderr

    board = gongjian(
        demo_engine, "ranking", "--year", "2022", "--campaign", "water", "--explain", "石岐"
    )
    assert board.returncode == 0, board.stderr
    assert "2022 年度治水攻坚排名" in board.stdout
    assert "逾期项目" in board.stdout
    assert "重度黑臭且有群众投诉的河涌" in board.stdout
    plan = gongjian(demo_engine, "dispatch", "--cadres", "200", "--year", "2023")
    assert plan.returncode == 0, plan.stderr
    assert "合计 200 人" in plan.stdout
    listed = gongjian(demo_engine, "commend", "--year", "2022", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert "未写入" in listed.stdout

    for args, needle in (
        (("ranking", "--year", "2022", "--campaign", "fire"), "fire"),
        (("dispatch", "--cadres", "10", "--year", "2023"), "46"),
        (
            (
                "adjust",
                "--town",
                "石岐",
                "--year",
                "2022",
                "--campaign",
                "water",
                "--points",
                "x",
                "--reason",
                "r",
            ),
            "--points",
        ),
    ):
        result = gongjian(demo_engine, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr
        assert "Traceback" not in result.stderr
