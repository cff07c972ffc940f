"""Publishing briefings: stored whole with the figures they printed, frozen against later
corrections to the records, corrected only by a new briefing that says what it corrects;
the city's act, audited."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from docx import Document
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign.models import Briefing
from gongjian.cli import app
from gongjian.errors import Forbidden, Invalid, NotFound
from gongjian.periods import parse_period
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.reports.briefings import briefing_data, parse_campaigns
from gongjian.reports.publishing import (
    docx_bytes,
    list_published,
    publish_briefing,
    published_briefing,
    stored_briefing,
)
from gongjian.towns.models import Town

CITY = Actor.system("test")
PERIOD = parse_period("2023-01")


def _text(content: bytes) -> str:
    """Every paragraph and table cell of a .docx, in order."""
    document = Document(io.BytesIO(content))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def _cleared_mu(session: Session, briefing_id: int) -> object:
    _, data = published_briefing(session, actor=Actor.public(), briefing_id=briefing_id)
    section = data.campaigns[0]
    return next(f.value for f in section.figures if f.key == "renewal.cleared_mu")


def test_a_published_briefing_stores_what_it_printed(demo_session: Session) -> None:
    published = publish_briefing(demo_session, actor=CITY, period=PERIOD)
    data = briefing_data(demo_session, actor=CITY, period=PERIOD)
    assert stored_briefing(published) == data  # every field, read back exactly
    assert published.title == data.title == "关于2023年1月工改治水攻坚工作进展情况的通报"
    assert (published.period, published.campaign) == ("2023-01", "both")
    assert published.published_at is not None
    figures = published.figures["briefing"]["campaigns"][0]["figures"]
    assert {f["key"]: f["text"] for f in figures} == {
        f.key: f.text for f in data.campaigns[0].figures
    }
    entry = demo_session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "publish", AuditEntry.record_id == str(published.id)
        )
    ).one()
    assert (entry.actor, entry.resource, entry.outcome) == ("test", "briefing", "ok")
    assert data.title in (entry.detail or "")
    assert "renewal.cleared_mu" in (entry.after or "")


def test_a_published_briefing_is_frozen_against_later_corrections(
    demo_session: Session,
) -> None:
    published = publish_briefing(
        demo_session, actor=CITY, period=PERIOD, campaigns=parse_campaigns("renewal")
    )
    before = _cleared_mu(demo_session, published.id)
    text_before = _text(docx_bytes(stored_briefing(published)))
    parcel = demo_session.scalars(
        select(Parcel)
        .join(ParcelStateChange, ParcelStateChange.parcel_id == Parcel.id)
        .where(
            ParcelStateChange.to_state == "cleared",
            ParcelStateChange.changed_on <= dt.date(2023, 1, 31),
        )
        .limit(1)
    ).one()
    parcel.area_mu += Decimal("1000.00")  # a correction to a record behind a KPI
    demo_session.flush()
    again = briefing_data(
        demo_session, actor=CITY, period=PERIOD, campaigns=parse_campaigns("renewal")
    )
    now = next(f.value for f in again.campaigns[0].figures if f.key == "renewal.cleared_mu")
    assert now != before  # the records changed the KPI ...
    assert _cleared_mu(demo_session, published.id) == before  # ... not what was published
    demo_session.expire_all()
    stored = demo_session.get_one(Briefing, published.id)
    assert _text(docx_bytes(stored_briefing(stored))) == text_before


def test_a_correction_names_the_briefing_it_corrects_and_why(demo_session: Session) -> None:
    first = publish_briefing(demo_session, actor=CITY, period=PERIOD)
    with pytest.raises(Invalid):
        publish_briefing(demo_session, actor=CITY, period=PERIOD, corrects_id=first.id)
    with pytest.raises(NotFound):
        publish_briefing(
            demo_session, actor=CITY, period=PERIOD, corrects_id=first.id + 999, reason="错"
        )
    correction = publish_briefing(
        demo_session,
        actor=CITY,
        period=PERIOD,
        corrects_id=first.id,
        reason="石岐拆除面积录入有误",
    )
    assert correction.corrects_id == first.id
    assert correction.title == first.title + "（更正）"
    text = _text(docx_bytes(stored_briefing(correction)))
    assert f"《{first.title}》（第{first.id}号）" in text
    assert "更正原因：石岐拆除面积录入有误" in text
    _, rows = list_published(demo_session, actor=Actor.public(), limit=50)
    by_id = {row.id: row for row in rows}
    assert by_id[first.id].corrected_by == (correction.id,)
    assert by_id[correction.id].corrects_id == first.id
    assert first.title in _text(docx_bytes(stored_briefing(first)))  # the first stays as it was


def test_only_the_city_publishes_and_a_refusal_is_logged(demo_session: Session) -> None:
    town = demo_session.scalars(select(Town).where(Town.name == "石岐")).one()
    actor = Actor(username="town-user", role=Role.town, town_id=town.id)
    with pytest.raises(Forbidden):
        publish_briefing(demo_session, actor=actor, period=PERIOD)
    refused = demo_session.scalars(
        select(AuditEntry).where(AuditEntry.actor == "town-user", AuditEntry.action == "publish")
    ).all()
    assert [(e.resource, e.outcome) for e in refused] == [("briefing", "refused")]
    auditor = Actor(username="auditor-user", role=Role.auditor)
    with pytest.raises(Forbidden):
        publish_briefing(demo_session, actor=auditor, period=PERIOD)


def test_the_public_never_sees_an_unpublished_briefing(demo_session: Session) -> None:
    draft = Briefing(period="2023-01", campaign="both", title="草稿", figures={}, published_at=None)
    demo_session.add(draft)
    demo_session.flush()
    with pytest.raises(NotFound):
        published_briefing(demo_session, actor=Actor.public(), briefing_id=draft.id)


def test_the_command_publishes(demo_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def on_demo() -> Iterator[Session]:
        yield demo_session

    monkeypatch.setattr("gongjian.cli.reports.session", on_demo)
    result = CliRunner().invoke(
        app, ["report", "publish", "--period", "2023-01", "--campaign", "water"]
    )
    assert result.exit_code == 0, result.output
    published = demo_session.scalars(select(Briefing).order_by(Briefing.id.desc())).first()
    assert published is not None
    assert published.campaign == "water"
    assert f"已发布第{published.id}号通报" in result.output
    corrected = CliRunner().invoke(
        app,
        ["report", "publish", "--period", "2023-01", "--corrects", str(published.id)],
    )
    assert corrected.exit_code != 0
    assert "更正原因" in corrected.output
