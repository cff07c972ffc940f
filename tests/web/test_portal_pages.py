"""The public portal on the demo city, without signing in: only published rivers, an
unpublished river unknown, the complaint form with its receipt, photo checks and the rate
limit, no personal data anywhere, and the display modes remembered in cookies."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from gongjian.config import get_settings
from gongjian.demo.portal import tiny_png
from gongjian.models import AuditEntry, Complaint, ComplaintPhoto, River, Town
from tests.web.conftest import Clock, csrf_from

RIVER_LINK = re.compile(r'href="/portal/rivers/(\d+)"')


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a trusted proxy, so each test submits from addresses of its own."""
    monkeypatch.setattr(get_settings(), "trust_proxy", True)


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _published(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return dict(session.execute(select(River.id, River.name).where(River.published)).all())


def _unpublished(engine: Engine) -> tuple[int, str]:
    with Session(engine) as session:
        row = session.execute(
            select(River.id, River.name).where(~River.published).order_by(River.id)
        ).first()
    assert row is not None
    return row[0], row[1]


def _listed(client: TestClient, **params: str) -> set[int]:
    """Every river linked from the list, over all its pages."""
    found: set[int] = set()
    page = 1
    while True:
        response = client.get("/portal", params={**params, "page": str(page)})
        assert response.status_code == 200
        found |= {int(n) for n in RIVER_LINK.findall(response.text)}
        if 'rel="next"' not in response.text:
            return found
        page += 1


def _counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(Complaint)) or 0,
            session.scalar(select(func.count()).select_from(ComplaintPhoto)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def _submit(
    client: TestClient,
    river: int,
    *,
    address: str,
    photo: tuple[str, bytes, str] | None = None,
    **fields: str,
) -> httpx.Response:
    """Fill in and send the complaint form as a browser behind the proxy would."""
    form = client.get("/portal/complaints/new", headers={"X-Forwarded-For": address})
    assert form.status_code == 200
    data = {
        "csrf_token": csrf_from(form.text),
        "river": str(river),
        "category": "odour",
        "description": "桥下河水发臭",
    } | fields
    files = {"photo": photo} if photo else {"photo": ("", b"", "application/octet-stream")}
    return client.post(
        "/portal/complaints/new", data=data, files=files, headers={"X-Forwarded-For": address}
    )


def test_only_published_rivers_are_listed(city_client: TestClient, city_engine: Engine) -> None:
    published = _published(city_engine)
    assert published, "the demo publishes some rivers"
    assert _listed(city_client) == set(published)
    page = city_client.get("/portal").text
    assert f"共公开 {len(published)} 条河涌" in page
    assert _unpublished(city_engine)[1] not in page


def test_the_town_filter_lists_that_towns_published_rivers(
    city_client: TestClient, city_engine: Engine
) -> None:
    with Session(city_engine) as session:
        code, name = session.execute(
            select(Town.code, Town.name)
            .join(River, River.lead_town_id == Town.id)
            .where(River.published)
            .order_by(Town.id)
        ).first() or ("", "")
        expected = set(
            session.scalars(
                select(River.id)
                .join(Town, Town.id == River.lead_town_id)
                .where(River.published, Town.code == code)
            )
        )
    assert _listed(city_client, town=code) == expected
    page = city_client.get("/portal", params={"town": code}).text
    assert f'<option value="{code}" selected>' in page
    assert f"{name}共公开 {len(expected)} 条河涌" in page


def test_a_published_rivers_page_says_how_it_is(
    city_client: TestClient, city_engine: Engine
) -> None:
    river_id, name = sorted(_published(city_engine).items())[0]
    page = city_client.get(f"/portal/rivers/{river_id}")
    assert page.status_code == 200
    text = page.text
    assert f"<h1>{name}</h1>" in text
    for heading in ("现在的情况", "正在做什么（一河一策）", "水质变化", "群众投诉"):
        assert heading in text
    assert re.search(r"grade grade--(none|mild|severe|insufficient|unknown)", text)
    assert f'href="/portal/complaints/new?river={river_id}"' in text


def _lead(page: str) -> str:
    found = re.search(r'<p class="lead">(.*?)</p>', page, re.S)
    assert found
    return found.group(1)


def test_an_unpublished_river_is_not_found_like_a_missing_one(
    city_client: TestClient, city_engine: Engine
) -> None:
    river_id, name = _unpublished(city_engine)
    hidden = city_client.get(f"/portal/rivers/{river_id}")
    missing = city_client.get("/portal/rivers/999999")
    assert hidden.status_code == missing.status_code == 404
    assert name not in hidden.text
    assert _lead(hidden.text) == f"没有找到编号为 {river_id} 的河涌"
    assert _lead(missing.text) == "没有找到编号为 999999 的河涌"


def test_a_complaint_gets_a_receipt_that_the_lookup_finds(
    city_client: TestClient, city_engine: Engine, proxied: None
) -> None:
    river_id = min(_published(city_engine))
    photo = tiny_png(10, 20, 30)
    response = _submit(
        city_client,
        river_id,
        address=_address(),
        photo=("河边.jpg", photo, "image/jpeg"),
        name="测试市民",
        phone="13800000000",
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    receipt_no = re.search(r"receipt_no=([A-Z0-9-]+)", location)
    assert receipt_no, location
    page = city_client.get(location)
    assert page.status_code == 200
    assert receipt_no.group(1) in page.text
    assert "投诉已提交" in page.text
    assert "已受理" in page.text
    assert "测试市民" not in page.text
    assert "13800000000" not in page.text
    again = city_client.get("/portal/receipts", params={"receipt_no": receipt_no.group(1).lower()})
    assert again.status_code == 200
    assert "已受理" in again.text
    assert "桥下河水发臭" not in again.text  # the description is never shown
    with Session(city_engine) as session:
        complaint = session.scalars(
            select(Complaint).where(Complaint.receipt_no == receipt_no.group(1))
        ).one()
        assert complaint.complainant_name == "测试市民"
        stored = session.scalars(
            select(ComplaintPhoto).where(ComplaintPhoto.complaint_id == complaint.id)
        ).one()
        assert stored.data == photo
        assert stored.content_type == "image/png"  # by content, not the name nor the claim
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.record_id == receipt_no.group(1))
        ).one()
    assert entry.role == "public"
    assert entry.action == "add"
    assert "测试市民" not in (entry.after or "")
    assert "13800000000" not in (entry.after or "")


