"""The complaint pages: the list (a town user: its own town's; no personal data), a
complaint's page (the contact for the city and the town concerned only) and closing a
complaint through its form (audited; refused times shown beside the field)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.periods import city_zone
from gongjian.portal.models import ComplaintPhoto
from gongjian.towns.models import Town
from gongjian.water.models import Complaint, River
from tests.conftest import new_complaint
from tests.web.conftest import as_demo, audit_entries, csrf_from, table

RECEIPT = re.compile(r'<a href="/complaints/([^"]+)">')


@pytest.fixture
def db(city_engine: Engine) -> Iterator[Session]:
    with Session(city_engine) as session:
        yield session


def _town_id(db: Session, name: str) -> int:
    return db.scalars(select(Town.id).where(Town.name == name)).one()


def town_complaint(db: Session, town: str) -> Complaint:
    """An open complaint of this test's own about a river ``town`` leads."""
    river = db.scalars(
        select(River).where(River.lead_town_id == _town_id(db, town)).order_by(River.code)
    ).first()
    assert river is not None
    return new_complaint(
        db,
        river.id,
        dt.datetime(2023, 1, 20, 8, 5, tzinfo=city_zone()),
        description="河水发臭，傍晚尤甚",
        name="李四",
        phone="13912345678",
    )


def _receipts(client: TestClient, **params: str) -> list[str]:
    response = client.get("/complaints", params={"page": "1", **params})
    assert response.status_code == 200, response.text
    return RECEIPT.findall(table(response.text, "complaints"))


def test_the_list_is_town_scoped_latest_first_and_without_contacts(
    city_client: TestClient, db: Session
) -> None:
    mine = town_complaint(db, "石岐")
    as_demo(city_client, "town-shiqi")
    page = city_client.get("/complaints")
    assert page.status_code == 200
    assert "13912345678" not in page.text
    assert "李四" not in page.text
    shown = RECEIPT.findall(table(page.text, "complaints"))
    assert shown[0] == mine.receipt_no
    own = _town_id(db, "石岐")
    towns = {
        town_id
        for _, town_id in db.execute(
            select(Complaint.receipt_no, Complaint.town_id).where(Complaint.receipt_no.in_(shown))
        )
    }
    assert towns == {own}
    total = db.scalar(select(func.count()).where(Complaint.town_id == own))
    assert f"共 {total} 件投诉" in page.text
    still_open = _receipts(city_client, open="1")
    assert mine.receipt_no in still_open
    assert all(
        db.scalar(select(Complaint.closed_at).where(Complaint.receipt_no == r)) is None
        for r in still_open
    )
    assert city_client.get("/complaints", params={"town": "东区"}).status_code == 403


def test_a_complaints_page_shows_the_contact_to_the_city_and_its_town_only(
    city_client: TestClient, db: Session
) -> None:
    complaint = town_complaint(db, "石岐")
    url = f"/complaints/{complaint.receipt_no}"
    for username, sees in (("gaigeban", True), ("town-shiqi", True), ("shenji", False)):
        city_client.cookies.clear()
        as_demo(city_client, username)
        page = city_client.get(url)
        assert page.status_code == 200, username
        assert "河水发臭，傍晚尤甚" in page.text
        assert "2023年1月20日 08:05" in page.text
        assert ("13912345678" in page.text) is sees, username
    assert 'action="/complaints/' not in page.text  # the auditor may not close it
    city_client.cookies.clear()
    as_demo(city_client, "town-dongqu")
    assert city_client.get(url).status_code == 403
    assert city_client.get("/complaints/TS-NOPE").status_code == 404


def _close(client: TestClient, receipt: str, **form: str) -> httpx.Response:
    page = client.get(f"/complaints/{receipt}")
    assert page.status_code == 200, page.text
    return client.post(
        f"/complaints/{receipt}/close", data={"csrf_token": csrf_from(page.text), **form}
    )


