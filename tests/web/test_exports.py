"""Exports of every list page (``/exports/{kind}``): the filters of the page, the town
scope, the 筛选条件 sheet, a frozen header, units in the headers, fitted widths,
neutralised formulas, and an ``export`` audit entry."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.workbook import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.campaign.batches import add_batch
from gongjian.campaign.choices import BatchKind, Campaign
from gongjian.campaign.models import Batch
from gongjian.campaign.scoring import standings
from gongjian.imports.excel import text_width
from gongjian.imports.exports import FILTERS_SHEET
from gongjian.periods import parse_period
from gongjian.towns.models import Town
from gongjian.water.models import Complaint, River
from gongjian.water.services import add_complaint
from tests.web.conftest import as_demo as sign_in_demo
from tests.web.conftest import audit_entries


def as_demo(client: TestClient, username: str) -> TestClient:
    """``client`` signed in afresh as the demo account ``username``."""
    client.cookies.clear()
    return sign_in_demo(client, username)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def city_db(city_app: FastAPI) -> Engine:
    engine: Engine = city_app.state.engine
    return engine


def _book(response: Any) -> Workbook:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    return load_workbook(io.BytesIO(response.content))


def _data(book: Workbook) -> tuple[list[str], list[list[Any]]]:
    """The data sheet's headers and rows, after checking the shape every export has."""
    sheet = book.worksheets[0]
    assert book.sheetnames[1] == FILTERS_SHEET
    assert sheet.freeze_panes == "A2"
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows():
        assert all(c.data_type != "f" for c in row)  # never a formula
    for index, header in enumerate(headers, start=1):  # fitted: the header shows whole
        letter = sheet.cell(row=1, column=index).column_letter
        assert sheet.column_dimensions[letter].width >= text_width(header)
    return headers, [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]


def _filters(book: Workbook) -> dict[str, Any]:
    sheet = book[FILTERS_SHEET]
    assert sheet.freeze_panes == "A2"
    return {row[0].value: row[1].value if len(row) > 1 else None for row in sheet.iter_rows()}


def test_batches_export_their_kind_with_units_and_neutralised_names(
    city_client: TestClient, city_db: Engine
) -> None:
    code = f"X{uuid.uuid4().hex[:6].upper()}"
    with Session(city_db) as session:
        add_batch(
            session,
            actor=Actor.system("test"),
            code=code,
            name="=HYPERLINK(1)",
            kind=BatchKind.concentrated_demolition,
            held_on=dt.date(2022, 6, 1),
        )
        session.commit()
        kinds = dict(session.execute(select(Batch.code, Batch.kind)).tuples().all())
    as_demo(city_client, "town-shiqi")  # batches are city-wide: every role reads them
    book = _book(city_client.get("/exports/batches", params={"kind": "concentrated_demolition"}))
    headers, rows = _data(book)
    assert "面积（亩）" in headers
    assert "总投资（万元）" in headers
    codes = {row[0] for row in rows}
    assert code in codes
    assert codes == {
        c for c, kind in kinds.items() if kind == BatchKind.concentrated_demolition.value
    }
    mine = next(row for row in rows if row[0] == code)
    assert mine[1] == "'=HYPERLINK(1)"
    filters = _filters(book)
    assert filters["批次类型"] == BatchKind.concentrated_demolition.label
    assert filters["记录数"] == str(len(rows))
    assert filters["导出人"].startswith("town-shiqi")
    assert book.worksheets[0].cell(row=rows.index(mine) + 2, column=2).data_type == "s"

    text = city_client.get(
        "/exports/batches", params={"format": "csv", "kind": "concentrated_demolition"}
    )
    assert text.status_code == 200
    records = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert records[0][0] == "批次编号"
    assert [code, "'=HYPERLINK(1)"] in [r[:2] for r in records[1:]]


