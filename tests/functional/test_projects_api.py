"""Projects and batches as their users call them, through the API (201, 409 naming the
next state, 422 naming the field, 403 logged for another town or a town accepting, 404,
401) and through ``gongjian project …`` / ``gongjian batch …`` in a separate process.

Both run on a database of their own (towns, a few accounts, a river and a parcel), so
that what they write leaves the demo city untouched for other tests.
"""

from __future__ import annotations

import json
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
from gongjian.renewal.models import Parcel
from gongjian.towns.models import Town
from gongjian.water.models import River
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory
from tests.functional.test_cli import gongjian

PASSWORD = "projects-api-pw"
USERS = {
    "city": ("p-city", Role.city, None),
    "auditor": ("p-auditor", Role.auditor, None),
    "石岐": ("p-shiqi", Role.town, "石岐"),
    "东区": ("p-dongqu", Role.town, "东区"),
}


def prepare(engine: Engine) -> None:
    """Accounts, a river led by 石岐 and parcels of 石岐 and 东区."""
    with Session(engine) as session:
        system = Actor.system("test")
        for username, role, town in USERS.values():
            add_user(
                session, actor=system, username=username, password=PASSWORD, role=role, town=town
            )
        towns = {t.name: t.id for t in session.scalars(select(Town))}
        session.add(River(code="R-API", name="接口涌", lead_town_id=towns["石岐"], length_m=500))
        session.add(Parcel(code="PC-API", town_id=towns["石岐"], area_mu=Decimal("30.00")))
        session.add(Parcel(code="PC-API-DQ", town_id=towns["东区"], area_mu=Decimal("5.00")))
        session.commit()


@pytest.fixture(scope="module")
def api_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    engine = databases.new("projects_api")
    prepare(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine)) as test_client:
        yield test_client


def auth(who: str) -> tuple[str, str]:
    return USERS[who][0], PASSWORD


def add(client: TestClient, code: str, who: str = "city", **extra: object) -> Response:
    body = {
        "code": code,
        "name": f"{code}工程",
        "kind": "sewer",
        "town": "石岐",
        "listed_on": "2022-01-03",
        **extra,
    }
    return client.post("/api/v1/projects", json=body, auth=auth(who))


def move(client: TestClient, code: str, to_state: str, on: str, who: str = "city") -> Response:
    body = {"to_state": to_state, "on": on}
    return client.post(f"/api/v1/projects/{code}/state", json=body, auth=auth(who))


def refused(engine: Engine, who: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.actor == USERS[who][0], AuditEntry.outcome == "refused"
                )
            )
        )


def test_a_project_is_added_shown_and_listed(client: TestClient) -> None:
    response = add(
        client,
        "API-P-1",
        sewer_km="4.250",
        budget_wan="2300.5",
        planned_start_on="2022-03-01",
        planned_end_on="2022-10-31",
        rivers=["R-API"],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["campaign"], body["state"], body["town"]) == ("water", "planned", "石岐")
    assert (body["sewer_km"], body["budget_wan"]) == ("4.250", "2300.50")
    assert (body["rivers"], body["next_states"]) == (["R-API"], ["approved"])
    assert [c["to_state"] for c in body["changes"]] == ["planned"]
    shown = client.get("/api/v1/projects/API-P-1", auth=auth("auditor"))
    assert shown.status_code == 200
    assert shown.json()["code"] == "API-P-1"
    listed = client.get(
        "/api/v1/projects",
        params={"town": "石岐", "campaign": "water", "kind": "sewer", "state": "planned"},
        auth=auth("东区"),
    ).json()
    assert "API-P-1" in [item["code"] for item in listed["items"]]
    assert listed["total"] >= 1


