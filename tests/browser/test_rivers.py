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


def test_recording_a_complaint_taken_by_telephone(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    page = city_page
    sign_in_as_demo(page, "town-shiqi")
    page.goto("/complaints")
    page.get_by_role("link", name="登记投诉").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登记群众投诉")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#err-river")).to_contain_text("请选择要投诉的河涌")
    expect(page.locator("#err-category")).to_contain_text("请选择投诉类别")
    expect(page.get_by_label("河涌")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    screenshot(page, "complaint-intake-refused", city_server)

    page.get_by_label("河涌").select_option(index=1)
    page.get_by_label("投诉类别").select_option("odour")
    page.get_by_label("问题描述").fill("来电反映：河面有臭味，傍晚更重")
    page.get_by_label("受理时间").fill("2023-02-03T21:40")
    page.get_by_label("投诉人电话（可不填）").fill("0760-12345678")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("投诉已登记，回执号 TS20230203-")
    expect(page.locator("dl.facts")).to_contain_text("2023年2月3日 21:40")
    expect(page.locator("dl.facts")).to_contain_text("0760-12345678")
    assert serious_violations(page) == []
    screenshot(page, "complaint-intake-recorded", city_server)
    # Chromium reports the refused form's 422 document itself; nothing else is reported.
    refused = "the server responded with a status of 422 (Unprocessable Entity)"
    assert console.errors == [
        f"Failed to load resource: {refused} ({city_server.url}/complaints/new)"
    ]
