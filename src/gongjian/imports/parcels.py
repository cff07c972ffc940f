"""Importing parcels (``gongjian import parcels``) from GeoJSON or Parquet.

GeoJSON: a FeatureCollection of Polygon or MultiPolygon features whose properties hold
``parcel_id`` (the parcel's code) and ``town`` (name or code). Parquet: a row per parcel
with ``code`` and ``town``, and either ``geometry`` (GeoJSON or WKT text) or
``area_mu``. Optional in both: ``name``, ``park`` (a park's code, in the same town),
``theme_park`` (a theme park's code), ``ownership`` (identifier or label), ``owner_name``,
``identified_on`` (the day it was identified as low-efficiency; default the import day).

Spreadsheets people fill in (.xlsx, CSV) are the parcel task list, with its Chinese
headers and its geometry column (``tasklists.ParcelListImporter``); this importer refuses
them, naming the list, so that a parcel table has one reader and one set of headers.

Coordinates are read in the CRS the caller names (``wgs84``, ``cgcs2000`` or ``gcj02``)
and stored in WGS84. A parcel with a geometry takes its area from it (on the WGS84
ellipsoid, in mu); ``area_mu`` is then ignored. Problems name the file, the row (the
header is row 1) or the feature (its 0-based index) and the column. Parcels whose code
is already stored are skipped; new ones start as 低效认定 (identified).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from shapely.geometry import mapping
from sqlalchemy import select

from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.errors import Invalid, Problem
from gongjian.geo.choices import InputCrs
from gongjian.geo.shapes import read_features
from gongjian.imports.base import RAW, BaseImporter, ImportResult, Progress, file_sha256
from gongjian.imports.excel import Unsupported
from gongjian.imports.files import row_position
from gongjian.imports.sample_check import MAX_PROBLEMS
from gongjian.renewal.models import Parcel
from gongjian.renewal.services import (
    ParcelLookups,
    as_text,
    identified_day,
    new_parcel,
    start_histories,
)

COLUMNS = (
    "code",
    "town",
    "name",
    "park",
    "theme_park",
    "ownership",
    "owner_name",
    "identified_on",
)
NUMERIC = ("area_mu",)
GEOJSON = (".geojson", ".json")
PARQUET = ".parquet"
LISTS = (".xlsx", ".csv")
"""Parcel tables read as the parcel task list (``tasklists.ParcelListImporter``)."""


class ParcelImporter(BaseImporter):
    """Parcels from GeoJSON or Parquet, their geometries read in ``crs``; codes already
    stored are skipped."""

    kind = "parcels"
    resource = "parcel"
    label = "地块"

    def __init__(
        self,
        session: Any,
        *,
        actor: Any,
        crs: InputCrs = InputCrs.wgs84,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(session, actor=actor, progress=progress)
        self.crs = crs
        self.geojson = False
        self.parcels: list[tuple[Parcel, dt.date]] = []

    def run_file(self, path: Path, *, dry_run: bool = False) -> ImportResult:
        """Import a GeoJSON or Parquet file; ``Unsupported`` for anything else (an .xlsx
        or CSV is told to go through the parcel list)."""
        suffix = path.suffix.lower()
        if suffix == PARQUET:
            return super().run_file(path, dry_run=dry_run)
        if suffix not in GEOJSON:
            reason = (
                "地块表格（.xlsx、CSV）按地块清单导入（ParcelListImporter；"
                "模板见 gongjian template parcels，几何图形填“几何”列）"
                if suffix in LISTS
                else f"地块文件应为 GeoJSON（.geojson、.json）或 Parquet，而不是“{suffix}”"
            )
            raise Unsupported(f"地块导入不接受文件“{path.name}”", [Problem(reason, file=str(path))])
        features = read_features(path, crs=self.crs)
        rows = [
            {
                "position": feature.index,
                "code": feature.parcel_id,
                "geometry": json.dumps(mapping(feature.geometry)),
                **{c: as_text(feature.properties.get(c)) for c in COLUMNS if c != "code"},
                "area_mu": as_text(feature.properties.get("area_mu")),
            }
            for feature in features
        ]
        self.geojson = True
        table = (
            pa.Table.from_pylist(rows) if rows else pa.table({"position": pa.array([], pa.int64())})
        )
        self.duck.register("features", table)
        self.duck.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM features")
        return self._run(str(path), path.name, file_sha256(path), dry_run=dry_run)

    def _rows(self) -> list[dict[str, Any]]:
        columns = [
            c[0] for c in self.duck.execute(f"SELECT * FROM {RAW} LIMIT 0").description or []
        ]
        position = "position" if self.geojson else row_position(columns)
        wanted = [c for c in (*COLUMNS, *NUMERIC, "geometry") if c in columns]
        select_list = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in wanted)
        cursor = self.duck.execute(
            f"SELECT {position} AS position, {select_list} FROM {RAW} ORDER BY 1"
        )
        names = [c[0] for c in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def validate(self, source: str) -> int:
        columns = [
            c[0] for c in self.duck.execute(f"SELECT * FROM {RAW} LIMIT 0").description or []
        ]
        missing = [c for c in ("code", "town") if c not in columns and not self.geojson]
        if missing:
            raise Invalid(
                f"{source} 缺少必需的列",
                [Problem(f"缺少列 {c}", file=source, column=c) for c in missing],
            )
        lookups = ParcelLookups.load(self.session)
        stored = set(self.session.scalars(select(Parcel.code)))
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        self.parcels = []
        for row in self._rows():
            where = row["position"] if self.geojson else row["position"] + 2
            found = self._parcel(row, lookups, seen, where, source)
            if isinstance(found, list):
                problems.extend(found)
            elif found.code not in stored:
                self.parcels.append((found, identified_day(row)[0]))
        if problems:
            shown = problems[:MAX_PROBLEMS]
            raise Invalid(f"{source} 有 {len(problems)} 处问题，未导入任何地块", shown)
        for town_id in sorted({p.town_id for p, _ in self.parcels}):
            authorize(self.session, self.actor, Action.add, self.resource, town_id=town_id)
        return len(seen)

    def _parcel(
        self,
        row: dict[str, Any],
        lookups: ParcelLookups,
        seen: dict[str, int],
        where: int,
        source: str,
    ) -> Parcel | list[Problem]:
        """The parcel of one row, or what is wrong with it."""
        crs = InputCrs.wgs84 if self.geojson else self.crs
        parcel, found = new_parcel(row, lookups, crs)
        code = as_text(row.get("code"))
        if code in seen:
            found.append(
                ("code", f"地块编号与第 {seen[code]} {'个要素' if self.geojson else '行'}重复")
            )
        elif code:
            seen[code] = where
        if not found and parcel is not None:
            return parcel
        return [
            Problem(
                reason,
                file=source,
                row=where,
                column=column,
                value=as_text(row.get(column)) or None,
            )
            for column, reason in found
        ]

    def write(self, import_id: int) -> int:
        self.session.add_all(parcel for parcel, _ in self.parcels)
        self.session.flush()
        start_histories(
            self.session, self.parcels, actor=self.actor, reason=f"导入（导入记录 #{import_id}）"
        )
        return len(self.parcels)
