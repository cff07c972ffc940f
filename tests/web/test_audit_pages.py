"""The audit page: auditors and admins only; the log filtered by user, record, action,
outcome and days, newest first and paged; before and after field by field; the chain's
verification, whole or broken; a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.periods import today
from tests.web.conftest import as_demo, audit_entries

SEQ = re.compile(r'id="entry-(\d+)"')


@pytest.fixture
def city_db(city_app: FastAPI) -> Engine:
    engine: Engine = city_app.state.engine
    return engine


@pytest.fixture
def browser(city_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(city_app, follow_redirects=False) as client:
        yield client


def add_entries(
    engine: Engine,
    record_id: str,
    count: int = 1,
    *,
    action: str = "change",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """``count`` entries about project ``record_id``, written as ``gaigeban``."""
    with Session(engine) as session:
        for _ in range(count):
            record(
                session,
                actor=Actor("gaigeban", Role.city),
                action=action,
                resource="project",
                record_id=record_id,
                before=before,
                after=after,
                detail="测试条目",
            )
        session.commit()


def shown_seqs(html: str) -> list[int]:
    return [int(seq) for seq in SEQ.findall(html)]


def test_only_auditors_and_admins_see_the_log(
    city_client: TestClient, browser: TestClient, city_app: FastAPI, city_db: Engine
) -> None:
    for username in ("gaigeban", "town-shiqi"):
        with TestClient(city_app, follow_redirects=False) as client:
            as_demo(client, username)
            refused = client.get("/audit")
            assert refused.status_code == 403, username
            assert "审计监督、平台管理员" in refused.text
            assert '<li class="audit-entry"' not in refused.text
    refusals = audit_entries(city_db, resource="audit_entry", outcome="refused")
    assert {"gaigeban", "town-shiqi"} <= {e.actor for e in refusals}
    as_demo(city_client, "shenji")
    as_demo(browser, "admin")
    for client in (city_client, browser):
        page = client.get("/audit")
        assert page.status_code == 200, page.text
        seqs = shown_seqs(page.text)
        assert 0 < len(seqs) <= 50
        assert seqs == sorted(seqs, reverse=True)  # newest first
    city_client.get("/lang/en")
    english = city_client.get("/audit", params={"verify": "1"})
    assert "<h1>Audit log</h1>" in english.text
    assert "The chain holds" in english.text


def test_filters_narrow_the_log(city_client: TestClient, city_db: Engine) -> None:
    code = f"AUD-{uuid.uuid4().hex[:6]}"
    add_entries(city_db, code, 3)
    add_entries(city_db, code, 1, action="add")
    as_demo(city_client, "shenji")
    mine = city_client.get("/audit", params={"resource": "project", "record": code})
    assert mine.status_code == 200
    assert len(shown_seqs(mine.text)) == 4
    assert "共 4 条" in mine.text
    added = city_client.get("/audit", params={"record": code, "action": "add"})
    assert len(shown_seqs(added.text)) == 1
    assert "新增 · 项目" in added.text
    by_user = city_client.get("/audit", params={"user": "gaigeban", "record": code})
    assert len(shown_seqs(by_user.text)) == 4
    nobody = city_client.get("/audit", params={"user": "nobody", "record": code})
    assert shown_seqs(nobody.text) == []
    assert "没有符合筛选条件的条目" in nobody.text
    day = today()
    within = city_client.get(
        "/audit", params={"record": code, "from": day.isoformat(), "to": day.isoformat()}
    )
    assert len(shown_seqs(within.text)) == 4
    earlier = day - dt.timedelta(days=3)
    before = city_client.get("/audit", params={"record": code, "to": earlier.isoformat()})
    assert shown_seqs(before.text) == []
    refused = city_client.get("/audit", params={"outcome": "refused", "from": "", "to": ""})
    assert refused.status_code == 200
    assert "被拒绝" in refused.text
    assert city_client.get("/audit", params={"from": "yesterday"}).status_code == 422


def test_paging_keeps_the_filters(city_client: TestClient, city_db: Engine) -> None:
    code = f"PAGE-{uuid.uuid4().hex[:6]}"
    add_entries(city_db, code, 55)
    as_demo(city_client, "admin")
    first = city_client.get("/audit", params={"record": code})
    assert len(shown_seqs(first.text)) == 50
    assert "第 1/2 页" in first.text
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older
    second = city_client.get(older.group(1).replace("&amp;", "&"))
    assert len(shown_seqs(second.text)) == 5
    assert max(shown_seqs(second.text)) < min(shown_seqs(first.text))


def test_before_and_after_are_shown_field_by_field(
    city_client: TestClient, city_db: Engine
) -> None:
    code = f"DIFF-{uuid.uuid4().hex[:6]}"
    add_entries(
        city_db,
        code,
        before={"name": "旧名称", "owner": "城建公司", "budget_wan": "100.00"},
        after={"name": "新名称", "owner": "城建公司", "budget_wan": "120.50", "state": "started"},
    )
    as_demo(city_client, "shenji")
    page = city_client.get("/audit", params={"record": code}).text
    assert "3 个字段有变化" in page
    changed = page.split('class="audit-diff__changed"')
    assert len(changed) == 4  # name, budget_wan, state
    assert "<del>旧名称</del>" in page
    assert "<ins>新名称</ins>" in page
    assert "<del>100.00</del>" in page
    assert "<ins>120.50</ins>" in page
    assert "（无）" in page  # state was not there before
    assert "未变的字段（1 个）" in page
    assert "城建公司" in page.split("未变的字段", 1)[1]


def test_verification_says_whether_the_chain_holds(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "shenji")
    page = city_client.get("/audit")
    assert 'id="verify-result"' not in page.text
    assert 'href="/audit?page=1&amp;verify=1"' in page.text
    held = city_client.get("/audit", params={"verify": "1"})
    assert held.status_code == 200
    assert "审计链完整" in held.text
    code = f"TAMPER-{uuid.uuid4().hex[:6]}"
    add_entries(city_db, code, 2)
    with Session(city_db) as session:
        target = session.scalars(
            select(AuditEntry).where(AuditEntry.record_id == code).order_by(AuditEntry.seq)
        ).first()
        assert target is not None
        seq, detail = target.seq, target.detail
        session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(detail="篡改"))
        session.commit()
    try:
        broken = city_client.get("/audit", params={"verify": "1", "record": code})
        assert broken.status_code == 200
        assert "审计链已断开" in broken.text
        assert f"首个断点：条目 #{seq} 的内容被修改" in broken.text
    finally:
        with Session(city_db) as session:
            session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(detail=detail))
            session.commit()
    assert "审计链完整" in city_client.get("/audit", params={"verify": "1"}).text


def test_the_page_issues_a_bounded_number_of_queries(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "shenji")
    code = f"COUNT-{uuid.uuid4().hex[:6]}"
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def queries(**params: str) -> int:
        statements.clear()
        event.listen(city_db, "before_cursor_execute", count)
        try:
            assert city_client.get("/audit", params=params).status_code == 200
        finally:
            event.remove(city_db, "before_cursor_execute", count)
        return len(statements)

    add_entries(city_db, code, 2, before={"a": 1}, after={"a": 2})
    queries()  # the first page after signing in also opens connections and the session
    few, few_filtered = queries(), queries(record=code)
    add_entries(city_db, code, 60, before={"a": 1}, after={"a": 2})
    assert queries() == few
    assert queries(record=code) == few_filtered
    assert few <= 10
