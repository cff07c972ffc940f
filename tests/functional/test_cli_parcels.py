"""``gongjian import parcels`` and ``gongjian parcel …`` as an operator runs them: a bad
file exits 2 naming the feature and writes nothing; a parcel list's geometries are read
in the ``--crs`` given; states move or are refused with the allowed next states; the
low-efficiency list explains itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gongjian.geo.crs import wgs84_to_gcj02
from gongjian.renewal.models import Parcel
from tests.conftest import DatabaseFactory
from tests.functional.test_cli import gongjian


def square(west: float) -> dict[str, object]:
    ring = [[west, 22.5], [west + 0.002, 22.5], [west + 0.002, 22.502], [west, 22.502]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def collection(path: Path, features: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


@pytest.fixture(scope="module")
def cli_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    engine = databases.new("cli_parcels")
    yield engine
    engine.dispose()


def parcels(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Parcel)) or 0


def test_a_bad_file_exits_2_names_the_feature_and_writes_nothing(
    cli_engine: Engine, tmp_path: Path
) -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[113.3, 22.5], [113.302, 22.502], [113.302, 22.5], [113.3, 22.502], [113.3, 22.5]]
        ],
    }
    path = collection(
        tmp_path / "bad.geojson",
        [
            {
                "type": "Feature",
                "properties": {"parcel_id": "C-1", "town": "石岐"},
                "geometry": square(113.3),
            },
            {
                "type": "Feature",
                "properties": {"parcel_id": "C-2", "town": "石岐"},
                "geometry": bow_tie,
            },
        ],
    )
    result = gongjian(cli_engine, "import", "parcels", str(path))
    assert result.returncode == 2
    assert "C-2" in result.stderr
    assert "自相交" in result.stderr
    assert "Traceback" not in result.stderr
    assert parcels(cli_engine) == 0


def test_import_move_and_identify(cli_engine: Engine, tmp_path: Path) -> None:
    path = collection(
        tmp_path / "good.geojson",
        [
            {
                "type": "Feature",
                "properties": {"parcel_id": "C-10", "town": "石岐", "identified_on": "2021-05-01"},
                "geometry": square(113.31),
            }
        ],
    )
    imported = gongjian(cli_engine, "import", "parcels", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "新增 1" in imported.stdout
    refused = gongjian(
        cli_engine, "parcel", "state", "C-10", "--to", "cleared", "--on", "2022-01-05"
    )
    assert refused.returncode == 1
    assert "方案公示" in refused.stderr
    moved = gongjian(
        cli_engine,
        "parcel",
        "state",
        "C-10",
        "--to",
        "方案公示",
        "--on",
        "2022-01-05",
        "--comment-until",
        "2022-02-04",
    )
    assert moved.returncode == 0, moved.stderr
    figures = gongjian(
        cli_engine, "parcel", "performance", "C-10", "--year", "2021", "--output", "45.5"
    )
    assert figures.returncode == 0, figures.stderr
    listed = gongjian(cli_engine, "parcel", "identify", "--year", "2021")
    assert listed.returncode == 0, listed.stderr
    assert "C-10" in listed.stdout
    assert "亩均产值 45.50万元/亩 低于 100万元/亩" in listed.stdout
    shown = gongjian(cli_engine, "parcel", "show", "C-10")
    assert "2022-02-04" in shown.stdout
    bad_number = gongjian(
        cli_engine, "parcel", "performance", "C-10", "--year", "2021", "--output", "abc"
    )
    assert bad_number.returncode == 2
    too_precise = gongjian(
        cli_engine, "parcel", "performance", "C-10", "--year", "2021", "--tax", "1.234"
    )
    assert too_precise.returncode == 2
    assert "两位小数" in too_precise.stderr
    clustered = gongjian(cli_engine, "parcel", "clusters", "--min-mu", "60")
    assert clustered.returncode == 0, clustered.stderr
    assert "C-10" in clustered.stdout
    assert "达到面积下限 1 片" in clustered.stdout


def test_a_parcel_list_takes_its_geometries_in_the_crs_given(
    cli_engine: Engine, tmp_path: Path
) -> None:
    west, south = 113.45, 22.55
    gcj_west, gcj_south = wgs84_to_gcj02(west, south)
    ring = [[gcj_west, gcj_south], [gcj_west + 0.001, gcj_south], [gcj_west, gcj_south + 0.001]]
    path = tmp_path / "parcels.xlsx"
    assert gongjian(cli_engine, "template", "parcels", "--out", str(path)).returncode == 0
    book = load_workbook(path)
    geometry = json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
    book["地块清单"].append(["C-L1", None, "石岐", *[None] * 7, geometry])
    book.save(path)
    wrong = gongjian(cli_engine, "import", "parcels", str(path), "--crs", "mars")
    assert wrong.returncode == 2
    assert "--crs" in wrong.stderr
    imported = gongjian(cli_engine, "import", "parcels", str(path), "--crs", "gcj02")
    assert imported.returncode == 0, imported.stderr
    assert "新增 1" in imported.stdout
    with Session(cli_engine) as session:
        parcel = session.scalars(select(Parcel).where(Parcel.code == "C-L1")).one()
        assert parcel.geometry is not None
        lon, lat = parcel.geometry["coordinates"][0][0]
        assert abs(lon - west) < 1e-5
        assert abs(lat - south) < 1e-5
    out = tmp_path / "parcels.csv"
    assert gongjian(cli_engine, "export", "parcels", "--out", str(out)).returncode == 0
    again = gongjian(cli_engine, "import", "parcels", str(out))
    assert again.returncode == 0, again.stderr
    assert "完全相同" in again.stdout
