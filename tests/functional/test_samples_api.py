"""Monitoring stations post samples with tokens: created by the city, scoped to points,
revocable, each batch audited; bad batches refused whole with their rows named."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.models import MonitoringPoint, River, Sample, Town
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory

CITY = ("city-op", "city-password-1")
TOWN = ("town-op", "town-password-1")


@pytest.fixture(scope="module")
def api_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of its own (the tests write to it): two towns' rivers, three points."""
    engine = databases.new("samples_api")
    with Session(engine) as session:
        towns = session.scalars(select(Town).order_by(Town.id).limit(2)).all()
        for n, town in enumerate(towns):
            river = River(code=f"R{n}", name=f"河{n}", lead_town_id=town.id, length_m=Decimal(900))
            session.add(river)
            session.flush()
            for k in range(1 if n else 2):
                session.add(
                    MonitoringPoint(
                        code=f"R{n}-P{k}", river_id=river.id, chainage_m=Decimal(k * 300)
                    )
                )
        system = Actor.system("test")
        add_user(session, actor=system, username=CITY[0], password=CITY[1], role=Role.city)
        add_user(
            session,
            actor=system,
            username=TOWN[0],
            password=TOWN[1],
            role=Role.town,
            town=towns[0].name,
        )
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine)) as test_client:
        yield test_client


def _batch(code: str, day: int, n: int = 3) -> dict[str, object]:
    return {
        "samples": [
            {
                "point_id": code,
                "sampled_at": f"2023-02-{day:02d}T{9 + i:02d}:00:00",
                "transparency_cm": "12.5",
                "do_mg_l": 0.2,
                "orp_mv": -200,
                "nh3n_mg_l": "15.001",
            }
            for i in range(n)
        ]
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(client: TestClient, name: str, points: list[str]) -> str:
    response = client.post("/api/v1/stations", json={"name": name, "points": points}, auth=CITY)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def test_a_station_posts_its_points_samples_once(client: TestClient, api_engine: Engine) -> None:
    token = _token(client, "一号站", ["R0-P0"])
    first = client.post("/api/v1/samples", json=_batch("R0-P0", 1), headers=_bearer(token))
    assert first.status_code == 200, first.text
    assert (first.json()["added"], first.json()["skipped"]) == (3, 0)
    again = client.post("/api/v1/samples", json=_batch("R0-P0", 1), headers=_bearer(token))
    assert (again.json()["added"], again.json()["skipped"]) == (0, 3)
    with Session(api_engine) as session:
        values = session.execute(
            select(Sample.do_mg_l, Sample.nh3n_mg_l).where(
                Sample.import_id == first.json()["import_id"]
            )
        ).all()
        assert set(values) == {(Decimal("0.200"), Decimal("15.001"))}
        entries = session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == "station:一号站", AuditEntry.action == "import"
            )
        ).all()
        assert len(entries) == 2


def test_a_station_may_not_report_other_points(client: TestClient, api_engine: Engine) -> None:
    token = _token(client, "二号站", ["R0-P1"])
    refused = client.post("/api/v1/samples", json=_batch("R1-P0", 2), headers=_bearer(token))
    assert refused.status_code == 403
    assert "R1-P0" in refused.json()["message"]
    with Session(api_engine) as session:
        logged = session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == "station:二号站", AuditEntry.outcome == "refused"
            )
        ).all()
        assert len(logged) == 1


def test_a_revoked_token_is_refused(client: TestClient) -> None:
    token = _token(client, "三号站", ["R0-P1"])
    assert client.post("/api/v1/stations/三号站/revoke", auth=CITY).status_code == 200
    refused = client.post("/api/v1/samples", json=_batch("R0-P1", 3), headers=_bearer(token))
    assert refused.status_code == 401
    listed = {s["name"]: s for s in client.get("/api/v1/stations", auth=CITY).json()}
    assert listed["三号站"]["revoked_at"] is not None
    assert "token" not in listed["三号站"]


def test_only_the_city_creates_tokens(client: TestClient) -> None:
    response = client.post("/api/v1/stations", json={"name": "x", "points": ["R0-P0"]}, auth=TOWN)
    assert response.status_code == 403


def test_a_batch_with_a_bad_row_is_refused_whole(client: TestClient, api_engine: Engine) -> None:
    with Session(api_engine) as session:
        before = session.scalar(select(func.count()).select_from(Sample))
    batch = _batch("R0-P0", 4)
    batch["samples"][1]["do_mg_l"] = "-0.5"  # type: ignore[index]
    batch["samples"][2]["point_id"] = "NOPE"  # type: ignore[index]
    response = client.post("/api/v1/samples", json=batch, auth=CITY)
    assert response.status_code == 422
    problems = {(p["row"], p["column"]) for p in response.json()["problems"]}
    assert problems == {(2, "do_mg_l"), (3, "point_id")}
    with Session(api_engine) as session:
        assert session.scalar(select(func.count()).select_from(Sample)) == before


def test_a_town_user_posts_for_its_own_rivers_only(client: TestClient) -> None:
    own = client.post("/api/v1/samples", json=_batch("R0-P0", 5), auth=TOWN)
    assert own.status_code == 200
    assert client.post("/api/v1/samples", json=_batch("R1-P0", 5), auth=TOWN).status_code == 403


def test_batches_are_limited_to_10000(client: TestClient) -> None:
    response = client.post("/api/v1/samples", json=_batch("R0-P0", 6, n=10_001), auth=CITY)
    assert response.status_code == 422
