"""Importing parcels from GeoJSON, Parquet and the parcel list (.xlsx, CSV): geometry
stored in WGS84 whatever the input CRS, areas on the ellipsoid in mu, every bad feature or
row named, nothing written when any is bad, one audit entry, towns import their own
parcels only. GeoJSON skips known codes; the list updates them, keeping a stored geometry
its cell leaves empty or gives again, and an export of it imports back unchanged."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook, load_workbook
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import verify
from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.errors import Forbidden, Invalid
from gongjian.geo.choices import InputCrs
from gongjian.geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from gongjian.imports.base import ImportResult
from gongjian.imports.excel import FileKind, Unsupported
from gongjian.imports.exports import export_list, write_template
from gongjian.imports.parcels import ParcelImporter
from gongjian.imports.tasklists import ParcelListImporter, TaskListResult, list_importer
from gongjian.renewal.choices import Ownership, RenewalState
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.towns.models import Town

CITY = Actor.system("test")
GEOD = Geod(ellps="WGS84")
WEST, SOUTH = 113.38, 22.52
CODE = ParcelListImporter.header_of("code")
AREA = ParcelListImporter.header_of("area_mu")
GEOMETRY = ParcelListImporter.header_of("geometry")


def square(west: float, south: float, side: float = 0.002) -> dict[str, Any]:
    ring = [
        [west, south],
        [west + side, south],
        [west + side, south + side],
        [west, south + side],
        [west, south],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(parcel_id: Any, geometry: Any, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"parcel_id": parcel_id, "town": "石岐", **properties},
        "geometry": geometry,
    }


def geojson(path: Path, *features: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def workbook(
    path: Path, header: list[str], rows: list[list[Any]], *, title: str | None = None
) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if title is not None:
        sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def run(
    session: Session,
    path: Path,
    *,
    actor: Actor = CITY,
    crs: InputCrs = InputCrs.wgs84,
    dry_run: bool = False,
) -> ImportResult:
    return ParcelImporter(session, actor=actor, crs=crs).run_file(path, dry_run=dry_run)


def list_row(values: dict[str, Any]) -> list[Any]:
    """A row of the parcel list (fields by name; the rest empty)."""
    return [values.get(column.field) for column in ParcelListImporter.columns]


def parcel_list(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The parcel list with ``rows``: the template (.xlsx) or its headers (.csv)."""
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([column.header for column in ParcelListImporter.columns])
            writer.writerows(list_row(row) for row in rows)
        return path
    write_template("parcels", path)
    book = load_workbook(path)
    for row in rows:
        book[ParcelListImporter.sheet].append(list_row(row))
    book.save(path)
    return path


def run_list(
    session: Session,
    path: Path,
    *,
    actor: Actor = CITY,
    crs: InputCrs | None = None,
    dry_run: bool = False,
) -> TaskListResult:
    importer = list_importer("parcels", session, actor=actor, crs=crs)
    return importer.run_file(path, dry_run=dry_run)


def export(session: Session, path: Path) -> Path:
    fmt = FileKind.csv if path.suffix == ".csv" else FileKind.xlsx
    with path.open("wb") as handle:
        export_list(session, actor=CITY, name="parcels", target=handle, kind=fmt)
    return path


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Parcel)) or 0


def stored(session: Session, code: str) -> Parcel:
    return session.scalars(select(Parcel).where(Parcel.code == code)).one()


def test_geojson_parcels_with_ellipsoidal_areas_in_mu(session: Session, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "parcels.geojson",
        feature("GJ-1", square(WEST, SOUTH), name="一号地块", ownership="国有", owner_name="某村"),
        feature(2, square(WEST + 0.01, SOUTH), town="石岐"),
    )
    result = run(session, path)
    assert (result.rows, result.added, result.skipped) == (2, 2, 0)
    first = stored(session, "GJ-1")
    area, _ = GEOD.geometry_area_perimeter(shape(square(WEST, SOUTH)))
    assert first.area_mu == (Decimal(abs(area)) / Decimal("666.67")).quantize(Decimal("0.01"))
    assert (first.name, first.ownership, first.owner_name) == ("一号地块", Ownership.state, "某村")
    assert first.renewal_state == RenewalState.identified
    assert stored(session, "2").geometry is not None
    history = session.scalars(
        select(ParcelStateChange).where(ParcelStateChange.parcel_id == first.id)
    ).all()
    assert [h.to_state for h in history] == [RenewalState.identified.value]
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "import", AuditEntry.resource == "parcel")
    ).all()
    assert len(audit) == 1
    again = run(session, path)
    assert (again.added, again.skipped) == (0, 2)


