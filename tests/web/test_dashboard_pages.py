"""The city overview, a town's page and the map's GeoJSON, on the demo city: tiles equal
the KPI service, the period changes every figure, tiles link to their records, a town
user sees only their own town's page and map, commitments show their outlook, and the
overview's queries do not grow with the records."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign.commitments import list_commitments
from gongjian.campaign.scoring import town_score
from gongjian.kpi.cache import figures_cache
from gongjian.kpi.services import KPI_KEYS, kpis
from gongjian.periods import today
from gongjian.renewal.choices import EnterpriseKind
from gongjian.renewal.enterprises import add_enterprise
from gongjian.towns.models import Town
from tests.web.conftest import Account, as_demo, audit_entries, signed_in

REPORT_DAY = dt.date(2023, 1, 31)
TILE = re.compile(
    r'<a class="kpi-tile[^"]*" href="([^"]+)">.*?data-kpi="([^"]+)" data-value="([^"]+)"', re.S
)
CITY = Actor.system("test")


def tiles(html: str) -> dict[str, tuple[str, object]]:
    """Each tile's KPI key → (its link, its data-value read as JSON)."""
    return {key: (unescape(href), json.loads(value)) for href, key, value in TILE.findall(html)}


def figures(html: str) -> dict[str, object]:
    return {key: value for key, (_href, value) in tiles(html).items()}


def service(engine: Engine, as_of: dt.date, town_id: int | None = None) -> dict[str, object]:
    with Session(engine) as session:
        return kpis(session, as_of=as_of, town_id=town_id)


