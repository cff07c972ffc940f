"""The campaign pages: the project list shows what the project services give for the
same filters (state and lateness as of a day, repeatable states and kinds, batch,
overdue), pages and costs a bounded number of queries; a town user sees its own town
only and gets the 403 page for another town's project; a project's state-change form
writes and audits, or says why not; batches show their projects and progress; the
ranking lists the 23 towns by score with the commendation list; the dispatch page is
for the city, the auditor and the admin (403 for a town user) and records a dispatch."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign.batches import list_batches
from gongjian.campaign.choices import Campaign, ProjectKind, ProjectState
from gongjian.campaign.dispatch import list_dispatches, recommend
from gongjian.campaign.models import Cadre, Project
from gongjian.campaign.projects import (
    add_project,
    change_project_state,
    overdue_projects,
    project_list,
)
from gongjian.campaign.scoring import standings
from gongjian.kpi.services import kpis
from gongjian.renewal.pages import PAGE_SIZE
from gongjian.towns.models import Town
from tests.web.conftest import as_demo, audit_entries, counting, csrf_from, table
from tests.web.test_headers import INLINE

CITY = Actor(username="test-city", role=Role.city)
REPORT_DAY = dt.date(2023, 1, 31)
PROJECT_LINK = re.compile(r'<a href="/projects/([^"]+)">')


@pytest.fixture
def db(city_engine: Engine) -> Iterator[Session]:
    """A session on the demo city, to ask the services what the pages should show."""
    with Session(city_engine) as session:
        yield session


def town(db: Session, name: str) -> Town:
    return db.scalars(select(Town).where(Town.name == name)).one()


def project_codes(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/projects", params=params)
    assert response.status_code == 200, response.text
    return PROJECT_LINK.findall(table(response.text, "projects"))


def new_project(db: Session, town_name: str, listed_on: str = "2022-02-01") -> str:
    """A project of this test's own (others may count it; none assumes counts)."""
    code = f"T{uuid.uuid4().hex[:10]}"
    add_project(
        db,
        actor=Actor.system("test"),
        code=code,
        name=f"测试项目{code}",
        kind=ProjectKind.sewer,
        town=town_name,
        planned_start_on=dt.date(2022, 3, 1),
        planned_end_on=dt.date(2022, 12, 31),
        budget_wan=Decimal("100.00"),
        sewer_km=Decimal("1.500"),
        listed_on=dt.date.fromisoformat(listed_on),
    )
    db.commit()
    return code


# --- The project list ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"campaign": "water", "state": ["started", "completed"], "as_of": "2023-01-31"},
        {"kind": ["wwtp_new", "wwtp_expansion"], "state": ["started", "completed", "accepted"]},
        {"town": "东区", "overdue": "1", "as_of": "2022-12-31"},
        {"batch": "JZKG-03"},
        {"campaign": "renewal", "reached": "started", "as_of": "2022-06"},
    ],
)
def test_the_project_list_shows_what_the_service_gives(
    city_client: TestClient, db: Session, params: dict[str, Any]
) -> None:
    as_demo(city_client, "gaigeban")
    as_of = params.get("as_of")
    found = project_list(
        db,
        actor=CITY,
        town_id=town(db, params["town"]).id if "town" in params else None,
        campaign=Campaign(params["campaign"]) if "campaign" in params else None,
        kinds=[ProjectKind(k) for k in params.get("kind", [])],
        states=[ProjectState(s) for s in params.get("state", [])],
        reached=ProjectState(params["reached"]) if "reached" in params else None,
        overdue_only="overdue" in params,
        batch=params.get("batch"),
        as_of=dt.date(2022, 6, 30)
        if as_of == "2022-06"
        else dt.date.fromisoformat(as_of)
        if as_of
        else None,
        limit=PAGE_SIZE,
    )
    page = city_client.get("/projects", params=params)
    assert page.status_code == 200
    assert project_codes(city_client, **params) == [row.project.code for row in found.rows]
    assert f"共 {found.total:,} 个项目" in page.text
    assert f"总投资 {found.investment_wan:,.2f} 万元" in page.text


def test_sewer_projects_done_as_of_a_day_are_the_kpi_records(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "gaigeban")
    params = {"kind": "sewer", "state": ["completed", "accepted"], "as_of": "2023-01-31"}
    codes = project_codes(city_client, **params)
    done = db.scalars(select(Project).where(Project.code.in_(codes)))
    km = sum((p.sewer_km or Decimal(0) for p in done), Decimal(0))
    assert len(codes) < PAGE_SIZE
    assert float(km) == kpis(db, as_of=REPORT_DAY)["water.sewer_km"]


