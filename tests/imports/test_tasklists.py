"""Task lists (清单): templates with their headers, instructions and drop-downs; export
then import changes nothing; every bad cell listed and nothing written; towns import
their own rows only; changes audited with before and after; states and locks kept."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gongjian.audit.chain import verify
from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign.models import (
    Commitment,
    CommitmentTarget,
    Project,
    ProjectStateChange,
    project_parcels,
    project_rivers,
)
from gongjian.db import Base
from gongjian.errors import Forbidden, Invalid, NotFound
from gongjian.imports.excel import FileKind
from gongjian.imports.exports import export_list, write_template
from gongjian.imports.models import ImportRun
from gongjian.imports.tasklists import (
    LISTS,
    Indicator,
    TaskListImporter,
    TaskListResult,
    list_kind,
)
from gongjian.kpi.services import KPI_KEYS
from gongjian.renewal.models import Enterprise, Lease, Parcel, ParcelStateChange
from gongjian.towns.data import TOWNS
from gongjian.towns.models import Town
from gongjian.water.models import MonitoringPoint, River, RiverStateChange

CITY = Actor.system("test")
MODELS: dict[str, list[type[Base]]] = {
    "projects": [Project, ProjectStateChange],
    "parcels": [Parcel, ParcelStateChange],
    "rivers": [River, RiverStateChange],
    "points": [MonitoringPoint],
    "enterprises": [Enterprise],
    "leases": [Lease],
    "commitments": [Commitment, CommitmentTarget],
}


def run(
    session: Session,
    kind: str,
    path: Path,
    *,
    actor: Actor = CITY,
    dry_run: bool = False,
) -> TaskListResult:
    return list_kind(kind)(session, actor=actor).run_file(path, dry_run=dry_run)


def export(
    session: Session, kind: str, path: Path, *, actor: Actor = CITY, town: str | None = None
) -> Path:
    fmt = FileKind.csv if path.suffix == ".csv" else FileKind.xlsx
    with path.open("wb") as handle:
        export_list(session, actor=actor, name=kind, target=handle, kind=fmt, town=town)
    return path


def template(kind: str, path: Path, rows: list[list[Any]]) -> Path:
    """The template of ``kind`` with ``rows`` below the header (``"=…"`` texts stored as
    text, as Excel stores a text typed after an apostrophe)."""
    write_template(kind, path)
    book = load_workbook(path)
    sheet = book[list_kind(kind).sheet]
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    book.save(path)
    return path


def project_row(code: str, **values: Any) -> list[Any]:
    """A row of the project list (fields by name; the rest empty)."""
    defaults = {"code": code, "name": f"项目{code}", "kind": "污水管网", "town": "石岐"}
    fields = {**defaults, **values}
    return [fields.get(column.field) for column in list_kind("projects").columns]


def snapshot(session: Session, models: list[type[Base]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables of ``models``, as tuples, in id order."""
    session.expire_all()
    found = {}
    for model in models:
        table = model.__table__
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        found[table.name] = [tuple(row) for row in rows]
    return found


def count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def audit_count(session: Session) -> int:
    return count(session, AuditEntry)


def town(session: Session, name: str) -> Town:
    return session.scalars(select(Town).where(Town.name == name)).one()


# --- templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(LISTS))
def test_a_template_has_headers_instructions_and_dropdowns(kind: str, tmp_path: Path) -> None:
    importer = list_kind(kind)
    path = tmp_path / f"{kind}.xlsx"
    write_template(kind, path)
    book = load_workbook(path)
    assert book.sheetnames == [importer.sheet, "说明"]
    sheet = book[importer.sheet]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [column.header for column in importer.columns]
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 1
    lists = {
        str(v.sqref).split(":")[0][:-1]: v.formula1.strip('"').split(",")
        for v in sheet.data_validations.dataValidation
    }
    for index, column in enumerate(importer.columns):
        letter = sheet.cell(row=1, column=index + 1).column_letter
        if column.form.value == "town":
            assert lists[letter] == [seed.name for seed in TOWNS]
            assert len(lists[letter]) == 23
        elif column.choice is not None:
            assert lists[letter] == [member.label for member in column.choice]
    notes = book["说明"]
    text = "\n".join(str(c.value) for row in notes.iter_rows() for c in row if c.value)
    assert importer.key_note in text
    assert "再次导入" in text
    described = {row[0].value: [c.value for c in row] for row in notes.iter_rows() if row[0].value}
    for column in importer.columns:
        assert column.header in described
        assert described[column.header][2] == ("必填" if column.required else "选填")


