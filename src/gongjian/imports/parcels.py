"""Importing parcels (``gongjian import parcels``) from GeoJSON, Excel, CSV or Parquet.

GeoJSON: a FeatureCollection of Polygon or MultiPolygon features whose properties hold
``parcel_id`` (the parcel's code) and ``town`` (name or code). Tables: a row per parcel
with ``code`` and ``town``, and either ``geometry`` (GeoJSON or WKT text) or
``area_mu``. Optional everywhere: ``name``, ``park`` (a park's code, in the same town),
``theme_park`` (a theme park's code), ``ownership`` (identifier or label), ``owner_name``.

Coordinates are read in the CRS the caller names (``wgs84``, ``cgcs2000`` or ``gcj02``)
and stored in WGS84. A parcel with a geometry takes its area from it (on the WGS84
ellipsoid, in mu); ``area_mu`` is then ignored. Problems name the file, the row (the
header is row 1) or the feature (its 0-based index) and the column. Parcels whose code
is already stored are skipped; new ones start as 低效认定 (identified) on the import day.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
from shapely.geometry import mapping
from sqlalchemy import select

from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.errors import Invalid, Problem
from gongjian.geo.area import area_m2, m2_to_mu
from gongjian.geo.crs import InputCrs
from gongjian.geo.shapes import check_geometry, read_features
from gongjian.imports.base import RAW, BaseImporter, ImportResult, Progress, file_sha256
from gongjian.imports.files import row_position
from gongjian.imports.sample_check import MAX_PROBLEMS
from gongjian.periods import today
from gongjian.renewal.choices import Ownership, RenewalState
from gongjian.renewal.models import Parcel, ParcelStateChange, Park, ThemePark
from gongjian.towns.models import Town

COLUMNS = ("code", "town", "name", "park", "theme_park", "ownership", "owner_name")
NUMERIC = ("area_mu",)
GEOJSON = (".geojson", ".json")
CODE_MAX = 30
"""Longest parcel code the database holds (characters)."""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


class ParcelImporter(BaseImporter):
    """Parcels from GeoJSON, Excel (.xlsx), CSV or Parquet."""

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
        self.parcels: list[Parcel] = []

    def run_file(self, path: Path, *, dry_run: bool = False) -> ImportResult:
        """Import a GeoJSON file, or a table (CSV, Parquet, Excel)."""
        if path.suffix.lower() not in GEOJSON:
            return super().run_file(path, dry_run=dry_run)
        features = read_features(path, crs=self.crs)
        rows = [
            {
                "position": feature.index,
                "code": feature.parcel_id,
                "geometry": json.dumps(mapping(feature.geometry)),
                **{c: _text(feature.properties.get(c)) for c in COLUMNS if c != "code"},
                "area_mu": _text(feature.properties.get("area_mu")),
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
        towns: dict[str, Town] = {}
        for town in self.session.scalars(select(Town)):
            towns[town.name] = towns[town.code] = town
        parks = {p.code: p for p in self.session.scalars(select(Park))}
        themes = {t.code: t for t in self.session.scalars(select(ThemePark))}
        stored = set(self.session.scalars(select(Parcel.code)))
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        self.parcels = []
        for row in self._rows():
            where = row["position"] if self.geojson else row["position"] + 2
            found = self._parcel(row, towns, parks, themes, seen, where, source)
            if isinstance(found, list):
                problems.extend(found)
            elif found.code not in stored:
                self.parcels.append(found)
        if problems:
            shown = problems[:MAX_PROBLEMS]
            raise Invalid(f"{source} 有 {len(problems)} 处问题，未导入任何地块", shown)
        for town_id in sorted({p.town_id for p in self.parcels}):
            authorize(self.session, self.actor, Action.add, self.resource, town_id=town_id)
        return len(seen)

    def _parcel(
        self,
        row: dict[str, Any],
        towns: dict[str, Town],
        parks: dict[str, Park],
        themes: dict[str, ThemePark],
        seen: dict[str, int],
        where: int,
        source: str,
    ) -> Parcel | list[Problem]:
        """The parcel of one row, or what is wrong with it."""
        problems = []

        def problem(column: str, reason: str) -> None:
            value = _text(row.get(column)) or None
            problems.append(Problem(reason, file=source, row=where, column=column, value=value))

        code = _text(row.get("code"))
        id_column = "parcel_id" if self.geojson else "code"
        if not code:
            problem("code", f"缺少地块编号（{id_column}）")
        elif len(code) > CODE_MAX:
            problem("code", f"地块编号最长 {CODE_MAX} 个字符")
        elif code in seen:
            problem("code", f"地块编号与第 {seen[code]} {'个要素' if self.geojson else '行'}重复")
        else:
            seen[code] = where
        town = towns.get(_text(row.get("town")))
        if town is None:
            problem("town", "镇街不存在（填写镇街名称或代码）")
        park = None
        if _text(row.get("park")):
            park = parks.get(_text(row.get("park")))
            if park is None:
                problem("park", "没有这个编号的工业园")
            elif town is not None and park.town_id != town.id:
                problem("park", f"工业园不在{town.name}")
        theme = None
        if _text(row.get("theme_park")):
            theme = themes.get(_text(row.get("theme_park")))
            if theme is None:
                problem("theme_park", "没有这个编号的主题产业园")
        ownership = Ownership.collective
        if _text(row.get("ownership")):
            try:
                ownership = Ownership.parse(_text(row.get("ownership")))
            except ValueError as exc:
                problem("ownership", str(exc))
        geometry, size = None, None
        if _text(row.get("geometry")):
            crs = InputCrs.wgs84 if self.geojson else self.crs
            shape, reasons = check_geometry(_text(row.get("geometry")), crs)
            for reason in reasons:
                problem("geometry", reason)
            if shape is not None:
                geometry = mapping(shape)
                size = m2_to_mu(area_m2(geometry))
        elif _text(row.get("area_mu")):
            try:
                size = Decimal(_text(row.get("area_mu")))
            except InvalidOperation:
                problem("area_mu", "面积（亩）不是数值")
            else:
                if not size.is_finite() or size <= 0 or size != size.quantize(Decimal("0.01")):
                    problem("area_mu", "面积（亩）须为正数，最多两位小数")
        else:
            problem("area_mu", "没有几何时须填写面积（亩）")
        if problems or town is None or size is None:
            return problems
        return Parcel(
            code=code,
            name=_text(row.get("name")) or None,
            town_id=town.id,
            park_id=park.id if park else None,
            theme_park_id=theme.id if theme else None,
            geometry=dict(geometry) if geometry else None,
            area_mu=size,
            renewal_state=RenewalState.identified,
            ownership=ownership,
            owner_name=_text(row.get("owner_name")) or None,
        )

    def write(self, import_id: int) -> int:
        self.session.add_all(self.parcels)
        self.session.flush()
        day = today()
        self.session.add_all(
            ParcelStateChange(
                parcel_id=parcel.id,
                from_state=None,
                to_state=RenewalState.identified.value,
                changed_on=day,
                reason=f"导入（导入记录 #{import_id}）",
                actor=self.actor.username,
            )
            for parcel in self.parcels
        )
        self.session.flush()
        return len(self.parcels)