def test_overdue_projects_show_why(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/projects", params={"overdue": "1", "as_of": "2022-12-31"})
    late = overdue_projects(db, actor=CITY, as_of=dt.date(2022, 12, 31))
    assert f"共 {len(late):,} 个项目" in page.text
    body = table(page.text, "projects")
    assert body.count('<span class="late">') == min(len(late), PAGE_SIZE)
    first = min(late, key=lambda row: row.project.code)
    assert f"{first.reason.label} {first.days} 天" in body
    assert "未逾期" not in body


def test_the_project_list_pages(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "gaigeban")
    total = project_list(db, actor=CITY, limit=1).total
    assert total > PAGE_SIZE
    second = project_codes(city_client, page="2")
    expected = project_list(db, actor=CITY, limit=PAGE_SIZE, offset=PAGE_SIZE).rows
    assert second == [row.project.code for row in expected]
    page = city_client.get("/projects", params={"campaign": "water", "page": "2"})
    assert 'href="/projects?campaign=water&amp;page=1" rel="prev"' in page.text
    assert 'href="/exports/projects?campaign=water"' in page.text


def test_the_project_list_costs_a_bounded_number_of_queries(
    city_client: TestClient, city_engine: Engine
) -> None:
    as_demo(city_client, "gaigeban")
    few = {"campaign": "renewal", "overdue": "1", "state": "planned"}
    many = {"campaign": "water", "overdue": "1", "state": "started"}
    assert len(project_codes(city_client, **few)) < len(project_codes(city_client, **many))
    with counting(city_engine) as narrow:
        assert city_client.get("/projects", params=few).status_code == 200
    with counting(city_engine) as wide:
        assert city_client.get("/projects", params=many).status_code == 200
    assert len(wide) == len(narrow)
    with counting(city_engine) as plain:
        assert city_client.get("/projects").status_code == 200
    assert len(plain) <= 12, plain


def test_a_bad_filter_says_what_is_wrong(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/projects", params={"state": "finished"})
    assert page.status_code == 422
    assert "筛选条件“state”的取值无效" in page.text
    assert city_client.get("/projects", params={"batch": "NO-SUCH"}).status_code == 404


# --- Town scoping ----------------------------------------------------------------------


def test_a_town_user_sees_its_own_town_only(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "town-shiqi")
    shiqi = town(db, "石岐")
    expected = project_list(db, actor=CITY, town_id=shiqi.id, limit=PAGE_SIZE)
    page = city_client.get("/projects")
    assert project_codes(city_client) == [row.project.code for row in expected.rows]
    assert f"共 {expected.total:,} 个项目" in page.text
    towns = re.findall(r"</td>\s*<td>([^<]+)</td>\s*<td><span class=\"state", page.text)
    assert set(towns) == {"石岐"}
    assert city_client.get("/projects", params={"town": "东区"}).status_code == 403


def test_a_town_user_gets_the_403_page_on_another_towns_project(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    as_demo(city_client, "town-shiqi")
    other = db.scalars(
        select(Project.code).where(Project.town_id == town(db, "东区").id).order_by(Project.code)
    ).first()
    assert other is not None
    page = city_client.get(f"/projects/{other}")
    assert page.status_code == 403
    assert "无权访问" in page.text
    assert "无权查看其他镇街的项目" in page.text
    assert other not in page.text.split("<main", 1)[1].split("无权查看", 1)[0]
    refused = audit_entries(city_engine, record_id=other, outcome="refused")
    assert refused[-1].actor == "town-shiqi"
    own = db.scalars(
        select(Project.code).where(Project.town_id == town(db, "石岐").id).order_by(Project.code)
    ).first()
    assert city_client.get(f"/projects/{own}").status_code == 200


# --- A project's page and its state change --------------------------------------------


def test_a_projects_page_shows_its_facts_and_links(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "shenji")
    found = project_list(db, actor=CITY, batch="JZKG-03", limit=1).rows[0].project
    page = city_client.get(f"/projects/{found.code}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{found.name}</h1>" in html
    assert ProjectState(found.state).label in html
    assert 'href="/batches/JZKG-03"' in html
    assert "状态变更记录" in html
    assert "您的账号只能查看此项目" in html
    for pattern, what in INLINE:
        assert not pattern.search(html), what
    assert city_client.get("/projects/NO-SUCH").status_code == 404


def _change(client: TestClient, code: str, **form: str) -> httpx.Response:
    page = client.get(f"/projects/{code}")
    assert page.status_code == 200, page.text
    return client.post(f"/projects/{code}/state", data={"csrf_token": csrf_from(page.text), **form})


def test_a_state_change_through_the_form_writes_and_audits(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    code = new_project(db, "石岐")
    as_demo(city_client, "town-shiqi")
    response = _change(city_client, code, to_state="approved", on="2022-02-20", reason="立项批复")
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{code}?changed=1"
    db.expire_all()
    assert db.scalars(select(Project.state).where(Project.code == code)).one() == "approved"
    entry = audit_entries(city_engine, record_id=code, action="change")[-1]
    assert entry.actor == "town-shiqi"
    assert json.loads(entry.after)["to_state"] == "approved"
    page = city_client.get(f"/projects/{code}?changed=1")
    assert "已记录状态变更，项目现为“已立项”" in page.text
    assert "立项批复" in page.text


def test_a_refused_state_change_shows_its_reason(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    code = new_project(db, "石岐", listed_on="2022-05-01")
    as_demo(city_client, "gaigeban")
    early = _change(city_client, code, to_state="approved", on="2022-04-01")
    assert early.status_code == 422
    assert "日期不能早于上一次状态变更" in early.text
    assert 'aria-invalid="true" aria-describedby="err-on"' in early.text
    skipped = _change(city_client, code, to_state="completed", on="2022-06-01")
    assert skipped.status_code == 409
    assert "可改为：“已立项”" in skipped.text
    db.expire_all()
    assert db.scalars(select(Project.state).where(Project.code == code)).one() == "planned"
    assert not audit_entries(city_engine, record_id=code, action="change")


def test_a_town_is_not_offered_acceptance(city_client: TestClient, db: Session) -> None:
    code = new_project(db, "石岐")
    for state, month in (("approved", 2), ("started", 3), ("completed", 4)):
        change_project_state(
            db,
            actor=Actor.system("test"),
            code=code,
            to_state=ProjectState(state),
            on=dt.date(2022, month, 10),
        )
    db.commit()
    as_demo(city_client, "town-shiqi")
    page = city_client.get(f"/projects/{code}")
    assert "没有您可以改为的下一个状态" in page.text
    assert 'value="accepted"' not in page.text


# --- Batches ---------------------------------------------------------------------------


def test_the_batches_list_and_a_batchs_page(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "gaigeban")
    total, rows = list_batches(db, actor=CITY, limit=PAGE_SIZE)
    page = city_client.get("/batches")
    assert page.status_code == 200
    listed = re.findall(r'<a href="/batches/([^"]+)">', table(page.text, "batches"))
    assert listed == [row.batch.code for row in rows]
    assert f"共 {total} 个批次" in page.text
    busy = max(rows, key=lambda row: row.figures.total.projects)
    detail = city_client.get(f"/batches/{busy.batch.code}")
    assert detail.status_code == 200
    codes = PROJECT_LINK.findall(table(detail.text, "batch-projects"))
    in_list = project_list(db, actor=CITY, batch=busy.batch.code, limit=PAGE_SIZE)
    assert codes == [row.project.code for row in in_list.rows]
    assert "已开工 " in detail.text
    assert f"/{busy.figures.total.projects}" in detail.text
    assert 'href="/exports/projects?batch=' in detail.text


def test_a_town_user_sees_its_own_projects_of_a_batch(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "town-shiqi")
    shiqi = town(db, "石岐")
    _total, rows = list_batches(db, actor=CITY, limit=PAGE_SIZE)
    for row in rows:
        page = city_client.get(f"/batches/{row.batch.code}")
        assert page.status_code == 200
        codes = PROJECT_LINK.findall(table(page.text, "batch-projects"))
        own = project_list(db, actor=CITY, batch=row.batch.code, town_id=shiqi.id, limit=99)
        assert codes == [r.project.code for r in own.rows]


# --- Ranking and commendation ----------------------------------------------------------


@pytest.mark.parametrize("campaign", [None, "renewal", "water"])
def test_the_ranking_lists_the_23_towns_by_score(
    city_client: TestClient, db: Session, campaign: str | None
) -> None:
    as_demo(city_client, "town-shiqi")
    params = {"period": "2023-01"} | ({"campaign": campaign} if campaign else {})
    page = city_client.get("/ranking", params=params)
    assert page.status_code == 200
    rows = re.findall(
        r'<td class="number">(\d+)</td>\s*<th scope="row"><a href="/towns/(\d+)\?period=2023-01">'
        r'[^<]+</a></th>\s*<td class="number score">([\d,.−-]+)</td>',
        page.text.split('id="ranking"', 1)[1].split('id="commend-title"', 1)[0],
    )
    assert len(rows) == 23
    assert [int(rank) for rank, _code, _score in rows] == list(range(1, 24))
    scores = [Decimal(score.replace(",", "").replace("−", "-")) for *_, score in rows]
    assert scores == sorted(scores, reverse=True)
    board, candidates = standings(
        db,
        actor=CITY,
        year=2023,
        campaign=Campaign(campaign) if campaign else None,
        as_of=REPORT_DAY,
    )
    assert [code for _rank, code, _score in rows] == [row.town.code for row in board.rows]
    assert scores == [row.score for row in board.rows]
    commended = table(page.text, "commendation")
    assert commended.count("<tr>") == len(candidates) + 1
    for candidate in candidates:
        assert candidate.citation in commended


def test_the_ranking_defaults_to_a_committed_year(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/ranking")
    assert page.status_code == 200
    assert "尚无承诺书" not in page.text
    chosen = re.search(r'<option value="([^"]+)" selected>', page.text)
    assert chosen is not None
    assert chosen.group(1).startswith(("2022", "2023"))
    assert city_client.get("/ranking", params={"period": "2023-13"}).status_code == 422


# --- Dispatch --------------------------------------------------------------------------


def test_a_town_user_gets_the_403_page_on_dispatch(
    city_client: TestClient, city_engine: Engine
) -> None:
    as_demo(city_client, "town-shiqi")
    page = city_client.get("/dispatch")
    assert page.status_code == 403
    assert "无权访问" in page.text
    assert "市攻坚办、审计监督、平台管理员" in page.text
    assert audit_entries(city_engine, resource="dispatch", outcome="refused")[-1].actor == (
        "town-shiqi"
    )
    assert 'href="/dispatch"' not in page.text


@pytest.mark.parametrize("username", ["gaigeban", "shenji", "admin"])
def test_the_dispatch_page_shows_dispatches_and_a_recommendation(
    city_client: TestClient, db: Session, username: str
) -> None:
    as_demo(city_client, username)
    page = city_client.get("/dispatch", params={"cadres": "200", "as_of": "2023-01-31"})
    assert page.status_code == 200
    advice = recommend(db, actor=CITY, cadres=200, as_of=REPORT_DAY)
    shown = re.findall(
        r'<a href="/towns/(\d+)">[^<]+</a></th>\s*<td class="number">(\d+)</td>',
        table(page.text, "recommendation"),
    )
    assert shown == [(row.town.code, str(row.cadres)) for row in advice.towns]
    assert sum(int(n) for _code, n in shown) == 200
    recorded = list_dispatches(db, actor=CITY)
    assert table(page.text, "dispatches").count("<tr>") == min(len(recorded), PAGE_SIZE) + 1
    assert ('method="post" action="/dispatch"' in page.text) is (username != "shenji")


def test_an_impossible_recommendation_says_why(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/dispatch", params={"cadres": "10", "min": "2"})
    assert page.status_code == 200
    assert "无法把 10 名干部分到 23 个镇街" in page.text
    assert 'id="recommendation"' not in page.text


def test_the_city_records_a_dispatch_through_the_form(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    cadre = db.scalars(select(Cadre.code).order_by(Cadre.code.desc())).first()
    assert cadre is not None
    as_demo(city_client, "gaigeban")
    token = csrf_from(city_client.get("/dispatch").text)
    form = {"csrf_token": token, "cadre": cadre, "town": "442000001", "role": "驻镇督导"}
    missing = city_client.post("/dispatch", data=form | {"role": "", "from_on": "2019-01-01"})
    assert missing.status_code == 422
    assert "须填写职务" in missing.text
    done = city_client.post(
        "/dispatch", data=form | {"from_on": "2019-01-01", "to_on": "2019-06-30"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/dispatch?recorded={cadre}"
    assert audit_entries(city_engine, resource="dispatch", record_id=cadre)[-1].actor == (
        "gaigeban"
    )
    clash = city_client.post(
        "/dispatch", data=form | {"from_on": "2019-03-01", "to_on": "2019-03-31"}
    )
    assert clash.status_code == 409
    assert "时间重叠" in clash.text