def test_headers_carry_their_units() -> None:
    headers = {c.header for kind in LISTS.values() for c in kind.columns}
    assert {"面积（亩）", "预算（万元）", "污水管网（公里）", "长度（米）"} <= headers


def test_indicators_are_the_kpi_keys() -> None:
    assert Indicator.values() == list(KPI_KEYS)


def test_an_unknown_kind_names_the_kinds() -> None:
    with pytest.raises(NotFound) as refused:
        list_kind("boats")
    assert "projects" in refused.value.message


# --- export, then import ----------------------------------------------------------------


def _awkward_texts(session: Session) -> None:
    """Texts a spreadsheet would take for formulas, and a negative number, in the demo."""
    project = session.scalars(select(Project).order_by(Project.code)).first()
    assert project is not None
    project.name, project.owner = '=HYPERLINK("http://example.com")', "-城建公司"
    project.audit_findings = "+86 760 1234"
    enterprise = session.scalars(select(Enterprise).order_by(Enterprise.code)).first()
    assert enterprise is not None
    enterprise.industry = "@装备制造"
    lease = session.scalars(select(Lease).order_by(Lease.code)).first()
    assert lease is not None
    lease.lessee = "=cmd|' /C calc'!A0"
    lease.building = "'=已加引号"
    point = session.scalars(select(MonitoringPoint).order_by(MonitoringPoint.code)).first()
    assert point is not None
    point.lon, point.name = Decimal("-113.123456"), "-1号点"
    river = session.scalars(select(River).order_by(River.code)).first()
    assert river is not None
    river.name = "\t=河"
    session.flush()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("kind", sorted(LISTS))
def test_export_then_import_changes_nothing(
    demo_session: Session, tmp_path: Path, kind: str, fmt: str
) -> None:
    _awkward_texts(demo_session)
    path = export(demo_session, kind, tmp_path / f"{kind}.{fmt}")
    before = snapshot(demo_session, MODELS[kind])
    entries, runs = audit_count(demo_session), count(demo_session, ImportRun)
    result = run(demo_session, kind, path)
    assert result.rows > 0
    assert (result.added, result.updated, result.unchanged) == (0, 0, result.rows)
    assert result.import_id is None
    assert snapshot(demo_session, MODELS[kind]) == before
    assert (audit_count(demo_session), count(demo_session, ImportRun)) == (entries, runs)


