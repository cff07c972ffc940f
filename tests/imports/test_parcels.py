"""Importing parcels from GeoJSON and Excel: geometry stored in WGS84 whatever the input
CRS, areas on the ellipsoid in mu, every bad feature or row named, nothing written when
any is bad, known codes skipped, one audit entry, towns import their own parcels only."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.errors import Forbidden, Invalid
from gongjian.geo.crs import InputCrs, gcj02_to_wgs84, wgs84_to_gcj02
from gongjian.imports.base import ImportResult
from gongjian.imports.parcels import ParcelImporter
from gongjian.renewal.choices import Ownership, RenewalState
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.towns.models import Town

CITY = Actor.system("test")
GEOD = Geod(ellps="WGS84")
WEST, SOUTH = 113.38, 22.52


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


def workbook(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
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


def test_excel_rows_with_wkt_or_area_and_row_numbers_in_problems(
    session: Session, tmp_path: Path
) -> None:
    header = ["code", "town", "name", "area_mu", "geometry"]
    good = workbook(
        tmp_path / "good.xlsx",
        header,
        [
            ["XL-1", "石岐", "甲", 12.5, None],
            [
                "XL-2",
                "442000001",
                None,
                None,
                "POLYGON ((113.38 22.52, 113.382 22.52, "
                "113.382 22.522, 113.38 22.522, 113.38 22.52))",
            ],
        ],
    )
    result = run(session, good)
    assert result.added == 2
    assert stored(session, "XL-1").area_mu == Decimal("12.50")
    assert stored(session, "XL-1").geometry is None
    assert stored(session, "XL-2").area_mu > 60
    bad = workbook(
        tmp_path / "bad.xlsx",
        header,
        [["XL-3", "石岐", None, None, None], ["XL-3", "石岐", None, "-1", None]],
    )
    before = count(session)
    with pytest.raises(Invalid) as refused:
        run(session, bad)
    where = {(p.row, p.column) for p in refused.value.problems}
    assert (2, "area_mu") in where
    assert (3, "code") in where
    assert (3, "area_mu") in where
    assert count(session) == before


def test_missing_columns_are_named(session: Session, tmp_path: Path) -> None:
    path = workbook(tmp_path / "cols.xlsx", ["name"], [["甲"]])
    with pytest.raises(Invalid) as refused:
        run(session, path)
    assert {p.column for p in refused.value.problems} == {"code", "town"}


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
