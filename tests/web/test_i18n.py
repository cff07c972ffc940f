"""Chinese by default, English through the switch on every page (remembered in a
cookie), and one catalogue per language with the same keys."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from gongjian.auth.choices import Role
from gongjian.web.i18n import LANGUAGES, LOCALES_DIR, catalogue
from gongjian.web.templating import TEMPLATES_DIR
from tests.web.conftest import Account, as_demo, signed_in


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert sorted(path.name for path in LOCALES_DIR.iterdir()) == sorted(LANGUAGES)
    areas = sorted(path.name for path in (LOCALES_DIR / "zh-CN").glob("*.json"))
    for lang in LANGUAGES:
        assert sorted(path.name for path in (LOCALES_DIR / lang).glob("*.json")) == areas
        for area in areas:
            chinese = json.loads((LOCALES_DIR / "zh-CN" / area).read_text(encoding="utf-8"))
            messages = json.loads((LOCALES_DIR / lang / area).read_text(encoding="utf-8"))
            assert set(messages) == set(chinese), (lang, area)
            for key, text in messages.items():
                assert text.strip(), (lang, key)
                assert _placeholders(text) == _placeholders(chinese[key]), (lang, key)
    assert len(catalogue("zh-CN")) == len(catalogue("en"))


def test_every_key_the_templates_use_is_in_the_catalogue() -> None:
    used = {
        key
        for path in TEMPLATES_DIR.rglob("*.html")
        for key in re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", path.read_text("utf-8"))
    }
    assert used
    keys = set(catalogue("zh-CN"))
    literal = {key for key in used if not key.endswith(".")}
    assert literal <= keys, literal - keys
    # a key built in the template (t("dashboard.kpi." ~ key)) needs its family present
    prefixes = used - literal
    assert all(any(key.startswith(prefix) for key in keys) for prefix in prefixes), prefixes


def test_chinese_by_default(client: TestClient) -> None:
    page = client.get("/login")
    assert '<html lang="zh-CN">' in page.text
    assert "<title>登录 · 攻坚指挥平台</title>" in page.text
    assert 'href="/lang/en?next=%2Flogin"' in page.text


def test_the_switch_changes_the_language_and_remembers_it(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    response = client.get("/lang/en", params={"next": "/login?next=/docs"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/docs"
    cookie = response.headers["set-cookie"]
    assert "gongjian_lang=en" in cookie
    assert "Max-Age=31536000" in cookie
    page = client.get("/login")
    assert '<html lang="en">' in page.text
    assert "<title>Sign in · Gongjian Command Platform</title>" in page.text
    assert 'href="/lang/zh-CN?next=%2Flogin"' in page.text
    signed_in(client, make_user(Role.admin))
    for path in ("/", "/admin/users", "/docs", "/no-such-page"):
        html = client.get(path).text
        assert '<html lang="en">' in html, path
        assert 'hreflang="zh-CN"' in html, path  # the switch is on every page
    assert "Platform administrator" in client.get("/").text
    client.get("/lang/zh-CN")
    assert '<html lang="zh-CN">' in client.get("/").text


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "/\\evil"])
def test_the_switch_stays_on_this_site(client: TestClient, target: str) -> None:
    assert client.get("/lang/en", params={"next": target}).headers["location"] == "/"


def test_an_unknown_language_is_ignored(client: TestClient) -> None:
    response = client.get("/lang/xx")
    assert "set-cookie" not in response.headers
    client.cookies.set("gongjian_lang", "xx")
    assert '<html lang="zh-CN">' in client.get("/login").text


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_no_page_shows_a_catalogue_key_instead_of_its_words(
    city_client: TestClient, lang: str
) -> None:
    """A key missing from the catalogue is shown as itself; none may reach a page."""
    namespaces = "|".join(sorted({key.split(".")[0] for key in catalogue("zh-CN")}))
    raw_key = re.compile(rf"\b(?:{namespaces})\.[a-z_]+(?:\.[a-z0-9_]+)*\b")
    as_demo(city_client, "gaigeban")
    city_client.cookies.set("gongjian_lang", lang)
    for path in (
        "/",
        "/towns/442000001",
        "/rivers",
        "/projects",
        "/parcels",
        "/ranking",
        "/portal",
    ):
        page = city_client.get(path)
        assert page.status_code == 200, path
        text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page.text, flags=re.S)
        assert not raw_key.findall(text), (path, raw_key.findall(text)[:5])