def test_exported_formula_texts_open_as_text(demo_session: Session, tmp_path: Path) -> None:
    _awkward_texts(demo_session)
    path = export(demo_session, "projects", tmp_path / "projects.xlsx")
    sheet = load_workbook(path)["项目清单"]
    name, owner, findings = sheet["B2"], sheet["H2"], sheet["V2"]
    assert (name.value, name.data_type) == ('\'=HYPERLINK("http://example.com")', "s")
    assert (owner.value, owner.data_type) == ("'-城建公司", "s")
    assert findings.value == "'+86 760 1234"
    budget = sheet["M2"]
    assert budget.data_type == "n"
    points = load_workbook(export(demo_session, "points", tmp_path / "points.xlsx"))["检测点清单"]
    assert (points["E2"].value, points["E2"].data_type) == (-113.123456, "n")
    csv = export(demo_session, "leases", tmp_path / "leases.csv").read_text("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in csv
    assert "''=已加引号" in csv


def test_an_export_of_one_town(demo_session: Session, tmp_path: Path) -> None:
    path = export(demo_session, "projects", tmp_path / "p.xlsx", town="石岐")
    sheet = load_workbook(path)["项目清单"]
    towns = {row[4] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert towns == {"石岐"}


# --- importing ---------------------------------------------------------------------------


def test_new_projects_are_added_with_their_links_state_and_import(
    session: Session, tmp_path: Path
) -> None:
    shiqi = town(session, "石岐")
    river = River(code="R-1", name="一河", lead_town_id=shiqi.id, length_m=Decimal(900))
    session.add(river)
    session.flush()
    path = template(
        "projects",
        tmp_path / "p.xlsx",
        [
            project_row(
                "P-1",
                kind="sewer",
                town=shiqi.code,
                state="已开工",
                state_on=dt.date(2023, 1, 5),
                budget_wan=1234.5,
                sewer_km="3.125",
                rivers="R-1",
                name="=SUM(1)",
            ),
            project_row("P-2", kind="拆除整理", campaign="工改", town="东区", area_mu=12.5),
        ],
    )
    entries = audit_count(session)
    result = run(session, "projects", path)
    assert (result.rows, result.added, result.updated) == (2, 2, 0)
    first = session.scalars(select(Project).where(Project.code == "P-1")).one()
    assert (first.name, first.kind, first.campaign, first.state) == (
        "=SUM(1)",
        "sewer",
        "water",
        "started",
    )
    assert (first.budget_wan, first.sewer_km) == (Decimal("1234.50"), Decimal("3.125"))
    assert first.import_id == result.import_id
    history = session.scalars(
        select(ProjectStateChange).where(ProjectStateChange.project_id == first.id)
    ).all()
    assert [(h.to_state, h.changed_on) for h in history] == [("started", dt.date(2023, 1, 5))]
    links = session.execute(select(project_rivers.c.river_id)).scalars().all()
    assert links == [river.id]
    run_row = session.get(ImportRun, result.import_id)
    assert run_row is not None
    assert (run_row.filename, run_row.actor, run_row.rows) == ("p.xlsx", "test", 2)
    added = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "project").order_by(AuditEntry.seq)
    ).all()
    assert [e.action for e in added[-3:]] == ["import", "add", "add"]
    assert audit_count(session) == entries + 3
    assert json.loads(added[-2].after or "{}")["rivers"] == ["R-1"]
    assert verify(session).ok


def test_a_changed_row_is_updated_and_audited_with_before_and_after(
    session: Session, tmp_path: Path
) -> None:
    rows = [project_row("U-1", budget_wan=100), project_row("U-2", budget_wan=200)]
    first = run(session, "projects", template("projects", tmp_path / "a.xlsx", rows))
    rows[1] = project_row("U-2", budget_wan=250, owner="-城建")
    second_path = template("projects", tmp_path / "b.xlsx", rows)
    dry = run(session, "projects", second_path, dry_run=True)
    assert (dry.added, dry.updated, dry.unchanged, dry.import_id) == (0, 1, 1, None)
    assert dry.changes[0].columns == ("责任单位", "预算（万元）")
    second = run(session, "projects", second_path)
    assert (second.added, second.updated, second.unchanged) == (0, 1, 1)
    stored = {p.code: p for p in session.scalars(select(Project).where(Project.code.like("U-%")))}
    assert (stored["U-2"].budget_wan, stored["U-2"].owner) == (Decimal("250.00"), "-城建")
    assert stored["U-2"].import_id == second.import_id
    assert stored["U-1"].import_id == first.import_id
    change = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "change", AuditEntry.record_id == "U-2")
    ).one()
    assert json.loads(change.before or "{}") == {"budget_wan": "200.00", "owner": None}
    assert json.loads(change.after or "{}") == {"budget_wan": "250.00", "owner": "-城建"}
    assert change.town_id == town(session, "石岐").id
    again = run(session, "projects", second_path)
    assert (again.updated, again.unchanged, again.import_id) == (0, 2, None)
    assert verify(session).ok


