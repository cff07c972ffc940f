"""The portal's services on the demo city: what the public may read, how photos are
recognised, and what a refused submission leaves behind (nothing)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.config import get_settings
from gongjian.demo.portal import tiny_png
from gongjian.errors import Invalid, NotFound
from gongjian.models import AuditEntry, Briefing, Complaint, ComplaintPhoto, River
from gongjian.portal import services
from gongjian.portal.choices import PhotoType, ReceiptStatus
from gongjian.water.choices import MeasureState

PUBLIC = Actor.public()
AS_OF = dt.date(2023, 1, 31)
NOW = dt.datetime(2023, 2, 1, 2, tzinfo=dt.UTC)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9"


def _published_ids(session: Session) -> set[int]:
    return set(session.scalars(select(River.id).where(River.published)))


def _hidden_id(session: Session) -> int:
    found = session.scalar(select(River.id).where(~River.published).order_by(River.id))
    assert found is not None
    return found


def test_the_public_sees_only_published_rivers(demo_session: Session) -> None:
    found = services.list_rivers(demo_session, actor=PUBLIC, as_of=AS_OF)
    assert found.total == len(_published_ids(demo_session)) > 0
    assert {card.id for card in found.cards} <= _published_ids(demo_session)
    mapped = services.river_map(demo_session, actor=PUBLIC, as_of=AS_OF)
    assert {river.id for river in mapped} == _published_ids(demo_session)
    assert sum(town.rivers for town in found.towns) == found.total


def test_the_list_pages_and_filters_by_town(
    demo_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "PAGE_SIZE", 3)
    first = services.list_rivers(demo_session, actor=PUBLIC, as_of=AS_OF)
    assert first.pages == -(-first.total // 3)
    seen = [
        card.id
        for page in range(1, first.pages + 1)
        for card in services.list_rivers(demo_session, actor=PUBLIC, as_of=AS_OF, page=page).cards
    ]
    assert sorted(seen) == sorted(_published_ids(demo_session))
    beyond = services.list_rivers(demo_session, actor=PUBLIC, as_of=AS_OF, page=99)
    assert beyond.page == first.pages
    town = first.towns[0]
    only = services.list_rivers(demo_session, actor=PUBLIC, as_of=AS_OF, town=town.code)
    assert only.town == town
    assert only.total == town.rivers
    assert {card.town for card in only.cards} == {town.name}
    mapped = services.river_map(demo_session, actor=PUBLIC, as_of=AS_OF, town=town.code)
    assert {river.town for river in mapped} == {town.name}
    assert len(mapped) == town.rivers


def test_a_card_summarises_the_plan(demo_session: Session) -> None:
    cards = services.list_rivers(demo_session, actor=PUBLIC, as_of=AS_OF).cards
    planned = [card for card in cards if card.plan is not None and card.plan.measures]
    assert planned
    for card in planned:
        river = services.get_river(demo_session, actor=PUBLIC, river_id=card.id, as_of=AS_OF)
        pending = [m for m in river.measures if m.state is not MeasureState.done]
        assert card.plan is not None
        assert card.plan.measures == len(river.measures)
        assert card.plan.done == len(river.measures) - len(pending)
        assert card.plan.due == max((m.deadline for m in pending), default=None)
        assert card.plan.overdue == sum(m.overdue for m in river.measures)
        assert card.last_sampled is not None
        assert card.last_sampled <= AS_OF


def test_an_unpublished_river_is_not_found(demo_session: Session) -> None:
    with pytest.raises(NotFound):
        services.get_river(
            demo_session, actor=PUBLIC, river_id=_hidden_id(demo_session), as_of=AS_OF
        )


def test_a_rivers_history_counts_and_complaints(demo_session: Session) -> None:
    river_id = min(_published_ids(demo_session))
    river = services.get_river(demo_session, actor=PUBLIC, river_id=river_id, as_of=AS_OF)
    assert 0 < len(river.history) <= services.HISTORY_PERIODS
    ends = [entry.period.end for entry in river.history]
    assert ends == sorted(ends, reverse=True)
    assert ends[0] <= AS_OF
    received = demo_session.scalar(select(func.count()).where(Complaint.river_id == river_id))
    assert river.complaints.received == received
    assert river.complaints.open == river.complaints.received - river.complaints.closed


def test_only_published_briefings_are_listed(demo_session: Session) -> None:
    demo_session.add_all(
        [
            Briefing(
                period="2023-01",
                campaign="water",
                title="一月治水通报",
                figures={},
                published_at=dt.datetime(2023, 1, 31, 20, tzinfo=dt.UTC),
            ),
            Briefing(period="2023-01", campaign="water", title="未发布的草稿", figures={}),
        ]
    )
    demo_session.flush()
    found = services.published_briefings(demo_session, actor=PUBLIC)
    assert [(b.title, b.published_on) for b in found] == [("一月治水通报", dt.date(2023, 2, 1))]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (tiny_png(1, 2, 3), PhotoType.png),
        (JPEG, PhotoType.jpeg),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, None),
        (b"\xff\xd8\xff", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"", None),
    ],
)
def test_a_photo_is_recognised_by_its_content(content: bytes, expected: PhotoType | None) -> None:
    assert services.photo_type(content) is expected


def test_a_photo_over_the_limit_has_a_problem() -> None:
    assert services.photo_problems(tiny_png(1, 2, 3), max_kb=1) == []
    too_big = services.photo_problems(tiny_png(1, 2, 3) + b"\0" * 1024, max_kb=1)
    assert [p.column for p in too_big] == ["photo"]
    assert "超过 1 KB" in too_big[0].reason


def _state(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Complaint, ComplaintPhoto, AuditEntry)
    )


def _submit(session: Session, **overrides: object) -> str:
    values: dict[str, object] = {
        "actor": PUBLIC,
        "client_address": "192.0.2.99",
        "now": NOW,
        "river_id": min(_published_ids(session)),
        "category": "black",
        "description": "河水发黑",
        "name": None,
        "phone": None,
        "photo": None,
    } | overrides
    return services.submit_complaint(session, **values)  # type: ignore[arg-type]


def test_a_submission_is_stored_with_its_photo_and_found_by_its_receipt(
    demo_session: Session,
) -> None:
    photo = tiny_png(9, 9, 9)
    receipt_no = _submit(demo_session, photo=photo, name="张三", phone="138 0000 0000")
    assert receipt_no.startswith("TS20230201-")
    complaint = demo_session.scalars(
        select(Complaint).where(Complaint.receipt_no == receipt_no)
    ).one()
    assert complaint.complainant_phone == "138 0000 0000"
    river = demo_session.get(River, complaint.river_id)
    assert river is not None
    assert complaint.town_id == river.lead_town_id
    stored = demo_session.scalars(
        select(ComplaintPhoto).where(ComplaintPhoto.complaint_id == complaint.id)
    ).one()
    assert (stored.content_type, stored.size_bytes) == ("image/png", len(photo))
    found = services.lookup_receipt(
        demo_session, actor=PUBLIC, receipt_no=f" {receipt_no.lower()} "
    )
    assert found.receipt_no == receipt_no
    assert found.river_name == river.name
    assert found.status is ReceiptStatus.received
    assert found.received_on == dt.date(2023, 2, 1)
    assert not {"description", "complainant_name", "complainant_phone"} & set(vars(found))


def test_an_invalid_submission_writes_nothing(demo_session: Session) -> None:
    before = _state(demo_session)
    with pytest.raises(Invalid) as refused:
        _submit(
            demo_session,
            river_id=_hidden_id(demo_session),
            description="",
            photo=b"not an image",
        )
    assert {p.column for p in refused.value.problems} == {"river", "description", "photo"}
    with pytest.raises(Invalid) as photo_only:
        _submit(demo_session, photo=b"not an image")
    assert [p.column for p in photo_only.value.problems] == ["photo"]
    assert _state(demo_session) == before


def test_the_rate_limit_counts_per_address_within_the_window(
    demo_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "complaint_rate_limit", 2)
    for minutes in (0, 10):
        _submit(demo_session, now=NOW + dt.timedelta(minutes=minutes))
    with pytest.raises(services.TooManySubmissions) as refused:
        _submit(demo_session, now=NOW + dt.timedelta(minutes=20))
    assert refused.value.retry_at == NOW + dt.timedelta(minutes=60)
    _submit(demo_session, now=NOW + dt.timedelta(minutes=20), client_address="192.0.2.100")
    _submit(demo_session, now=NOW + dt.timedelta(minutes=61))


def test_a_closed_complaint_on_an_unpublished_river_shows_no_river(
    demo_session: Session,
) -> None:
    complaint = demo_session.scalars(
        select(Complaint)
        .join(River, River.id == Complaint.river_id)
        .where(~River.published, Complaint.closed_at.is_not(None))
        .limit(1)
    ).one()
    found = services.lookup_receipt(demo_session, actor=PUBLIC, receipt_no=complaint.receipt_no)
    assert found.river_name is None
    assert found.status is ReceiptStatus.closed
    assert found.closed_on is not None
    with pytest.raises(NotFound):
        services.lookup_receipt(demo_session, actor=PUBLIC, receipt_no="TS20990101-NOPE")