def town(engine: Engine, name: str) -> Town:
    with Session(engine) as session:
        found = session.scalars(select(Town).where(Town.name == name)).one()
        session.expunge(found)
        return found


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` executes in the block (transaction control aside)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_the_overview_tiles_are_the_kpi_service(
    city_client: TestClient, city_engine: Engine
) -> None:
    html = as_demo(city_client, "gaigeban").get("/", params={"as_of": "2023-01-31"}).text
    shown = figures(html)
    assert list(shown) == list(KPI_KEYS)  # the order of the city's report
    assert shown == service(city_engine, REPORT_DAY)
    assert 'id="user-role">市攻坚办<' in html
    assert "数据截至 2023年1月31日；变化较 2022年12月31日" in html


def test_the_period_changes_every_figure(city_client: TestClient, city_engine: Engine) -> None:
    as_demo(city_client, "zhishuiban")
    june = city_client.get("/", params={"period": "2022-06"}).text
    assert figures(june) == service(city_engine, dt.date(2022, 6, 30))
    assert figures(june) != service(city_engine, REPORT_DAY)
    assert "数据截至 2022年6月30日；变化较 2022年5月31日" in june
    assert 'href="/?period=2022-05" rel="prev"' in june
    # Every town's table follows the period too.
    shiqi = town(city_engine, "石岐")
    row = re.search(
        rf'href="/towns/{shiqi.code}\?as_of=2022-06-30">石岐</a></th>(.*?)</tr>', june, re.S
    )
    assert row is not None
    expected = service(city_engine, dt.date(2022, 6, 30), shiqi.id)
    values = [json.loads(v) for v in re.findall(r'data-value="([^"]+)"', row.group(1))]
    assert values == [expected[key] for key in KPI_KEYS if key.startswith("renewal.")]
    bad = city_client.get("/", params={"period": "2023-13"})
    assert bad.status_code == 422
    assert "2023-13" in bad.text


def test_tiles_link_to_the_records_behind_them(
    city_client: TestClient, city_engine: Engine
) -> None:
    links = {
        k: href
        for k, (href, _) in tiles(
            as_demo(city_client, "gaigeban").get("/?as_of=2023-01-31").text
        ).items()
    }
    day = "as_of=2023-01-31"
    assert links == {
        "renewal.cleared_mu": f"/parcels?reached=cleared&{day}",
        "renewal.attracted": f"/enterprises?kind=attracted&signed=1&{day}",
        "renewal.expansions": f"/enterprises?kind=expansion&signed=1&{day}",
        "renewal.investment_yi": f"/enterprises?signed=1&{day}",
        "water.rivers_entered": f"/rivers?reached=entered&{day}",
        "water.rivers_completed": f"/rivers?reached=completed&{day}",
        "water.sewer_km": f"/projects?kind=sewer&state=completed&state=accepted&{day}",
        "water.wwtp_started": (
            "/projects?kind=wwtp_new&kind=wwtp_expansion"
            f"&state=started&state=completed&state=accepted&{day}"
        ),
        "water.black_odor_reduction_pct": f"/rivers?baseline=1&{day}",
    }
    shiqi = town(city_engine, "石岐")
    page = city_client.get(f"/towns/{shiqi.code}", params={"as_of": "2023-01-31"}).text
    town_links = {k: href for k, (href, _) in tiles(page).items()}
    assert town_links["renewal.cleared_mu"] == f"/parcels?reached=cleared&town={shiqi.code}&{day}"
    assert figures(page) == service(city_engine, REPORT_DAY, shiqi.id)


def test_a_town_user_sees_their_town_page_and_not_another(
    city_client: TestClient, city_engine: Engine
) -> None:
    shiqi, dongqu = town(city_engine, "石岐"), town(city_engine, "东区")
    as_demo(city_client, "town-shiqi")
    own = city_client.get(f"/towns/{shiqi.code}", params={"as_of": "2023-01-31"})
    assert own.status_code == 200
    assert "<h1>石岐</h1>" in own.text
    other = city_client.get(f"/towns/{dongqu.code}")
    assert other.status_code == 403
    assert "镇街用户只能查看本镇街的记录" in other.text
    refused = audit_entries(city_engine, resource="town", record_id=dongqu.code, outcome="refused")
    assert refused
    assert refused[-1].actor == "town-shiqi"
    # City summaries stay on the overview; its map and map table are the town's own.
    overview = city_client.get("/", params={"as_of": "2023-01-31"}).text
    assert figures(overview) == service(city_engine, REPORT_DAY)
    assert 'data-features-url="/map/features.geojson?town=' + shiqi.code in overview
    assert "石岐牵头的河涌" in overview
    assert city_client.get("/towns/no-such-town").status_code == 404


def test_a_city_user_opens_every_town_page(city_client: TestClient, city_engine: Engine) -> None:
    as_demo(city_client, "shenji")
    dongqu = town(city_engine, "东区")
    assert (
        city_client.get(f"/towns/{dongqu.name}", params={"as_of": "2023-01-31"}).status_code == 200
    )


def test_the_town_page_shows_commitments_rank_and_score(
    city_client: TestClient, city_engine: Engine
) -> None:
    shiqi = town(city_engine, "石岐")
    html = as_demo(city_client, "gaigeban").get(f"/towns/{shiqi.code}?as_of=2023-01-31").text
    with Session(city_engine) as session:
        letters = list_commitments(session, actor=CITY, year=2023, town_id=shiqi.id)
        score = town_score(session, actor=CITY, town=shiqi.code, year=2023, as_of=REPORT_DAY)
    assert letters, "the demo city has 2023 commitments"
    for letter in letters:
        table = re.search(rf'id="commitment-table-{letter.campaign}">(.*?)</table>', html, re.S)
        assert table is not None
        rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[1:]
        assert len(rows) == len(letter.targets)
        for row in rows:
            assert re.search(
                r'class="outlook outlook--(on_track|at_risk|behind)"[^>]*>(可完成|有风险|滞后)<',
                row,
            )
            assert f"town={shiqi.code}" in row  # the records behind the indicator
    assert f"第 {score.rank} 名（共 23 个镇街）" in html
    assert html.count("<td>工改</td>") + html.count("<td>治水</td>") == len(score.items)
    later = city_client.get(f"/towns/{shiqi.code}?as_of=2026-06-30").text
    assert "石岐 2026 年尚无承诺书" in later


def test_the_map_features_are_town_scoped(city_client: TestClient, city_engine: Engine) -> None:
    dongqu = town(city_engine, "东区")
    as_demo(city_client, "town-shiqi")
    own = city_client.get("/map/features.geojson", params={"as_of": "2023-01-31"})
    assert own.status_code == 200
    assert own.headers["content-type"].startswith("application/geo+json")
    features = own.json()["features"]
    assert features
    assert {f["properties"]["town"] for f in features} == {"石岐"}
    assert {f["properties"]["kind"] for f in features} == {"river", "parcel"}
    refused = city_client.get("/map/features.geojson", params={"town": dongqu.code})
    assert refused.status_code == 403


def test_the_city_map_holds_every_town(city_client: TestClient, city_engine: Engine) -> None:
    dongqu = town(city_engine, "东区")
    as_demo(city_client, "gaigeban")
    city = city_client.get("/map/features.geojson", params={"as_of": "2023-01-31"}).json()
    assert len({f["properties"]["town"] for f in city["features"]}) > 5
    assert city["truncated"] is False
    one = city_client.get("/map/features.geojson", params={"town": dongqu.code}).json()
    assert {f["properties"]["town"] for f in one["features"]} == {"东区"}
    for feature in city["features"]:
        properties = feature["properties"]
        if properties["kind"] == "river":
            assert properties["grade"] in (None, "none", "mild", "severe", "insufficient")
            assert re.fullmatch(r"/rivers/[0-9]+", properties["url"])


def test_the_overview_queries_do_not_grow_with_the_records(
    city_client: TestClient,
    city_engine: Engine,
    client: TestClient,
    web_engine: Engine,
    make_user: Callable[..., Account],
) -> None:
    signed_in(client, make_user(Role.city))
    as_demo(city_client, "gaigeban")
    counts = {}
    for name, browser, engine in (
        ("empty", client, web_engine),
        ("demo", city_client, city_engine),
    ):
        figures_cache.clear()
        with statements(engine) as cold:
            assert browser.get("/", params={"as_of": "2023-01-31"}).status_code == 200
        with statements(engine) as warm:
            assert browser.get("/", params={"as_of": "2023-01-31"}).status_code == 200
        counts[name] = (len(cold), len(warm))
    assert counts["demo"][0] <= counts["empty"][0] + 2  # the baseline's grades when there is one
    assert counts["demo"][0] <= 30
    assert counts["demo"][1] == counts["empty"][1] <= 5


def test_a_write_changes_the_next_kpi_answer(city_client: TestClient, city_engine: Engine) -> None:
    as_demo(city_client, "gaigeban")
    before = city_client.get("/api/v1/kpi").json()["kpi"]
    page_before = figures(city_client.get("/").text)
    with Session(city_engine) as session:
        add_enterprise(
            session,
            actor=CITY,
            code=f"DASH-{uuid.uuid4().hex[:8]}",
            name="总览测试企业",
            kind=EnterpriseKind.expansion,
            investment_wan=Decimal("500.00"),
            town="石岐",
            agreement_signed_on=today(),
        )
        session.commit()
    after = city_client.get("/api/v1/kpi").json()["kpi"]
    assert after["renewal.expansions"] == before["renewal.expansions"] + 1
    assert (
        figures(city_client.get("/").text)["renewal.expansions"]
        == page_before["renewal.expansions"] + 1
    )


def test_the_demo_data_are_labelled(
    city_client: TestClient, client: TestClient, make_user: Callable[..., Account]
) -> None:
    as_demo(city_client, "gaigeban")
    for path in ("/", "/admin/users", "/towns/石岐"):
        assert "示例数据" in city_client.get(path).text, path
    assert "示例数据" not in city_client.get("/login").text
    signed_in(client, make_user(Role.admin))
    assert "示例数据" not in client.get("/").text


@pytest.mark.parametrize("path", ["/", "/towns/石岐", "/map/features.geojson"])
def test_the_dashboard_needs_a_signed_in_user(city_client: TestClient, path: str) -> None:
    response = city_client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