def _bad_projects(path: Path) -> Path:
    """A project list with a bad cell of every kind, an extra and a missing column."""
    write_template("projects", path)
    book = load_workbook(path)
    sheet = book["项目清单"]
    sheet.delete_cols(21)  # 审计介入日期: a missing column
    sheet.cell(row=1, column=sheet.max_column + 1, value="备注")  # an extra column
    rows = [
        project_row("B-1", budget_wan="很多"),  # wrong type, row 2
        project_row("B-2", town="火星镇"),  # unknown town, row 3
        project_row("B-3", area_mu=-5),  # negative area, row 4
        project_row("B-4", planned_start_on="2023-13-45"),  # not a date, row 5
        project_row("B-5"),  # row 6
        project_row("B-5"),  # duplicate code, row 7
        project_row("B-6", budget_wan="=1+1"),  # formula, row 8
        project_row("B-7", name=None),  # empty required cell, row 9
        project_row("B-8", kind="飞船"),  # unknown kind, row 10
        project_row("B-9", state="爆炸"),  # unknown state, row 11
        project_row("B-10", sewer_km=Decimal("1.23456")),  # too many places, row 12
    ]
    for row in rows:
        del row[20]
        sheet.append(row)
    book.save(path)
    return path


def test_bad_cells_are_all_listed_and_nothing_is_written(session: Session, tmp_path: Path) -> None:
    path = _bad_projects(tmp_path / "bad.xlsx")
    before = snapshot(session, MODELS["projects"])
    entries = audit_count(session)
    for dry_run in (True, False):
        with pytest.raises(Invalid) as refused:
            run(session, "projects", path, dry_run=dry_run)
        where = {(p.row, p.column): p for p in refused.value.problems}
        expected = {
            (1, "审计介入日期"): "缺少列",
            (1, "备注"): "多出的列",
            (2, "预算（万元）"): "应为数值",
            (3, "镇街"): "镇街不存在",
            (4, "面积（亩）"): "不能为负数",
            (5, "计划开工日期"): "不是日期",
            (7, "项目编号"): "与第 6 行重复",
            (8, "预算（万元）"): "公式",
            (9, "项目名称"): "必填",
            (10, "项目类型"): "不是有效取值",
            (11, "状态"): "不是有效取值",
            (12, "污水管网（公里）"): "最多 3 位小数",
        }
        for key, reason in expected.items():
            assert key in where, (key, refused.value.problems)
            assert reason in where[key].reason
            assert where[key].file == "[bad.xlsx]项目清单"
        assert where[(3, "镇街")].value == "火星镇"
        assert where[(8, "预算（万元）")].value == "=1+1"
        assert "12 处问题" in refused.value.message or "处问题" in refused.value.message
    assert snapshot(session, MODELS["projects"]) == before
    assert audit_count(session) == entries


def test_a_renamed_data_sheet_is_refused(session: Session, tmp_path: Path) -> None:
    path = template("rivers", tmp_path / "r.xlsx", [["R-9", "九河", "石岐", 900]])
    book = load_workbook(path)
    book["河涌清单"].title = "Sheet1"
    book.save(path)
    with pytest.raises(Invalid) as refused:
        run(session, "rivers", path)
    assert "找不到数据表“河涌清单”" in refused.value.problems[0].reason


def test_a_csv_in_gbk_with_identifiers_is_read(session: Session, tmp_path: Path) -> None:
    headers = [c.header for c in list_kind("rivers").columns]
    path = tmp_path / "rivers.csv"
    path.write_bytes(
        (",".join(headers) + "\nR-G,国标河,442000001,1200.5,entered,2022-03-01\n").encode("gbk")
    )
    result = run(session, "rivers", path)
    assert result.added == 1
    river = session.scalars(select(River).where(River.code == "R-G")).one()
    assert (river.remediation_state, river.length_m) == ("entered", Decimal("1200.5"))
    days = session.scalars(
        select(RiverStateChange.changed_on).where(RiverStateChange.river_id == river.id)
    ).all()
    assert days == [dt.date(2022, 3, 1)]