def test_gcj02_input_is_stored_in_wgs84(session: Session, tmp_path: Path) -> None:
    gcj_west, gcj_south = wgs84_to_gcj02(WEST, SOUTH)
    shifted = square(gcj_west, gcj_south)
    run(session, geojson(tmp_path / "gcj.geojson", feature("GCJ-1", shifted)), crs=InputCrs.gcj02)
    ring = stored(session, "GCJ-1").geometry["coordinates"][0]  # type: ignore[index]
    expected = gcj02_to_wgs84(gcj_west, gcj_south)
    lon, lat = min(ring, key=lambda p: GEOD.inv(p[0], p[1], *expected)[2])
    _, _, metres = GEOD.inv(lon, lat, *expected)
    assert metres < 0.01
    _, _, from_truth = GEOD.inv(lon, lat, WEST, SOUTH)
    assert from_truth < 0.5
    _, _, offset = GEOD.inv(gcj_west, gcj_south, WEST, SOUTH)
    assert offset > 100


@pytest.mark.parametrize(
    ("bad", "column", "reason"),
    [
        (feature("B-1", square(WEST, SOUTH), town="火星镇"), "town", "镇街不存在"),
        (feature("B-1", {"type": "Point", "coordinates": [WEST, SOUTH]}), "geometry", "Polygon"),
        (
            feature(
                "B-1",
                {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [WEST, SOUTH],
                            [WEST + 0.002, SOUTH + 0.002],
                            [WEST + 0.002, SOUTH],
                            [WEST, SOUTH + 0.002],
                            [WEST, SOUTH],
                        ]
                    ],
                },
            ),
            "geometry",
            "自相交",
        ),
        (feature("B-1", square(SOUTH, WEST)), "geometry", "颠倒"),
        (feature("B-1", square(2.35, 48.85)), "geometry", "中国"),
        (feature("B-1", square(WEST, SOUTH), park="NO-PARK"), "park", "工业园"),
    ],
)
def test_a_bad_feature_writes_nothing_and_is_named(
    session: Session, tmp_path: Path, bad: dict[str, Any], column: str, reason: str
) -> None:
    before = count(session)
    path = geojson(tmp_path / "bad.geojson", feature("OK-1", square(WEST + 0.02, SOUTH)), bad)
    with pytest.raises(Invalid) as refused:
        run(session, path)
    problems = [p for p in refused.value.problems if p.column in (column, "parcel_id")]
    assert problems, refused.value.problems
    assert problems[0].row == 1
    assert reason in problems[0].reason
    assert problems[0].file == str(path)
    assert count(session) == before


def test_list_rows_with_wkt_or_area_and_row_numbers_in_problems(
    session: Session, tmp_path: Path
) -> None:
    good = parcel_list(
        tmp_path / "good.xlsx",
        [
            {"code": "XL-1", "town": "石岐", "name": "甲", "area_mu": 12.5},
            {
                "code": "XL-2",
                "town": "442000001",
                "geometry": "POLYGON ((113.38 22.52, 113.382 22.52, "
                "113.382 22.522, 113.38 22.522, 113.38 22.52))",
            },
        ],
    )
    result = run_list(session, good)
    assert result.added == 2
    assert stored(session, "XL-1").area_mu == Decimal("12.50")
    assert stored(session, "XL-1").geometry is None
    assert stored(session, "XL-2").area_mu > 60
    area, _ = GEOD.geometry_area_perimeter(shape(square(WEST, SOUTH)))
    assert stored(session, "XL-2").area_mu == (Decimal(abs(area)) / Decimal("666.67")).quantize(
        Decimal("0.01")
    )
    bad = parcel_list(
        tmp_path / "bad.xlsx",
        [
            {"code": "XL-3", "town": "石岐"},
            {"code": "XL-3", "town": "石岐", "area_mu": "-1"},
            {"code": "XL-4", "town": "石岐", "geometry": "POLYGON ((113.38 22.52, 113.382"},
            {"code": "XL-5", "town": "石岐", "geometry": json.dumps(square(SOUTH, WEST))},
        ],
    )
    before = count(session)
    with pytest.raises(Invalid) as refused:
        run_list(session, bad)
    where = {(p.row, p.column): p for p in refused.value.problems}
    assert "没有几何时须填写面积" in where[(2, AREA)].reason
    assert "重复" in where[(3, CODE)].reason
    assert "大于 0" in where[(3, AREA)].reason
    assert "无法解析" in where[(4, GEOMETRY)].reason
    assert where[(4, GEOMETRY)].value == "POLYGON ((113.38 22.52, 113.382"
    assert where[(4, GEOMETRY)].file == "[bad.xlsx]地块清单"
    assert "颠倒" in where[(5, GEOMETRY)].reason
    assert count(session) == before


