"""Lock-out with back-off: after login_max_failures (5) failures within
login_window_minutes (15) a username is refused for login_lockout_seconds (60), doubling
with each further failure up to an hour; every failure and lock-out is audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gongjian.auth.choices import Role
from gongjian.auth.services import backoff_seconds
from tests.web.conftest import Account, Clock, audit_entries, sign_in


def _fail(client: TestClient, username: str, times: int = 1) -> int:
    status = 0
    for _ in range(times):
        status = sign_in(client, username, "not-the-password").status_code
    return status


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff_seconds(n) for n in range(1, 5)] == [None] * 4
    assert [backoff_seconds(n) for n in range(5, 12)] == [60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_seconds(40) == 3600
    assert backoff_seconds(10_000) == 3600


def test_four_failures_do_not_lock(client: TestClient, make_user: Callable[..., Account]) -> None:
    account = make_user(Role.city)
    assert _fail(client, account.username, 4) == 200
    response = sign_in(client, account.username)
    assert response.status_code == 303


def test_a_success_forgets_the_failures(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    account = make_user(Role.city)
    _fail(client, account.username, 4)
    assert sign_in(client, account.username).status_code == 303
    client.cookies.clear()
    assert _fail(client, account.username, 4) == 200  # a fresh count: no lock yet


def test_lock_out_and_back_off(
    client: TestClient, clock: Clock, make_user: Callable[..., Account], web_engine: Engine
) -> None:
    account = make_user(Role.town)
    assert _fail(client, account.username, 4) == 200
    locked = sign_in(client, account.username, "not-the-password")
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "60"
    assert "账号已暂时锁定" in locked.text
    assert "约 1 分钟后" in locked.text

    # Locked: even the right password is refused, and the attempt is not a failure.
    refused = sign_in(client, account.username)
    assert refused.status_code == 429
    clock.advance(seconds=30)
    assert sign_in(client, account.username).headers["retry-after"] == "30"

    # After the back-off, another failure locks for twice as long, then four times.
    clock.advance(seconds=31)
    doubled = sign_in(client, account.username, "still-wrong")
    assert doubled.status_code == 429
    assert doubled.headers["retry-after"] == "120"
    clock.advance(seconds=121)
    assert sign_in(client, account.username, "wrong-again").headers["retry-after"] == "240"

    # And once it is over, the right password signs in and clears the record.
    clock.advance(seconds=241)
    assert sign_in(client, account.username).status_code == 303

    failures = audit_entries(
        web_engine, action="sign_in", record_id=account.username, outcome="refused"
    )
    assert len(failures) == 4 + 1 + 2 + 1 + 1  # failures, refusals while locked
    assert all(entry.resource == "user" for entry in failures)
    assert all(entry.actor == "public" for entry in failures)
    assert sum("密码错误" in (entry.detail or "") for entry in failures) == 7
    assert sum("锁定中" in (entry.detail or "") for entry in failures) == 2
    lockouts = audit_entries(web_engine, action="lock_out", record_id=account.username)
    assert [entry.outcome for entry in lockouts] == ["refused"] * 3
    assert ["60 秒" in lockouts[0].detail, "120 秒" in lockouts[1].detail] == [True, True]


def test_failures_outside_the_window_do_not_count(
    client: TestClient, clock: Clock, make_user: Callable[..., Account]
) -> None:
    account = make_user(Role.city)
    _fail(client, account.username, 4)
    clock.advance(minutes=15, seconds=1)
    assert _fail(client, account.username, 4) == 200
    assert _fail(client, account.username) == 429


def test_a_lock_out_run_is_forgotten_after_a_quiet_window(
    client: TestClient, clock: Clock, make_user: Callable[..., Account]
) -> None:
    account = make_user(Role.city)
    assert _fail(client, account.username, 5) == 429
    clock.advance(seconds=60 + 15 * 60 + 1)
    assert _fail(client, account.username, 4) == 200


def test_an_unknown_username_is_locked_out_the_same_way(
    client: TestClient, web_engine: Engine
) -> None:
    username = f"nobody-{uuid.uuid4().hex[:8]}"
    first = sign_in(client, username, "guess")
    assert first.status_code == 200
    assert "用户名或密码错误" in first.text
    assert _fail(client, username, 4) == 429
    details = [e.detail for e in audit_entries(web_engine, record_id=username, action="sign_in")]
    assert len(details) == 5
    assert all("用户名不存在" in (detail or "") for detail in details)


def test_http_basic_counts_and_respects_the_lock_out(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    account = make_user(Role.admin)
    for _ in range(4):
        assert client.get("/api/v1/users", auth=(account.username, "wrong")).status_code == 401
    locked = client.get("/api/v1/users", auth=(account.username, "wrong"))
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == 60
    still = client.get("/api/v1/users", auth=(account.username, account.password))
    assert still.status_code == 429
    assert sign_in(client, account.username).status_code == 429


@pytest.mark.parametrize("english", [False, True])
def test_the_lock_out_message_says_when_to_retry(
    client: TestClient, make_user: Callable[..., Account], english: bool
) -> None:
    if english:
        client.cookies.set("gongjian_lang", "en")
    account = make_user(Role.city)
    response = sign_in(client, account.username, "x" * 9)
    for _ in range(4):
        response = sign_in(client, account.username, "x" * 9)
    assert response.status_code == 429
    text = response.text
    assert ("Please try again at" in text) if english else ("请于" in text)