def test_the_state_of_a_stored_record_does_not_change_by_import(
    session: Session, tmp_path: Path
) -> None:
    run(
        session, "rivers", template("rivers", tmp_path / "a.xlsx", [["R-S", "状态河", "石岐", 900]])
    )
    river = session.scalars(select(River).where(River.code == "R-S")).one()
    assert river.remediation_state == "listed"
    moved = template("rivers", tmp_path / "b.xlsx", [["R-S", "状态河", "石岐", 900, "进场"]])
    with pytest.raises(Invalid) as refused:
        run(session, "rivers", moved)
    assert "状态不能通过导入修改" in refused.value.problems[0].reason
    assert refused.value.problems[0].column == "整治状态"
    evaluated = template("rivers", tmp_path / "c.xlsx", [["R-E", "新河", "石岐", 900, "评估通过"]])
    with pytest.raises(Invalid) as refused:
        run(session, "rivers", evaluated)
    assert "监测证据" in refused.value.problems[0].reason


def test_a_town_user_may_not_import_another_towns_rows(session: Session, tmp_path: Path) -> None:
    shiqi = town(session, "石岐")
    operator = Actor(username="town-shiqi", role=Role.town, town_id=shiqi.id)
    mixed = template(
        "projects",
        tmp_path / "mixed.xlsx",
        [project_row("T-2"), project_row("T-3", town="东区"), project_row("T-4", town="南区")],
    )
    entries = audit_count(session)
    with pytest.raises(Forbidden) as refused:
        run(session, "projects", mixed, actor=operator)
    assert "第 3 行" in refused.value.message
    assert "第 4 行" in refused.value.message
    assert "第 2 行" not in refused.value.message
    assert count(session, Project) == 0
    logged = session.scalars(
        select(AuditEntry).where(AuditEntry.outcome == "refused", AuditEntry.actor == "town-shiqi")
    ).one()
    assert "第 3 行" in (logged.detail or "")
    assert audit_count(session) == entries + 1
    own = template("projects", tmp_path / "own.xlsx", [project_row("T-1")])
    assert run(session, "projects", own, actor=operator).added == 1
    moved = template("projects", tmp_path / "moved.xlsx", [project_row("T-1", town="东区")])
    with pytest.raises(Forbidden):
        run(session, "projects", moved, actor=operator)
    accepted = template("projects", tmp_path / "acc.xlsx", [project_row("T-5", state="已验收")])
    with pytest.raises(Forbidden) as refused:
        run(session, "projects", accepted, actor=operator)
    assert "市攻坚办" in refused.value.message


def test_a_town_user_may_not_change_another_towns_record(session: Session, tmp_path: Path) -> None:
    run(
        session,
        "projects",
        template("projects", tmp_path / "a.xlsx", [project_row("O-1", town="东区")]),
    )
    shiqi = Actor(username="town-shiqi", role=Role.town, town_id=town(session, "石岐").id)
    taken = template("projects", tmp_path / "b.xlsx", [project_row("O-1", town="石岐")])
    with pytest.raises(Forbidden) as refused:
        run(session, "projects", taken, actor=shiqi)
    assert "第 2 行（属于东区）" in refused.value.message


def test_an_auditor_may_not_import(session: Session, tmp_path: Path) -> None:
    auditor = Actor(username="audit", role=Role.auditor)
    path = template("projects", tmp_path / "p.xlsx", [project_row("A-1")])
    with pytest.raises(Forbidden):
        run(session, "projects", path, actor=auditor)


def _parcel(session: Session, code: str, town_name: str = "石岐", area: str = "10") -> Parcel:
    parcel = Parcel(
        code=code,
        town_id=town(session, town_name).id,
        area_mu=Decimal(area),
        renewal_state="identified",
    )
    session.add(parcel)
    session.flush()
    return parcel