def test_the_ranking_exports_the_period_and_campaign_the_page_shows(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "town-shiqi")  # a city summary: every role reads it
    page = city_client.get("/ranking", params={"period": "2023-01", "campaign": "water"})
    assert page.status_code == 200
    assert 'href="/exports/ranking?period=2023-01&amp;campaign=water"' in page.text
    book = _book(city_client.get("/exports/ranking?period=2023-01&campaign=water"))
    headers, rows = _data(book)
    assert "得分（分）" in headers
    assert "承诺完成率（%）" in headers
    with Session(city_db) as session:
        board, _ = standings(
            session,
            actor=Actor.system("test"),
            year=2023,
            campaign=Campaign.water,
            as_of=parse_period("2023-01").end,
        )
    assert [(r[0], r[1]) for r in rows] == [(row.rank, row.town.name) for row in board.rows]
    assert len(rows) == 23
    filters = _filters(book)
    assert filters["时段"] == "2023年1月"
    assert filters["排名"] == "治水"
    missing = city_client.get("/exports/ranking")
    assert missing.status_code == 422
    assert "请选择时段" in missing.text


def test_the_audit_log_exports_for_auditors_only_with_its_filters(
    city_client: TestClient, city_db: Engine
) -> None:
    marker = f"rec-{uuid.uuid4().hex[:8]}"
    with Session(city_db) as session:
        record(
            session,
            actor=Actor.system("test"),
            action="change",
            resource="project",
            record_id=marker,
            detail="=cmd|' /C calc'!A0",
        )
        session.commit()
    as_demo(city_client, "gaigeban")
    refused = city_client.get("/exports/audit")
    assert refused.status_code == 403
    assert audit_entries(city_db, resource="audit_entry", outcome="refused", actor="gaigeban")

    as_demo(city_client, "shenji")
    page = city_client.get("/audit", params={"record": marker})
    assert f'href="/exports/audit?record={marker}"' in page.text
    book = _book(city_client.get("/exports/audit", params={"record": marker, "page": "3"}))
    headers, rows = _data(book)
    assert headers[1] == "时间（中山时间）"
    assert len(rows) == 1
    assert rows[0][headers.index("记录编号")] == marker
    assert rows[0][headers.index("说明")] == "'=cmd|' /C calc'!A0"
    assert _filters(book)["记录编号"] == marker
    assert city_client.get("/exports/audit", params={"from": "soon"}).status_code == 422


def test_clusters_export_their_parcels_within_the_town_scope(
    city_client: TestClient, city_db: Engine
) -> None:
    as_demo(city_client, "gaigeban")
    page = city_client.get("/clusters", params={"gap_m": "50"})
    assert page.status_code == 200
    assert 'href="/exports/clusters?gap_m=50"' in page.text
    book = _book(city_client.get("/exports/clusters", params={"gap_m": "50"}))
    headers, rows = _data(book)
    assert "连片面积（亩）" in headers
    assert "地块面积（亩）" in headers
    assert rows
    assert _filters(book)["相邻间距（米）"] == "50"
    assert str(len({row[0] for row in rows})) == _filters(book)["连片数"]
    flagged = _book(city_client.get("/exports/clusters?gap_m=50&flagged=1"))
    _, only = _data(flagged)
    assert {row[2] for row in only} <= {"是"}

    as_demo(city_client, "town-shiqi")
    book = _book(city_client.get("/exports/clusters", params={"gap_m": "50"}))
    _, mine = _data(book)
    assert {row[headers.index("镇街")] for row in mine} <= {"石岐"}
    assert _filters(book)["镇街"] == "石岐"
    assert city_client.get("/exports/clusters", params={"town": "东区"}).status_code == 403
    assert city_client.get("/exports/clusters", params={"gap_m": "900"}).status_code == 422


def _complaint(engine: Engine, town: str, description: str) -> str:
    with Session(engine) as session:
        river_id = session.scalars(
            select(River.id)
            .join(Town, Town.id == River.lead_town_id)
            .where(Town.name == town)
            .order_by(River.id)
        ).first()
        complaint = add_complaint(
            session,
            actor=Actor.system("test"),
            river_id=river_id,
            category="black",
            description=description,
            complainant_name="张三",
            complainant_phone="138 0000 0000",
            received_at=dt.datetime(2023, 1, 15, 9, tzinfo=dt.UTC),
        )
        session.commit()
        return complaint.receipt_no