def test_a_photo_over_the_limit_is_refused_and_nothing_is_written(
    city_client: TestClient,
    city_engine: Engine,
    proxied: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "complaint_photo_max_kb", 1)
    river_id = min(_published(city_engine))
    before = _counts(city_engine)
    big = tiny_png(1, 2, 3) + b"\0" * 2048
    response = _submit(city_client, river_id, address=_address(), photo=("a.png", big, "image/png"))
    assert response.status_code == 422
    assert "照片过大（超过 1 KB）" in response.text
    assert 'id="photo-error"' in response.text
    assert "桥下河水发臭" in response.text  # what was typed is kept
    huge = tiny_png(1, 2, 3) + b"\0" * 200_000
    declared = _submit(
        city_client, river_id, address=_address(), photo=("a.png", huge, "image/png")
    )
    assert declared.status_code == 413
    assert "照片过大" in declared.text
    assert _counts(city_engine) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [("photo.png", b"this is not an image at all"), ("photo.jpg", b"GIF89a\x01\x00\x01\x00")],
)
def test_a_file_that_is_not_a_jpeg_or_png_is_refused(
    city_client: TestClient, city_engine: Engine, proxied: None, name: str, content: bytes
) -> None:
    before = _counts(city_engine)
    response = _submit(
        city_client,
        min(_published(city_engine)),
        address=_address(),
        photo=(name, content, "image/png"),
    )
    assert response.status_code == 422
    assert "照片只能是 JPEG 或 PNG 图片" in response.text
    assert _counts(city_engine) == before


def test_every_problem_is_shown_beside_its_field(
    city_client: TestClient, city_engine: Engine, proxied: None
) -> None:
    before = _counts(city_engine)
    hidden_id, _ = _unpublished(city_engine)
    response = _submit(
        city_client,
        hidden_id,
        address=_address(),
        photo=("x.png", b"nope", "image/png"),
        category="bogus",
        description=" ",
        phone="call me",
    )
    assert response.status_code == 422
    for field in ("river", "category", "description", "photo", "phone"):
        assert f'id="{field}-error"' in response.text, field
    assert "请选择要投诉的河涌" in response.text
    assert _counts(city_engine) == before