def test_parcels_are_checked_as_new_parcels_are(session: Session, tmp_path: Path) -> None:
    path = template(
        "parcels",
        tmp_path / "p.xlsx",
        [
            ["L-1", "一号", "石岐", None, None, 12.5, "国有", "某村", "拆除整理完成", "2022-05-01"],
            ["L-2", None, "东区", "NO-PARK", None, 3, None, None, None, None],
            ["L-3", None, "东区", None, None, 0, None, None, None, None],
        ],
    )
    with pytest.raises(Invalid) as refused:
        run(session, "parcels", path)
    where = {(p.row, p.column) for p in refused.value.problems}
    assert where == {(3, "所属工业园（编号）"), (4, "面积（亩）")}
    book = load_workbook(path)
    book["地块清单"].delete_rows(3, 2)
    book.save(path)
    assert run(session, "parcels", path).added == 1
    parcel = session.scalars(select(Parcel).where(Parcel.code == "L-1")).one()
    assert (parcel.renewal_state, parcel.ownership, parcel.area_mu) == (
        "cleared",
        "state",
        Decimal("12.50"),
    )
    history = session.scalars(
        select(ParcelStateChange).where(ParcelStateChange.parcel_id == parcel.id)
    ).all()
    assert [(h.to_state, h.changed_on) for h in history] == [("cleared", dt.date(2022, 5, 1))]


def test_a_drawn_parcel_keeps_its_area(session: Session, tmp_path: Path) -> None:
    parcel = _parcel(session, "G-1")
    parcel.geometry = {
        "type": "Polygon",
        "coordinates": [[[113, 22], [113.1, 22], [113, 22.1], [113, 22]]],
    }
    session.flush()
    path = template("parcels", tmp_path / "g.xlsx", [["G-1", None, "石岐", None, None, 11]])
    with pytest.raises(Invalid) as refused:
        run(session, "parcels", path)
    assert "几何图形" in refused.value.problems[0].reason


def test_points_belong_to_their_rivers_town(session: Session, tmp_path: Path) -> None:
    river = River(
        code="PR-1", name="点河", lead_town_id=town(session, "东区").id, length_m=Decimal(800)
    )
    session.add(river)
    session.flush()
    path = template("points", tmp_path / "p.xlsx", [["PT-1", "PR-1", "一号点", 100, -0.5, 22.5]])
    result = run(session, "points", path)
    assert result.added == 1
    point = session.scalars(select(MonitoringPoint).where(MonitoringPoint.code == "PT-1")).one()
    assert (point.river_id, point.lon, point.chainage_m) == (
        river.id,
        Decimal("-0.500000"),
        Decimal("100.0"),
    )
    missing = template("points", tmp_path / "m.xlsx", [["PT-2", "NO-RIVER", None, 1]])
    with pytest.raises(Invalid) as refused:
        run(session, "points", missing)
    assert "NO-RIVER" in refused.value.problems[0].reason
    shiqi = Actor(username="town-shiqi", role=Role.town, town_id=town(session, "石岐").id)
    with pytest.raises(Forbidden):
        run(session, "points", path, actor=shiqi)


def test_enterprises_follow_their_parcel(session: Session, tmp_path: Path) -> None:
    _parcel(session, "EP-1", "南区")
    path = template(
        "enterprises",
        tmp_path / "e.xlsx",
        [
            ["E-1", "甲企业", "新招引企业", None, "EP-1", None, "装备", "2022-06-01", 5000],
            ["E-2", "乙企业", "expansion", "石岐", "EP-1", None, None, None, 10],
            ["E-3", "丙企业", "新招引企业", None, None, None, None, "2999-01-01", -1],
        ],
    )
    with pytest.raises(Invalid) as refused:
        run(session, "enterprises", path)
    where = {(p.row, p.column) for p in refused.value.problems}
    assert where == {(3, "镇街"), (4, "镇街"), (4, "协议签订日期"), (4, "协议投资额（万元）")}
    book = load_workbook(path)
    book["企业清单"].delete_rows(3, 2)
    book.save(path)
    run(session, "enterprises", path)
    enterprise = session.scalars(select(Enterprise).where(Enterprise.code == "E-1")).one()
    assert enterprise.town_id == town(session, "南区").id
    assert enterprise.investment_wan == Decimal("5000.00")


