"""The browser suite: Debian's Chromium (/usr/bin/chromium) driven by Playwright's
Python package, against the app served by uvicorn in a thread on a free port, on a
database of the suite's own. Screenshots go to var/screenshots/ for people to look at.

Chromium is required, not optional: without it the suite fails and says how to install
it (``apt-get install -y chromium fonts-noto-cjk``; ``.ci/run`` does). Playwright's own
browser downloads (``playwright install``) are never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory
from tests.serving import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

#: The accounts of the suite: username → (password, role, town, display name).
ACCOUNTS = {
    "admin": ("browser-admin-pw", Role.admin, None, "平台管理员"),
    "town-shiqi": ("browser-town-pw", Role.town, "石岐", "石岐操作员"),
}


@dataclass(frozen=True)
class LiveServer:
    """The app serving on ``url``, with its database's ``engine``."""

    url: str
    engine: Engine
    backend: str


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium; the suite fails (never skips) when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser suite needs it. "
            "Install it with `apt-get install -y chromium fonts-noto-cjk` (.ci/run does).",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def live_server(databases: DatabaseFactory) -> Iterator[LiveServer]:
    """The app on a free port of 127.0.0.1, on a new database with the suite's accounts."""
    engine = databases.new("browser")
    with Session(engine) as session:
        for username, (password, role, town, name) in ACCOUNTS.items():
            add_user(
                session,
                actor=Actor.system("test"),
                username=username,
                password=password,
                role=role,
                town=town,
                display_name=name,
            )
        session.commit()
    yield from _serve(engine, databases.backend)


@pytest.fixture(scope="session")
def city_server(databases: DatabaseFactory) -> Iterator[LiveServer]:
    """The app on a free port, on the small demo city (seed 7) with its demo accounts
    (``gongjian.demo.generate.DEMO_USERS``): for the pages that show records."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("browsercity", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield from _serve(engine, databases.backend)


def _serve(engine: Engine, backend: str) -> Iterator[LiveServer]:
    with serving(create_app(engine)) as url:
        yield LiveServer(url, engine, backend)
    engine.dispose()


@dataclass
class Console:
    """What a page wrote to the console as errors, and its uncaught exceptions."""

    errors: list[str]

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def console() -> Console:
    return Console([])


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, console: Console) -> Iterator[Page]:
    """A new browser context (no cookies) and page, its console errors recorded."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    page.on("console", console.record)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    yield page
    context.close()


@pytest.fixture
def city_page(browser: Browser, city_server: LiveServer, console: Console) -> Iterator[Page]:
    """A new browser context and page on the demo city, its console errors recorded."""
    context = browser.new_context(base_url=city_server.url, locale="zh-CN")
    page = context.new_page()
    page.on("console", console.record)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    yield page
    context.close()


def sign_in_as_demo(page: Page, username: str) -> None:
    """Sign in through the form as the demo account ``username``."""
    from gongjian.demo.generate import DEMO_USERS

    password = next(pw for name, pw, *_ in DEMO_USERS if name == username)
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core (from npm, served from our static folder) on the page: the serious and
    critical violations."""
    page.add_script_tag(url="/static/vendor/axe.min.js")
    result: dict[str, Any] = page.evaluate("() => axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page: Page, name: str, live_server: LiveServer) -> Path:
    """Save a full-page screenshot as var/screenshots/<name>-<backend>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{live_server.backend}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