def test_closing_a_complaint_through_its_form(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    complaint = town_complaint(db, "石岐")
    receipt = complaint.receipt_no
    as_demo(city_client, "town-shiqi")
    early = _close(city_client, receipt, closed_at="2023-01-19T10:00")
    assert early.status_code == 422
    assert "办结时间不能早于受理时间（2023-01-20 08:05）" in early.text
    assert 'aria-invalid="true"' in early.text
    garbled = _close(city_client, receipt, closed_at="明天")
    assert garbled.status_code == 422
    assert "无法识别的时间“明天”" in garbled.text
    assert '<ul class="field-errors" id="err-closed_at">' in garbled.text
    assert "时间应为 2023-02-01 09:30 这样的时间" in garbled.text
    assert not audit_entries(city_engine, record_id=receipt, action="change")
    done = _close(city_client, receipt, closed_at="2023-01-21T15:30", note="已清淤")
    assert done.status_code == 303
    assert done.headers["location"] == f"/complaints/{receipt}?closed=1"
    page = city_client.get(done.headers["location"])
    assert "已办结" in page.text
    assert "2023年1月21日 15:30" in page.text
    assert 'action="/complaints/' not in page.text
    [entry] = audit_entries(city_engine, record_id=receipt, action="change")
    assert entry.actor == "town-shiqi"
    assert "已清淤" in (entry.detail or "")
    again = city_client.post(
        f"/complaints/{receipt}/close", data={"csrf_token": csrf_from(page.text)}
    )
    assert again.status_code == 409
    assert "已于 2023-01-21 15:30 办结" in again.text


def _take(client: TestClient, **form: str) -> httpx.Response:
    page = client.get("/complaints/new")
    assert page.status_code == 200, page.text
    return client.post("/complaints/new", data={"csrf_token": csrf_from(page.text), **form})


def _led_by(db: Session, town: str) -> River:
    river = db.scalars(
        select(River).where(River.lead_town_id == _town_id(db, town)).order_by(River.code)
    ).first()
    assert river is not None
    return river


def test_recording_a_complaint_taken_by_telephone(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    own, other = _led_by(db, "石岐"), _led_by(db, "东区")
    as_demo(city_client, "town-shiqi")
    assert 'href="/complaints/new"' in city_client.get("/complaints").text
    form = city_client.get("/complaints/new").text
    assert f'<option value="{own.id}"' in form
    assert f'<option value="{other.id}"' not in form
    before = db.scalar(select(func.count(Complaint.id)))
    wrong = _take(
        city_client, river="", category="", description=" ", received_at="2999-01-01T10:00"
    )
    assert wrong.status_code == 422
    for reason in ("请选择要投诉的河涌", "请选择投诉类别", "受理时间不能晚于现在"):
        assert reason in wrong.text
    assert 'id="err-river"' in wrong.text
    assert 'id="err-received_at"' in wrong.text
    assert 'value="2999-01-01T10:00"' in wrong.text
    another = _take(city_client, river=str(other.id), category="odour", description="河水发臭")
    assert another.status_code == 403
    assert db.scalar(select(func.count(Complaint.id))) == before
    done = _take(
        city_client,
        river=str(own.id),
        category="sewage_outfall",
        description="排污口夜间排黑水",
        received_at="2023-02-03T21:40",
        name="王五",
        phone="0760-12345678",
    )
    assert done.status_code == 303, done.text
    receipt = done.headers["location"].removeprefix("/complaints/").removesuffix("?added=1")
    page = city_client.get(done.headers["location"])
    assert f"投诉已登记，回执号 {receipt}" in page.text
    assert "2023年2月3日 21:40" in page.text
    assert "0760-12345678" in page.text
    db.rollback()  # a new read: the page's request committed after this session's last
    stored = db.scalars(select(Complaint).where(Complaint.receipt_no == receipt)).one()
    assert (stored.river_id, stored.town_id, stored.category) == (
        own.id,
        own.lead_town_id,
        "sewage_outfall",
    )
    assert stored.received_at == dt.datetime(2023, 2, 3, 13, 40, tzinfo=dt.UTC)
    [entry] = audit_entries(city_engine, record_id=receipt, action="add")
    assert entry.actor == "town-shiqi"
    assert "王五" not in (entry.after or "")
    city_client.cookies.clear()
    as_demo(city_client, "shenji")
    assert 'href="/complaints/new"' not in city_client.get("/complaints").text
    assert city_client.get("/complaints/new").status_code == 403


#: A one-pixel PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_the_photo_is_shown_to_the_city_and_the_town_concerned_only(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    complaint, without = town_complaint(db, "石岐"), town_complaint(db, "石岐")
    db.add(
        ComplaintPhoto(
            complaint_id=complaint.id,
            content_type="image/png",
            size_bytes=len(PNG),
            sha256=hashlib.sha256(PNG).hexdigest(),
            data=PNG,
        )
    )
    db.commit()
    page_url = f"/complaints/{complaint.receipt_no}"
    photo_url = f"{page_url}/photo"
    for username in ("gaigeban", "town-shiqi"):
        city_client.cookies.clear()
        as_demo(city_client, username)
        assert f'src="{photo_url}"' in city_client.get(page_url).text, username
        photo = city_client.get(photo_url)
        assert photo.status_code == 200, username
        assert photo.content == PNG
        assert photo.headers["content-type"] == "image/png"
        assert photo.headers["cache-control"] == "private, no-store"
    for username in ("shenji", "town-dongqu"):
        city_client.cookies.clear()
        as_demo(city_client, username)
        assert city_client.get(photo_url).status_code == 403, username
    city_client.cookies.clear()
    as_demo(city_client, "shenji")
    assert photo_url not in city_client.get(page_url).text
    assert audit_entries(city_engine, record_id=complaint.receipt_no, outcome="refused")
    city_client.cookies.clear()
    as_demo(city_client, "gaigeban")
    assert city_client.get(f"/complaints/{without.receipt_no}/photo").status_code == 404
    assert "/photo" not in city_client.get(f"/complaints/{without.receipt_no}").text
