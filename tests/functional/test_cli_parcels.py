"""``gongjian import parcels`` and ``gongjian parcel …`` as an operator runs them: a bad
file exits 2 naming the feature and writes nothing; states move or are refused with the
allowed next states; the low-efficiency list explains itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

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
