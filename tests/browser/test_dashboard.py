"""In a real browser, on the demo city: the overview's KPI tiles show what
`gongjian kpi --json` prints for the same database and day, the charts and the map
draw, there are no console errors and no serious axe-core violations; a town's page
draws its commitment charts and map. Screenshots of both are saved."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Console,
    LiveServer,
    screenshot,
    serious_violations,
    sign_in_as_demo,
)

AS_OF = "2023-01-31"


def _cli_kpi(server: LiveServer) -> dict[str, object]:
    """What `gongjian kpi --json --as-of 2023-01-31` prints for the server's database."""
    url = server.engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "gongjian", "kpi", "--json", "--as-of", AS_OF],
        env={**os.environ, "GONGJIAN_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, object] = json.loads(done.stdout)
    return found


def _drawn(page: Page) -> None:
    """Wait until the map has drawn its features and every chart its canvas."""
    expect(page.locator("#map[data-drawn]")).to_have_count(1, timeout=15_000)
    assert page.locator("#map").get_attribute("data-drawn") not in ("0", "failed")
    expect(page.locator(".leaflet-overlay-pane svg path").first).to_be_attached()
    for chart in page.locator(".chart").all():
        expect(chart.locator("canvas")).to_have_count(1)


def test_the_overview_shows_the_cli_figures_and_draws(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    sign_in_as_demo(city_page, "gaigeban")
    city_page.goto(f"/?as_of={AS_OF}")
    expect(city_page.get_by_role("heading", level=1)).to_have_text("全市总览")
    shown = {
        tile.get_attribute("data-kpi"): json.loads(tile.get_attribute("data-value") or "")
        for tile in city_page.locator("[data-kpi]").all()
    }
    assert shown == _cli_kpi(city_server)
    _drawn(city_page)
    assert city_page.locator(".chart--towns canvas").count() == 2
    assert city_page.locator(".map-legend li").count() == 7
    assert "示例数据" in city_page.locator(".demo-banner").inner_text()

    # The chart follows the indicator chosen; the table sorts by a column.
    city_page.select_option("#chart-pick-water", index=1)
    header = city_page.locator("#towns-renewal thead th").nth(1)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    first = city_page.locator("#towns-renewal tbody tr").first.locator("td").first
    values = [
        json.loads(v or "null")
        for v in city_page.locator("#towns-renewal tbody tr td:nth-of-type(1)").evaluate_all(
            "cells => cells.map(c => c.dataset.value)"
        )
    ]
    assert json.loads(first.get_attribute("data-value") or "null") == max(values)

    assert serious_violations(city_page) == []
    screenshot(city_page, "dashboard-overview", city_server)
    assert console.errors == []


def test_a_town_page_draws_its_commitments_and_map(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    sign_in_as_demo(city_page, "gaigeban")
    city_page.goto(f"/?as_of={AS_OF}")
    city_page.locator("#towns-renewal").get_by_role("link", name="石岐").click()
    expect(city_page.get_by_role("heading", level=1)).to_have_text("石岐")
    _drawn(city_page)
    assert city_page.locator(".chart--commitment canvas").count() >= 1
    expect(city_page.locator("#rank-summary")).to_contain_text("名（共 23 个镇街）")
    assert serious_violations(city_page) == []
    screenshot(city_page, "dashboard-town", city_server)
    assert console.errors == []


def test_a_town_user_sees_only_their_town_on_the_map(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    sign_in_as_demo(city_page, "town-shiqi")
    city_page.goto(f"/?as_of={AS_OF}")
    _drawn(city_page)
    features = city_page.evaluate(
        "url => fetch(url).then(r => r.json())",
        city_page.locator("#map").get_attribute("data-features-url"),
    )
    assert {f["properties"]["town"] for f in features["features"]} == {"石岐"}
    assert console.errors == []
