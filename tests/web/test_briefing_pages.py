"""The briefings page (``/briefings``) and a published briefing on the portal: the city
writes and publishes, every role reads; the portal serves what was published, frozen."""

from __future__ import annotations

import io
import re

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gongjian.campaign.models import Briefing
from gongjian.reports.publishing import stored_briefing
from tests.web.conftest import as_demo as sign_in_demo
from tests.web.conftest import audit_entries, csrf_from

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def city_db(city_app: FastAPI) -> Engine:
    engine: Engine = city_app.state.engine
    return engine


def as_demo(client: TestClient, username: str) -> TestClient:
    client.cookies.clear()
    return sign_in_demo(client, username)


def _publish(client: TestClient, **form: str) -> object:
    token = csrf_from(client.get("/briefings").text)
    return client.post("/briefings/publish", data={"csrf_token": token, **form})


def test_the_city_writes_a_briefing_that_python_docx_opens(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/briefings")
    assert page.status_code == 200
    assert 'id="briefing-document"' in page.text
    assert 'id="briefing-publish"' in page.text
    assert 'href="/briefings"' in page.text  # the navigation names the page
    response = city_client.get(
        "/briefings/document", params={"period": "2023-01", "campaign": "water"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == DOCX
    document = Document(io.BytesIO(response.content))
    assert document.paragraphs[0].text == "关于2023年1月治水攻坚工作进展情况的通报"
    wrong = city_client.get("/briefings/document", params={"period": "2023-13"})
    assert wrong.status_code == 422
    assert 'id="err-period"' in wrong.text


def test_publishing_shows_the_briefing_on_the_portal_frozen(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "gaigeban")
    done = _publish(city_client, period="2023-01", campaign="both")
    assert done.status_code == 303  # type: ignore[attr-defined]
    location = done.headers["location"]  # type: ignore[attr-defined]
    number = int(re.search(r"published=(\d+)", location).group(1))  # type: ignore[union-attr]
    assert f"/portal/briefings/{number}" in city_client.get(location).text
    entries = audit_entries(city_db, action="publish", record_id=str(number))
    assert [(e.actor, e.resource) for e in entries] == [("gaigeban", "briefing")]

    public = TestClient(city_client.app)
    home = public.get("/portal")
    assert f'href="/portal/briefings/{number}"' in home.text
    page = public.get(f"/portal/briefings/{number}")
    assert page.status_code == 200
    with Session(city_db) as session:
        data = stored_briefing(session.get_one(Briefing, number))
    assert data.title in page.text
    for figure in data.campaigns[0].figures:
        assert figure.text in page.text
    download = public.get(f"/portal/briefings/{number}.docx")
    assert download.status_code == 200
    assert Document(io.BytesIO(download.content)).paragraphs[0].text == data.title
    assert public.get("/portal/briefings/999999").status_code == 404

    correction = _publish(
        city_client, period="2023-01", campaign="both", corrects=str(number), reason="数据更正"
    )
    assert correction.status_code == 303  # type: ignore[attr-defined]
    later = public.get(f"/portal/briefings/{number}")
    assert 'id="briefing-corrected-by"' in later.text
    missing_reason = _publish(city_client, period="2023-01", corrects=str(number))
    assert missing_reason.status_code == 422  # type: ignore[attr-defined]
    assert 'id="err-reason"' in missing_reason.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("username", ["town-shiqi", "shenji"])
def test_towns_and_auditors_read_but_neither_write_nor_publish(
    city_client: TestClient, city_db: Engine, username: str
) -> None:
    as_demo(city_client, username)
    page = city_client.get("/briefings")
    assert page.status_code == 200
    assert 'id="briefing-publish"' not in page.text
    assert 'id="published-briefings"' in page.text or "尚未发布通报" in page.text
    refused = city_client.get("/briefings/document", params={"period": "2023-01"})
    assert refused.status_code == 403
    token = csrf_from(page.text)  # the sign-out form's
    published = city_client.post(
        "/briefings/publish", data={"csrf_token": token, "period": "2023-01"}
    )
    assert published.status_code == 403
    assert "市攻坚办" in published.text
    refusals = audit_entries(city_db, actor=username, resource="briefing", outcome="refused")
    assert {e.action for e in refusals} >= {"add", "publish"}
