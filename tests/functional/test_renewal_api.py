"""The renewal API as its users call it: parcels added with geometry, moved through their
states (201, 409 naming the next states, 422, 403 for another town, 401/403 for
strangers), construction and yearly figures, identification and before/after."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import Engine

from gongjian.demo.generate import DEMO_USERS
from gongjian.web.app import create_app
from tests.imports.test_parcels import square

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[113.30, 22.40], [113.302, 22.40], [113.302, 22.402], [113.30, 22.402], [113.30, 22.40]]
    ],
}


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(demo_engine)) as test_client:
        yield test_client


def auth(role: str, town: str | None = None) -> tuple[str, str]:
    user = next(u for u, _, r, t, _ in DEMO_USERS if r == role and (town is None or t == town))
    return user, PASSWORDS[user]


def add(client: TestClient, code: str, town: str = "石岐", **extra: object) -> dict:
    body = {"code": code, "town": town, "geometry": SQUARE, "identified_on": "2021-06-01", **extra}
    response = client.post("/api/v1/parcels", json=body, auth=auth("city"))
    assert response.status_code == 201, response.text
    return response.json()


def test_a_parcel_added_with_geometry_has_its_area_and_next_state(client: TestClient) -> None:
    parcel = add(client, "API-ADD-1", name="接口地块")
    assert parcel["renewal_state"] == "identified"
    assert parcel["next_states"] == ["plan_published"]
    area_m2, _ = Geod(ellps="WGS84").geometry_area_perimeter(shape(SQUARE))
    assert Decimal(parcel["area_mu"]) == round(Decimal(abs(area_m2)) / Decimal("666.67"), 2)
    shown = client.get("/api/v1/parcels/API-ADD-1", auth=auth("auditor")).json()
    assert shown["name"] == "接口地块"


@pytest.mark.parametrize(
    ("geometry", "needle"),
    [
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [113.30, 22.40],
                        [113.302, 22.402],
                        [113.302, 22.40],
                        [113.30, 22.402],
                        [113.30, 22.40],
                    ]
                ],
            },
            "自相交",
        ),
        ({"type": "Polygon", "coordinates": []}, "空"),
        ({"type": "Point", "coordinates": [113.3, 22.4]}, "Polygon"),
    ],
)
def test_bad_geometry_is_422_with_the_reason_and_adds_nothing(
    client: TestClient, geometry: dict, needle: str
) -> None:
    body = {"code": "API-BAD", "town": "石岐", "geometry": geometry}
    response = client.post("/api/v1/parcels", json=body, auth=auth("city"))
    assert response.status_code == 422
    assert needle in response.text
    assert client.get("/api/v1/parcels/API-BAD", auth=auth("city")).status_code == 404


def test_states_through_the_api(client: TestClient) -> None:
    add(client, "API-STATE-1")

    def move(**body: str) -> Response:
        return client.post("/api/v1/parcels/API-STATE-1/state", json=body, auth=auth("city"))

    published = move(to_state="plan_published", on="2022-03-01", comment_until="2022-03-31")
    assert published.status_code == 201, published.text
    wrong = move(to_state="cleared", on="2022-04-02")
    assert wrong.status_code == 409
    assert "腾挪安置" in wrong.json()["message"]
    early = move(to_state="relocating", on="2022-03-15")
    assert early.status_code == 422
    bad_state = move(to_state="flying", on="2022-04-02")
    assert bad_state.status_code == 422
    history = client.get("/api/v1/parcels/API-STATE-1/history", auth=auth("city")).json()
    assert [c["to_state"] for c in history["changes"]] == ["identified", "plan_published"]
    assert history["plan_comment_until"] == "2022-03-31"


def test_town_scope_and_strangers(client: TestClient) -> None:
    add(client, "API-SCOPE-1", town="石岐")
    body = {"to_state": "plan_published", "on": "2022-03-01", "comment_until": "2022-03-05"}
    other = client.post("/api/v1/parcels/API-SCOPE-1/state", json=body, auth=auth("town", "东区"))
    assert other.status_code == 403
    anonymous = client.post("/api/v1/parcels/API-SCOPE-1/state", json=body)
    assert anonymous.status_code in (401, 403)
    auditor = client.post("/api/v1/parcels/API-SCOPE-1/state", json=body, auth=auth("auditor"))
    assert auditor.status_code == 403
    own = client.post("/api/v1/parcels/API-SCOPE-1/state", json=body, auth=auth("town", "石岐"))
    assert own.status_code == 201
    foreign = client.post(
        "/api/v1/parcels",
        json={"code": "API-SCOPE-2", "town": "东区", "area_mu": "10"},
        auth=auth("town", "石岐"),
    )
    assert foreign.status_code == 403
    missing = client.post("/api/v1/parcels/NO-SUCH/state", json=body, auth=auth("city"))
    assert missing.status_code == 404


def test_figures_identification_and_before_after(client: TestClient) -> None:
    add(client, "API-FIG-1", town="神湾")
    put = client.put(
        "/api/v1/parcels/API-FIG-1/performance/2031",
        json={"output_per_mu": "80.50", "tax_per_mu": "6", "floor_area_ratio": "0.9"},
        auth=auth("city"),
    )
    assert put.status_code == 200, put.text
    listed = client.get(
        "/api/v1/renewal/identification/2031", params={"town": "神湾"}, auth=auth("auditor")
    ).json()
    (candidate,) = listed["candidates"]
    assert candidate["code"] == "API-FIG-1"
    assert [f["measure"] for f in candidate["findings"]] == ["output_per_mu"]
    assert "80.50" in candidate["explanation"]
    compared = client.get(
        "/api/v1/renewal/before-after", params={"town": "神湾"}, auth=auth("city")
    ).json()
    assert any(p["code"] == "API-FIG-1" and p["after"] is None for p in compared["parcels"])
    negative = client.put(
        "/api/v1/parcels/API-FIG-1/performance/2031",
        json={"output_per_mu": "-1"},
        auth=auth("city"),
    )
    assert negative.status_code == 422


def test_milestones_need_a_supplied_parcel(client: TestClient) -> None:
    add(client, "API-MS-1")
    response = client.post(
        "/api/v1/parcels/API-MS-1/milestones",
        json={"kind": "planning_application", "area_m2": "1000.00", "on": "2022-05-01"},
        auth=auth("city"),
    )
    assert response.status_code == 409
    assert "供地" in response.json()["message"]


def test_parks_are_listed_with_their_outline_and_edited_by_their_town(client: TestClient) -> None:
    listed = client.get("/api/v1/parks", params={"town": "石岐"}, auth=auth("auditor")).json()
    assert listed["total"] >= 1
    park = listed["items"][0]
    assert park["geometry"]["type"] == "Polygon"
    code = park["code"]
    other = client.patch(
        f"/api/v1/parks/{code}",
        json={"name": "越权改名", "version": park["version"]},
        auth=auth("town", "东区"),
    )
    assert other.status_code == 403
    own = client.patch(
        f"/api/v1/parks/{code}",
        json={"name": "石岐示例园", "version": park["version"]},
        auth=auth("town", "石岐"),
    )
    assert own.status_code == 200
    assert own.json()["name"] == "石岐示例园"


def test_clusters_of_stored_parcels(client: TestClient) -> None:
    for code, west in (("API-CL-2", 113.500), ("API-CL-1", 113.502), ("API-CL-3", 113.510)):
        add(client, code, town="坦洲", geometry=square(west, 22.20))
    response = client.get(
        "/api/v1/renewal/clusters", params={"town": "坦洲", "min_mu": "100"}, auth=auth("auditor")
    )
    assert response.status_code == 200, response.text
    found = {
        c["cluster_id"]: c
        for c in response.json()["clusters"]
        if c["cluster_id"].startswith("API-CL")
    }
    assert sorted(found) == ["API-CL-1", "API-CL-3"]
    pair, single = found["API-CL-1"], found["API-CL-3"]
    assert sorted(pair["parcels"]) == ["API-CL-1", "API-CL-2"]
    assert (pair["flagged"], single["flagged"]) == (True, False)
    shown = {
        p: Decimal(client.get(f"/api/v1/parcels/{p}", auth=auth("city")).json()["area_mu"])
        for p in ("API-CL-1", "API-CL-2")
    }
    assert abs(Decimal(pair["area_mu"]) - sum(shown.values())) <= Decimal("0.01")
    gap = client.get(
        "/api/v1/renewal/clusters", params={"town": "坦洲", "gap_m": "700"}, auth=auth("auditor")
    ).json()
    joined = [c for c in gap["clusters"] if "API-CL-3" in c["parcels"]]
    assert sorted(joined[0]["parcels"]) == ["API-CL-1", "API-CL-2", "API-CL-3"]
    negative = client.get("/api/v1/renewal/clusters", params={"gap_m": "-1"}, auth=auth("city"))
    assert negative.status_code == 422
