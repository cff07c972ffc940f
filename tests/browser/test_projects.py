"""In a real browser on the demo city: a town user (石岐) filters the project list, opens
one of its projects, and gets the 403 page on another town's project page; the city's
renewal office reads the ranking with a score's items and the commendation list, and
a parcel's page with its outline. No console errors (CSP violations are), no serious
or critical axe-core violations; screenshots for people to look at."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.campaign.models import Project
from gongjian.towns.models import Town
from tests.browser.conftest import (
    Console,
    LiveServer,
    screenshot,
    serious_violations,
    sign_in_as_demo,
)


def _project_of_another_town(server: LiveServer, own: str) -> str:
    with Session(server.engine) as session:
        code = session.scalars(
            select(Project.code)
            .join(Town, Town.id == Project.town_id)
            .where(Town.name != own)
            .order_by(Project.code)
        ).first()
    assert code is not None
    return code


def test_town_403_on_other_towns_project_page(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    page = city_page
    sign_in_as_demo(page, "town-shiqi")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="项目").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("项目")
    expect(page.locator(".field__fixed")).to_have_text("石岐")
    assert serious_violations(page) == []
    screenshot(page, "projects-town", city_server)

    page.get_by_label("已开工").check()
    page.get_by_label("已完工").check()
    page.get_by_role("button", name="筛选", exact=True).click()
    page.wait_for_url(lambda url: "state=started" in url and "state=completed" in url)
    rows = page.locator("#projects tbody tr")
    assert rows.count() > 0
    towns = {row.locator("td").nth(2).inner_text() for row in rows.all()}
    states = set(page.locator("#projects tbody .state").all_inner_texts())
    assert towns == {"石岐"}
    assert states <= {"已开工", "已完工"}
    expect(page.get_by_role("link", name="导出 Excel")).to_have_attribute(
        "href", "/exports/projects?state=started&state=completed"
    )
    assert serious_violations(page) == []
    screenshot(page, "projects-town-filtered", city_server)

    first = page.locator("#projects tbody th a").first
    name = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_role("heading", name="状态历史")).to_be_visible()
    expect(page.get_by_role("heading", name="状态变更")).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "project-town", city_server)

    assert console.errors == []

    other = _project_of_another_town(city_server, "石岐")
    response = page.goto(f"/projects/{other}")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    expect(page.locator(".error-message")).to_contain_text("镇街用户只能查看本镇街的记录")
    assert serious_violations(page) == []
    screenshot(page, "project-town-403", city_server)

    response = page.goto("/dispatch")
    assert response is not None
    assert response.status == 403
    # Chromium reports each refused document itself ("Failed to load resource: ... 403");
    # those two reports are all the console holds: the 403 pages raise no error.
    refused = f"the server responded with a status of 403 (Forbidden) ({city_server.url}"
    assert console.errors == [
        f"Failed to load resource: {refused}/projects/{other})",
        f"Failed to load resource: {refused}/dispatch)",
    ]


def test_the_city_reads_the_ranking_and_a_parcel(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    page = city_page
    sign_in_as_demo(page, "gaigeban")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="排名与表彰").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("镇街排名与通报表扬")
    page.get_by_label("时段", exact=True).select_option("2023-01")
    page.get_by_label("攻坚", exact=True).select_option("renewal")
    page.get_by_role("button", name="查看").click()
    page.wait_for_url(lambda url: "period=2023-01" in url and "campaign=renewal" in url)
    expect(page.locator("#board-title")).to_contain_text("2023年工改攻坚排名")
    rows = page.locator("#ranking > tbody > tr")
    expect(rows).to_have_count(23)
    expect(rows.first.locator("td").first).to_have_text("1")
    rows.first.locator("details summary").click()
    expect(rows.first.locator("details table")).to_be_visible()
    expect(page.locator("#commendation tbody tr").first).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "ranking", city_server)

    town = rows.first.locator("th a")
    expect(town).to_have_attribute("href", re.compile(r"^/towns/\d+\?period=2023-01$"))

    page.goto("/parcels?reached=cleared&as_of=2023-01-31")
    expect(page.get_by_role("heading", level=1)).to_have_text("地块")
    assert serious_violations(page) == []
    screenshot(page, "parcels-cleared", city_server)
    page.locator("#parcels tbody th a").first.click()
    expect(page.locator("figure.outline svg path")).to_be_visible()
    expect(page.get_by_role("heading", name="改造前后对比")).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "parcel", city_server)

    page.goto("/dispatch?cadres=200&as_of=2023-01-31")
    expect(page.locator("#recommendation tfoot td").first).to_have_text("200")
    assert serious_violations(page) == []
    screenshot(page, "dispatch", city_server)
    assert console.errors == []
