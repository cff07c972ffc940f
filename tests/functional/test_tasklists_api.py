"""Task lists over HTTP and on the command line: templates and exports downloaded, lists
uploaded (multipart) and imported all or nothing, limits and real content types enforced
before anything is parsed, towns refused other towns' rows."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.auth.services import add_user
from gongjian.campaign.models import Project
from gongjian.config import get_settings
from gongjian.geo.crs import wgs84_to_gcj02
from gongjian.imports.excel import MB
from gongjian.imports.exports import write_template
from gongjian.imports.tasklists import list_kind
from gongjian.renewal.models import Parcel
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory
from tests.functional.test_cli import gongjian

CITY = ("city-op", "city-password-1")
TOWN = ("town-op", "town-password-1")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def api_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of its own (the tests commit): the towns, a city and a 石岐 user."""
    engine = databases.new("tasklists_api")
    with Session(engine) as session:
        system = Actor.system("test")
        add_user(session, actor=system, username=CITY[0], password=CITY[1], role=Role.city)
        add_user(
            session, actor=system, username=TOWN[0], password=TOWN[1], role=Role.town, town="石岐"
        )
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine)) as test_client:
        yield test_client


def projects(engine: Engine, prefix: str) -> dict[str, Project]:
    with Session(engine) as session:
        found = session.scalars(select(Project).where(Project.code.like(f"{prefix}%"))).all()
        return {p.code: p for p in found}


def project_list(rows: list[dict[str, Any]], kind: str = "projects") -> bytes:
    """A project list (or a list of ``kind``) from the template, with ``rows`` (fields
    by name)."""
    empty = io.BytesIO()
    write_template(kind, empty)
    book = load_workbook(io.BytesIO(empty.getvalue()))
    sheet = book[list_kind(kind).sheet]
    for row in rows:
        sheet.append([row.get(c.field) for c in list_kind(kind).columns])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # a text, as Excel keeps one typed after an apostrophe
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(
    client: TestClient,
    kind: str,
    content: bytes,
    *,
    name: str = "清单.xlsx",
    auth: tuple[str, str] = CITY,
    dry_run: bool = False,
    crs: str | None = None,
) -> Any:
    return client.post(
        f"/api/v1/imports/{kind}",
        params={"dry_run": str(dry_run).lower(), **({"crs": crs} if crs else {})},
        files={"file": (name, content, XLSX)},
        auth=auth,
    )


