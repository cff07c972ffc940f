"""In a real browser on the demo city: the city's renewal office (gaigeban) writes the
briefing for 2023-01 as .docx, publishes it, and finds it on the public portal with its
figures and its download. No console errors (CSP violations are), no serious or critical
axe-core violations; screenshots for people to look at."""

from __future__ import annotations

import io

from docx import Document
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Console,
    LiveServer,
    screenshot,
    serious_violations,
    sign_in_as_demo,
)


def test_the_city_generates_and_publishes_a_briefing(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    page = city_page
    sign_in_as_demo(page, "gaigeban")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="通报").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("通报")
    assert serious_violations(page) == []
    screenshot(page, "briefings", city_server)

    page.locator("#doc-period").fill("2023-01")
    page.locator("#doc-campaign").select_option("water")
    with page.expect_download() as waiting:
        page.locator("#download-docx").click()
    download = waiting.value
    path = download.path()
    assert path is not None
    document = Document(io.BytesIO(path.read_bytes()))
    assert document.paragraphs[0].text == "关于2023年1月治水攻坚工作进展情况的通报"

    page.locator("#pub-period").fill("2023-01")
    page.locator("#pub-campaign").select_option("both")
    page.locator("#publish-button").click()
    page.wait_for_url(lambda url: "published=" in url)
    expect(page.locator("#briefing-published")).to_be_visible()
    title = "关于2023年1月工改治水攻坚工作进展情况的通报"
    expect(page.locator("#published-briefings")).to_contain_text(title)
    assert serious_violations(page) == []

    page.goto("/portal")
    page.get_by_role("link", name=title).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("link", name="下载通报（Word）")).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "portal-briefing", city_server)
    assert console.errors == []