def test_bad_projects_are_422_naming_the_field(client: TestClient) -> None:
    foreign = add(client, "API-BAD-1", kind="greening", sewer_km="2")
    assert foreign.status_code == 422
    (problem,) = foreign.json()["problems"]
    assert problem["column"] == "sewer_km"
    assert "碧道绿化" in problem["reason"]
    parcels = add(client, "API-BAD-2", parcels=["PC-API"])
    assert parcels.status_code == 422
    assert parcels.json()["problems"][0]["column"] == "parcels"
    other_town = add(client, "API-BAD-3", kind="demolition", parcels=["PC-API-DQ"])
    assert other_town.status_code == 422
    unknown_kind = add(client, "API-BAD-4", kind="flying")
    assert unknown_kind.status_code == 422
    reversed_plan = add(
        client, "API-BAD-5", planned_start_on="2022-05-01", planned_end_on="2022-04-01"
    )
    assert reversed_plan.status_code == 422
    assert client.get("/api/v1/projects/API-BAD-1", auth=auth("city")).status_code == 404


def test_states_through_the_api(client: TestClient) -> None:
    assert add(client, "API-S-1", kind="dredging").status_code == 201
    assert move(client, "API-S-1", "approved", "2022-02-01").status_code == 201
    wrong = move(client, "API-S-1", "completed", "2022-02-02")
    assert wrong.status_code == 409
    assert "“已开工”（started）" in wrong.json()["message"]
    earlier = move(client, "API-S-1", "started", "2022-01-15")
    assert earlier.status_code == 422
    assert earlier.json()["problems"][0]["column"] == "on"
    assert move(client, "API-S-1", "flying", "2022-02-02").status_code == 422
    started = move(client, "API-S-1", "started", "2022-02-10")
    assert started.status_code == 201
    assert started.json()["from_state"] == "approved"
    history = client.get("/api/v1/projects/API-S-1/history", auth=auth("auditor")).json()
    assert [c["to_state"] for c in history["changes"]] == ["planned", "approved", "started"]
    assert (history["actual_start_on"], history["next_states"]) == ("2022-02-10", ["completed"])
    assert move(client, "API-S-1", "started", "2022-02-11").status_code == 409
    assert move(client, "NO-SUCH", "approved", "2022-02-11").status_code == 404


def test_only_the_city_accepts(client: TestClient, api_engine: Engine) -> None:
    assert add(client, "API-ACC-1", who="石岐", kind="greening").status_code == 201
    for state, day in (("approved", "2022-02-01"), ("started", "2022-02-02")):
        assert move(client, "API-ACC-1", state, day, who="石岐").status_code == 201
    completed = move(client, "API-ACC-1", "completed", "2022-05-01", who="石岐")
    assert completed.status_code == 201
    before = len(refused(api_engine, "石岐"))
    town = move(client, "API-ACC-1", "accepted", "2022-05-20", who="石岐")
    assert town.status_code == 403
    assert "市攻坚办" in town.json()["message"]
    assert len(refused(api_engine, "石岐")) == before + 1
    city = move(client, "API-ACC-1", "accepted", "2022-05-20")
    assert city.status_code == 201
    detail = client.get("/api/v1/projects/API-ACC-1", auth=auth("city")).json()
    assert (detail["state"], detail["actual_end_on"]) == ("accepted", "2022-05-01")


def test_town_scope_and_strangers(client: TestClient, api_engine: Engine) -> None:
    assert add(client, "API-T-1", kind="dredging").status_code == 201
    before = len(refused(api_engine, "东区"))
    assert move(client, "API-T-1", "approved", "2022-02-01", who="东区").status_code == 403
    patch = client.patch(
        "/api/v1/projects/API-T-1", json={"owner": "越权", "version": 1}, auth=auth("东区")
    )
    assert patch.status_code == 403
    foreign = add(client, "API-T-2", who="石岐", town="东区")
    assert foreign.status_code == 403
    assert len(refused(api_engine, "东区")) == before + 2
    assert move(client, "API-T-1", "approved", "2022-02-01", who="auditor").status_code == 403
    anonymous = client.post("/api/v1/projects/API-T-1/state", json={"to_state": "approved"})
    assert anonymous.status_code in (403, 422)
    assert client.get("/api/v1/projects").status_code == 403
    assert client.get("/api/v1/projects", auth=("p-city", "wrong-password")).status_code == 401
    own = client.patch(
        "/api/v1/projects/API-T-1", json={"owner": "石岐住建", "version": 1}, auth=auth("石岐")
    )
    assert own.status_code == 200
    assert own.json()["owner"] == "石岐住建"
    foreign_qty = client.patch(
        "/api/v1/projects/API-T-1", json={"sewer_km": "1.000", "version": 2}, auth=auth("石岐")
    )
    assert foreign_qty.status_code == 422
    assert client.get("/api/v1/projects/NO-SUCH", auth=auth("city")).status_code == 404


