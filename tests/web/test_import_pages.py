"""The import page and the exports: a dry run lists every bad cell and writes nothing; a
good file is summarised, then confirmed and written (audited); a pending upload belongs
to its user's session and expires; sizes are refused clearly; exports keep the list
page's filters and the town's scope and neutralise formulas."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gongjian.campaign.choices import ProjectKind
from gongjian.campaign.models import Project
from gongjian.config import get_settings
from gongjian.imports.exports import write_template
from gongjian.imports.tasklists import list_kind
from gongjian.renewal.models import Parcel
from gongjian.water.choices import RemediationState
from gongjian.water.models import River
from tests.web.conftest import Clock, as_demo, audit_entries, csrf_from

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOKEN = re.compile(r'name="token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def pending_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Pending uploads in a folder of the test's own."""
    folder = tmp_path / "uploads"
    monkeypatch.setenv("GONGJIAN_UPLOAD_PENDING_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def city_db(city_app: FastAPI) -> Engine:
    engine: Engine = city_app.state.engine
    return engine


def task_list(rows: list[dict[str, Any]], kind: str = "projects") -> bytes:
    """A list of ``kind`` made from its template, with ``rows`` (fields by name)."""
    empty = io.BytesIO()
    write_template(kind, empty)
    book = load_workbook(io.BytesIO(empty.getvalue()))
    sheet = book[list_kind(kind).sheet]
    for row in rows:
        sheet.append([row.get(c.field) for c in list_kind(kind).columns])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed as text, as Excel keeps it after an apostrophe
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def prefix() -> str:
    return f"WEB{uuid.uuid4().hex[:6].upper()}-"


def upload(
    client: TestClient, content: bytes, *, kind: str = "projects", name: str = "项目清单.xlsx"
) -> Any:
    token = csrf_from(client.get("/imports").text)
    return client.post(
        "/imports",
        data={"csrf_token": token, "kind": kind},
        files={"file": (name, content, XLSX)},
    )


def pending_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no confirm form on the page"
    return found.group(1)


def confirm(client: TestClient, token: str, path: str = "/imports/confirm") -> Any:
    return client.post(
        path, data={"csrf_token": csrf_from(client.get("/imports").text), "token": token}
    )


def stored(engine: Engine, code_prefix: str) -> dict[str, Project]:
    with Session(engine) as session:
        found = session.scalars(select(Project).where(Project.code.like(f"{code_prefix}%")))
        return {p.code: p for p in found}


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table ``table_id`` as cell texts."""
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# --- who may use the page -----------------------------------------------------------------


def test_the_page_is_for_city_town_and_admin(city_client: TestClient, city_app: FastAPI) -> None:
    assert city_client.get("/imports").status_code == 303
    as_demo(city_client, "shenji")
    refused = city_client.get("/imports")
    assert refused.status_code == 403
    assert "审计监督" in refused.text
    for username in ("gaigeban", "town-shiqi", "admin"):
        with TestClient(city_app, follow_redirects=False) as browser:
            as_demo(browser, username)
            page = browser.get("/imports")
            assert page.status_code == 200, (username, page.text)
            assert 'enctype="multipart/form-data"' in page.text
            assert 'href="/api/v1/templates/projects.xlsx"' in page.text
            assert 'href="/exports/rivers?format=csv"' in page.text
            assert '<option value="samples"' in page.text
            browser.get("/lang/en")
            assert "<h1>Imports and exports</h1>" in browser.get("/imports").text


# --- dry run and confirm --------------------------------------------------------------------


def test_bad_cells_are_listed_and_nothing_is_written(
    city_client: TestClient, city_db: Engine, pending_dir: Path
) -> None:
    as_demo(city_client, "gaigeban")
    code = prefix()
    content = task_list(
        [
            {"code": f"{code}1", "name": "一号", "kind": "火箭", "town": "石岐"},
            {"code": f"{code}2", "name": "二号", "kind": "sewer", "town": "火星镇"},
            {"code": f"{code}3", "name": "三号", "kind": "sewer", "town": "东区", "area_mu": -1},
            {"code": f"{code}4", "name": "四号", "kind": "sewer", "town": "东区"},
        ]
    )
    page = upload(city_client, content)
    assert page.status_code == 200, page.text  # the dry run is done; its answer is the problems
    assert "未写入任何内容" in page.text
    rows = table_rows(page.text, "problems")
    cells = {(r[3], r[4], r[5]) for r in rows}
    assert ("2", "项目类型", "火箭") in cells
    assert ("3", "镇街", "火星镇") in cells
    assert ("4", "面积（亩）", "-1") in cells
    assert all(r[1] == "项目清单.xlsx" and r[2] == "项目清单" and r[6] for r in rows)
    assert stored(city_db, code) == {}
    assert list(pending_dir.iterdir()) == []  # a failed dry run keeps nothing


def test_a_good_list_is_summarised_then_confirmed_and_audited(
    city_client: TestClient, city_db: Engine, pending_dir: Path
) -> None:
    as_demo(city_client, "gaigeban")
    code = prefix()
    content = task_list(
        [
            {
                "code": f"{code}1",
                "name": "一号管网",
                "kind": "污水管网",
                "town": "石岐",
                "sewer_km": 1.5,
            },
            {"code": f"{code}2", "name": "二号清淤", "kind": "dredging", "town": "东区"},
        ]
    )
    dry = upload(city_client, content)
    assert dry.status_code == 200, dry.text
    assert 'id="summary-added">2<' in dry.text
    assert 'id="summary-updated">0<' in dry.text
    assert stored(city_db, code) == {}
    token = pending_token(dry.text)
    [folder] = pending_dir.iterdir()
    assert token not in folder.name  # the folder is named by the token's hash
    assert (folder / "项目清单.xlsx").read_bytes() == content
    assert (folder.stat().st_mode & 0o777) == 0o700

    done = confirm(city_client, token)
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/imports?imported=")
    written = stored(city_db, code)
    assert set(written) == {f"{code}1", f"{code}2"}
    import_id = written[f"{code}1"].import_id
    assert done.headers["location"] == f"/imports?imported={import_id}"
    assert list(pending_dir.iterdir()) == []
    entries = audit_entries(city_db, action="import", record_id=str(import_id))
    assert [(e.actor, e.resource) for e in entries] == [("gaigeban", "project")]
    assert json.loads(entries[0].after or "{}")["added"] == 2
    assert len(audit_entries(city_db, action="add", record_id=f"{code}1")) == 1
    shown = city_client.get(done.headers["location"])
    assert "新增 2 条，更新 0 条" in shown.text
    assert f"#{import_id}" in shown.text
    # a second click finds nothing to confirm
    again = confirm(city_client, token)
    assert again.status_code == 410
    assert "请重新上传" in again.text


def test_confirm_rechecks_the_records_as_they_are_then(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "gaigeban")
    code = prefix()
    content = task_list([{"code": f"{code}1", "name": "一号", "kind": "dredging", "town": "石岐"}])
    first, second = upload(city_client, content), upload(city_client, content)
    assert confirm(city_client, pending_token(first.text)).status_code == 303
    # the second dry run's "add" is now an unchanged row: nothing more is written
    late = confirm(city_client, pending_token(second.text))
    assert late.status_code == 303
    assert late.headers["location"] == "/imports?unchanged=1"
    assert "完全相同" in city_client.get(late.headers["location"]).text
    assert len(stored(city_db, code)) == 1


def test_an_unchanged_file_offers_nothing_to_confirm(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    content = task_list(
        [{"code": f"{prefix()}1", "name": "一号", "kind": "dredging", "town": "石岐"}]
    )
    confirm(city_client, pending_token(upload(city_client, content).text))
    page = upload(city_client, content)
    assert page.status_code == 200
    assert 'id="summary-nothing"' in page.text
    assert 'name="token"' not in page.text


def test_a_pending_upload_belongs_to_its_session_and_user(
    city_client: TestClient, city_app: FastAPI, city_db: Engine
) -> None:
    as_demo(city_client, "gaigeban")
    code = prefix()
    content = task_list([{"code": f"{code}1", "name": "一号", "kind": "dredging", "town": "石岐"}])
    token = pending_token(upload(city_client, content).text)
    for username in ("zhishuiban", "gaigeban"):  # another user; the same user, signed in again
        with TestClient(city_app, follow_redirects=False) as other:
            as_demo(other, username)
            refused = confirm(other, token)
            assert refused.status_code == 403, refused.text
            assert "不属于当前登录会话" in refused.text
            assert stored(city_db, code) == {}
    refusals = audit_entries(city_db, record_id="pending-upload", outcome="refused")
    assert {e.actor for e in refusals} >= {"zhishuiban", "gaigeban"}
    # signing in elsewhere leaves this browser's session open: it still confirms
    assert confirm(city_client, token).status_code == 303
    assert set(stored(city_db, code)) == {f"{code}1"}


def test_an_expired_upload_is_refused_politely(
    city_client: TestClient, clock: Clock, city_db: Engine, pending_dir: Path
) -> None:
    as_demo(city_client, "gaigeban")
    code = prefix()
    content = task_list([{"code": f"{code}1", "name": "一号", "kind": "dredging", "town": "石岐"}])
    token = pending_token(upload(city_client, content).text)
    for _ in range(3):  # 60 minutes, the session kept alive (its idle timeout is 30)
        clock.advance(minutes=20)
        assert city_client.get("/imports").status_code == 200
    clock.advance(seconds=1)
    late = confirm(city_client, token)
    assert late.status_code == 410, late.text
    assert "上传已过期" in late.text
    assert "60 分钟" in late.text
    assert stored(city_db, code) == {}
    assert list(pending_dir.iterdir()) == []


def test_a_cancelled_upload_is_deleted(city_client: TestClient, pending_dir: Path) -> None:
    as_demo(city_client, "gaigeban")
    content = task_list(
        [{"code": f"{prefix()}1", "name": "一号", "kind": "dredging", "town": "石岐"}]
    )
    token = pending_token(upload(city_client, content).text)
    gone = city_client.post(
        "/imports/cancel",
        data={"csrf_token": csrf_from(city_client.get("/imports").text), "token": token},
    )
    assert gone.status_code == 303
    assert list(pending_dir.iterdir()) == []
    assert "已取消" in city_client.get(gone.headers["location"]).text


def test_a_town_user_imports_only_their_own_town(city_client: TestClient, city_db: Engine) -> None:
    as_demo(city_client, "town-shiqi")
    code = prefix()
    content = task_list(
        [
            {"code": f"{code}1", "name": "一号", "kind": "dredging", "town": "石岐"},
            {"code": f"{code}2", "name": "二号", "kind": "dredging", "town": "东区"},
        ]
    )
    page = upload(city_client, content)
    assert page.status_code == 200, page.text
    rows = table_rows(page.text, "problems")
    assert len(rows) == 1
    assert "第 3 行（属于东区）" in rows[0][6]
    assert stored(city_db, code) == {}
    good = task_list([{"code": f"{code}3", "name": "三号", "kind": "dredging", "town": "石岐"}])
    assert confirm(city_client, pending_token(upload(city_client, good).text)).status_code == 303
    assert set(stored(city_db, code)) == {f"{code}3"}


def test_the_form_needs_its_csrf_token_and_a_kind(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    content = task_list([])
    refused = city_client.post(
        "/imports", data={"kind": "projects"}, files={"file": ("a.xlsx", content, XLSX)}
    )
    assert refused.status_code == 403
    assert "表单已失效" in refused.text
    token = csrf_from(city_client.get("/imports").text)
    no_kind = city_client.post(
        "/imports",
        data={"csrf_token": token, "kind": "boats"},
        files={"file": ("a.xlsx", content, XLSX)},
    )
    assert no_kind.status_code == 422
    assert "请选择要导入的清单种类" in no_kind.text


def test_samples_and_geojson_parcels_are_checked_too(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "gaigeban")
    samples = (
        b"point_id,sampled_at,transparency_cm,do_mg_l,orp_mv,nh3n_mg_l\n"
        b"NO-SUCH-POINT,2023-01-05T09:00:00,20,1.5,-50,6\n"
    )
    page = upload(city_client, samples, kind="samples", name="监测.csv")
    assert page.status_code == 200, page.text
    rows = table_rows(page.text, "problems")
    assert rows
    assert all(r[1] == "监测.csv" for r in rows)
    assert any("NO-SUCH-POINT" in (r[5] + r[6]) for r in rows)
    assert "/uploads/" not in page.text  # the server's folder is never shown

    code = prefix()
    square = [
        [113.38, 22.52],
        [113.381, 22.52],
        [113.381, 22.521],
        [113.38, 22.521],
        [113.38, 22.52],
    ]
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"parcel_id": f"{code}P1", "town": "石岐"},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            }
        ],
    }
    dry = upload(city_client, json.dumps(geojson).encode(), kind="parcels", name="地块.geojson")
    assert dry.status_code == 200, dry.text
    assert 'id="summary-rows">1<' in dry.text
    assert confirm(city_client, pending_token(dry.text)).status_code == 303
    with Session(city_db) as session:
        assert session.scalar(select(Parcel.code).where(Parcel.code == f"{code}P1"))


# --- sizes ----------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_clearly(
    city_client: TestClient, monkeypatch: pytest.MonkeyPatch, pending_dir: Path
) -> None:
    as_demo(city_client, "gaigeban")
    token = csrf_from(city_client.get("/imports").text)
    monkeypatch.setenv("GONGJIAN_UPLOAD_MAX_MB", "0.01")
    get_settings.cache_clear()

    def send(size: int) -> Any:
        return city_client.post(
            "/imports",
            data={"csrf_token": token, "kind": "projects"},
            files={"file": ("big.csv", b"a" * size, "text/csv")},
        )

    for size in (20_000, 200_000):  # read, then refused; refused by its declared length
        page = send(size)
        assert page.status_code == 413, page.text
        assert 'id="import-error"' in page.text
        assert "上传的文件过大" in page.text
        assert "上限 0.01 MB" in page.text
        assert 'id="import-kind"' in page.text  # the form is there to try again
    refused = send(2 * 1024 * 1024)  # beyond any upload: the app refuses the request itself
    assert refused.status_code == 413
    assert "请求内容过大" in refused.text
    assert not pending_dir.exists() or list(pending_dir.iterdir()) == []


# --- exports --------------------------------------------------------------------------------


def _import(client: TestClient, rows: list[dict[str, Any]], kind: str = "projects") -> None:
    page = upload(client, task_list(rows, kind))
    assert page.status_code == 200, page.text
    assert confirm(client, pending_token(page.text)).status_code == 303


def test_an_export_keeps_the_filters_and_neutralises_formulas(city_client: TestClient) -> None:
    as_demo(city_client, "gaigeban")
    code = prefix()
    _import(
        city_client,
        [
            {"code": f"{code}1", "name": "=1+1", "kind": "sewer", "town": "石岐", "sewer_km": 2},
            {"code": f"{code}2", "name": "二号", "kind": "dredging", "town": "石岐"},
            {"code": f"{code}3", "name": "三号", "kind": "sewer", "town": "东区", "sewer_km": 1},
        ],
    )
    response = city_client.get("/exports/projects", params={"town": "石岐", "kind": "sewer"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["项目清单", "筛选条件", "说明"]
    sheet = book["项目清单"]
    assert sheet.freeze_panes == "A2"
    headers = [c.value for c in sheet[1]]
    assert "污水管网（公里）" in headers
    assert "预算（万元）" in headers
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    codes = {row[0] for row in rows}
    assert f"{code}1" in codes
    assert f"{code}2" not in codes
    assert f"{code}3" not in codes
    assert {row[headers.index("镇街")] for row in rows} == {"石岐"}
    assert {row[headers.index("项目类型")] for row in rows} == {ProjectKind.sewer.label}
    cell = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == f"{code}1")[1]
    assert (cell.value, cell.data_type) == ("'=1+1", "s")
    filters: dict[str, Any] = {}
    for row in book["筛选条件"].iter_rows():  # the filters (the instructions: 说明)
        filters.setdefault(row[0].value, row[1].value)
    assert book["筛选条件"]["A1"].value == "项目清单导出：筛选条件"
    assert filters["镇街"] == "石岐"
    assert filters["类型"] == ProjectKind.sewer.label
    assert filters["记录数"] == str(len(rows))
    assert filters["导出人"].startswith("gaigeban")

    text = city_client.get("/exports/projects", params={"town": "石岐", "format": "csv"})
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/csv")
    records = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    mine = {r[0]: r for r in records[1:] if r[0].startswith(code)}
    assert set(mine) == {f"{code}1", f"{code}2"}
    assert mine[f"{code}1"][1] == "'=1+1"


def test_an_export_reads_states_as_the_list_page_does(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "zhishuiban")
    response = city_client.get("/exports/rivers", params={"reached": "completed", "page": "2"})
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content))["河涌清单"]
    headers = [c.value for c in sheet[1]]
    exported = {
        row[0].value: row[headers.index("整治状态")].value for row in sheet.iter_rows(min_row=2)
    }
    later = {
        s.label
        for s in tuple(RemediationState)[
            tuple(RemediationState).index(RemediationState.completed) :
        ]
    }
    with Session(city_db) as session:
        expected = set(
            session.scalars(
                select(River.code).where(
                    River.remediation_state.in_(
                        [s.value for s in RemediationState if s.label in later]
                    )
                )
            )
        )
    assert exported
    assert set(exported) == expected
    assert set(exported.values()) <= later
    bad = city_client.get("/exports/rivers", params={"grade": "purple"})
    assert bad.status_code == 422
    assert "grade" in bad.text


def test_a_town_user_exports_their_own_town(city_client: TestClient) -> None:
    as_demo(city_client, "town-shiqi")
    response = city_client.get("/exports/projects")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["项目清单"]
    headers = [c.value for c in sheet[1]]
    towns = {row[headers.index("镇街")].value for row in sheet.iter_rows(min_row=2)}
    assert towns == {"石岐"}
    refused = city_client.get("/exports/projects", params={"town": "东区"})
    assert refused.status_code == 403
    assert "无权查看其他镇街的项目：镇街用户只能查看本镇街的记录" in refused.text


def test_an_unknown_export_is_a_clear_404(city_client: TestClient) -> None:
    as_demo(city_client, "shenji")  # auditors read everything, exports included
    assert city_client.get("/exports/enterprises").status_code == 200
    missing = city_client.get("/exports/nonesuch")
    assert missing.status_code == 404
    assert "没有“nonesuch”这种清单" in missing.text
    assert city_client.get("/exports/rivers", params={"format": "pdf"}).status_code == 422