def test_a_csv_list_holds_geojson_geometries(session: Session, tmp_path: Path) -> None:
    geometry = json.dumps(square(WEST, SOUTH))
    path = parcel_list(
        tmp_path / "parcels.csv", [{"code": "CSV-1", "town": "石岐", "geometry": geometry}]
    )
    assert run_list(session, path).added == 1
    assert stored(session, "CSV-1").geometry == square(WEST, SOUTH)


def test_missing_columns_are_named(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "cols.parquet"
    pq.write_table(pa.table({"name": ["甲"]}), path)
    with pytest.raises(Invalid) as refused:
        run(session, path)
    assert {p.column for p in refused.value.problems} == {"code", "town"}
    listed = workbook(tmp_path / "cols.xlsx", ["地块名称"], [["甲"]], title="地块清单")
    with pytest.raises(Invalid) as refused:
        run_list(session, listed)
    missing = {p.column for p in refused.value.problems if "缺少列" in p.reason}
    assert {CODE, "镇街"} <= missing


def test_a_table_goes_through_the_parcel_list(session: Session, tmp_path: Path) -> None:
    for name in ("parcels.xlsx", "parcels.csv"):
        path = parcel_list(tmp_path / name, [{"code": "T-1", "town": "石岐", "area_mu": 3}])
        before = count(session)
        with pytest.raises(Unsupported) as refused:
            run(session, path)
        assert "地块清单" in refused.value.problems[0].reason
        assert count(session) == before


def test_a_dry_run_checks_and_writes_nothing(session: Session, tmp_path: Path) -> None:
    before = count(session)
    result = run(
        session,
        geojson(tmp_path / "dry.geojson", feature("DRY-1", square(WEST, SOUTH))),
        dry_run=True,
    )
    assert (result.dry_run, result.rows) == (True, 1)
    assert count(session) == before


def test_a_town_imports_its_own_parcels_only(session: Session, tmp_path: Path) -> None:
    shiqi = session.scalars(select(Town).where(Town.name == "石岐")).one()
    operator = Actor(username="town-shiqi", role=Role.town, town_id=shiqi.id)
    own = geojson(tmp_path / "own.geojson", feature("OWN-1", square(WEST, SOUTH)))
    assert run(session, own, actor=operator).added == 1
    other = geojson(
        tmp_path / "other.geojson", feature("OTHER-1", square(WEST, SOUTH), town="东区")
    )
    with pytest.raises(Forbidden):
        run(session, other, actor=operator)
    assert session.scalars(select(Parcel).where(Parcel.code == "OTHER-1")).first() is None


# --- the parcel list's geometry column ---------------------------------------------------


def wkt(geometry: dict[str, Any]) -> str:
    return shape(geometry).wkt


def test_the_template_explains_the_geometry_column_and_crs(tmp_path: Path) -> None:
    path = tmp_path / "parcels.xlsx"
    write_template("parcels", path)
    book = load_workbook(path)
    assert [c.value for c in book["地块清单"][1]][-1] == GEOMETRY
    notes = book["说明"]
    text = "\n".join(str(c.value) for row in notes.iter_rows() for c in row if c.value)
    assert "--crs gcj02" in text
    assert "?crs=gcj02" in text
    assert "几何列留空表示保留原图形" in text
    described = {row[0].value: [c.value for c in row] for row in notes.iter_rows() if row[0].value}
    assert described[GEOMETRY][2] == "选填"
    assert "WKT" in described[GEOMETRY][4]
    assert described[AREA][2] == "选填"
    assert "没有几何图形时必填" in described[AREA][5]


def test_a_list_in_gcj02_is_stored_in_wgs84_with_its_area(session: Session, tmp_path: Path) -> None:
    gcj_west, gcj_south = wgs84_to_gcj02(WEST, SOUTH)
    shifted = square(gcj_west, gcj_south)
    path = parcel_list(
        tmp_path / "gcj.xlsx",
        [{"code": "LG-1", "town": "石岐", "area_mu": 1, "geometry": json.dumps(shifted)}],
    )
    result = run_list(session, path, crs=InputCrs.gcj02)
    parcel = stored(session, "LG-1")
    assert parcel.geometry is not None
    ring = parcel.geometry["coordinates"][0]
    lon, lat = min(ring, key=lambda p: GEOD.inv(p[0], p[1], WEST, SOUTH)[2])
    assert GEOD.inv(lon, lat, WEST, SOUTH)[2] < 0.5
    assert GEOD.inv(gcj_west, gcj_south, WEST, SOUTH)[2] > 100
    area, _ = GEOD.geometry_area_perimeter(shape(parcel.geometry))
    assert parcel.area_mu == (Decimal(abs(area)) / Decimal("666.67")).quantize(Decimal("0.01"))
    assert parcel.area_mu > 60  # the area cell (1 mu) gives way to the drawing
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "import", AuditEntry.record_id == str(result.import_id)
        )
    ).one()
    assert json.loads(entry.after or "{}")["crs"] == "gcj02"


