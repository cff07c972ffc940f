"""The admin's user page: only the admin sees it (403 page, logged, for everyone else);
disabling a user ends their sessions and stops them signing in; ending sessions signs
them out; every action needs the CSRF token and is audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from gongjian.auth.choices import Role
from tests.web.conftest import Account, audit_entries, csrf_from, sign_in, signed_in


@pytest.mark.parametrize("role", [Role.town, Role.city, Role.auditor])
def test_only_the_admin_may_see_the_user_page(
    client: TestClient, make_user: Callable[..., Account], web_engine: Engine, role: Role
) -> None:
    account = make_user(role)
    signed_in(client, account)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "无权访问" in response.text
    assert "平台管理员" in response.text  # which role may see it
    assert "Traceback" not in response.text
    refused = audit_entries(web_engine, actor=account.username, outcome="refused")
    assert [(e.action, e.resource) for e in refused] == [("view", "user")]
    assert 'href="/admin/users"' not in client.get("/").text


def test_the_admin_sees_every_account(
    client: TestClient, make_user: Callable[..., Account], new_client: Callable[[], TestClient]
) -> None:
    town = make_user(Role.town, town="小榄")
    signed_in(new_client(), town)
    signed_in(new_client(), town)
    admin = make_user(Role.admin)
    signed_in(client, admin)
    page = client.get("/admin/users")
    assert page.status_code == 200
    row = page.text.split(f'id="user-{town.username}"')[1].split("</tr>")[0]
    assert "镇街" in row
    assert "小榄" in row
    assert "启用" in row
    assert '<td class="number">2</td>' in row
    own = page.text.split(f'id="user-{admin.username}"')[1].split("</tr>")[0]
    assert "（本人）" in own
    assert "/admin/users/disable" not in own  # no button to disable oneself


def test_disabling_a_user_ends_their_sessions_and_stops_sign_in(
    client: TestClient,
    make_user: Callable[..., Account],
    new_client: Callable[[], TestClient],
    web_engine: Engine,
) -> None:
    victim = make_user(Role.city)
    victim_browser = signed_in(new_client(), victim)
    assert victim_browser.get("/").status_code == 200
    signed_in(client, make_user(Role.admin))
    token = csrf_from(client.get("/admin/users").text)
    done = client.post(
        "/admin/users/disable", data={"username": victim.username, "csrf_token": token}
    )
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert f"已停用 {victim.username}" in page.text

    assert victim_browser.get("/").status_code == 303
    refused = sign_in(new_client(), victim.username)
    assert refused.status_code == 403
    assert "账号已停用" in refused.text
    assert (
        new_client().get("/api/v1/kpi", auth=(victim.username, victim.password)).status_code == 401
    )
    changes = audit_entries(web_engine, record_id=victim.username, action="change")
    assert changes[-1].detail == "停用账号"
    refusals = audit_entries(web_engine, record_id=victim.username, outcome="refused")
    assert any((e.detail or "").startswith("登录被拒：账号已停用") for e in refusals)

    token = csrf_from(client.get("/admin/users").text)
    client.post("/admin/users/enable", data={"username": victim.username, "csrf_token": token})
    assert sign_in(new_client(), victim.username).status_code == 303


def test_ending_a_users_sessions(
    client: TestClient,
    make_user: Callable[..., Account],
    new_client: Callable[[], TestClient],
    web_engine: Engine,
) -> None:
    user = make_user(Role.auditor)
    browsers = [signed_in(new_client(), user) for _ in range(2)]
    signed_in(client, make_user(Role.admin))
    token = csrf_from(client.get("/admin/users").text)
    response = client.post(
        "/admin/users/end-sessions", data={"username": user.username, "csrf_token": token}
    )
    assert response.status_code == 303
    for browser in browsers:
        assert browser.get("/").status_code == 303
    assert sign_in(new_client(), user.username).status_code == 303  # still active
    [entry] = audit_entries(web_engine, record_id=user.username, action="change")
    assert entry.detail == "结束全部网页会话（2 个）"


def test_admin_forms_need_the_csrf_token(
    client: TestClient, make_user: Callable[..., Account], new_client: Callable[[], TestClient]
) -> None:
    victim = make_user(Role.city)
    signed_in(client, make_user(Role.admin))
    client.get("/admin/users")
    for data in ({"username": victim.username}, {"username": victim.username, "csrf_token": "x"}):
        response = client.post("/admin/users/disable", data=data)
        assert response.status_code == 403
        assert "表单已失效" in response.text
    other = signed_in(new_client(), make_user(Role.admin))
    stolen = csrf_from(other.get("/admin/users").text)  # another session's token
    response = client.post(
        "/admin/users/disable", data={"username": victim.username, "csrf_token": stolen}
    )
    assert response.status_code == 403
    assert sign_in(new_client(), victim.username).status_code == 303  # still active


def test_only_the_admin_may_disable(
    client: TestClient, make_user: Callable[..., Account], new_client: Callable[[], TestClient]
) -> None:
    victim = make_user(Role.town)
    signed_in(client, make_user(Role.city))
    token = csrf_from(client.get("/").text)
    response = client.post(
        "/admin/users/disable", data={"username": victim.username, "csrf_token": token}
    )
    assert response.status_code == 403
    assert "平台管理员" in response.text
    assert sign_in(new_client(), victim.username).status_code == 303


def test_the_admin_cannot_disable_themselves(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    admin = make_user(Role.admin)
    signed_in(client, admin)
    token = csrf_from(client.get("/admin/users").text)
    response = client.post(
        "/admin/users/disable", data={"username": admin.username, "csrf_token": token}
    )
    assert response.status_code == 409
    assert "不能停用自己的账号" in response.text
    assert client.get("/").status_code == 200


def test_an_unknown_user_is_a_404_page(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    signed_in(client, make_user(Role.admin))
    token = csrf_from(client.get("/admin/users").text)
    response = client.post("/admin/users/enable", data={"username": "ghost", "csrf_token": token})
    assert response.status_code == 404
    assert "ghost" in response.text


def test_the_user_page_issues_a_bounded_number_of_queries(
    client: TestClient,
    make_user: Callable[..., Account],
    new_client: Callable[[], TestClient],
    web_engine: Engine,
) -> None:
    signed_in(client, make_user(Role.admin))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def queries() -> int:
        statements.clear()
        event.listen(web_engine, "before_cursor_execute", count)
        try:
            assert client.get("/admin/users").status_code == 200
        finally:
            event.remove(web_engine, "before_cursor_execute", count)
        return len(statements)

    before = queries()
    for role in (Role.town, Role.city, Role.auditor, Role.town, Role.town):
        signed_in(new_client(), make_user(role))
    assert queries() == before