def test_the_form_needs_its_csrf_token(city_client: TestClient, city_engine: Engine) -> None:
    before = _counts(city_engine)
    response = city_client.post(
        "/portal/complaints/new",
        data={"river": str(min(_published(city_engine))), "category": "odour"},
        files={"photo": ("", b"", "application/octet-stream")},
    )
    assert response.status_code == 403
    assert _counts(city_engine) == before


def test_the_rate_limit_answers_politely_and_spares_other_addresses(
    city_client: TestClient,
    city_engine: Engine,
    clock: Clock,
    proxied: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "complaint_rate_limit", 3)
    river_id = min(_published(city_engine))
    busy = _address()
    for _ in range(3):
        assert _submit(city_client, river_id, address=busy).status_code == 303
        clock.advance(minutes=1)
    before = _counts(city_engine)
    refused = _submit(city_client, river_id, address=busy)
    assert refused.status_code == 429
    assert "感谢您对河涌治理的关心" in refused.text
    assert "60 分钟内最多可以提交 3 件投诉" in refused.text
    assert "大约 57 分钟后" in refused.text
    assert refused.headers["Retry-After"] == str(57 * 60)
    complaints, photos, audit = _counts(city_engine)
    assert (complaints, photos) == before[:2]
    assert audit == before[2] + 1  # the refusal is audited
    with Session(city_engine) as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None
    assert (entry.role, entry.outcome, entry.resource) == ("public", "refused", "complaint")
    assert busy in (entry.detail or "")
    assert _submit(city_client, river_id, address=_address()).status_code == 303
    clock.advance(minutes=58)
    assert _submit(city_client, river_id, address=busy).status_code == 303


def _personal_data(engine: Engine) -> set[str]:
    with Session(engine) as session:
        rows = session.execute(select(Complaint.complainant_name, Complaint.complainant_phone))
        return {value for row in rows for value in row if value}


def test_no_personal_data_on_any_portal_page(city_client: TestClient, city_engine: Engine) -> None:
    personal = _personal_data(city_engine)
    assert personal
    with Session(city_engine) as session:
        receipts = list(session.scalars(select(Complaint.receipt_no).limit(30)))
        descriptions = set(session.scalars(select(Complaint.description)))
    pages = ["/portal", "/portal/complaints/new", "/portal/receipts"]
    pages += [f"/portal/rivers/{river_id}" for river_id in _published(city_engine)]
    pages += [f"/portal/receipts?receipt_no={number}" for number in receipts]
    for path in pages:
        response = city_client.get(path)
        assert response.status_code == 200, path
        leaked = [value for value in personal | descriptions if value in response.text]
        assert leaked == [], path


def test_a_receipt_that_does_not_exist_is_not_found(city_client: TestClient) -> None:
    response = city_client.get("/portal/receipts", params={"receipt_no": "TS20990101-NOPE"})
    assert response.status_code == 404
    assert "没有回执号为“TS20990101-NOPE”的投诉" in response.text
    assert 'aria-invalid="true"' in response.text


def _html_tag(page: str) -> str:
    found = re.search(r"<html[^>]*>", page)
    assert found
    return found.group(0)


