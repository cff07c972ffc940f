"""The import page in Chromium: a city user uploads an Excel task list with bad cells and
sees every problem (nothing written), then a good one, and confirms it; the page has no
serious accessibility violations and no console errors. The audit page, where the import
shows, holds to the same."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.campaign.models import Project
from gongjian.config import get_settings
from gongjian.imports.tasklists import list_kind
from tests.browser.conftest import (
    Console,
    LiveServer,
    screenshot,
    serious_violations,
    sign_in_as_demo,
)


@pytest.fixture(autouse=True)
def pending_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Pending uploads in a folder of the test's own (the server runs in this process)."""
    monkeypatch.setenv("GONGJIAN_UPLOAD_PENDING_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield tmp_path / "uploads"
    get_settings.cache_clear()


def project_workbook(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A project list as a person fills it in: the template's sheet name and headers."""
    projects = list_kind("projects")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = projects.sheet
    sheet.append([column.header for column in projects.columns])
    for row in rows:
        sheet.append([row.get(column.field) for column in projects.columns])
    book.save(path)
    return path


def upload(page: Page, path: Path) -> None:
    page.goto("/imports")
    page.select_option("#import-kind", "projects")
    page.set_input_files("#import-file", str(path))
    page.click("#check-upload")


def stored(server: LiveServer, prefix: str) -> set[str]:
    with Session(server.engine) as session:
        return set(session.scalars(select(Project.code).where(Project.code.like(f"{prefix}%"))))


def test_a_city_user_sees_the_problems_then_confirms_a_good_list(
    city_page: Page, city_server: LiveServer, console: Console, tmp_path: Path
) -> None:
    page = city_page
    sign_in_as_demo(page, "gaigeban")
    page.goto("/imports")
    expect(page.locator("h1")).to_have_text("导入与导出")
    assert serious_violations(page) == []
    screenshot(page, "imports", city_server)

    code = f"BR{uuid.uuid4().hex[:6].upper()}-"
    bad = project_workbook(
        tmp_path / "有错的项目清单.xlsx",
        [
            {"code": f"{code}1", "name": "一号", "kind": "火箭", "town": "石岐"},
            {"code": f"{code}2", "name": "二号", "kind": "污水管网", "town": "火星镇"},
            {"code": f"{code}3", "name": "三号", "kind": "污水管网", "town": "东区", "area_mu": -5},
        ],
    )
    upload(page, bad)
    problems = page.locator("#problems tbody tr")
    expect(problems).to_have_count(3)
    rows = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()] for row in problems.all()
    ]
    assert {(r[3], r[4], r[5]) for r in rows} == {
        ("2", "项目类型", "火箭"),
        ("3", "镇街", "火星镇"),
        ("4", "面积（亩）", "-5"),
    }
    assert all(r[1] == "有错的项目清单.xlsx" and r[2] == "项目清单" and r[6] for r in rows)
    expect(page.locator("#import-error")).to_contain_text("未写入任何内容")
    assert stored(city_server, code) == set()
    assert serious_violations(page) == []
    screenshot(page, "imports-problems", city_server)

    good = project_workbook(
        tmp_path / "项目清单.xlsx",
        [
            {"code": f"{code}1", "name": "一号管网", "kind": "污水管网", "town": "石岐"},
            {"code": f"{code}2", "name": "二号清淤", "kind": "清淤疏浚", "town": "东区"},
        ],
    )
    upload(page, good)
    expect(page.locator("#summary-added")).to_have_text("2")
    expect(page.locator("#summary-title")).to_be_focused()
    assert stored(city_server, code) == set()
    assert serious_violations(page) == []
    screenshot(page, "imports-summary", city_server)

    page.click("#confirm-import")
    page.wait_for_url("**/imports?imported=*")
    expect(page.locator("#import-done")).to_contain_text("新增 2 条")
    assert stored(city_server, code) == {f"{code}1", f"{code}2"}
    assert serious_violations(page) == []
    screenshot(page, "imports-done", city_server)
    assert console.errors == []


def test_the_audit_page_reads_well(
    city_page: Page, city_server: LiveServer, console: Console
) -> None:
    page = city_page
    sign_in_as_demo(page, "shenji")
    page.goto("/audit")
    expect(page.locator("#entries-count")).to_contain_text("最新的在前")
    page.click("#verify-link")
    expect(page.locator("#verify-result")).to_contain_text("审计链完整")
    assert serious_violations(page) == []
    screenshot(page, "audit", city_server)
    page.select_option("#audit-action", "sign_in")
    page.click(".audit-filters button[type=submit]")
    expect(page.locator(".audit-entry").first).to_contain_text("登录")
    assert serious_violations(page) == []
    screenshot(page, "audit-filtered", city_server)
    assert console.errors == []
