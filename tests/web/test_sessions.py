"""Signing in and out with session cookies: the cookie's flags, the server-side session
(only the token's hash stored), the inactivity timeout and the maximum age, and the
session cookie on the API (writes only with the CSRF header)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from http.cookies import SimpleCookie

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.auth.choices import Role, SessionEnd
from gongjian.auth.models import User, WebSession
from gongjian.db import make_engine
from gongjian.web.app import create_app
from gongjian.web.sessions import SESSION_COOKIE
from tests.web.conftest import Account, Clock, audit_entries, csrf_from, sign_in, signed_in


def _cookie(response_header: str) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response_header)
    return cookie


def _session_cookie_header(response: httpx.Response) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if SESSION_COOKIE in h]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def _sessions(engine: Engine, username: str) -> list[WebSession]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(WebSession)
                .join(User, User.id == WebSession.user_id)
                .where(User.username == username)
                .order_by(WebSession.id)
            )
        )


def test_signed_out_pages_redirect_to_the_sign_in_form(client: TestClient) -> None:
    response = client.get("/admin/users?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fx%3D1"
    assert client.get("/").headers["location"] == "/login?next=%2F"


def test_sign_in_and_out(
    client: TestClient, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.city)
    response = sign_in(client, account.username, next="/docs")
    assert response.status_code == 303
    assert response.headers["location"] == "/docs"
    home = client.get("/")
    assert home.status_code == 200
    assert f"测试{account.username}" in home.text
    assert "市攻坚办" in home.text
    assert home.headers["cache-control"] == "no-store"
    [stored] = _sessions(web_engine, account.username)
    assert stored.ended_at is None
    assert audit_entries(web_engine, action="sign_in", record_id=account.username, outcome="ok")

    out = client.post("/logout", data={"csrf_token": csrf_from(home.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/login?signed_out=1"
    cleared = _cookie(_session_cookie_header(out))[SESSION_COOKIE]
    assert cleared.value == "" or cleared["max-age"] == "0"
    [stored] = _sessions(web_engine, account.username)
    assert stored.ended_reason == SessionEnd.signed_out
    assert client.get("/").status_code == 303
    assert audit_entries(web_engine, action="sign_out", record_id=account.username)


def test_a_signed_out_token_no_longer_works(
    client: TestClient, new_client: Callable[[], TestClient], make_user: Callable[..., Account]
) -> None:
    account = make_user(Role.city)
    signed_in(client, account)
    token = client.cookies[SESSION_COOKIE]
    home = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_from(home.text)})
    thief = new_client()
    thief.cookies.set(SESSION_COOKIE, token)
    response = thief.get("/")
    assert response.status_code == 303
    assert "expired=1" in response.headers["location"]


def test_the_cookie_over_http(client: TestClient, make_user: Callable[..., Account]) -> None:
    response = sign_in(client, make_user(Role.city).username)
    header = _session_cookie_header(response)
    morsel = _cookie(header)[SESSION_COOKIE]
    assert morsel["httponly"]
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert not morsel["secure"]
    assert not morsel["max-age"]
    assert not morsel["expires"]


def test_the_cookie_over_https(https_client: TestClient, make_user: Callable[..., Account]) -> None:
    response = sign_in(https_client, make_user(Role.city).username)
    morsel = _cookie(_session_cookie_header(response))[SESSION_COOKIE]
    assert morsel["secure"]
    assert morsel["httponly"]
    assert morsel["samesite"].lower() == "lax"


def test_only_the_tokens_hash_is_stored(
    client: TestClient, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.town)
    signed_in(client, account)
    token = client.cookies[SESSION_COOKIE]
    assert len(token) >= 40
    [stored] = _sessions(web_engine, account.username)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash


def test_a_made_up_cookie_signs_nobody_in(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "made-up-token")
    assert client.get("/").status_code == 303
    assert client.get("/api/v1/users").status_code == 403


def test_every_sign_in_gets_a_new_token(
    client: TestClient, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.city)
    signed_in(client, account)
    first = client.cookies[SESSION_COOKIE]
    client.cookies.delete(SESSION_COOKIE)
    signed_in(client, account)
    assert client.cookies[SESSION_COOKIE] != first


def test_signing_in_again_ends_the_previous_session(
    client: TestClient, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.city)
    signed_in(client, account)
    page = client.get("/login")  # signed in: straight on
    assert page.status_code == 303
    client.post(
        "/login",
        data={
            "username": account.username,
            "password": account.password,
            "csrf_token": client.cookies["gongjian_csrf"],
        },
    )
    first, second = _sessions(web_engine, account.username)
    assert first.ended_reason == SessionEnd.signed_out
    assert second.ended_at is None


def test_the_next_page_stays_on_this_site(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    account = make_user(Role.city)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        client.cookies.clear()
        response = sign_in(client, account.username, next=target)
        assert response.headers["location"] == "/", target


def test_inactivity_ends_the_session(
    client: TestClient, clock: Clock, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.city)
    signed_in(client, account)
    for _ in range(4):  # active every 20 minutes: still signed in after 80
        clock.advance(minutes=20)
        assert client.get("/").status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F&expired=1"
    [stored] = _sessions(web_engine, account.username)
    assert stored.ended_reason == SessionEnd.idle
    login = client.get(response.headers["location"])
    assert "登录已过期" in login.text
    clock.advance(minutes=-30)  # ended stays ended
    assert client.get("/").status_code == 303


def test_a_session_ends_at_its_maximum_age(
    client: TestClient, clock: Clock, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.auditor)
    signed_in(client, account)
    for _ in range(26):  # busy all day: a request every 29 minutes and 50 seconds
        clock.advance(minutes=29, seconds=50)
        if client.get("/").status_code != 200:
            break
    else:
        raise AssertionError("the session outlived session_max_hours")
    [stored] = _sessions(web_engine, account.username)
    assert stored.ended_reason == SessionEnd.expired
    assert stored.ended_at is not None
    assert stored.ended_at - stored.created_at >= dt.timedelta(hours=12)


def test_the_api_accepts_the_session_cookie_for_reads(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    assert client.get("/api/v1/users").status_code == 403  # the public
    signed_in(client, make_user(Role.admin))
    assert client.get("/api/v1/users").status_code == 200


def test_api_writes_with_the_cookie_need_the_csrf_header(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    signed_in(client, make_user(Role.city))
    token = csrf_from(client.get("/").text)
    refused = client.patch("/api/v1/projects/NO-SUCH", json={"owner": "x", "version": 1})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    wrong = client.patch(
        "/api/v1/projects/NO-SUCH",
        json={"owner": "x", "version": 1},
        headers={"X-CSRF-Token": "nope"},
    )
    assert wrong.status_code == 403
    passed = client.patch(
        "/api/v1/projects/NO-SUCH",
        json={"owner": "x", "version": 1},
        headers={"X-CSRF-Token": token},
    )
    assert passed.status_code == 404  # past the CSRF check, to the record that is not there


def test_the_csrf_token_is_in_a_meta_tag_for_htmx(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    signed_in(client, make_user(Role.city))
    page = client.get("/").text
    assert f'<meta name="csrf-token" content="{csrf_from(page)}">' in page
    assert '<script src="/static/js/app.js" defer></script>' in page


def test_http_basic_still_works(client: TestClient, make_user: Callable[..., Account]) -> None:
    account = make_user(Role.admin)
    assert client.get("/api/v1/users", auth=(account.username, account.password)).status_code == 200
    assert client.get("/api/v1/users", auth=(account.username, "wrong-one")).status_code == 401


def _one_connection_app(web_engine: Engine, clock: Clock, *, timeout: float) -> FastAPI:
    """The app on a pool of a single connection, waited for at most ``timeout`` seconds."""
    url = web_engine.url.render_as_string(hide_password=False)
    app = create_app(make_engine(url, pool_size=1, max_overflow=0, pool_timeout=timeout))
    app.state.clock = clock
    return app


def test_a_request_needs_one_connection_of_the_pool(
    web_engine: Engine, clock: Clock, make_user: Callable[..., Account]
) -> None:
    """Noting when a session was last seen never takes a second connection while the
    request holds its own: under load, requests waiting for the pool would otherwise
    hold every connection and wait for each other."""
    account = make_user(Role.town)
    app = _one_connection_app(web_engine, clock, timeout=5)
    with TestClient(app, follow_redirects=False) as browser:
        signed_in(browser, account)
        for path in ("/", "/api/v1/towns", "/projects"):
            clock.advance(minutes=2)
            assert browser.get(path).status_code == 200, path
            [stored] = _sessions(web_engine, account.username)
            assert stored.last_seen_at == clock.now, path
    app.state.engine.dispose()


def test_a_database_with_no_room_answers_503_and_retry_after(
    web_engine: Engine, clock: Clock, make_user: Callable[..., Account]
) -> None:
    """Every connection taken for longer than the pool waits: the request is answered
    503 with ``Retry-After`` and a message in words, not a 500, and nothing is written."""
    account = make_user(Role.city)
    app = _one_connection_app(web_engine, clock, timeout=0.5)
    with TestClient(app, follow_redirects=False) as browser:
        signed_in(browser, account)
        with app.state.engine.connect():
            api = browser.get("/api/v1/towns")
            page = browser.get("/projects")
    app.state.engine.dispose()
    assert api.status_code == 503
    assert api.headers["retry-after"].isdigit()
    assert api.json()["error"] == "Busy"
    assert "再试" in api.json()["message"]
    assert page.status_code == 503
    assert page.headers["retry-after"] == api.headers["retry-after"]
    assert "系统繁忙" in page.text
