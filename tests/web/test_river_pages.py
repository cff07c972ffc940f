"""The river pages of the dashboard: the list's filters, sorting and paging agree with
the water services and the KPIs; a page costs a bounded number of queries; a town user
sees only the rivers its town leads; a river's page shows its points along the river,
its grade history with the evidence, plan, complaints, priority and remediation; the
city publishes a river on the portal (audited); a refused state change says why."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.kpi.services import kpis
from gongjian.periods import today
from gongjian.records import list_records
from gongjian.towns.models import Town
from gongjian.water.assessment import river_grades
from gongjian.water.baseline import latest_baseline
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.models import Complaint, River, WaterBodyGrade
from gongjian.water.priorities import priorities
from gongjian.water.services import RIVERS
from tests.web.conftest import as_demo, audit_entries, csrf_from
from tests.web.test_headers import INLINE

CITY = Actor(username="test-city", role=Role.city)
ROW = re.compile(r'<tr id="river-(\d+)" data-code="([^"]+)">')
ALL = {"size": "100"}


@pytest.fixture
def db(city_engine: Engine) -> Iterator[Session]:
    """A session on the demo city, to ask the services what the pages should show."""
    with Session(city_engine) as session:
        yield session


def listed(client: TestClient, **params: str) -> list[str]:
    """The river codes a list page shows, in its order."""
    response = client.get("/rivers", params=params)
    assert response.status_code == 200, response.text
    return [code for _id, code in ROW.findall(response.text)]


def all_rivers(db: Session) -> list[River]:
    return list_records(db, RIVERS, actor=CITY, town_id=None, limit=10_000, offset=0)[1]


def river_where(db: Session, *criteria: Any) -> River:
    found = db.scalars(select(River).where(*criteria).order_by(River.code)).first()
    assert found is not None
    return found


def shiqi(db: Session) -> Town:
    return db.scalars(select(Town).where(Town.name == "石岐")).one()


@pytest.mark.parametrize("grade", list(Grade))
def test_the_grade_filter_lists_the_rivers_of_that_current_grade(
    city_client: TestClient, db: Session, grade: Grade
) -> None:
    as_demo(city_client, "zhishuiban")
    scored = priorities(db, actor=CITY, as_of=today(), top=None)
    wanted = (grade,) if grade is not Grade.insufficient else (grade, None)
    expected = {river.river_code for river in scored if river.grade in wanted}
    assert set(listed(city_client, grade=grade.value, **ALL)) == expected


@pytest.mark.parametrize("state", list(RemediationState))
def test_the_state_and_reached_filters_follow_the_remediation_state(
    city_client: TestClient, db: Session, state: RemediationState
) -> None:
    as_demo(city_client, "zhishuiban")
    rivers = all_rivers(db)
    order = list(RemediationState)
    exactly = {r.code for r in rivers if r.remediation_state == state}
    later = {r.code for r in rivers if order.index(r.remediation_state) >= order.index(state)}
    assert set(listed(city_client, state=state.value, **ALL)) == exactly
    assert set(listed(city_client, reached=state.value, **ALL)) == later


def test_reached_as_of_a_past_day_counts_as_the_kpi_tiles_do(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    day = dt.date(2022, 6, 30)
    figures = kpis(db, as_of=day)
    entered = listed(city_client, reached="entered", as_of=day.isoformat(), **ALL)
    completed = listed(city_client, reached="completed", as_of=day.isoformat(), **ALL)
    assert len(entered) == figures["water.rivers_entered"]
    assert len(completed) == figures["water.rivers_completed"]
    assert set(completed) < set(entered)


def test_the_baseline_view_lists_its_bodies_and_says_how_many_count_as_cleaned(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    frozen = latest_baseline(db, actor=CITY)
    codes = {river.code for river in all_rivers(db)}
    by_id = {river.id: river.code for river in all_rivers(db)}
    members = {by_id[member.river_id] for member in frozen.members}
    assert members <= codes
    assert set(listed(city_client, baseline="1", **ALL)) == members
    page = city_client.get("/rivers", params={"baseline": "1"}).text
    pct = kpis(db, as_of=today())["water.black_odor_reduction_pct"]
    summary = page.split('id="baseline-summary"')[1].split("</div>")[0]
    assert f"共有黑臭水体 {len(members)} 条" in summary
    assert f"黑臭水体较基线减少 {pct:.2f}%" in summary


def test_the_town_filter_lists_the_rivers_the_town_leads(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    town = shiqi(db)
    _total, led = list_records(db, RIVERS, actor=CITY, town_id=town.id, limit=100, offset=0)
    assert led
    assert set(listed(city_client, town=town.code, **ALL)) == {river.code for river in led}


def test_an_unknown_filter_value_is_a_page_that_says_so(city_client: TestClient) -> None:
    as_demo(city_client, "zhishuiban")
    response = city_client.get("/rivers", params={"grade": "purple"})
    assert response.status_code == 422
    assert "none、mild、severe、insufficient" in response.text
    assert "Traceback" not in response.text


def test_sorting_and_paging(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "zhishuiban")
    everything = listed(city_client, **ALL)
    assert len(everything) == len(all_rivers(db))
    scores = {
        river.river_code: river.score
        for river in priorities(db, actor=CITY, as_of=today(), top=None)
    }
    assert [scores[code] for code in everything] == sorted(scores.values(), reverse=True)
    by_length = listed(city_client, sort="-length", **ALL)
    lengths = {river.code: river.length_m for river in all_rivers(db)}
    assert [lengths[code] for code in by_length] == sorted(lengths.values(), reverse=True)

    pages: list[str] = []
    first = city_client.get("/rivers", params={"size": "10", "sort": "name"})
    assert 'aria-current="page">1<' in first.text
    assert 'href="/rivers?sort=name&amp;size=10&amp;page=2"' in first.text
    number = 1
    while True:
        codes = listed(city_client, size="10", sort="name", page=str(number))
        assert 0 < len(codes) <= 10
        pages.extend(codes)
        if len(pages) >= len(everything):
            break
        number += 1
    assert len(pages) == len(set(pages)) == len(everything)
    assert listed(city_client, size="10", sort="name", page="999") == codes  # the last page
    assert city_client.get("/rivers", params={"size": "1000"}).status_code == 400


def test_the_export_link_carries_the_filters(city_client: TestClient) -> None:
    as_demo(city_client, "zhishuiban")
    page = city_client.get(
        "/rivers", params={"grade": "mild", "reached": "entered", "as_of": "2023-01", "page": "1"}
    ).text
    link = re.search(r'href="([^"]+)" id="rivers-export"', page)
    assert link is not None
    assert link.group(1) == "/exports/rivers?grade=mild&amp;reached=entered&amp;as_of=2023-01-31"


def test_an_empty_list_says_what_to_do(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "zhishuiban")
    if any(r.remediation_state == RemediationState.sustained for r in all_rivers(db)):
        pytest.skip("the demo city has sustained rivers")
    page = city_client.get("/rivers", params={"state": "sustained"}).text
    assert "没有符合筛选条件的河涌：请调整筛选条件或选择其他日期。" in page
    assert "<table" not in page


def _statements(engine: Engine, client: TestClient, params: dict[str, str]) -> int:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/rivers", params=params).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_list_costs_the_same_queries_whatever_the_rows(
    city_client: TestClient, city_engine: Engine
) -> None:
    as_demo(city_client, "zhishuiban")
    _statements(city_engine, city_client, {})  # warm up the session's first queries
    few = _statements(city_engine, city_client, {"size": "2"})
    many = _statements(city_engine, city_client, {"size": "100"})
    assert few == many
    assert many <= 20
    baseline_few = _statements(city_engine, city_client, {"size": "2", "baseline": "1"})
    baseline_many = _statements(city_engine, city_client, {"size": "100", "baseline": "1"})
    assert baseline_few == baseline_many


def test_a_town_user_sees_only_its_own_rivers(
    city_client: TestClient, db: Session, city_engine: Engine
) -> None:
    as_demo(city_client, "town-shiqi")
    town = shiqi(db)
    own = {r.code for r in all_rivers(db) if r.lead_town_id == town.id}
    assert set(listed(city_client, **ALL)) == own
    other = river_where(db, River.lead_town_id != town.id)
    response = city_client.get(f"/rivers/{other.id}")
    assert response.status_code == 403
    assert "无权查看其他镇街的河涌：镇街用户只能查看本镇街的记录" in response.text
    refused = audit_entries(
        city_engine, actor="town-shiqi", outcome="refused", record_id=other.code
    )
    assert [(e.action, e.resource) for e in refused][-1:] == [("view", "river")]
    other_town = db.get(Town, other.lead_town_id)
    assert other_town is not None
    assert city_client.get("/rivers", params={"town": other_town.code}).status_code == 403
    mine = river_where(db, River.lead_town_id == town.id)
    assert city_client.get(f"/rivers/{mine.id}").status_code == 200


def test_a_missing_river_is_a_404_page(city_client: TestClient) -> None:
    as_demo(city_client, "zhishuiban")
    response = city_client.get("/rivers/999999")
    assert response.status_code == 404
    assert "没有编号为 999999 的河涌" in response.text


def test_signed_out_the_list_asks_to_sign_in(city_client: TestClient) -> None:
    response = city_client.get("/rivers?grade=mild")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Frivers%3Fgrade%3Dmild"


def test_the_river_page_shows_the_strip_and_the_grade_history_with_its_evidence(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    black = db.scalars(
        select(WaterBodyGrade.river_id).where(WaterBodyGrade.grade == Grade.mild.value)
    ).first()
    assert black is not None
    river = db.get(River, black)
    assert river is not None
    grades = river_grades(db, actor=CITY, river_code=river.code)
    page = city_client.get(f"/rivers/{river.id}").text
    strip = page.split('<svg class="strip__svg"')[1].split("</svg>")[0]
    latest = grades[0]
    for code, grade in latest.points:
        assert f"<title>{code} · " in strip
        assert f"strip-point--{grade.grade}" in strip
    history = page.split('id="grade-history"')[1].split("</section>")[0]
    for found in grades:
        assert found.water_body.decided_by in history
        assert found.water_body.rules_hash[:12] in history
        for _code, grade in found.points:
            assert grade.decided_by in history
    mild = next(g for g in grades if g.water_body.grade == Grade.mild.value)
    assert any("黑臭：" in grade.decided_by for _code, grade in mild.points)
    assert 'class="is-superseded"' not in history


def test_a_superseded_grade_stays_in_the_history_marked(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    river = river_where(db, River.code.is_not(None))
    current = db.scalars(
        select(WaterBodyGrade)
        .where(WaterBodyGrade.river_id == river.id)
        .order_by(WaterBodyGrade.period_end)
    ).first()
    assert current is not None
    when = dt.datetime(2022, 3, 1, 4, tzinfo=dt.UTC)
    with Session(city_engine) as writer:
        old = WaterBodyGrade(
            assessment_id=current.assessment_id,
            river_id=river.id,
            period=current.period,
            period_start=current.period_start,
            period_end=current.period_end,
            grade=Grade.severe.value,
            evidence={"grade": "severe"},
            decided_by="重度黑臭：早先的评价（测试）",
            rules_hash="f" * 64,
            assessed_at=when,
            superseded_at=when,
            points_graded=3,
            points_severe=3,
            severe_segments={"segments": []},
        )
        writer.add(old)
        writer.commit()
        try:
            history = city_client.get(f"/rivers/{river.id}").text.split('id="grade-history"')[1]
            row = history.split("重度黑臭：早先的评价（测试）")[0].rsplit("<tr", 1)[1]
            assert 'class="is-superseded"' in row
            after = history.split("重度黑臭：早先的评价（测试）")[1].split("</tr>")[0]
            assert "已被替代（2022年3月1日）" in after
            assert "ffffffffffff" in after
        finally:
            writer.execute(delete(WaterBodyGrade).where(WaterBodyGrade.id == old.id))
            writer.commit()


def test_the_river_page_shows_plan_complaints_priority_and_remediation(
    city_client: TestClient, city_app: FastAPI, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    complaint = db.scalars(
        select(Complaint).where(Complaint.complainant_name.is_not(None)).order_by(Complaint.id)
    ).first()
    assert complaint is not None
    assert complaint.complainant_name
    river = db.get(River, complaint.river_id)
    assert river is not None
    page = city_client.get(f"/rivers/{river.id}").text
    assert complaint.receipt_no in page
    assert complaint.complainant_name in page
    scored = next(
        p for p in priorities(db, actor=CITY, as_of=today(), top=None) if p.river_code == river.code
    )
    section = page.split('id="priority"')[1].split("</section>")[0]
    assert f"得分 {scored.score:.2f}" in section
    for term in scored.terms:
        assert term.label in section
    assert 'id="state-history"' in page or "尚无状态变更记录" in page
    assert 'id="plan"' in page

    with TestClient(city_app, follow_redirects=False) as auditor:
        as_demo(auditor, "shenji")  # the auditor reads the page, not the personal data
        audited = auditor.get(f"/rivers/{river.id}").text
    assert complaint.receipt_no in audited
    assert complaint.complainant_name not in audited
    assert "仅市攻坚办和投诉所涉镇街可见" in audited
    assert 'id="state-form"' not in audited
    assert 'id="publish-form"' not in audited


def test_the_city_publishes_and_withdraws_a_river(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    river = river_where(db, River.published.is_(False))
    page = city_client.get(f"/rivers/{river.id}").text
    assert 'id="publish-form"' in page
    try:
        response = city_client.post(
            f"/rivers/{river.id}/publish", data={"published": "1", "csrf_token": csrf_from(page)}
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/rivers/{river.id}?done=published"
        db.rollback()
        assert db.get(River, river.id).published is True  # type: ignore[union-attr]
        entry = audit_entries(city_engine, actor="zhishuiban", record_id=river.code)[-1]
        assert (entry.action, entry.resource, entry.outcome) == ("publish", "river", "ok")
        assert json.loads(entry.before or "{}") == {"published": False}
        assert json.loads(entry.after or "{}") == {"published": True}
        shown = city_client.get(response.headers["location"]).text
        assert "已在公众门户发布此河涌。" in shown
        assert "从公众门户撤下" in shown
    finally:
        withdraw = city_client.post(
            f"/rivers/{river.id}/publish", data={"published": "0", "csrf_token": csrf_from(page)}
        )
    assert withdraw.status_code == 303
    db.rollback()
    assert db.get(River, river.id).published is False  # type: ignore[union-attr]


def test_a_town_user_may_not_publish(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    as_demo(city_client, "town-shiqi")
    river = river_where(db, River.lead_town_id == shiqi(db).id)
    page = city_client.get(f"/rivers/{river.id}").text
    assert 'id="publish-form"' not in page
    assert 'id="state-form"' in page  # a town changes the states of the rivers it leads
    assert 'id="correction-form"' not in page
    before = river.published
    response = city_client.post(
        f"/rivers/{river.id}/publish", data={"published": "1", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 403
    assert "市攻坚办" in response.text
    db.rollback()
    assert db.get(River, river.id).published is before  # type: ignore[union-attr]
    refused = audit_entries(city_engine, actor="town-shiqi", outcome="refused", action="publish")
    assert refused


def test_a_publish_without_the_csrf_token_is_refused(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "zhishuiban")
    river = river_where(db, River.published.is_(False))
    response = city_client.post(f"/rivers/{river.id}/publish", data={"published": "1"})
    assert response.status_code == 403
    assert "表单已失效" in response.text
    db.rollback()
    assert db.get(River, river.id).published is False  # type: ignore[union-attr]


def test_a_refused_state_change_shows_its_reason_beside_the_form(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    river = river_where(db, River.remediation_state == RemediationState.entered.value)
    page = city_client.get(f"/rivers/{river.id}").text
    token = csrf_from(page)
    skipped = city_client.post(
        f"/rivers/{river.id}/state",
        data={"to_state": "evaluated", "on": today().isoformat(), "csrf_token": token},
    )
    assert skipped.status_code == 409
    error = skipped.text.split('id="state-error">')[1].split("</p>")[0]
    assert "当前为“进场”，不能改为“评估通过”" in error
    assert "可改为：“完工”" in error
    future = city_client.post(
        f"/rivers/{river.id}/state",
        data={
            "to_state": "completed",
            "on": (today() + dt.timedelta(days=3)).isoformat(),
            "csrf_token": token,
        },
    )
    assert future.status_code == 422
    assert "日期不能晚于今天" in future.text.split('id="state-error">')[1].split("</p>")[0]
    garbled = city_client.post(
        f"/rivers/{river.id}/state",
        data={"to_state": "completed", "on": "yesterday", "csrf_token": token},
    )
    assert garbled.status_code == 422
    garbled_error = garbled.text.split('id="state-error">')[1].split("</p>")[0]
    assert "变更日期应为 2023-01-31 这样的日期" in garbled_error
    unchosen = city_client.post(
        f"/rivers/{river.id}/state",
        data={"to_state": "finished", "on": today().isoformat(), "csrf_token": token},
    )
    assert unchosen.status_code == 422
    assert "请从列表中选择" in unchosen.text.split('id="state-error">')[1].split("</p>")[0]
    unexplained = city_client.post(
        f"/rivers/{river.id}/correction",
        data={"to_state": "listed", "on": today().isoformat(), "csrf_token": token},
    )
    assert unexplained.status_code == 422
    assert "更正必须说明理由" in unexplained.text.split('id="correction-error">')[1]
    db.rollback()
    assert db.get(River, river.id).remediation_state == RemediationState.entered  # type: ignore[union-attr]


def test_the_pages_hold_no_inline_script_or_style_and_read_in_english(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "zhishuiban")
    river = river_where(db, River.code.is_not(None))
    for path in ("/rivers", "/rivers?baseline=1", f"/rivers/{river.id}"):
        html = city_client.get(path).text
        for pattern, what in INLINE:
            assert not pattern.search(html), f"{what} on {path}"
    city_client.get("/lang/en")
    english = city_client.get(f"/rivers/{river.id}").text
    assert '<html lang="en">' in english
    assert "Grade history" in english
    assert "Rivers as of" in city_client.get("/rivers").text