def test_complaints_show_personal_data_only_to_whom_may_see_it(
    city_client: TestClient, city_db: Engine
) -> None:
    ours = _complaint(city_db, "石岐", "@SUM(1)")
    theirs = _complaint(city_db, "东区", "河水发黑")
    params = {"category": "black", "from": "2023-01-15", "to": "2023-01-15"}

    as_demo(city_client, "gaigeban")
    headers, rows = _data(_book(city_client.get("/exports/complaints", params=params)))
    by_receipt = {row[0]: row for row in rows}
    assert {ours, theirs} <= set(by_receipt)
    assert by_receipt[ours][headers.index("问题描述")] == "'@SUM(1)"
    assert by_receipt[theirs][headers.index("投诉人姓名")] == "张三"
    with Session(city_db) as session:
        expected = session.scalar(
            select(func.count())
            .select_from(Complaint)
            .where(
                Complaint.category == "black",
                Complaint.received_at >= dt.datetime(2023, 1, 14, 16, tzinfo=dt.UTC),
                Complaint.received_at < dt.datetime(2023, 1, 15, 16, tzinfo=dt.UTC),
            )
        )
    assert len(rows) == expected

    as_demo(city_client, "town-shiqi")
    book = _book(city_client.get("/exports/complaints", params=params))
    _, rows = _data(book)
    assert ours in {row[0] for row in rows}
    assert theirs not in {row[0] for row in rows}
    assert {row[headers.index("所涉镇街")] for row in rows} == {"石岐"}
    assert next(r for r in rows if r[0] == ours)[headers.index("投诉人电话")] == "138 0000 0000"
    assert city_client.get("/exports/complaints", params={"town": "东区"}).status_code == 403

    as_demo(city_client, "shenji")  # the auditor reads complaints, not their personal data
    book = _book(city_client.get("/exports/complaints", params=params))
    headers, rows = _data(book)
    assert {row[headers.index("投诉人姓名")] for row in rows} == {None}
    assert "个人信息无权查看" in _filters(book)["注"]


@pytest.mark.parametrize(
    ("kind", "params", "unit", "town"),
    [
        ("projects", {"town": "石岐", "kind": "sewer"}, "污水管网（公里）", "镇街"),
        ("parcels", {"reached": "cleared"}, "面积（亩）", "镇街"),
        ("rivers", {"grade": "severe", "as_of": "2023-01-31"}, "长度（米）", "牵头镇街"),
        ("enterprises", {"signed": "1", "as_of": "2023-01-31"}, "（万元）", "镇街"),
    ],
)
def test_task_lists_put_the_filters_on_a_sheet_of_their_own(
    city_client: TestClient,
    city_db: Engine,
    kind: str,
    params: dict[str, str],
    unit: str,
    town: str,
) -> None:
    as_demo(city_client, "town-shiqi")
    book = _book(city_client.get(f"/exports/{kind}", params=params))
    assert book.sheetnames[1:] == [FILTERS_SHEET, "说明"]
    headers, rows = _data(book)
    assert any(unit in header for header in headers)
    assert {row[headers.index(town)] for row in rows} <= {"石岐"}
    filters = _filters(book)
    assert filters["镇街"] == "石岐"
    assert filters["记录数"] == str(len(rows))
    entry = audit_entries(city_db, action="export", record_id=kind)[-1]
    assert entry.actor == "town-shiqi"
    assert f"{len(rows)} 行" in (entry.detail or "")


def test_every_export_is_audited_with_its_filters(city_client: TestClient, city_db: Engine) -> None:
    as_demo(city_client, "gaigeban")
    response = city_client.get("/exports/batches", params={"kind": "concentrated_start"})
    assert response.status_code == 200
    entry = audit_entries(city_db, action="export", record_id="batches")[-1]
    assert entry.actor == "gaigeban"
    assert "集中开工" in (entry.after or "")
    assert '"rows"' in (entry.after or "")


def test_the_projects_export_takes_every_kind_the_list_takes(
    city_client: TestClient, city_db: Engine
) -> None:
    """The WWTP tile links ``/projects?kind=wwtp_new&kind=wwtp_expansion``: its export
    holds the projects of both kinds, as the list does."""
    from gongjian.campaign.choices import WWTP_KINDS
    from gongjian.campaign.models import Project

    as_demo(city_client, "gaigeban")
    query = "&".join(f"kind={kind.value}" for kind in WWTP_KINDS)
    answer = city_client.get(f"/exports/projects?{query}&format=csv")
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))[1:]
    with Session(city_db) as session:
        expected = session.scalar(
            select(func.count()).select_from(Project).where(Project.kind.in_(WWTP_KINDS))
        )
    assert expected
    assert len(rows) == expected