def _with_hole() -> dict[str, Any]:
    outer = square(WEST + 0.05, SOUTH, 0.01)["coordinates"][0]
    hole = square(WEST + 0.053, SOUTH + 0.003, 0.002)["coordinates"][0][::-1]
    return {
        "type": "MultiPolygon",
        "coordinates": [[outer, hole], square(WEST + 0.07, SOUTH)["coordinates"]],
    }


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_export_with_geometries_imports_back_unchanged(
    session: Session, tmp_path: Path, fmt: str
) -> None:
    clockwise = square(WEST + 0.03, SOUTH)
    clockwise["coordinates"][0].reverse()
    run_list(
        session,
        parcel_list(
            tmp_path / "in.xlsx",
            [
                {"code": "RT-1", "town": "石岐", "geometry": json.dumps(square(WEST, SOUTH))},
                {"code": "RT-2", "town": "石岐", "geometry": wkt(clockwise)},
                {"code": "RT-3", "town": "石岐", "geometry": json.dumps(_with_hole())},
                {"code": "RT-4", "town": "石岐", "area_mu": 7},
            ],
        ),
    )
    bow_tie = {  # stored before checks existed: a list never refuses what it leaves alone
        "type": "Polygon",
        "coordinates": [
            [[WEST, 22.6], [WEST + 0.002, 22.602], [WEST + 0.002, 22.6], [WEST, 22.602]]
        ],
    }
    session.add(
        Parcel(
            code="RT-5",
            town_id=stored(session, "RT-1").town_id,
            geometry=bow_tie,
            area_mu=Decimal("1.00"),
            renewal_state=RenewalState.identified,
        )
    )
    session.flush()
    path = export(session, tmp_path / f"parcels.{fmt}")
    if fmt == "xlsx":
        sheet = load_workbook(path)["地块清单"]
        cells = {row[0].value: row[-1].value for row in sheet.iter_rows(min_row=2)}
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            cells = {row[0]: row[-1] or None for row in list(csv.reader(handle))[1:]}
    geometries = {p.code: p.geometry for p in session.scalars(select(Parcel))}
    assert cells["RT-1"] == json.dumps(geometries["RT-1"], separators=(",", ":"))
    assert json.loads(cells["RT-3"]) == geometries["RT-3"]
    assert cells["RT-4"] is None
    before = [
        (p.code, p.geometry, p.area_mu, p.updated_at)
        for p in session.scalars(select(Parcel).order_by(Parcel.code))
    ]
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    result = run_list(session, path)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 5)
    assert result.import_id is None
    session.expire_all()
    after = [
        (p.code, p.geometry, p.area_mu, p.updated_at)
        for p in session.scalars(select(Parcel).order_by(Parcel.code))
    ]
    assert after == before
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_the_same_geometry_written_otherwise_is_no_change(session: Session, tmp_path: Path) -> None:
    run_list(
        session,
        parcel_list(
            tmp_path / "a.xlsx",
            [{"code": "SG-1", "town": "石岐", "geometry": json.dumps(square(WEST, SOUTH))}],
        ),
    )
    ring = square(WEST, SOUTH)["coordinates"][0][:-1]
    shifted = [*ring[2:], *ring[:2]][::-1]  # another first vertex, clockwise, left open
    noisy = [[lon + 1e-12, lat - 1e-12] for lon, lat in shifted]
    for name, geometry in (
        ("wkt.xlsx", wkt({"type": "Polygon", "coordinates": [[*shifted, shifted[0]]]})),
        ("open.xlsx", json.dumps({"type": "Polygon", "coordinates": [noisy]})),
    ):
        path = parcel_list(
            tmp_path / name, [{"code": "SG-1", "town": "石岐", "geometry": geometry}]
        )
        result = run_list(session, path)
        assert (result.updated, result.unchanged) == (0, 1), name
    moved = json.dumps(square(WEST + 1e-6, SOUTH))  # about 0.1 m: a real change
    path = parcel_list(
        tmp_path / "moved.xlsx", [{"code": "SG-1", "town": "石岐", "geometry": moved}]
    )
    assert run_list(session, path, dry_run=True).updated == 1