def test_audit_involvement_through_the_api(client: TestClient) -> None:
    assert add(client, "API-AUD-1", sewer_km="1.5").status_code == 201
    body = {"joined_on": "2022-02-01", "findings": "材料价格偏高", "saving_wan": "35.20"}
    put = client.put("/api/v1/projects/API-AUD-1/audit", json=body, auth=auth("石岐"))
    assert put.status_code == 200, put.text
    assert (put.json()["audit_joined_on"], put.json()["audit_saving_wan"]) == (
        "2022-02-01",
        "35.20",
    )
    undated = client.put(
        "/api/v1/projects/API-AUD-1/audit",
        json={"joined_on": None, "findings": "x"},
        auth=auth("city"),
    )
    assert undated.status_code == 422
    auditor = client.put("/api/v1/projects/API-AUD-1/audit", json=body, auth=auth("auditor"))
    assert auditor.status_code == 403


def test_overdue_projects_as_of_a_day(client: TestClient) -> None:
    dates = {"planned_start_on": "2022-03-01", "planned_end_on": "2022-06-30"}
    for code in ("API-OD-1", "API-OD-2"):
        assert add(client, code, kind="interception", town="东区", **dates).status_code == 201
    assert move(client, "API-OD-2", "approved", "2022-02-01").status_code == 201
    assert move(client, "API-OD-2", "started", "2022-03-01").status_code == 201
    response = client.get(
        "/api/v1/projects/overdue",
        params={"as_of": "2022-03-31", "town": "东区", "campaign": "water"},
        auth=auth("auditor"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    items = {item["code"]: item for item in body["items"]}
    assert body["as_of"] == "2022-03-31"
    assert set(items) == {"API-OD-1"}
    assert (items["API-OD-1"]["reason"], items["API-OD-1"]["days"]) == ("start", 30)
    assert items["API-OD-1"]["town"] == "东区"
    on_the_day = client.get(
        "/api/v1/projects/overdue",
        params={"as_of": "2022-06-30", "town": "东区"},
        auth=auth("city"),
    ).json()
    assert {(i["code"], i["reason"]) for i in on_the_day["items"]} == {("API-OD-1", "start")}
    after = client.get(
        "/api/v1/projects/overdue",
        params={"as_of": "2022-07-02", "town": "东区"},
        auth=auth("city"),
    ).json()
    assert {(i["code"], i["reason"], i["days"]) for i in after["items"]} == {
        ("API-OD-1", "end", 2),
        ("API-OD-2", "end", 2),
    }
    listed = client.get(
        "/api/v1/projects",
        params={"overdue": "true", "as_of": "2022-03-31", "town": "东区"},
        auth=auth("city"),
    ).json()
    assert [item["code"] for item in listed["items"]] == ["API-OD-1"]
    assert client.get("/api/v1/projects/overdue").status_code == 403
    assert (
        client.get(
            "/api/v1/projects/overdue", params={"as_of": "2022-13-01"}, auth=auth("city")
        ).status_code
        == 422
    )


def test_batches_through_the_api(client: TestClient, api_engine: Engine) -> None:
    assert add(client, "API-B-SEWER", sewer_km="2.500", budget_wan="100").status_code == 201
    demolition = add(
        client, "API-B-DEM", kind="demolition", area_mu="30", budget_wan="50.5", parcels=["PC-API"]
    )
    assert demolition.status_code == 201, demolition.text
    body = {
        "code": "API-JZCC",
        "name": "接口集中拆除",
        "kind": "concentrated_demolition",
        "held_on": "2022-04-12",
        "projects": ["API-B-DEM", "API-B-SEWER"],
    }
    wrong = client.post("/api/v1/batches", json=body, auth=auth("city"))
    assert wrong.status_code == 409
    assert "API-B-SEWER" in wrong.json()["message"]
    body["projects"] = ["API-B-DEM"]
    before = len(refused(api_engine, "石岐"))
    assert client.post("/api/v1/batches", json=body, auth=auth("石岐")).status_code == 403
    assert len(refused(api_engine, "石岐")) == before + 1
    created = client.post("/api/v1/batches", json=body, auth=auth("city"))
    assert created.status_code == 201, created.text
    renewal = created.json()["figures"]["renewal"]
    assert (renewal["projects"], renewal["area_mu"], renewal["investment_wan"]) == (
        1,
        "30.00",
        "50.50",
    )
    start = {**body, "code": "API-JZKG", "kind": "concentrated_start", "projects": []}
    assert client.post("/api/v1/batches", json=start, auth=auth("city")).status_code == 201
    attached = client.post(
        "/api/v1/batches/API-JZKG/projects",
        json={"projects": ["API-B-SEWER", "API-B-DEM"]},
        auth=auth("city"),
    )
    assert attached.status_code == 200, attached.text
    figures = attached.json()["figures"]
    assert (figures["water"]["sewer_km"], figures["total"]["projects"]) == ("2.500", 2)
    assert figures["total"]["investment_wan"] == "150.50"
    again = client.post(
        "/api/v1/batches/API-JZKG/projects", json={"projects": ["API-B-SEWER"]}, auth=auth("city")
    )
    assert again.status_code == 409
    empty = client.post(
        "/api/v1/batches/API-JZKG/projects", json={"projects": []}, auth=auth("city")
    )
    assert empty.status_code == 422
    detached = client.delete("/api/v1/batches/API-JZKG/projects/API-B-DEM", auth=auth("city"))
    assert detached.status_code == 200
    assert [p["code"] for p in detached.json()["projects"]] == ["API-B-SEWER"]
    assert (
        client.delete("/api/v1/batches/API-JZKG/projects/API-B-DEM", auth=auth("city")).status_code
        == 409
    )
    listed = client.get(
        "/api/v1/batches", params={"kind": "concentrated_start"}, auth=auth("auditor")
    ).json()
    assert [b["code"] for b in listed["items"]] == ["API-JZKG"]
    assert listed["items"][0]["figures"]["total"]["projects"] == 1
    shown = client.get("/api/v1/batches/API-JZCC", auth=auth("东区")).json()
    assert [p["code"] for p in shown["projects"]] == ["API-B-DEM"]
    assert client.get("/api/v1/batches/NO-SUCH", auth=auth("city")).status_code == 404
    assert client.get("/api/v1/batches").status_code == 403
    project = client.get("/api/v1/projects/API-B-DEM", auth=auth("city")).json()
    assert project["batches"] == ["API-JZCC"]
    assert project["parcels"] == ["PC-API"]


def test_the_openapi_describes_projects_and_batches(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/projects",
        "/api/v1/projects/overdue",
        "/api/v1/projects/{code}",
        "/api/v1/projects/{code}/state",
        "/api/v1/projects/{code}/history",
        "/api/v1/projects/{code}/audit",
        "/api/v1/batches",
        "/api/v1/batches/{code}",
        "/api/v1/batches/{code}/projects",
        "/api/v1/batches/{code}/projects/{project}",
    } <= set(paths)


# --- The command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    engine = databases.new("cli_projects")
    prepare(engine)
    yield engine
    engine.dispose()


def test_projects_and_batches_on_the_command_line(cli_engine: Engine) -> None:
    added = gongjian(
        cli_engine,
        "project", "add", "CLI-P-1",
        "--name", "命令行管网工程", "--kind", "污水管网", "--town", "石岐",
        "--sewer-km", "3.5", "--budget-wan", "880", "--river", "R-API",
        "--planned-start", "2022-03-01", "--planned-end", "2022-04-30",
        "--listed-on", "2022-01-03",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "CLI-P-1" in added.stdout
    for state, day in (("approved", "2022-02-01"), ("已开工", "2022-03-05")):
        moved = gongjian(cli_engine, "project", "state", "CLI-P-1", "--to", state, "--on", day)
        assert moved.returncode == 0, moved.stderr
    refused_move = gongjian(
        cli_engine, "project", "state", "CLI-P-1", "--to", "accepted", "--on", "2022-05-01"
    )
    assert refused_move.returncode == 1
    assert "已完工" in refused_move.stderr
    assert "Traceback" not in refused_move.stderr
    shown = gongjian(cli_engine, "project", "show", "CLI-P-1")
    assert shown.returncode == 0, shown.stderr
    assert "R-API" in shown.stdout
    assert "已开工" in shown.stdout
    overdue = gongjian(cli_engine, "project", "overdue", "--as-of", "2022-05-02", "--json")
    assert overdue.returncode == 0, overdue.stderr
    (item,) = json.loads(overdue.stdout)["items"]
    assert (item["code"], item["reason"], item["days"]) == ("CLI-P-1", "end", 2)
    listed = gongjian(cli_engine, "project", "list", "--kind", "sewer", "--json")
    assert [i["code"] for i in json.loads(listed.stdout)["items"]] == ["CLI-P-1"]

    batch = gongjian(
        cli_engine,
        "batch", "add", "CLI-JZKG", "--name", "命令行集中开工",
        "--kind", "集中开工", "--held-on", "2022-03-05", "--project", "CLI-P-1",
    )  # fmt: skip
    assert batch.returncode == 0, batch.stderr
    assert "3.500" in batch.stdout
    demolition = gongjian(
        cli_engine,
        "batch", "add", "CLI-JZCC", "--name", "命令行集中拆除",
        "--kind", "concentrated_demolition", "--held-on", "2022-04-12",
    )  # fmt: skip
    assert demolition.returncode == 0, demolition.stderr
    wrong_kind = gongjian(cli_engine, "batch", "attach", "CLI-JZCC", "CLI-P-1")
    assert wrong_kind.returncode == 1
    assert "拆除整理" in wrong_kind.stderr
    detached = gongjian(cli_engine, "batch", "detach", "CLI-JZKG", "CLI-P-1")
    assert detached.returncode == 0, detached.stderr
    listed_batches = gongjian(cli_engine, "batch", "list")
    assert "CLI-JZKG" in listed_batches.stdout


ADD = ("project", "add", "CLI-X", "--name", "x", "--town", "石岐")
BAD_INPUT = [
    ((*ADD, "--kind", "flying"), "flying"),
    ((*ADD, "--kind", "greening", "--sewer-km", "2"), "sewer_km"),
    ((*ADD, "--kind", "sewer", "--budget-wan", "abc"), "--budget-wan"),
    (("project", "state", "CLI-X", "--to", "flying", "--on", "2022-01-01"), "flying"),
    (("project", "overdue", "--as-of", "2022-13-40"), "2022-13-40"),
    (
        ("batch", "add", "CLI-B", "--name", "x", "--kind", "party", "--held-on", "2022-01-01"),
        "party",
    ),
]


@pytest.mark.parametrize(("args", "needle"), BAD_INPUT)
def test_bad_input_exits_2_with_one_clear_line(
    cli_engine: Engine, args: tuple[str, ...], needle: str
) -> None:
    result = gongjian(cli_engine, *args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
