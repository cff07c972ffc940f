"""Bad input everywhere gets a clear error, writes nothing and never a 500: bodies over
the size limit (declared or streamed), a GeoJSON parcel of a million vertices, a
geometry over the vertex limit, JSON batches of the wrong types, files that are not what
they say, and text in an encoding no station uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.campaign.models import Project
from gongjian.config import get_settings
from gongjian.renewal.models import Parcel
from gongjian.water.models import Sample
from gongjian.web.app import create_app, request_limit
from tests.conftest import DatabaseFactory

CITY = ("gaigeban", "gongjian-gaigeban")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """The small demo city in a database of this module's own."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("bad_input", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine)) as test_client:
        test_client.auth = CITY
        yield test_client


def _counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Sample, Parcel, Project)
        )


def _square(vertices: int) -> dict[str, Any]:
    """A GeoJSON polygon near 中山 with ``vertices`` points on its ring."""
    ring = [[113.38 + 0.001 * k / vertices, 22.52] for k in range(vertices - 3)]
    ring += [[113.381, 22.521], [113.38, 22.521], [113.38, 22.52]]
    return {"type": "Polygon", "coordinates": [ring]}


def _parcel(geometry: dict[str, Any]) -> dict[str, Any]:
    return {"code": "BAD-1", "name": "坏输入地块", "town": "石岐", "geometry": geometry}


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, engine: Engine
) -> None:
    before = _counts(engine)
    limit = request_limit()
    declared = client.post(
        "/api/v1/samples",
        content=b"[" + b" " * limit + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == "TooLarge"
    assert f"{limit // (1024 * 1024)} MB" in declared.json()["message"]

    def stream() -> Iterator[bytes]:
        chunk = b" " * (1024 * 1024)
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    streamed = client.post(
        "/api/v1/samples", content=stream(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert _counts(engine) == before


def test_a_page_form_over_the_limit_gets_the_error_page(client: TestClient) -> None:
    page = client.post(
        "/login",
        content=b"x" * (request_limit() + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    assert "请求内容过大" in page.text
    assert "Traceback" not in page.text


def test_a_parcel_of_a_million_vertices_is_refused(client: TestClient, engine: Engine) -> None:
    before = _counts(engine)
    body = json.dumps(_parcel(_square(1_000_000)))
    assert len(body) > request_limit()
    answer = client.post(
        "/api/v1/parcels", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert _counts(engine) == before


def test_a_geometry_over_the_vertex_limit_is_refused_with_its_count(
    client: TestClient, engine: Engine
) -> None:
    before = _counts(engine)
    most = get_settings().geometry_max_vertices
    answer = client.post("/api/v1/parcels", json=_parcel(_square(most + 1)))
    assert answer.status_code == 422
    assert f"{most + 1:,} 个" in json.dumps(answer.json(), ensure_ascii=False)
    assert _counts(engine) == before


@pytest.mark.parametrize(
    "batch",
    [
        {"samples": "not a list"},
        {"samples": [{"point_id": None, "sampled_at": "2023-01-05T10:00:00+08:00"}]},
        {"samples": [{"point_id": "P1", "sampled_at": 20230105, "do_mg_l": "lots"}]},
        {"samples": [{"point_id": ["P1"], "sampled_at": {"day": 5}, "orp_mv": True}]},
        [1, 2, 3],
        "text",
    ],
)
def test_a_json_batch_of_the_wrong_types_is_refused_whole(
    client: TestClient, engine: Engine, batch: Any
) -> None:
    before = _counts(engine)
    answer = client.post("/api/v1/samples", json=batch)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["message"]
    assert body["problems"]
    assert _counts(engine) == before


def test_a_file_that_is_not_what_its_name_says_is_refused(
    client: TestClient, engine: Engine
) -> None:
    before = _counts(engine)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
    answer = client.post("/api/v1/imports/projects", files={"file": ("projects.xlsx", png, XLSX)})
    assert answer.status_code == 415
    assert "projects.xlsx" in json.dumps(answer.json(), ensure_ascii=False)
    assert _counts(engine) == before


def test_text_in_no_known_encoding_is_refused_naming_the_encodings(
    client: TestClient, engine: Engine
) -> None:
    before = _counts(engine)
    broken = "编号,名称\n".encode("gb18030") + b"\xff\xfe\xfd\x81\x30\n"
    answer = client.post(
        "/api/v1/imports/projects", files={"file": ("projects.csv", broken, "text/csv")}
    )
    assert answer.status_code in (415, 422)
    message = json.dumps(answer.json(), ensure_ascii=False)
    assert "UTF-8" in message
    assert "GB" in message
    assert _counts(engine) == before