def test_the_mode_switches_set_cookies_that_are_remembered(city_client: TestClient) -> None:
    assert _html_tag(city_client.get("/portal").text) == '<html lang="zh-CN" class="portal">'
    switched = city_client.get("/portal/mode/elder/on", params={"next": "/portal/receipts"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/portal/receipts"
    cookie = switched.headers["set-cookie"]
    assert "gongjian_elder=1" in cookie
    assert "Max-Age=31536000" in cookie
    assert "HttpOnly" in cookie
    page = city_client.get("/portal/complaints/new").text
    assert _html_tag(page) == '<html lang="zh-CN" class="portal elder">'
    assert 'href="/portal/mode/elder/off?next=%2Fportal%2Fcomplaints%2Fnew"' in page
    assert "退出长者模式" in page
    city_client.get("/portal/mode/a11y/on")
    assert _html_tag(city_client.get("/portal").text) == (
        '<html lang="zh-CN" class="portal elder a11y">'
    )
    city_client.get("/portal/mode/elder/off")
    assert _html_tag(city_client.get("/portal").text) == '<html lang="zh-CN" class="portal a11y">'
    city_client.get("/portal/mode/a11y/off")
    assert _html_tag(city_client.get("/portal").text) == '<html lang="zh-CN" class="portal">'


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/portal/mode/dark/on", 404),
        ("/portal/mode/elder/maybe", 404),
        ("/portal/mode/elder/on?next=//evil.example", 303),
    ],
)
def test_the_mode_switch_refuses_what_it_does_not_know(
    city_client: TestClient, path: str, status: int
) -> None:
    response = city_client.get(path)
    assert response.status_code == status
    if status == 303:
        assert response.headers["location"] == "/"
    else:
        assert "set-cookie" not in response.headers or "elder" not in response.headers["set-cookie"]


def test_every_portal_page_has_its_landmarks_switches_and_sign_in_link(
    city_client: TestClient, city_engine: Engine
) -> None:
    river_id = min(_published(city_engine))
    for path in (
        "/portal",
        f"/portal/rivers/{river_id}",
        "/portal/complaints/new",
        "/portal/receipts",
        "/portal/rivers/999999",
    ):
        page = city_client.get(path).text
        for piece in (
            '<a class="skip-link" href="#main">',
            "<header",
            '<main id="main"',
            "<footer",
            'href="/portal/mode/elder/on?next=',
            'href="/portal/mode/a11y/on?next=',
            'hreflang="en"',
            'href="/login"',
            'href="/portal/complaints/new"',
            'href="/portal/receipts"',
        ):
            assert piece in page, (path, piece)
        assert "style=" not in page
        assert re.search(r"<script(?![^>]*(src=|application/json))", page) is None, path


def test_the_demo_city_is_labelled_as_example_data(city_client: TestClient) -> None:
    for path in ("/portal", "/portal/complaints/new", "/portal/receipts"):
        assert "示例数据" in city_client.get(path).text, path


def test_the_portal_speaks_english_too(city_client: TestClient) -> None:
    city_client.get("/lang/en")
    page = city_client.get("/portal").text
    assert _html_tag(page) == '<html lang="en" class="portal">'
    assert "River water quality and remediation" in page
    assert "Elder mode" in page
    city_client.get("/lang/zh-CN")


def test_the_list_costs_the_same_queries_for_one_river_or_all(
    city_client: TestClient, city_engine: Engine
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def queries(**params: str) -> int:
        statements.clear()
        event.listen(city_engine, "before_cursor_execute", count)
        try:
            assert city_client.get("/portal", params=params).status_code == 200
        finally:
            event.remove(city_engine, "before_cursor_execute", count)
        return len(statements)

    with Session(city_engine) as session:
        towns = session.execute(
            select(Town.code, func.count(River.id))
            .join(River, River.lead_town_id == Town.id)
            .where(River.published)
            .group_by(Town.code)
        ).all()
    fewest, rivers = min(towns, key=lambda town: town[1])
    assert rivers < len(_published(city_engine))
    city_client.get("/portal")  # what the app asks once, on its first page
    assert queries(town=fewest) == queries()


def test_the_map_draws_only_published_rivers(city_client: TestClient, city_engine: Engine) -> None:
    published = _published(city_engine)
    response = city_client.get("/portal/rivers.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    features = response.json()["features"]
    urls = {feature["properties"]["url"] for feature in features}
    assert urls == {f"/portal/rivers/{river_id}" for river_id in published}
    for feature in features:
        assert feature["geometry"]["type"] == "LineString"
        assert feature["properties"]["name"] == published[int(feature["properties"]["url"][15:])]
        assert feature["properties"]["grade"] in (None, "none", "mild", "severe", "insufficient")
    page = city_client.get("/portal").text
    assert 'data-features-url="/portal/rivers.geojson?town="' in page
    city_client.get("/portal/mode/elder/on")
    assert "data-map" not in city_client.get("/portal").text  # elder mode: the list only
    city_client.get("/portal/mode/elder/off")