def test_subleases_may_name_parents_in_the_same_file(session: Session, tmp_path: Path) -> None:
    _parcel(session, "LP-1")
    _parcel(session, "LP-2")
    rows = [
        ["SL-2", None, None, "SL-1", "二房东", "租户", None, 50, 30, "2022-02-01", None],
        [
            "SL-1",
            "LP-1",
            "石岐",
            None,
            "村集体",
            "二房东",
            "1号楼",
            100,
            12,
            "2022-01-01",
            "2032-12-31",
        ],
    ]
    path = template("leases", tmp_path / "l.xlsx", rows)
    result = run(session, "leases", path)
    assert result.added == 2
    leases = {lease.code: lease for lease in session.scalars(select(Lease))}
    assert leases["SL-2"].parent_lease_id == leases["SL-1"].id
    assert leases["SL-2"].parcel_id == leases["SL-1"].parcel_id
    assert run(session, "leases", export(session, "leases", tmp_path / "e.xlsx")).updated == 0
    bad = template(
        "leases",
        tmp_path / "bad.xlsx",
        [
            [
                "SL-3",
                "LP-2",
                None,
                "SL-1",
                "二房东",
                "租户",
                None,
                500,
                30,
                "2022-02-01",
                "2021-01-01",
            ],
            [
                "SL-1",
                "LP-1",
                None,
                "SL-2",
                "村集体",
                "二房东",
                "1号楼",
                100,
                12,
                "2022-01-01",
                None,
            ],
        ],
    )
    with pytest.raises(Invalid) as refused:
        run(session, "leases", bad)
    reasons = {(p.row, p.column): p.reason for p in refused.value.problems}
    assert "同一地块" in reasons[(2, "地块（编号）")]
    assert "超过上级租赁" in reasons[(2, "租赁面积（平方米）")]
    assert "不能早于起租日期" in reasons[(2, "到期日期")]
    assert "循环" in reasons[(3, "上级租赁（编号）")]


def _commitments(session: Session, tmp_path: Path) -> Path:
    return template(
        "commitments",
        tmp_path / "c.xlsx",
        [
            ["石岐", 2023, "治水", "新建污水管网（公里）", 12.5, "2023-01-15"],
            ["石岐", 2023, "water", "water.rivers_entered", 4, "2023-01-15"],
            ["石岐", 2023, "工改", "拆除整理面积（亩）", 300, None],
        ],
    )


def test_commitments_are_keyed_by_town_year_campaign_and_indicator(
    session: Session, tmp_path: Path
) -> None:
    path = _commitments(session, tmp_path)
    result = run(session, "commitments", path)
    assert (result.added, result.rows) == (3, 3)
    letters = session.scalars(select(Commitment).order_by(Commitment.campaign)).all()
    assert [(c.campaign, c.signed_on) for c in letters] == [
        ("renewal", None),
        ("water", dt.date(2023, 1, 15)),
    ]
    assert all(letter.import_id == result.import_id for letter in letters)
    targets = {t.indicator: t.target for t in session.scalars(select(CommitmentTarget))}
    assert targets == {
        "water.sewer_km": Decimal("12.50"),
        "water.rivers_entered": Decimal("4.00"),
        "renewal.cleared_mu": Decimal("300.00"),
    }
    assert run(session, "commitments", path).import_id is None
    wrong = template(
        "commitments",
        tmp_path / "w.xlsx",
        [
            ["石岐", 2023, "工改", "新建污水管网（公里）", 1, None],
            ["东区", 2023, "治水", "water.sewer_km", 1, "2023-01-02"],
            ["东区", 2023, "治水", "water.rivers_entered", 1, "2023-01-03"],
            ["东区", 2023, "治水", "water.sewer_km", 2, "2023-01-02"],
        ],
    )
    with pytest.raises(Invalid) as refused:
        run(session, "commitments", wrong)
    where = {(p.row, p.column): p.reason for p in refused.value.problems}
    assert "不属于工改" in where[(2, "指标")]
    assert "签订日期须一致" in where[(4, "签订日期")]
    assert "与第 3 行重复" in where[(5, "指标")]


