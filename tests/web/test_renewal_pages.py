"""The renewal pages: the parcel and enterprise lists show what the renewal services give
for the same filters (and the KPIs' records when asked as the KPIs count), page, cost a
bounded number of queries and export what they show; a town user sees its own town
only and gets the 403 page for another town's parcel; a parcel's page shows its facts,
history and figures, and its state-change form writes and audits, or says why not;
the cluster page lists the contiguous clusters of the services."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import unquote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.display import headline_wan_yuan
from gongjian.kpi.services import kpis
from gongjian.renewal.choices import CLEARED_OR_LATER, EnterpriseKind, RenewalState
from gongjian.renewal.enterprises import agreed_investment, list_enterprises
from gongjian.renewal.models import Parcel
from gongjian.renewal.pages import PAGE_SIZE, outline
from gongjian.renewal.services import add_parcel, cluster_views, list_parcels
from gongjian.towns.models import Town
from tests.web.conftest import as_demo, audit_entries, counting, csrf_from, table
from tests.web.test_headers import INLINE

CITY = Actor(username="test-city", role=Role.city)
REPORT_DAY = dt.date(2023, 1, 31)
PARCEL_LINK = re.compile(r'<a href="/parcels/([^"]+)">')


@pytest.fixture
def db(city_engine: Engine) -> Iterator[Session]:
    """A session on the demo city, to ask the services what the pages should show."""
    with Session(city_engine) as session:
        yield session


def town(db: Session, name: str) -> Town:
    return db.scalars(select(Town).where(Town.name == name)).one()


def parcel_codes(client: TestClient, **params: str | list[str]) -> list[str]:
    response = client.get("/parcels", params=params)
    assert response.status_code == 200, response.text
    return [unquote(code) for code in PARCEL_LINK.findall(table(response.text, "parcels"))]


def new_parcel(db: Session, town_name: str, identified_on: str = "2022-01-10") -> str:
    """A parcel of this test's own (others may count it; none assumes counts)."""
    code = f"T{uuid.uuid4().hex[:10]}"
    add_parcel(
        db,
        actor=Actor.system("test"),
        values={
            "code": code,
            "name": f"测试地块{code}",
            "town": town_name,
            "area_mu": "12.50",
            "identified_on": identified_on,
        },
    )
    db.commit()
    return code


# --- The parcel list -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"reached": "cleared", "as_of": "2023-01-31"},
        {"state": ["demolishing", "relocating"]},
        {"town": "东区", "as_of": "2022-06-30"},
        {"reached": "plan_published", "state": ["relocating"], "as_of": "2023-01"},
    ],
)
def test_the_parcel_list_shows_what_the_service_gives(
    city_client: TestClient, db: Session, params: dict[str, str | list[str]]
) -> None:
    as_demo(city_client, "gaigeban")
    as_of = params.get("as_of")
    found = list_parcels(
        db,
        actor=CITY,
        town_id=town(db, str(params["town"])).id if "town" in params else None,
        states=[RenewalState(s) for s in params.get("state", [])],
        reached=RenewalState(str(params["reached"])) if "reached" in params else None,
        as_of=REPORT_DAY
        if as_of == "2023-01"
        else dt.date.fromisoformat(str(as_of))
        if as_of
        else None,
        limit=PAGE_SIZE,
    )
    page = city_client.get("/parcels", params=params)
    assert page.status_code == 200
    assert parcel_codes(city_client, **params) == [row.code for row in found.rows]
    assert f"共 {found.total:,} 个地块" in page.text
    assert f"面积合计 {found.area_mu:,.2f} 亩" in page.text


