"""In a real browser: sign in as the admin, see the home page (the city overview, which
greets the user) with no console errors (a Content-Security-Policy violation is one),
switch the language and keep it across a reload, and no serious or critical axe-core
violations on the pages of the foundation."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ACCOUNTS, Console, LiveServer, screenshot, serious_violations


def _sign_in(page: Page, username: str) -> None:
    page.goto("/")
    expect(page).to_have_url("/login?next=%2F")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(ACCOUNTS[username][0])
    page.get_by_role("button", name="登录").click()


def test_admin_signs_in_and_switches_language(
    page: Page, live_server: LiveServer, console: Console
) -> None:
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert serious_violations(page) == []
    screenshot(page, "login", live_server)

    _sign_in(page, "admin")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#greeting")).to_contain_text("您好，平台管理员")
    expect(page.locator("#user-role")).to_have_text("平台管理员")
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert font.startswith('"Noto Sans CJK SC"')
    assert serious_violations(page) == []
    screenshot(page, "home-zh", live_server)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#greeting")).to_contain_text("Hello, 平台管理员")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#user-role")).to_have_text("Platform administrator")
    screenshot(page, "home-en", live_server)

    page.get_by_role("link", name="Users").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    assert serious_violations(page) == []
    screenshot(page, "admin-users-en", live_server)

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("用户管理")

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{live_server.url}/login?signed_out=1")
    page.goto("/")
    expect(page).to_have_url("/login?next=%2F")
    assert console.errors == []


def test_the_skip_link_comes_first(page: Page, console: Console) -> None:
    page.goto("/login")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent")
    assert focused == "跳到主要内容"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    assert console.errors == []


def test_a_town_user_gets_the_403_page(
    page: Page, live_server: LiveServer, console: Console
) -> None:
    _sign_in(page, "town-shiqi")
    expect(page.locator("#greeting")).to_contain_text("您好，石岐操作员")
    response = page.goto("/admin/users")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("无权访问")
    expect(page.locator(".error-message")).to_contain_text("平台管理员")
    screenshot(page, "forbidden", live_server)
    # The 403 itself is the only console error (the browser reports the status).
    assert all("403" in error for error in console.errors), console.errors


def test_the_api_documentation_draws_from_our_files(
    page: Page, live_server: LiveServer, console: Console
) -> None:
    page.goto("/docs")
    expect(page.locator(".swagger-ui .information-container")).to_be_visible(timeout=15_000)
    expect(page.locator(".opblock").first).to_be_visible()
    screenshot(page, "api-docs", live_server)
    assert console.errors == []