def test_a_template_downloads_with_its_headers(client: TestClient) -> None:
    response = client.get("/api/v1/templates/rivers.xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["河涌清单", "说明"]
    headers = [c.value for c in book["河涌清单"][1]]
    assert headers == ["河涌编号", "河涌名称", "牵头镇街", "长度（米）", "整治状态", "状态日期"]
    assert client.get("/api/v1/templates/boats.xlsx").status_code == 404


def test_a_list_is_uploaded_dry_run_then_imported(client: TestClient, api_engine: Engine) -> None:
    content = project_list(
        [
            {"code": "API-1", "name": "一号", "kind": "污水管网", "town": "石岐", "sewer_km": 1.5},
            {"code": "API-2", "name": "=二号", "kind": "dredging", "town": "东区"},
        ]
    )
    dry = upload(client, "projects", content, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert (dry.json()["added"], dry.json()["import_id"]) == (2, None)
    assert projects(api_engine, "API-") == {}
    done = upload(client, "projects", content, name="项目清单.xlsx")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["kind"], body["added"], body["updated"], body["filename"]) == (
        "projects",
        2,
        0,
        "项目清单.xlsx",
    )
    stored = projects(api_engine, "API-")
    assert stored["API-2"].name == "=二号"
    assert stored["API-1"].import_id == body["import_id"]
    again = upload(client, "projects", content)
    assert (again.json()["unchanged"], again.json()["import_id"]) == (2, None)


def test_an_export_downloads_and_imports_back_unchanged(
    client: TestClient, api_engine: Engine
) -> None:
    upload(
        client,
        "projects",
        project_list([{"code": "EXP-1", "name": "-负号", "kind": "sewer", "town": "石岐"}]),
    )
    xlsx = client.get("/api/v1/exports/projects.xlsx", params={"town": "石岐"}, auth=CITY)
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content))["项目清单"]
    names = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert (names["EXP-1"].value, names["EXP-1"].data_type) == ("'-负号", "s")
    csv = client.get("/api/v1/exports/projects.csv", auth=TOWN)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    assert "'-负号" in csv.content.decode("utf-8-sig")
    with Session(api_engine) as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    for name, content in (("p.xlsx", xlsx.content), ("p.csv", csv.content)):
        back = upload(client, "projects", content, name=name)
        assert back.status_code == 200, back.text
        assert (back.json()["added"], back.json()["updated"]) == (0, 0)
    with Session(api_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries
    assert client.get("/api/v1/exports/projects.xlsx").status_code == 403


def test_bad_cells_are_listed_with_sheet_row_and_column(client: TestClient) -> None:
    content = project_list(
        [
            {"code": "BAD-1", "name": "一", "kind": "污水管网", "town": "火星镇"},
            {"code": "BAD-2", "name": "二", "kind": "污水管网", "town": "石岐", "area_mu": -1},
        ]
    )
    response = upload(client, "projects", content, name="bad.xlsx")
    assert response.status_code == 422
    problems = {(p["row"], p["column"]): p for p in response.json()["problems"]}
    assert problems[(2, "镇街")]["file"] == "[bad.xlsx]项目清单"
    assert problems[(2, "镇街")]["value"] == "火星镇"
    assert "不能为负数" in problems[(3, "面积（亩）")]["reason"]


def test_a_town_user_uploading_another_towns_rows_is_refused(
    client: TestClient, api_engine: Engine
) -> None:
    content = project_list(
        [
            {"code": "TWN-1", "name": "一", "kind": "污水管网", "town": "石岐"},
            {"code": "TWN-2", "name": "二", "kind": "污水管网", "town": "东区"},
        ]
    )
    response = upload(client, "projects", content, auth=TOWN)
    assert response.status_code == 403
    assert "第 3 行" in response.json()["message"]
    assert projects(api_engine, "TWN-") == {}
    own = project_list([{"code": "TWN-1", "name": "一", "kind": "污水管网", "town": "石岐"}])
    assert upload(client, "projects", own, auth=TOWN).json()["added"] == 1
    assert upload(client, "projects", own, auth=None).status_code == 403  # type: ignore[arg-type]


def test_an_oversized_upload_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "upload_max_mb", Decimal("0.05"))
    response = upload(client, "projects", bytes(200 * 1024), name="big.xlsx")
    assert response.status_code == 413
    assert "upload_max_mb" in response.json()["problems"][0]["reason"]


def test_a_renamed_program_is_refused(client: TestClient) -> None:
    response = upload(client, "projects", b"MZ\x90\x00" + bytes(500), name="清单.xlsx")
    assert response.status_code == 415
    assert response.json()["problems"][0]["file"] == "清单.xlsx"
    text = upload(client, "projects", "项目编号\nA\n".encode(), name="清单.xlsx")
    assert text.status_code == 415
    raw = client.post("/api/v1/imports/projects", content=b"abc", auth=CITY)
    assert raw.status_code == 415