def test_a_locked_commitment_refuses_changes(session: Session, tmp_path: Path) -> None:
    path = _commitments(session, tmp_path)
    run(session, "commitments", path)
    session.execute(
        update(Commitment)
        .where(Commitment.campaign == "water")
        .values(approved_by="zhishuiban", approved_at=dt.datetime(2023, 2, 1, tzinfo=dt.UTC))
    )
    assert run(session, "commitments", path).import_id is None
    changed = template(
        "commitments",
        tmp_path / "changed.xlsx",
        [
            ["石岐", 2023, "治水", "新建污水管网（公里）", 15, "2023-01-15"],
            ["石岐", 2023, "治水", "water.rivers_completed", 2, "2023-01-15"],
            ["石岐", 2023, "工改", "拆除整理面积（亩）", 350, None],
        ],
    )
    with pytest.raises(Invalid) as refused:
        run(session, "commitments", changed)
    locked = [(p.row, p.column) for p in refused.value.problems]
    assert locked == [(2, "目标值（指标单位）"), (3, "目标值（指标单位）")]
    assert all("锁定" in p.reason for p in refused.value.problems)
    book = load_workbook(changed)
    book["承诺书清单"].delete_rows(2, 2)
    book.save(changed)
    result = run(session, "commitments", changed)
    assert result.updated == 1
    target = session.scalars(
        select(CommitmentTarget).where(CommitmentTarget.indicator == "renewal.cleared_mu")
    ).one()
    assert target.target == Decimal("350.00")
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "commitment", AuditEntry.action == "change")
    ).one()
    assert json.loads(audit.before or "{}") == {"target": "300.00"}
    assert audit.record_id == f"{town(session, '石岐').code}/2023/renewal/renewal.cleared_mu"


def test_links_of_a_project_are_replaced_by_the_list(session: Session, tmp_path: Path) -> None:
    _parcel(session, "PP-1")
    _parcel(session, "PP-2")
    run(
        session,
        "projects",
        template("projects", tmp_path / "a.xlsx", [project_row("K-1", parcels="PP-1、PP-2")]),
    )
    result = run(
        session,
        "projects",
        template("projects", tmp_path / "b.xlsx", [project_row("K-1", parcels="PP-2")]),
    )
    assert result.changes[0].columns == ("关联地块（编号）",)
    codes = (
        session.execute(
            select(Parcel.code).join(project_parcels, project_parcels.c.parcel_id == Parcel.id)
        )
        .scalars()
        .all()
    )
    assert codes == ["PP-2"]


def test_an_empty_or_headerless_sheet_is_refused(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    write_template("rivers", path)
    book = load_workbook(path)
    book["河涌清单"].delete_rows(1)
    book.save(path)
    with pytest.raises(Invalid) as refused:
        run(session, "rivers", path)
    assert "空的" in refused.value.problems[0].reason


def test_an_import_of_only_the_header_writes_nothing(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_template("enterprises", path)
    result = run(session, "enterprises", path)
    assert (result.rows, result.import_id) == (0, None)


def test_every_list_is_a_plugin() -> None:
    for kind, importer in LISTS.items():
        assert issubclass(importer, TaskListImporter)
        assert importer.kind == kind
        assert len({c.header for c in importer.columns}) == len(importer.columns)


def test_export_xlsx_to_memory(session: Session) -> None:
    buffer = io.BytesIO()
    assert export_list(session, actor=CITY, name="rivers", target=buffer) == 0
    assert buffer.getvalue().startswith(b"PK\x03\x04")
