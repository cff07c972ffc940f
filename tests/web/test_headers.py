"""Security headers on every response (pages, API, static files, errors), a CSP without
inline script, HSTS only over HTTPS, and pages free of inline script and style."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gongjian.auth.choices import Role
from gongjian.config import get_settings
from gongjian.web.app import STATIC_DIR
from tests.web.conftest import Account, csrf_from, signed_in

BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
PATHS = (
    "/login",
    "/",
    "/healthz",
    "/api/v1/kpi",
    "/openapi.json",
    "/docs",
    "/no-such-page",
    "/api/v1/no-such-thing",
    "/static/css/app.css",
    "/static/js/app.js",
)


def _directives(policy: str) -> dict[str, list[str]]:
    return {parts[0]: parts[1:] for parts in (d.split() for d in policy.split(";")) if parts}


@pytest.mark.parametrize("path", PATHS)
def test_every_response_has_the_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    for name, value in BASE_HEADERS.items():
        assert response.headers[name] == value, (path, name)
    assert "content-security-policy" in response.headers
    assert "strict-transport-security" not in response.headers


def test_the_content_security_policy(client: TestClient) -> None:
    policy = _directives(client.get("/login").headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert set(policy["img-src"]) == {"'self'", "data:", "blob:"}
    for directive, sources in policy.items():
        assert "'unsafe-inline'" not in sources, directive
        assert "'unsafe-eval'" not in sources, directive
        assert not any(s.startswith(("http:", "https:")) for s in sources), directive


def test_hsts_only_over_https(client: TestClient, https_client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/login").headers
    for path in ("/login", "/api/v1/kpi", "/static/css/app.css", "/no-such-page"):
        hsts = https_client.get(path).headers["strict-transport-security"]
        assert hsts.startswith("max-age=")
        assert int(hsts.split("=")[1].split(";")[0]) >= 180 * 24 * 3600


@pytest.fixture
def trust_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GONGJIAN_TRUST_PROXY", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("GONGJIAN_TRUST_PROXY")
    get_settings.cache_clear()


def test_forwarded_proto_is_ignored_unless_the_proxy_is_trusted(client: TestClient) -> None:
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in response.headers


@pytest.mark.usefixtures("trust_proxy")
def test_forwarded_proto_from_a_trusted_proxy(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" in response.headers
    assert "secure" in response.headers["set-cookie"].lower()  # the CSRF cookie
    # The browser talks HTTPS to the proxy, so it sends the Secure cookie back; this
    # client talks plain HTTP to the app and would not, so it is given the cookie.
    token = csrf_from(response.text)
    client.cookies.set("gongjian_csrf", token)
    account = make_user(Role.city)
    answer = client.post(
        "/login",
        data={"username": account.username, "password": account.password, "csrf_token": token},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()
    assert "strict-transport-security" in answer.headers


def test_a_server_error_has_the_headers_too(app: FastAPI) -> None:
    @app.get("/api/v1/boom-headers")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app) as test_client:
        response = test_client.get("/api/v1/boom-headers")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


INLINE = (
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"(?:src|href)=\"(?:https?:)?//", re.I), "another origin"),
)


def test_pages_have_no_inline_script_or_style_and_load_only_our_files(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    pages = [client.get("/login").text, client.get("/no-such-page").text]
    signed_in(client, make_user(Role.admin))
    pages += [client.get(path).text for path in ("/", "/admin/users", "/docs")]
    for html in pages:
        for pattern, what in INLINE:
            assert not pattern.search(html), f"{what} in {html[:200]}"
        for url in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html):
            assert url.startswith("/static/"), url


@pytest.mark.parametrize(
    "path",
    [
        "vendor/echarts.min.js",
        "vendor/leaflet/leaflet.js",
        "vendor/leaflet/leaflet.css",
        "vendor/leaflet/images/marker-icon.png",
        "vendor/htmx.min.js",
        "vendor/axe.min.js",
        "vendor/swagger-ui/swagger-ui-bundle.js",
    ],
)
def test_front_end_packages_are_served_from_our_static_folder(
    client: TestClient, path: str
) -> None:
    assert (STATIC_DIR / path).is_file(), f"{path} missing: run `make assets` (make install)"
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
