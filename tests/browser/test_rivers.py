"""In a real browser, as the city's water office on the demo city: the list of rivers
with its filters and paging, a river's page with the strip of its points, its grade
history and its forms; no console errors (CSP violations are), no serious or critical
axe-core violations; screenshots for people to look at."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Console,
    LiveServer,
    screenshot,
    serious_violations,
    sign_in_as_demo,
)


def test_the_list_of_rivers_and_a_river_page(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    page = city_page
    sign_in_as_demo(page, "zhishuiban")
    page.goto("/rivers")
    expect(page.get_by_role("heading", level=1)).to_have_text("河涌")
    rows = page.locator("table.rivers-table tbody tr")
    assert rows.count() > 0
    expect(page.locator("#rivers-export")).to_have_attribute("href", "/exports/rivers")
    assert serious_violations(page) == []
    screenshot(page, "rivers", city_server)

    page.get_by_label("黑臭等级").select_option("mild")
    page.get_by_label("只看央督基线内的黑臭水体").check()
    page.get_by_role("button", name="筛选", exact=True).click()
    page.wait_for_url(lambda url: "grade=mild" in url and "baseline=1" in url)
    expect(page.locator("#baseline-summary")).to_contain_text("计为已消除")
    for badge in page.locator("table.rivers-table tbody .grade").all():
        expect(badge).to_have_text("轻度黑臭")
    assert serious_violations(page) == []
    screenshot(page, "rivers-baseline-mild", city_server)

    first = page.locator("table.rivers-table tbody th a").first
    name = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    strip = page.locator("svg.strip__svg")
    expect(strip).to_be_visible()
    assert strip.locator("g.strip-point").count() == page.locator("#points-table tbody tr").count()
    expect(page.locator("#grade-history table tbody tr").first).to_be_visible()
    expect(page.locator("#state-form")).to_be_visible()
    expect(page.locator("#publish-form")).to_be_visible()
    page.locator("#grade-history details").first.locator("summary").click()
    expect(page.locator("#grade-history .evidence-list").first).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "river", city_server)
    assert console.errors == []