def test_a_zip_bomb_upload_is_refused(client: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(30):
                member.write(bytes(MB))
    response = upload(client, "projects", buffer.getvalue(), name="bomb.xlsx")
    assert response.status_code == 413
    assert "压缩炸弹" in response.json()["problems"][0]["reason"]


def test_the_command_line_makes_templates_imports_and_exports(
    api_engine: Engine, tmp_path: Path
) -> None:
    made = gongjian(api_engine, "template", "rivers", "--out", str(tmp_path / "r.xlsx"))
    assert made.returncode == 0, made.stderr
    book = load_workbook(tmp_path / "r.xlsx")
    book["河涌清单"].append(["CLI-R1", "命令河", "石岐", 1500, "进场", "2022-03-01"])
    book.save(tmp_path / "r.xlsx")
    dry = gongjian(api_engine, "import", "rivers", str(tmp_path / "r.xlsx"), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "将新增 1" in dry.stdout
    done = gongjian(api_engine, "import", "rivers", str(tmp_path / "r.xlsx"))
    assert done.returncode == 0, done.stderr
    assert "新增 1" in done.stdout
    out = tmp_path / "rivers.csv"
    exported = gongjian(api_engine, "export", "rivers", "--out", str(out), "--town", "石岐")
    assert exported.returncode == 0, exported.stderr
    assert "CLI-R1,命令河,石岐,1500.0,进场,2022-03-01" in out.read_text("utf-8-sig")
    again = gongjian(api_engine, "import", "rivers", str(out))
    assert "完全相同" in again.stdout
    book["河涌清单"]["B2"] = "=1+1"
    book.save(tmp_path / "r.xlsx")
    refused = gongjian(api_engine, "import", "rivers", str(tmp_path / "r.xlsx"))
    assert refused.returncode == 2
    assert "公式" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_import_parcels_takes_lists_and_geojson(api_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "parcels.xlsx"
    assert gongjian(api_engine, "template", "parcels", "--out", str(path)).returncode == 0
    book = load_workbook(path)
    book["地块清单"].append(["CLI-P1", None, "石岐", None, None, 8.5])
    book.save(path)
    listed = gongjian(api_engine, "import", "parcels", str(path))
    assert listed.returncode == 0, listed.stderr
    assert "新增 1" in listed.stdout
    geojson = tmp_path / "p.geojson"
    ring = [[113.3, 22.5], [113.302, 22.5], [113.302, 22.502], [113.3, 22.502], [113.3, 22.5]]
    geojson.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties":'
        ' {"parcel_id": "CLI-P2", "town": "石岐"}, "geometry": {"type": "Polygon",'
        f' "coordinates": [{ring}]}}}}]}}',
        encoding="utf-8",
    )
    drawn = gongjian(api_engine, "import", "parcels", str(geojson))
    assert drawn.returncode == 0, drawn.stderr
    assert "新增 1" in drawn.stdout


def test_a_parcel_list_in_gcj02_is_stored_in_wgs84_and_exports_back(
    client: TestClient, api_engine: Engine
) -> None:
    west, south = 113.39, 22.53
    gcj_west, gcj_south = wgs84_to_gcj02(west, south)
    ring = [
        [gcj_west, gcj_south],
        [gcj_west + 0.001, gcj_south],
        [gcj_west + 0.001, gcj_south + 0.001],
        [gcj_west, gcj_south + 0.001],
        [gcj_west, gcj_south],
    ]
    geometry = json.dumps({"type": "Polygon", "coordinates": [ring]})
    content = project_list(
        [{"code": "API-G1", "town": "石岐", "geometry": geometry}], kind="parcels"
    )
    done = upload(client, "parcels", content, name="地块.xlsx", crs="gcj02")
    assert done.status_code == 200, done.text
    assert done.json()["added"] == 1
    with Session(api_engine) as session:
        parcel = session.scalars(select(Parcel).where(Parcel.code == "API-G1")).one()
        assert parcel.geometry is not None
        lon, lat = parcel.geometry["coordinates"][0][0]
        assert abs(lon - west) < 1e-5
        assert abs(lat - south) < 1e-5
        assert parcel.area_mu > 0
    exported = client.get("/api/v1/exports/parcels.xlsx", auth=CITY)
    back = upload(client, "parcels", exported.content, name="p.xlsx")
    assert back.status_code == 200, back.text
    assert (back.json()["added"], back.json()["updated"]) == (0, 0)
    stray = upload(client, "projects", project_list([]), crs="gcj02")
    assert stray.status_code == 422
    assert stray.json()["problems"][0]["column"] == "crs"
    assert upload(client, "parcels", content, crs="mars").status_code == 422