def test_an_empty_geometry_cell_keeps_the_stored_geometry(session: Session, tmp_path: Path) -> None:
    run_list(
        session,
        parcel_list(
            tmp_path / "a.xlsx",
            [{"code": "LK-1", "town": "石岐", "geometry": json.dumps(square(WEST, SOUTH))}],
        ),
    )
    drawn = stored(session, "LK-1")
    geometry, area = drawn.geometry, drawn.area_mu
    renamed = parcel_list(tmp_path / "b.xlsx", [{"code": "LK-1", "town": "石岐", "name": "新名"}])
    result = run_list(session, renamed)
    assert (result.updated, result.changes[0].columns) == (1, ("地块名称",))
    session.expire_all()
    kept = stored(session, "LK-1")
    assert (kept.name, kept.geometry, kept.area_mu) == ("新名", geometry, area)
    same_area = parcel_list(
        tmp_path / "c.xlsx", [{"code": "LK-1", "town": "石岐", "name": "新名", "area_mu": area}]
    )
    assert run_list(session, same_area).unchanged == 1
    resized = parcel_list(
        tmp_path / "d.xlsx", [{"code": "LK-1", "town": "石岐", "name": "新名", "area_mu": 99}]
    )
    with pytest.raises(Invalid) as refused:
        run_list(session, resized)
    problem = refused.value.problems[0]
    assert (problem.row, problem.column) == (2, AREA)
    assert "面积由图形计算" in problem.reason
    assert stored(session, "LK-1").geometry == geometry


def test_a_changed_geometry_is_an_audited_update_with_its_area(
    session: Session, tmp_path: Path
) -> None:
    run_list(
        session,
        parcel_list(
            tmp_path / "a.xlsx",
            [
                {"code": "LC-1", "town": "石岐", "geometry": json.dumps(square(WEST, SOUTH))},
                {"code": "LC-2", "town": "石岐", "area_mu": 5},
            ],
        ),
    )
    old_area = stored(session, "LC-1").area_mu
    larger = square(WEST, SOUTH, 0.004)
    path = parcel_list(
        tmp_path / "b.xlsx",
        [
            {"code": "LC-1", "town": "石岐", "area_mu": old_area, "geometry": wkt(larger)},
            {"code": "LC-2", "town": "石岐", "area_mu": 5, "geometry": json.dumps(larger)},
        ],
    )
    dry = run_list(session, path, dry_run=True)
    assert [c.columns for c in dry.changes] == [(AREA, GEOMETRY), (AREA, GEOMETRY)]
    result = run_list(session, path)
    assert (result.added, result.updated) == (0, 2)
    session.expire_all()
    for code in ("LC-1", "LC-2"):
        parcel = stored(session, code)
        assert shape(parcel.geometry).equals(shape(larger))
        assert parcel.import_id == result.import_id
    area = stored(session, "LC-1").area_mu
    assert area == stored(session, "LC-2").area_mu
    assert abs(area - 4 * old_area) < 1
    change = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "change", AuditEntry.record_id == "LC-1")
    ).one()
    before, after = json.loads(change.before or "{}"), json.loads(change.after or "{}")
    assert set(before) == set(after) == {"area_mu", "geometry"}
    assert before["geometry"] == square(WEST, SOUTH)
    assert shape(after["geometry"]).equals(shape(larger))
    assert (Decimal(before["area_mu"]), Decimal(after["area_mu"])) == (old_area, area)
    assert verify(session).ok
