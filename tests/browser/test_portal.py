"""The public portal in a real browser, without signing in: elder mode remembered across a
reload with large text and 60×60 px targets, the keyboard reaching every link and
sending a complaint, accessibility mode's focus and skip link, no serious or critical
axe-core violations in either mode, no console errors, and screenshots."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.models import River
from tests.browser.conftest import Console, LiveServer, screenshot, serious_violations

#: Every visible control: links, buttons and form fields.
CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea"
TOO_SMALL = """(selector) => Array.from(document.querySelectorAll(selector))
  .map((e) => {
    const box = e.getBoundingClientRect();
    return {tag: e.tagName, text: (e.textContent || e.name || "").trim().slice(0, 30),
            width: box.width, height: box.height};
  })
  .filter((c) => c.width < 60 || c.height < 60)"""


def _river_id(server: LiveServer) -> int:
    with Session(server.engine) as session:
        found = session.scalar(select(River.id).where(River.published).order_by(River.id))
    assert found is not None
    return found


def _pages(server: LiveServer) -> dict[str, str]:
    """Every kind of portal page, by a name for its screenshot."""
    return {
        "list": "/portal",
        "river": f"/portal/rivers/{_river_id(server)}",
        "complaint": "/portal/complaints/new",
        "receipts": "/portal/receipts",
    }


def _open(page: Page, path: str) -> None:
    page.goto(path)
    if page.locator("#portal-map").count():
        expect(page.locator("#portal-map")).to_have_attribute("data-drawn", re.compile(r"\d+"))


def _type_sizes(page: Page) -> tuple[float, float]:
    sizes: list[Any] = page.evaluate(
        "() => { const s = getComputedStyle(document.body);"
        " return [parseFloat(s.fontSize), parseFloat(s.lineHeight)]; }"
    )
    return float(sizes[0]), float(sizes[1])


def test_elder_mode_is_large_and_survives_a_reload(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    city_page.goto("/portal")
    normal_size, _ = _type_sizes(city_page)
    city_page.get_by_role("link", name="长者模式", exact=True).click()
    expect(city_page.locator("html")).to_have_class(re.compile(r"\belder\b"))
    city_page.reload()
    expect(city_page.locator("html")).to_have_class(re.compile(r"\belder\b"))
    expect(city_page.get_by_role("link", name="退出长者模式")).to_be_visible()
    for name, path in _pages(city_server).items():
        city_page.goto(path)
        expect(city_page.locator("html")).to_have_class(re.compile(r"\belder\b"))
        size, line = _type_sizes(city_page)
        assert size >= 18, path
        assert size > normal_size, path
        assert line >= 1.3 * size, path
        assert city_page.evaluate(TOO_SMALL, CONTROLS) == [], path
        assert city_page.locator(".portal-map").count() == 0, path  # the simpler layout
        screenshot(city_page, f"portal-elder-{name}", city_server)
    city_page.get_by_role("link", name="退出长者模式").click()
    expect(city_page.locator("html")).not_to_have_class(re.compile(r"\belder\b"))
    assert console.errors == []


def test_no_serious_axe_violations_in_either_mode(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    for mode in ("normal", "elder", "a11y"):
        if mode != "normal":
            city_page.goto(f"/portal/mode/{mode}/on")
        for path in _pages(city_server).values():
            _open(city_page, path)
            assert serious_violations(city_page) == [], (mode, path)
        if mode == "elder":
            enhanced: dict[str, Any] = city_page.evaluate(
                "() => axe.run(document, {runOnly: ['color-contrast-enhanced']})"
            )
            assert enhanced["violations"] == []  # 7:1 contrast in elder mode
        if mode != "normal":
            city_page.goto(f"/portal/mode/{mode}/off")
    assert console.errors == []


def test_the_keyboard_reaches_every_portal_link(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    _open(city_page, "/portal")
    links = set(
        city_page.evaluate(
            "() => Array.from(document.querySelectorAll('main a[href], header a[href],"
            " footer a[href]')).map((a) => a.getAttribute('href'))"
        )
    )
    rivers = {link for link in links if link.startswith("/portal/rivers/")}
    assert rivers
    assert "/portal/complaints/new" in links
    reached: set[str] = set()
    for _ in range(4 * len(links) + 20):
        city_page.keyboard.press("Tab")
        href = city_page.evaluate("() => document.activeElement.getAttribute('href')")
        if href:
            reached.add(href)
    assert links - reached == set()
    screenshot(city_page, "portal", city_server)
    assert console.errors == []


def test_a_complaint_can_be_sent_by_keyboard_alone(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    city_page.goto(f"/portal/rivers/{_river_id(city_server)}")
    screenshot(city_page, "portal-river", city_server)
    link = city_page.get_by_role("link", name="投诉这条河涌的问题")
    link.focus()
    city_page.keyboard.press("Enter")
    expect(city_page.get_by_role("heading", level=1)).to_have_text("我要投诉")
    expect(city_page.locator("#river")).not_to_have_value("")  # the river is chosen
    city_page.locator("#category").focus()
    city_page.keyboard.press("ArrowDown")
    city_page.keyboard.press("Tab")
    assert city_page.evaluate("() => document.activeElement.id") == "description"
    city_page.keyboard.type("桥下的河水发黑，有臭味")
    for _ in range(10):
        city_page.keyboard.press("Tab")
        if city_page.evaluate("() => document.activeElement.type") == "submit":
            break
    city_page.keyboard.press("Enter")
    expect(city_page).to_have_url(re.compile(r"/portal/receipts\?receipt_no=TS\d{8}-"))
    receipt = city_page.locator(".receipt-no").inner_text()
    expect(city_page.locator(".receipt-status")).to_have_text("已受理")
    city_page.locator("#receipt_no").fill(receipt)
    city_page.keyboard.press("Enter")
    expect(city_page.get_by_role("heading", level=2)).to_contain_text(receipt)
    screenshot(city_page, "portal-receipt", city_server)
    assert console.errors == []


def test_accessibility_mode_shows_focus_and_the_skip_link(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    city_page.goto("/portal")
    city_page.get_by_role("link", name="无障碍模式", exact=True).click()
    city_page.reload()
    expect(city_page.locator("html")).to_have_class(re.compile(r"\ba11y\b"))
    skip = city_page.locator(".skip-link")
    box = skip.bounding_box()
    assert box is not None
    assert box["y"] >= 0  # always in view, not only on focus
    city_page.keyboard.press("Tab")
    focused = city_page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.textContent, s.outlineWidth, s.outlineStyle,"
        " getComputedStyle(document.querySelector('.portal-nav a')).textDecorationLine]; }"
    )
    assert focused[0] == "跳到主要内容"
    assert float(focused[1].removesuffix("px")) >= 4
    assert focused[2] == "solid"
    assert "underline" in focused[3]
    city_page.keyboard.press("Enter")
    assert city_page.evaluate("() => document.activeElement.id") == "main"
    screenshot(city_page, "portal-a11y", city_server)
    city_page.get_by_role("link", name="退出无障碍模式").click()
    assert console.errors == []
