"""Error pages: 404 says what was looked for, 403 says who may, 500 never shows a
traceback; pages get HTML, /api/ gets JSON. Sign-in and sign-out forms need CSRF."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gongjian.auth.choices import Role
from tests.web.conftest import Account, csrf_from, signed_in


def test_404_page_names_what_was_looked_for(client: TestClient) -> None:
    response = client.get("/no-such-section/珠江")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "没有找到您要的页面：/no-such-section/珠江" in response.text


def test_404_page_escapes_the_path(client: TestClient) -> None:
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_api_errors_stay_json(client: TestClient) -> None:
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    refused = client.get("/api/v1/users")
    assert refused.status_code == 403
    assert "平台管理员" in refused.json()["message"]


def test_health_is_untouched(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_500_never_shows_a_traceback(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/api/v1/boom")
    def api_boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app) as test_client:
        page = test_client.get("/boom")
        api = test_client.get("/api/v1/boom")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "服务器内部错误" in page.text
    assert "编号" in page.text
    assert "secret internals" not in page.text
    assert "Traceback" not in page.text
    assert api.status_code == 500
    body = api.json()
    assert body["error"] == "InternalError"
    assert body["incident"] in body["message"]
    assert "secret internals" not in api.text


def test_sign_in_needs_the_csrf_token(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": "x" * 10})
    assert response.status_code == 403
    assert "表单已失效" in response.text
    forged = client.post(
        "/login", data={"username": "admin", "password": "x" * 10, "csrf_token": "forged"}
    )
    assert forged.status_code == 403


def test_the_sign_in_token_is_a_double_submit_cookie(client: TestClient) -> None:
    page = client.get("/login")
    cookie = client.cookies["gongjian_csrf"]
    assert csrf_from(page.text) == cookie
    header = page.headers["set-cookie"]
    assert "HttpOnly" in header
    assert "SameSite=lax" in header or "samesite=lax" in header.lower()


def test_sign_out_needs_the_csrf_token(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    signed_in(client, make_user(Role.city))
    response = client.post("/logout", data={})
    assert response.status_code == 403
    assert client.get("/").status_code == 200