def test_parcels_cleared_as_of_a_day_are_the_kpi_records(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/parcels", params={"reached": "cleared", "as_of": "2023-01-31"})
    cleared = Decimal(str(kpis(db, as_of=REPORT_DAY)["renewal.cleared_mu"]))
    assert f"面积合计 {cleared:,.2f} 亩" in page.text
    assert '<option value="cleared" selected>拆除整理完成及之后</option>' in page.text
    states = re.findall(r'<span class="state state--(\w+)">', table(page.text, "parcels"))
    assert states
    assert set(states) <= {state.value for state in CLEARED_OR_LATER}


def test_the_parcel_list_pages(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "gaigeban")
    total = list_parcels(db, actor=CITY, limit=1).total
    assert total > PAGE_SIZE
    first = city_client.get("/parcels")
    assert "第 1 / " in first.text
    assert 'href="/parcels?page=2" rel="next"' in first.text
    second = parcel_codes(city_client, page="2")
    expected = list_parcels(db, actor=CITY, limit=PAGE_SIZE, offset=PAGE_SIZE).rows
    assert second == [row.code for row in expected]
    assert not set(second) & set(parcel_codes(city_client))
    beyond = city_client.get("/parcels", params={"page": "999"})
    assert beyond.status_code == 200
    assert "没有第 999 页" in beyond.text


def test_the_parcel_list_costs_a_bounded_number_of_queries(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    as_demo(city_client, "gaigeban")
    few, many = {"reached": "producing"}, {"reached": "identified"}
    assert len(parcel_codes(city_client, **few)) < len(parcel_codes(city_client, **many))
    assert len(parcel_codes(city_client, **many)) == PAGE_SIZE
    with counting(city_engine) as narrow:
        assert city_client.get("/parcels", params=few).status_code == 200
    with counting(city_engine) as wide:
        assert city_client.get("/parcels", params=many).status_code == 200
    assert len(wide) == len(narrow)
    assert len(wide) <= 12, wide


def test_the_export_link_repeats_the_filters(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get(
        "/parcels", params={"reached": "cleared", "as_of": "2023-01-31", "page": "1"}
    )
    assert 'href="/exports/parcels?reached=cleared&amp;as_of=2023-01-31"' in page.text
    assert 'href="/exports/parcels?reached=cleared&amp;as_of=2023-01-31&amp;format=csv"' in (
        page.text
    )


def test_a_bad_filter_says_what_is_wrong(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/parcels", params={"reached": "done"})
    assert page.status_code == 422
    assert "筛选条件“reached”的取值无效" in page.text


def test_an_empty_list_says_what_to_do(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/parcels", params={"state": "producing", "as_of": "2020-01-01"})
    assert page.status_code == 200
    assert "没有符合筛选条件的地块" in page.text
    assert 'href="/parcels">清除筛选' in page.text


# --- Town scoping ----------------------------------------------------------------------


def test_a_town_user_sees_its_own_town_only(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "town-shiqi")
    shiqi = town(db, "石岐")
    page = city_client.get("/parcels")
    assert page.status_code == 200
    expected = list_parcels(db, actor=CITY, town_id=shiqi.id, limit=PAGE_SIZE)
    assert parcel_codes(city_client) == [row.code for row in expected.rows]
    assert set(re.findall(r"<td>(\S+?)</td>\s*<td>", table(page.text, "parcels"))) == {"石岐"}
    assert "镇街用户只能查看本镇街的记录" in page.text
    assert 'name="town"' not in page.text


def test_a_town_user_gets_the_403_page_for_another_town(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    as_demo(city_client, "town-shiqi")
    other = db.scalars(
        select(Parcel.code).where(Parcel.town_id == town(db, "东区").id).order_by(Parcel.code)
    ).first()
    assert other is not None
    page = city_client.get(f"/parcels/{other}")
    assert page.status_code == 403
    assert "无权访问" in page.text
    assert "镇街用户只能查看本镇街的记录" in page.text
    refused = audit_entries(city_engine, record_id=other, outcome="refused")
    assert refused
    assert refused[-1].actor == "town-shiqi"
    assert city_client.get("/parcels", params={"town": "东区"}).status_code == 403
    assert city_client.get("/enterprises", params={"town": "东区"}).status_code == 403
    assert city_client.get("/clusters", params={"town": "东区"}).status_code == 403


# --- A parcel's page and its state change --------------------------------------------


def test_a_parcels_page_shows_its_facts_history_and_figures(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "shenji")
    parcel = db.scalars(
        select(Parcel)
        .where(Parcel.geometry.is_not(None), Parcel.name.is_not(None))
        .order_by(Parcel.code)
    ).first()
    assert parcel is not None
    page = city_client.get(f"/parcels/{parcel.code}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{parcel.name}</h1>" in html
    assert f"{parcel.area_mu:,.2f}" in html
    assert RenewalState(parcel.renewal_state).label in html
    assert "状态变更记录" in html
    assert "亩均效益与低效认定" in html
    assert "改造前后对比" in html
    assert 'd="M ' in html
    assert "您的账号只能查看此地块" in html
    assert 'action="/parcels/' not in html
    for pattern, what in INLINE:
        assert not pattern.search(html), what
    assert city_client.get("/parcels/NO-SUCH-PARCEL").status_code == 404


def test_the_outline_fits_its_square() -> None:
    square = {"type": "Polygon", "coordinates": [[[113, 22], [113.01, 22], [113.01, 22.01]]]}
    drawn = outline(square)
    assert drawn is not None
    assert drawn.startswith("M ")
    assert drawn.endswith(" Z")
    numbers = [float(n) for n in re.findall(r"[\d.]+", drawn)]
    assert min(numbers) >= 0
    assert max(numbers) <= 240
    assert outline(None) is None
    assert outline({"type": "Point", "coordinates": [113, 22]}) is None


def _change(client: TestClient, code: str, **form: str) -> httpx.Response:
    page = client.get(f"/parcels/{code}")
    assert page.status_code == 200, page.text
    return client.post(f"/parcels/{code}/state", data={"csrf_token": csrf_from(page.text), **form})


def test_a_state_change_through_the_form_writes_and_audits(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    code = new_parcel(db, "石岐")
    as_demo(city_client, "gaigeban")
    response = _change(
        city_client,
        code,
        to_state="plan_published",
        on="2022-03-01",
        comment_until="2022-03-31",
        reason="方案公示",
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/parcels/{code}?changed=1"
    db.expire_all()
    parcel = db.scalars(select(Parcel).where(Parcel.code == code)).one()
    assert parcel.renewal_state == RenewalState.plan_published
    assert parcel.plan_comment_until == dt.date(2022, 3, 31)
    entry = audit_entries(city_engine, record_id=code, action="change")[-1]
    assert entry.actor == "gaigeban"
    assert json.loads(entry.before) == {"renewal_state": "identified", "plan_comment_until": None}
    assert json.loads(entry.after)["to_state"] == "plan_published"
    page = city_client.get(f"/parcels/{code}?changed=1")
    assert "已记录状态变更，地块现为“方案公示”" in page.text
    assert "2022年3月1日" in page.text


def test_a_refused_state_change_shows_its_reason(
    city_client: TestClient, city_engine: Engine, db: Session
) -> None:
    code = new_parcel(db, "石岐", identified_on="2022-05-01")
    as_demo(city_client, "town-shiqi")
    early = _change(city_client, code, to_state="plan_published", on="2022-04-01")
    assert early.status_code == 422
    html = early.text
    assert "日期不能早于上一次状态变更" in html
    assert "方案公示须填写公示期截止日期" in html
    assert 'aria-invalid="true" aria-describedby="comment-until-hint err-comment_until"' in html
    skipped = _change(city_client, code, to_state="producing", on="2022-06-01")
    assert skipped.status_code == 409
    assert "可改为：“方案公示”" in skipped.text
    garbled = _change(city_client, code, to_state="plan_published", on="yesterday")
    assert garbled.status_code == 422
    assert "变更日期应为 2023-01-31 这样的日期" in garbled.text
    db.expire_all()
    assert db.scalars(select(Parcel.renewal_state).where(Parcel.code == code)).one() == (
        RenewalState.identified
    )
    assert not audit_entries(city_engine, record_id=code, action="change")


def test_a_town_user_may_not_change_another_towns_parcel(
    city_client: TestClient, db: Session
) -> None:
    code = new_parcel(db, "东区")
    as_demo(city_client, "town-shiqi")
    own = db.scalars(
        select(Parcel.code).where(Parcel.town_id == town(db, "石岐").id).order_by(Parcel.code)
    ).first()
    token = csrf_from(city_client.get(f"/parcels/{own}").text)
    refused = city_client.post(
        f"/parcels/{code}/state",
        data={"csrf_token": token, "to_state": "plan_published", "on": "2022-03-01"},
    )
    assert refused.status_code == 403
    db.expire_all()
    assert db.scalars(select(Parcel.renewal_state).where(Parcel.code == code)).one() == (
        RenewalState.identified
    )


# --- Clusters and enterprises ----------------------------------------------------------


def test_the_cluster_page_lists_the_services_clusters(city_client: TestClient, db: Session) -> None:
    as_demo(city_client, "gaigeban")
    found, _undrawn = cluster_views(db, actor=CITY)
    page = city_client.get("/clusters")
    assert page.status_code == 200
    shown = re.findall(r"片区 ([^：<]+)：(\d+) 个地块，合计 ([\d,.]+) 亩", page.text)
    assert shown == [
        (c.cluster.cluster_id, str(len(c.parcels)), f"{c.cluster.area_mu:,.2f}")
        for c in found[: len(shown)]
    ]
    assert shown
    flagged = city_client.get("/clusters", params={"flagged": "1"})
    assert flagged.text.count('<span class="flag">') == len(
        re.findall(r"片区 [^：<]+：", flagged.text)
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"signed": "1", "as_of": "2023-01-31"},
        {"kind": "attracted", "signed": "1", "as_of": "2022-06-30"},
        {"kind": "expansion", "town": "东区"},
    ],
)
def test_the_enterprise_list_shows_what_the_service_gives(
    city_client: TestClient, db: Session, params: dict[str, str]
) -> None:
    as_demo(city_client, "gaigeban")
    filters = {
        "town": params.get("town"),
        "kind": EnterpriseKind(params["kind"]) if "kind" in params else None,
        "signed": True if params.get("signed") else None,
        "as_of": dt.date.fromisoformat(params["as_of"]) if "as_of" in params else None,
    }
    total, rows = list_enterprises(db, actor=CITY, limit=PAGE_SIZE, **filters)
    investment = agreed_investment(db, actor=CITY, **filters)
    page = city_client.get("/enterprises", params=params)
    assert page.status_code == 200
    body = table(page.text, "enterprises")
    assert re.findall(r'<span class="code">([^<]+)</span>', body) == [row.code for row in rows]
    assert f"共 {total:,} 家企业" in page.text
    assert headline_wan_yuan(investment) in page.text
    assert f"{investment:,.2f} 万元" in page.text


def test_signed_enterprises_as_of_a_day_are_the_kpi_records(
    city_client: TestClient, db: Session
) -> None:
    as_demo(city_client, "gaigeban")
    figures = kpis(db, as_of=REPORT_DAY)
    page = city_client.get("/enterprises", params={"signed": "1", "as_of": "2023-01-31"})
    signed = figures["renewal.attracted"] + figures["renewal.expansions"]
    assert f"共 {signed:,} 家企业" in page.text
    investment = agreed_investment(db, actor=CITY, signed=True, as_of=REPORT_DAY)
    assert float(round(investment / 10_000, 2)) == figures["renewal.investment_yi"]
    attracted = city_client.get(
        "/enterprises", params={"kind": "attracted", "signed": "1", "as_of": "2023-01-31"}
    )
    assert f"共 {figures['renewal.attracted']:,} 家企业" in attracted.text
