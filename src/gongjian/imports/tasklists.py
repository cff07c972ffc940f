"""Task lists (清单): projects, parcels, rivers, monitoring points, enterprises, leases
and commitments as Excel sheets people fill in, export and bring back.

Each kind is one importer class (a ``BaseImporter`` plugin) that holds its columns once:
the header each field has in a sheet (Chinese, with its unit), whether it is required,
its type, its allowed values. Templates, imports and exports all use that one list.

An import reads the file (checked first by ``excel.check_upload``), parses every cell,
then plans the rows against what is stored, by the kind's natural key (``code``; for a
commitment target, town, year, campaign and indicator):

- a key not stored is a new record (audited as an addition); its state, when the kind
  has one, is the file's (default: the first state) and its history starts with that
  state on the ``状态日期`` column's day (default: today);
- a stored key whose fields differ is an update of those fields (audited with before and
  after); a state or state day that differs is refused: states move by transitions;
- a stored key whose fields are all the same is left alone: nothing written, no audit.

Every bad cell is listed at once (sheet, row, column header, value, reason) and nothing
is written; a town user whose file holds rows of another town (by the row's town or the
stored record's) is refused the whole file (403, logged) with those rows named. Locked
(approved) commitments refuse changes. A real run writes all rows in one transaction
(a savepoint of the caller's), points each written row at its ``ImportRun`` (file,
checksum, user, time) through ``import_id``, and leaves one audit entry for the import
and one per record added or changed. An import that changes nothing writes nothing at
all, not even its ``ImportRun``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, cast

import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, Table, bindparam, delete, func, insert, select, update
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gongjian.audit.chain import canonical_json, entry_hash, record
from gongjian.audit.models import AuditEntry, AuditHead
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import allowed, authorize_some, refuse, restrict
from gongjian.campaign.choices import PROJECT_CAMPAIGN, Campaign, ProjectKind, ProjectState
from gongjian.campaign.models import (
    Commitment,
    CommitmentTarget,
    Project,
    ProjectStateChange,
    project_parcels,
    project_rivers,
)
from gongjian.choices import LabeledChoice
from gongjian.config import get_settings
from gongjian.db import Base, utcnow
from gongjian.db_errors import explain
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.geo.choices import InputCrs
from gongjian.imports.base import BaseImporter, ImportResult, Progress, file_sha256
from gongjian.imports.excel import (
    CELL_MAX_CHARS,
    REFUSED,
    Layout,
    Verbatim,
    check_upload,
    read_table,
)
from gongjian.imports.excel import (
    Table as SheetTable,
)
from gongjian.imports.models import ImportRun
from gongjian.kpi.services import KPI_KEYS
from gongjian.periods import today
from gongjian.renewal.choices import EnterpriseKind, Ownership, RenewalState
from gongjian.renewal.models import (
    Enterprise,
    Lease,
    Parcel,
    ParcelStateChange,
    Park,
    ThemePark,
)
from gongjian.renewal.services import ParcelLookups, new_parcel
from gongjian.towns.models import Town
from gongjian.water.choices import RemediationState
from gongjian.water.models import MonitoringPoint, River, RiverStateChange

ZERO = Decimal(0)
CHUNK = 900
"""Codes looked up per query (well under every database's parameter limit)."""
MAX_PROBLEMS = 1000
"""Most problems one refusal lists (the count of all is in its message)."""
MAX_NAMED_ROWS = 50
"""Most rows a permission refusal names."""
CODE_SEPARATORS = re.compile(r"[、,，;；\s]+")
NOTES_SHEET = "说明"
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?$")
_CN_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$")


class ColumnType(StrEnum):
    """What a cell holds."""

    text = "text"
    decimal = "decimal"
    integer = "integer"
    date = "date"
    choice = "choice"
    town = "town"
    codes = "codes"
    geometry = "geometry"
    """A parcel's polygon as GeoJSON or WKT text, checked by the importer in its CRS."""


@dataclass(frozen=True)
class Column:
    """One column of a list: its field, its header in the sheet, and how a cell of it
    is read and checked."""

    field: str
    header: str
    form: ColumnType = ColumnType.text
    required: bool = False
    note: str = ""
    unit: str = ""
    max_length: int | None = None
    places: int = 2
    digits: int = 16
    """Significant digits the database column holds (its precision)."""
    low: Decimal | None = ZERO
    high: Decimal | None = None
    positive: bool = False
    choice: type[LabeledChoice] | None = None
    past: bool = False
    """A day of something done: not after today."""
    width: int = 14

    def described(self) -> str:
        """The column's type and allowed values, for the instructions sheet."""
        if self.form is ColumnType.choice and self.choice is not None:
            labels = "、".join(m.label for m in self.choice)
            keys = "、".join(m.value for m in self.choice)
            return f"下拉选择：{labels}（也可填英文标识 {keys}）"
        if self.form is ColumnType.town:
            return "下拉选择 23 个镇街之一（也可填镇街代码）"
        if self.form is ColumnType.date:
            return "日期，如 2023-01-31" + ("，不晚于今天" if self.past else "")
        if self.form is ColumnType.codes:
            return "编号，多个用“、”分隔"
        if self.form is ColumnType.geometry:
            return "GeoJSON 几何或 WKT 文本（Polygon 或 MultiPolygon），经度在前"
        if self.form in (ColumnType.decimal, ColumnType.integer):
            bounds = []
            if self.positive:
                bounds.append("大于 0")
            elif self.low is not None:
                bounds.append("不能为负数" if self.low == 0 else f"不小于 {self.low}")
            if self.high is not None:
                bounds.append(f"不大于 {self.high}")
            places = "整数" if self.form is ColumnType.integer else f"最多 {self.places} 位小数"
            return f"数值，{places}" + (f"，{'，'.join(bounds)}" if bounds else "")
        return f"文字，最多 {self.max_length} 字" if self.max_length else "文字"


def text(name: str, header: str, max_length: int, **options: Any) -> Column:
    return Column(name, header, ColumnType.text, max_length=max_length, **options)


def number(name: str, header: str, unit: str, **options: Any) -> Column:
    return Column(name, header, ColumnType.decimal, unit=unit, **options)


def day(name: str, header: str, **options: Any) -> Column:
    return Column(name, header, ColumnType.date, width=12, **options)


def choice(name: str, header: str, of: type[LabeledChoice], **options: Any) -> Column:
    return Column(name, header, ColumnType.choice, choice=of, **options)


def town_column(name: str = "town", header: str = "镇街", **options: Any) -> Column:
    return Column(name, header, ColumnType.town, width=12, **options)


class _Bad(ValueError):
    """A cell that cannot be read as its column's type."""


def _shown(value: Any) -> str:
    """A cell's value as a problem shows it."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _as_text(value: Any) -> str:
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        raise _Bad("应为文字")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        raise _Bad("应为文字，而不是日期")
    return str(value).strip()


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Bad("应为数值")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _Bad("应为数值") from None
    elif isinstance(value, dt.datetime | dt.date):
        raise _Bad("应为数值，而不是日期")
    else:
        raise _Bad("应为数值")
    if not number.is_finite():
        raise _Bad("应为有限数值")
    return number


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time():
            raise _Bad("应为日期，不含时间")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        found = _DATE.match(value.strip()) or _CN_DATE.match(value.strip())
        if found:
            try:
                return dt.date(*(int(part) for part in found.groups()))
            except ValueError:
                pass
    raise _Bad("不是日期：应为 2023-01-31 这样的日期")


def parse_cell(column: Column, value: Any, towns: Mapping[str, Town]) -> Any:
    """The value of one non-empty cell in ``column``'s type, checked; ``_Bad`` with the
    reason otherwise. Towns are looked up in ``towns`` (by name and by code)."""
    kind = column.form
    if kind is ColumnType.decimal or kind is ColumnType.integer:
        number = _as_decimal(value)
        if kind is ColumnType.integer:
            if number != number.to_integral_value():
                raise _Bad("应为整数")
            number = number.quantize(Decimal(1))
        else:
            quantum = Decimal(1).scaleb(-column.places)
            if number != number.quantize(quantum):
                raise _Bad(f"最多 {column.places} 位小数")
            number = number.quantize(quantum)
        if column.positive and number <= 0:
            raise _Bad("必须大于 0")
        if column.low is not None and number < column.low:
            raise _Bad("不能为负数" if column.low == 0 else f"不能小于 {column.low}")
        if column.high is not None and number > column.high:
            raise _Bad(f"不能大于 {column.high}")
        if abs(number) >= Decimal(10) ** (column.digits - column.places):
            raise _Bad("数值过大")
        return int(number) if kind is ColumnType.integer else number
    if kind is ColumnType.date:
        found = _as_date(value)
        if column.past and found > today():
            raise _Bad(f"不能晚于今天（{today()}）")
        return found
    words = _as_text(value)
    if kind is ColumnType.geometry:
        return words
    if kind is ColumnType.choice:
        assert column.choice is not None
        try:
            return column.choice.parse(words)
        except ValueError:
            labels = "、".join(m.label for m in column.choice)
            raise _Bad(f"不是有效取值，可选：{labels}") from None
    if kind is ColumnType.town:
        town = towns.get(words)
        if town is None:
            raise _Bad("镇街不存在：应为 23 个镇街之一的名称或代码")
        return town
    if kind is ColumnType.codes:
        codes = list(dict.fromkeys(c for c in CODE_SEPARATORS.split(words) if c))
        long = [c for c in codes if len(c) > 30]
        if long:
            raise _Bad(f"编号最长 30 个字符：{long[0]}")
        return tuple(sorted(codes))
    if column.max_length is not None and len(words) > column.max_length:
        raise _Bad(f"最多 {column.max_length} 字（现为 {len(words)} 字）")
    return words


def _normal_header(header: str) -> str:
    return header.strip().replace("(", "（").replace(")", "）").replace(" ", "")


@dataclass
class Row:
    """One data row of a list: its number in the file (the header is row 1), its values
    by field (``None`` for an empty cell) and the fields whose cells are wrong."""

    number: int
    values: dict[str, Any]
    bad: set[str] = field(default_factory=set)

    def get(self, name: str) -> Any:
        return None if name in self.bad else self.values.get(name)


@dataclass(frozen=True)
class RowChange:
    """A stored record an import changes: its row, key and the columns (headers)."""

    row: int
    key: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TaskListResult(ImportResult):
    """What a list import did (or, in a dry run, would do): rows added, rows updated
    (with the columns each changes), rows unchanged (``skipped``)."""

    kind: str = ""
    updated: int = 0
    changes: tuple[RowChange, ...] = ()

    @property
    def unchanged(self) -> int:
        return self.skipped


@dataclass
class Planned:
    """A record to add or change. ``values`` are the columns to write (for a change,
    those that change) and ``before`` their stored values; links and the state's day
    ride along in ``extra``."""

    row: int
    key: str
    town_id: int | None
    values: dict[str, Any]
    before: dict[str, Any] | None = None
    record_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Entry:
    """The fields of an ``AuditEntry`` row, without the ORM's bookkeeping: thousands of
    them are hashed and inserted at once."""

    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    outcome: str
    resource: str
    record_id: str
    town_id: int | None
    before: str | None
    after: str | None
    detail: str
    hash_alg: str
    prev_hash: str
    hash: str = ""


@dataclass(frozen=True)
class StateSpec:
    """A kind's state: its list fields (``state``, ``state_on``), its column on the
    model, its first state, and its history table."""

    column: str
    first: LabeledChoice
    history: type[Base]
    owner: str
    """The history's column naming the record (``project_id``, ...)."""


def table_of(model: type[Base]) -> Table:
    """The table of ``model``."""
    return cast(Table, model.__table__)


def bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], *, ids: bool = False
) -> list[int]:
    """Insert ``rows`` (dicts with the same keys, values already as the columns hold
    them) into ``table`` in the session's transaction; return their new ids, in order,
    when ``ids``. PostgreSQL takes them by ``COPY`` (ids drawn from the table's
    sequence first); SQLite by one ``executemany``."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if not ids:
            session.execute(insert(table), rows)
            return []
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [row[0] for row in session.execute(stmt, rows)]
    names = list(rows[0])
    defaults = _defaults(table, names)
    names += list(defaults)
    rows = [{**row, **defaults} for row in rows] if defaults else rows
    new_ids: list[int] = []
    if ids:
        new_ids = sorted(
            connection.execute(
                sql("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)},
            ).scalars()
        )
        names.append("id")
    import psycopg

    columns = ", ".join(f'"{name}"' for name in names)
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    driver: Any = connection.connection.driver_connection
    width = len(rows[0])
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for index, row in enumerate(rows):
                values = [_copied(row[name]) for name in names[:width]]
                copy.write_row([*values, new_ids[index]] if ids else values)
    except psycopg.IntegrityError as exc:  # told as SQLAlchemy's, for ``explain``
        raise IntegrityError(statement, None, exc) from exc
    return new_ids


def _defaults(table: Table, given: list[str]) -> dict[str, Any]:
    """The Python-side defaults of ``table``'s columns not ``given`` (``COPY`` bypasses
    them, as it bypasses SQLAlchemy)."""
    found = {}
    for column in table.columns:
        default = column.default
        if column.name in given or column.name == "id" or default is None:
            continue
        if getattr(default, "is_scalar", False):
            found[column.name] = default.arg  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            found[column.name] = default.arg(None)  # type: ignore[attr-defined]
    return found


def _copied(value: Any) -> Any:
    """A value as ``COPY`` takes it: JSON as text, choices as their identifiers."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, StrEnum):
        return value.value
    return value


def _town_lookup(session: Session) -> dict[str, Town]:
    towns: dict[str, Town] = {}
    for town in session.scalars(select(Town)):
        towns[town.name] = towns[town.code] = town
    return towns


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def by_code(session: Session, table: Table, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The rows of ``table`` whose ``code`` is one of ``codes``, as dicts by code."""
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted({c for c in codes if c})
    for part in _chunks(wanted):
        for row in session.execute(select(table).where(table.c.code.in_(part))).mappings():
            found[row["code"]] = dict(row)
    return found


class TaskListImporter(BaseImporter):
    """A task list of one kind: its columns (header ↔ field, defined once), template,
    import and export. Subclasses say how rows become records (``plan_rows``), how
    they are written (``write``) and how stored records read as rows (``records``)."""

    sheet: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    key: ClassVar[tuple[str, ...]] = ("code",)
    key_note: ClassVar[str]
    notes: ClassVar[tuple[str, ...]] = ()
    empty_note: ClassVar[str] = ""
    """An exception to "an empty cell clears the field", for the instructions."""

    def __init__(self, session: Session, *, actor: Actor, progress: Progress | None = None):
        super().__init__(session, actor=actor, progress=progress)
        self.step = f"导入{self.label}清单（读取、校验、写入）"
        self.table: SheetTable | None = None
        self.problems: list[Problem] = []
        self.towns: dict[str, Town] = {}
        self.adds: list[Planned] = []
        self.changes: list[Planned] = []
        self.unchanged = 0
        self.row_towns: dict[int, set[int]] = defaultdict(set)
        self.forbidden: dict[int, list[str]] = defaultdict(list)
        self.import_id: int | None = None
        self.now = utcnow()

    # --- the columns ----------------------------------------------------------------

    @classmethod
    def header_of(cls, name: str) -> str:
        """The header of field ``name``, or of the field a model column comes from
        (``town_id``, ``lead_town_id`` → ``town``; ``park_id`` → ``park``; a state's
        column → ``state``); the name itself when neither."""
        fields = {c.field: c.header for c in cls.columns}
        candidates = [name]
        if name.endswith("_id"):
            candidates += [name.removesuffix("_id"), name.removesuffix("_id").removeprefix("lead_")]
        for candidate in candidates:
            if candidate in fields:
                return fields[candidate]
        if name.endswith("_state") and "state" in fields:
            return fields["state"]
        return name

    @classmethod
    def layout(cls) -> Layout:
        """The data sheet and instructions sheet of this kind's workbook."""
        towns = [seed.name for seed in _town_seeds()]
        choices: dict[int, Sequence[str]] = {}
        for index, column in enumerate(cls.columns):
            if column.form is ColumnType.town:
                choices[index] = towns
            elif column.form is ColumnType.choice and column.choice is not None:
                choices[index] = [m.label for m in column.choice]
        return Layout(
            sheet=cls.sheet,
            headers=[c.header for c in cls.columns],
            widths=[max(c.width, len(c.header) * 2 + 2) for c in cls.columns],
            choices=choices,
            notes_sheet=NOTES_SHEET,
            notes=cls.instructions(),
        )

    @classmethod
    def instructions(cls) -> list[list[str]]:
        """The instructions sheet (说明): how the list is read, then each column."""
        settings = get_settings()
        lines = [
            [f"{cls.label}清单填写说明"],
            [
                "数据表",
                f"数据须填在工作表“{cls.sheet}”中（不要改名）；第 1 行为列名，"
                "不要增删、改动列名；从第 2 行起每行一条记录。",
            ],
            ["唯一键", cls.key_note],
            [
                "再次导入",
                "唯一键已存在的行按本清单更新：只写有变化的字段，每条变化写入审计日志"
                "（变化前后）；完全相同的行不写入、不记审计；唯一键不存在的行为新增。"
                "清单中没有的记录不会被删除。空单元格表示该字段为空（会清除已有的值）。"
                + cls.empty_note,
            ],
            [
                "全部或不写",
                "任何一格有误则整个文件都不写入，并逐一列出所有问题（工作表、行、列、值、原因）；"
                "试运行（--dry-run）只校验、不写入。",
            ],
            [
                "镇街权限",
                "镇街用户只能导入本镇街的记录；文件中有其他镇街的行则整个文件被拒绝，并列出这些行。",
            ],
            [
                "公式与文字",
                "不接受公式单元格和错误值（#N/A 等），请粘贴为数值。以 = + - @ 开头的文字在导出时"
                "前面加一个英文单引号（'），导入时自动去掉。",
            ],
            [
                "文件限制",
                "只接受 .xlsx 或 UTF-8（或 GBK）编码的 .csv；"
                f"文件不超过 {settings.upload_max_mb} MB，"
                f"解压后不超过 {settings.upload_max_unpacked_mb} MB。",
            ],
            *([["补充", note] for note in cls.notes]),
            [],
            ["列名", "字段", "是否必填", "单位", "格式与可选值", "说明"],
        ]
        for column in cls.columns:
            lines.append(
                [
                    column.header,
                    column.field,
                    "必填" if column.required else "选填",
                    column.unit,
                    column.described(),
                    column.note,
                ]
            )
        return lines

    # --- reading --------------------------------------------------------------------

    def run_file(
        self, path: Path, *, dry_run: bool = False, name: str | None = None
    ) -> TaskListResult:
        """Import the list in ``path`` (named ``name`` in messages; default its file
        name): checked, read, planned, and written unless ``dry_run``."""
        name = name or path.name
        authorize_some(self.session, self.actor, Action.add, self.resource, record_id=name)
        self.progress(self.step, 0, 3)
        kind = check_upload(path, name=name)
        self.table = read_table(path, kind, name=name, sheet=self.sheet)
        sha256 = file_sha256(path)
        self.progress(self.step, 1, 3)
        rows = self.validate(self.table.source)
        changes = tuple(
            RowChange(p.row, p.key, tuple(self.header_of(k) for k in p.values))
            for p in self.changes
        )
        if dry_run or not (self.adds or self.changes):
            self.progress(self.step, 3, 3)
            return TaskListResult(
                None,
                name,
                sha256,
                rows,
                len(self.adds),
                self.unchanged,
                dry_run,
                kind=self.kind,
                updated=len(self.changes),
                changes=changes,
            )
        self.progress(self.step, 2, 3)
        try:
            with self.session.begin_nested():
                run = ImportRun(
                    kind=self.kind,
                    filename=name[:255],
                    sha256=sha256,
                    rows=rows,
                    actor=self.actor.username,
                )
                self.session.add(run)
                self.session.flush()
                self.import_id = run.id
                record(
                    self.session,
                    actor=self.actor,
                    action="import",
                    resource=self.resource,
                    record_id=str(run.id),
                    after={
                        "filename": name,
                        "sha256": sha256,
                        "rows": rows,
                        "added": len(self.adds),
                        "updated": len(self.changes),
                        **self.import_details(),
                    },
                    detail=f"导入{self.label}清单：{name}（sha256 {sha256[:12]}…），{rows} 行，"
                    f"新增 {len(self.adds)}，更新 {len(self.changes)}，未变 {self.unchanged}",
                )
                self.write(run.id)
        except IntegrityError as exc:
            raise explain(exc) from exc
        except StaleDataError as exc:
            raise Conflict(
                f"导入{self.label}清单期间，有要更新的记录被他人修改，整个文件未导入：请重新导入"
            ) from exc
        self._expire()
        self.progress(self.step, 3, 3)
        return TaskListResult(
            self.import_id,
            name,
            sha256,
            rows,
            len(self.adds),
            self.unchanged,
            False,
            kind=self.kind,
            updated=len(self.changes),
            changes=changes,
        )

    def validate(self, source: str) -> int:
        """Parse every cell, plan every row against what is stored, check the actor may
        write each row's town; raise ``Forbidden`` or ``Invalid`` naming the rows, or
        return how many rows there are."""
        assert self.table is not None
        table = self.table
        self.problems = list(table.problems)
        self.towns = _town_lookup(self.session)
        index = self._header_index(table)
        rows = self._parse_rows(table, index)
        self._duplicates(rows)
        self.adds, self.changes, self.unchanged = [], [], 0
        if rows:
            self.plan_rows(rows)
        self._authorize_rows()
        if self.problems:
            shown = self.problems[:MAX_PROBLEMS]
            more = len(self.problems) - len(shown)
            raise Invalid(
                f"{source} 有 {len(self.problems)} 处问题，未导入任何{self.label}"
                + (f"（仅列出前 {len(shown)} 处，另有 {more} 处）" if more else ""),
                shown,
            )
        return len(rows)

    def import_details(self) -> dict[str, Any]:
        """What the import's own audit entry records beyond the file and the counts."""
        return {}

    def problem(self, row: int | None, name: str | None, reason: str, value: Any = None) -> None:
        """Note a problem at ``row`` (``None``: the file) in field ``name``'s column."""
        assert self.table is not None
        self.problems.append(
            Problem(
                reason,
                file=self.table.source,
                row=row,
                column=self.header_of(name) if name else None,
                value=None if value is None else _shown(value),
            )
        )

    def _header_index(self, table: SheetTable) -> dict[str, int]:
        expected = {_normal_header(c.header): c for c in self.columns}
        index: dict[str, int] = {}
        if not table.header and not table.problems:
            self.problem(None, None, f"数据表“{self.sheet}”是空的：第 1 行应为列名")
            return index
        if not table.header:
            return index
        for position, header in enumerate(table.header):
            if header is None:
                if any(position < len(c) and c[position] is not None for _, c in table.rows):
                    self.problems.append(
                        Problem(
                            "这一列有数据但没有列名",
                            file=table.source,
                            row=1,
                            column=table.column_name(position),
                        )
                    )
                continue
            column = expected.get(_normal_header(header))
            if column is None:
                self.problems.append(
                    Problem(
                        f"多出的列“{header}”：模板中没有此列（请使用模板的列名）",
                        file=table.source,
                        row=1,
                        column=header,
                    )
                )
            elif column.field in index:
                self.problems.append(Problem("列名重复", file=table.source, row=1, column=header))
            else:
                index[column.field] = position
        width = len(table.header)
        if any(
            len(cells) > width and any(v is not None for v in cells[width:])
            for _, cells in table.rows
        ):
            self.problems.append(Problem("表头右侧的列有数据但没有列名", file=table.source, row=1))
        for column in self.columns:
            if column.field not in index:
                self.problems.append(
                    Problem(
                        f"缺少列“{column.header}”（模板的每一列都须保留）",
                        file=table.source,
                        row=1,
                        column=column.header,
                    )
                )
        return index

    def _parse_rows(self, table: SheetTable, index: dict[str, int]) -> list[Row]:
        rows = []
        present = [(c, index[c.field]) for c in self.columns if c.field in index]
        for number, cells in table.rows:
            row = Row(number, {})
            for column, position in present:
                value = cells[position] if position < len(cells) else None
                if value is REFUSED:
                    row.bad.add(column.field)
                    continue
                if value is None:
                    row.values[column.field] = None
                    if column.required:
                        row.bad.add(column.field)
                        self.problem(number, column.field, "必填项，不能为空")
                    continue
                try:
                    row.values[column.field] = parse_cell(column, value, self.towns)
                except _Bad as bad:
                    row.bad.add(column.field)
                    self.problem(number, column.field, str(bad), value)
            for column in self.columns:
                if column.field not in index:
                    row.bad.add(column.field)
            rows.append(row)
        return rows

    def row_key(self, row: Row) -> tuple[Any, ...] | None:
        """The row's natural key, or ``None`` when a cell of it is wrong."""
        if any(name in row.bad for name in self.key):
            return None
        values = tuple(row.values.get(name) for name in self.key)
        return None if any(v is None for v in values) else values

    def _duplicates(self, rows: list[Row]) -> None:
        seen: dict[tuple[Any, ...], int] = {}
        for row in rows:
            key = self.row_key(row)
            if key is None:
                continue
            if key in seen:
                what = "、".join(self.header_of(k) for k in self.key)
                self.problem(
                    row.number,
                    self.key[-1],
                    f"与第 {seen[key]} 行重复（{what}须唯一）",
                    "/".join(_shown(getattr(v, "name", v)) for v in key),
                )
                for name in self.key:
                    row.bad.add(name)
            else:
                seen[key] = row.number

    def town_rows(self, row: int, *town_ids: int | None) -> None:
        """Note the towns row ``row`` writes in (its own and a stored record's)."""
        self.row_towns[row].update(t for t in town_ids if t is not None)

    def _authorize_rows(self) -> None:
        """Refuse the whole file (403, logged) when the actor may not write some row's
        town, naming those rows."""
        adds = {p.row for p in self.adds}
        for number, town_ids in sorted(self.row_towns.items()):
            action = Action.add if number in adds else Action.change
            for town_id in sorted(town_ids):
                if not allowed(self.actor, action, self.resource, town_id):
                    name = next((t.name for t in self.towns.values() if t.id == town_id), "")
                    self.forbidden[number].append(f"属于{name}")
        if not self.forbidden:
            return
        rows = sorted(self.forbidden)
        named = "；".join(
            f"第 {n} 行（{'、'.join(dict.fromkeys(self.forbidden[n]))}）"
            for n in rows[:MAX_NAMED_ROWS]
        )
        more = f"等 {len(rows)} 行" if len(rows) > MAX_NAMED_ROWS else ""
        assert self.table is not None
        refuse(
            self.session,
            self.actor,
            Action.add,
            self.resource,
            f"无权导入{self.table.source}：{named}{more}。"
            "镇街用户只能导入本镇街的记录，整个文件未导入",
            town_id=self.actor.town_id,
            record_id=self.table.source[:60],
        )

    # --- planning and writing -----------------------------------------------------------

    @abstractmethod
    def plan_rows(self, rows: list[Row]) -> None:
        """Sort the parsed rows into ``adds``, ``changes`` and ``unchanged``, noting
        problems, each row's towns and forbidden rows."""

    @abstractmethod
    def write(self, import_id: int) -> int:
        """Write the planned rows (in the caller's savepoint); return how many were
        added."""

    @abstractmethod
    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        """The stored records (those the actor may see, of one town or all) as rows:
        field → value as a sheet shows it (labels, names, codes)."""

    def _expire(self) -> None:
        """Objects of the written kinds that the session holds are read again."""
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, self.written_models()):
                self.session.expire(obj)

    def written_models(self) -> tuple[type[Base], ...]:
        return ()

    def audit_rows(self, entries: list[tuple[str, str, int | None, Any, Any, str]]) -> None:
        """Append an audit entry per record added or changed, chained after the import's
        own entry (which holds the chain's head): ``(action, record id, town id, before,
        after, detail)`` each."""
        if not entries:
            return
        head = self.session.get(AuditHead, 1)
        assert head is not None
        seq, previous = head.count, head.last_hash
        algorithm = get_settings().audit_hash
        rows = []
        for action, record_id, town_id, before, after, detail in entries:
            seq += 1
            entry = _Entry(
                seq=seq,
                at=self.now,
                actor=self.actor.username,
                role=self.actor.role.value,
                action=action,
                outcome="ok",
                resource=self.resource,
                record_id=record_id[:60],
                town_id=town_id,
                before=None if before is None else canonical_json(before),
                after=None if after is None else canonical_json(after),
                detail=detail,
                hash_alg=algorithm,
                prev_hash=previous,
            )
            # The chain's own hash, of the same fields an AuditEntry row holds.
            entry.hash = previous = entry_hash(cast(AuditEntry, entry))
            rows.append(vars(entry))
        bulk_insert(self.session, table_of(AuditEntry), rows)
        head.count, head.last_hash = seq, previous
        self.session.flush()

    # --- exporting ----------------------------------------------------------------------

    def export_rows(self, town_id: int | None) -> Iterator[list[Any]]:
        """The stored records as sheet rows, in the columns' order."""
        for found in self.records(town_id):
            yield [found.get(column.field) for column in self.columns]


def _town_seeds() -> Sequence[Any]:
    from gongjian.towns.data import TOWNS

    return TOWNS


# --- kinds keyed by code ----------------------------------------------------------------


class CodedListImporter(TaskListImporter):
    """A list whose records are keyed by ``code``: plans each row against the stored
    record of its code, compares field by field, writes additions and changes in bulk
    with their audit entries and, for a kind with a state, the new records' histories.

    ``links`` are fields that are not columns of the model (codes of linked records,
    compared as sorted tuples); subclasses write them."""

    model: ClassVar[type[Base]]
    state: ClassVar[StateSpec | None] = None
    links: ClassVar[tuple[str, ...]] = ()
    timestamped: ClassVar[bool] = True

    def __init__(self, session: Session, *, actor: Actor, progress: Progress | None = None):
        super().__init__(session, actor=actor, progress=progress)
        self.stored: dict[str, dict[str, Any]] = {}
        self.pending: list[tuple[frozenset[str], str, str, Any]] = []

    def rule(self, fields: Iterable[str], name: str, reason: str, value: Any = None) -> None:
        """Note that the row being planned breaks a rule between ``fields`` (columns of
        the model or links): reported for a new record, or when one of ``fields``
        changes; a stored record the list leaves as it is is never refused for it."""
        self.pending.append((frozenset(fields), name, reason, value))

    @property
    def table_(self) -> Table:
        return table_of(self.model)

    def written_models(self) -> tuple[type[Base], ...]:
        return (self.model,)

    @abstractmethod
    def values_of(self, row: Row) -> dict[str, Any] | None:
        """The model's columns (and ``links``) a row gives, checked; ``None`` when the
        row is wrong (its problems noted). Notes the row's town with ``town_rows``."""

    def town_of(self, values: Mapping[str, Any]) -> int | None:
        """The town a record (as column values) belongs to."""
        town_id: int | None = values.get("town_id")
        return town_id

    def prepare(self, rows: list[Row]) -> None:
        """Load what ``values_of`` looks up, for all rows at once."""

    def stored_links(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The ``links`` of stored records (every one of ``ids``), by id."""
        return {i: {} for i in ids}

    def plan_rows(self, rows: list[Row]) -> None:
        codes = [row.values["code"] for row in rows if self.row_key(row) is not None]
        self.stored = by_code(self.session, self.table_, codes)
        if self.links:
            linked = self.stored_links([s["id"] for s in self.stored.values()])
            for stored in self.stored.values():
                stored.update(linked[stored["id"]])
        self.prepare(rows)
        state_days = self._state_days(rows)
        for row in rows:
            if self.row_key(row) is None:
                continue
            code = row.values["code"]
            current = self.stored.get(code)
            if current is not None:
                self.town_rows(row.number, self.town_of(current))
            self.pending = []
            values = self.values_of(row)
            if values is None:
                continue
            changed = (
                set(values)
                if current is None
                else {k for k, v in values.items() if current.get(k) != v}
            )
            broken = [r for r in self.pending if r[0] & changed]
            for _fields, name, reason, value in broken:
                self.problem(row.number, name, reason, value)
            if broken:
                continue
            if self.state is not None:
                self._plan_state(row, values, current, state_days)
            if current is None:
                self.adds.append(
                    Planned(
                        row.number,
                        code,
                        self.town_of(values),
                        values,
                        extra={"state_on": row.get("state_on") or today()},
                    )
                )
                continue
            if not changed:
                self.unchanged += 1
                continue
            after = {k: values[k] for k in values if k in changed}
            self.changes.append(
                Planned(
                    row.number,
                    code,
                    self.town_of({**current, **after}),
                    after,
                    before={k: current.get(k) for k in after},
                    record_id=current["id"],
                    extra={"version": current["version"]},
                )
            )

    def _state_days(self, rows: list[Row]) -> dict[int, dt.date]:
        """The day the current state began, of stored records whose row gives one."""
        return self.state_days(
            [
                self.stored[row.values["code"]]["id"]
                for row in rows
                if row.get("state_on") is not None
                and self.row_key(row) is not None
                and row.values["code"] in self.stored
            ]
        )

    def state_days(self, ids: Sequence[int]) -> dict[int, dt.date]:
        """The day the current state of each record of ``ids`` began (its latest
        change's)."""
        if self.state is None:
            return {}
        history = table_of(self.state.history)
        owner = history.c[self.state.owner]
        days: dict[int, dt.date] = {}
        for part in _chunks(ids):
            query = select(owner, func.max(history.c.changed_on)).where(owner.in_(part))
            days.update(self.session.execute(query.group_by(owner)).tuples().all())
        return days

    def _plan_state(
        self,
        row: Row,
        values: dict[str, Any],
        current: dict[str, Any] | None,
        days: dict[int, dt.date],
    ) -> None:
        assert self.state is not None
        given = row.get("state")
        given_on = row.get("state_on")
        if current is None:
            state = given or self.state.first
            if given_on is not None and given_on > today():
                self.problem(row.number, "state_on", f"不能晚于今天（{today()}）", given_on)
            reason = self.new_state_problem(row, state)
            if reason:
                self.problem(row.number, "state", reason, state.label)
            values[self.state.column] = state.value
            return
        stored_state = current[self.state.column]
        kind = type(self.state.first)
        if given is not None and given != stored_state:
            self.problem(
                row.number,
                "state",
                f"已有记录的状态不能通过导入修改（现为“{kind(stored_state).label}”）："
                "状态须按流程逐步变更（状态变更功能）",
                given.label,
            )
        last = days.get(current["id"])
        if given_on is not None and last is not None and given_on != last:
            self.problem(
                row.number,
                "state_on",
                f"已有记录的状态日期不能通过导入修改（现为 {last}）",
                given_on,
            )

    def new_state_problem(self, row: Row, state: LabeledChoice) -> str | None:
        """Why a new record may not start in ``state`` (``None``: it may)."""
        return None

    # --- writing ------------------------------------------------------------------------

    def write(self, import_id: int) -> int:
        columns = [c.name for c in self.table_.columns if c.name != "id"]
        new_rows = []
        for planned in self.adds:
            values = {k: v for k, v in planned.values.items() if k not in self.links}
            values = {name: values.get(name) for name in columns if name in values}
            values["code"] = planned.key
            values["import_id"] = import_id
            if self.timestamped:
                values["created_at"] = values["updated_at"] = self.now
            new_rows.append(self.before_insert(values))
        ids = self._insert(new_rows)
        for planned, record_id, values in zip(self.adds, ids, new_rows, strict=True):
            planned.record_id = record_id
            planned.extra["after"] = {"id": record_id, **values}
        self.after_insert()
        by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for planned in self.changes:
            values = {k: v for k, v in planned.values.items() if k not in self.links}
            values.update(planned.extra.get("columns", {}))
            values.update(
                id=planned.record_id, import_id=import_id, version=planned.extra["version"]
            )
            if self.timestamped:
                values["updated_at"] = self.now
            by_keys[tuple(sorted(values))].append(values)
        for batch in by_keys.values():
            # the version read: each row is updated only if still at it, and bumped
            self.session.execute(update(self.model), batch)
        self.write_links()
        if self.state is not None:
            self._histories(import_id)
        self.audit_rows(
            [
                (
                    Action.add.value,
                    p.key,
                    p.town_id,
                    None,
                    {**p.extra["after"], **{k: p.values[k] for k in self.links}},
                    f"清单导入新增（导入记录 #{import_id}，第 {p.row} 行）",
                )
                for p in self.adds
            ]
            + [
                (
                    Action.change.value,
                    p.key,
                    p.town_id,
                    p.before,
                    p.values,
                    f"清单导入更新（导入记录 #{import_id}，第 {p.row} 行）",
                )
                for p in self.changes
            ]
        )
        return len(self.adds)

    def before_insert(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new record's columns just before they are inserted."""
        return values

    def after_insert(self) -> None:
        """Work that needs the new records' ids (``Planned.record_id``)."""

    def write_links(self) -> None:
        """Write the ``links`` of new and changed records."""

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        return bulk_insert(self.session, self.table_, rows, ids=True)

    def _histories(self, import_id: int) -> None:
        assert self.state is not None
        rows = [
            {
                self.state.owner: p.record_id,
                "from_state": None,
                "to_state": p.values[self.state.column],
                "changed_on": p.extra["state_on"],
                "reason": f"清单导入（导入记录 #{import_id}）",
                "is_correction": False,
                "actor": self.actor.username,
                "recorded_at": self.now,
            }
            for p in self.adds
        ]
        if rows:
            bulk_insert(self.session, table_of(self.state.history), rows)

    # --- exporting ----------------------------------------------------------------------

    def stored_rows(self, town_id: int | None) -> list[dict[str, Any]]:
        """The stored records the actor may see (of ``town_id``, or all), by code."""
        stmt: Select[Any] = select(self.model).order_by(self.table_.c.code)
        stmt = self.narrow(stmt, town_id)
        stmt = restrict(self.session, self.actor, stmt, self.resource)
        ids = list(self.session.scalars(stmt.with_only_columns(self.table_.c.id)))
        rows: list[dict[str, Any]] = []
        for part in _chunks(ids):
            found = self.session.execute(
                select(self.table_).where(self.table_.c.id.in_(part))
            ).mappings()
            rows.extend(dict(r) for r in found)
        rows.sort(key=lambda r: r["code"])
        if self.links:
            linked = self.stored_links([r["id"] for r in rows])
            for r in rows:
                r.update(linked[r["id"]])
        if self.state is not None:
            days = self.state_days([r["id"] for r in rows])
            for r in rows:
                r["state_on"] = days.get(r["id"])
        return rows

    def narrow(self, stmt: Select[Any], town_id: int | None) -> Select[Any]:
        """``stmt`` limited to ``town_id``'s records (all when ``None``)."""
        if town_id is None:
            return stmt
        return stmt.where(self.table_.c.town_id == town_id)

    def town_names(self) -> dict[int, str]:
        return {t.id: t.name for t in self.session.scalars(select(Town))}

    def codes_by_id(self, model: type[Base]) -> dict[int, str]:
        table: Table = table_of(model)
        return dict(self.session.execute(select(table.c.id, table.c.code)).tuples().all())


def _joined(codes: Sequence[str]) -> str | None:
    return "、".join(codes) or None


def _label_of(kind: type[LabeledChoice], value: str | None) -> str | None:
    return None if value is None else kind(value).label


# --- projects -------------------------------------------------------------------------


class ProjectListImporter(CodedListImporter):
    """Projects of both campaigns (项目清单), keyed by code."""

    kind = "projects"
    resource = "project"
    label = "项目"
    sheet = "项目清单"
    model = Project
    key_note = "项目编号：同一编号即同一项目。"
    state = StateSpec("state", ProjectState.planned, ProjectStateChange, "project_id")
    links = ("rivers", "parcels")
    notes = (
        "所属攻坚可不填（由项目类型决定）；填写时须与项目类型一致。",
        "状态、状态日期只对新项目生效：历史从该状态、该日期（空则今天）开始；已有项目的状态按流程变更。"
        "“已验收”只能由市攻坚办给出。",
        "关联河涌、关联地块填编号（须已存在），多个用“、”分隔；再次导入时按清单整体替换。",
    )
    columns = (
        text("code", "项目编号", 30, required=True, width=16),
        text("name", "项目名称", 160, required=True, width=30),
        choice("kind", "项目类型", ProjectKind, required=True),
        choice("campaign", "所属攻坚", Campaign, note="可不填：由项目类型决定"),
        town_column(required=True),
        choice("state", "状态", ProjectState, note="只对新项目生效；空为“计划”"),
        day("state_on", "状态日期", past=True, note="新项目进入该状态的日期；空为今天"),
        text("owner", "责任单位", 80, width=18),
        day("planned_start_on", "计划开工日期"),
        day("planned_end_on", "计划完工日期"),
        day("actual_start_on", "实际开工日期", past=True),
        day("actual_end_on", "实际完工日期", past=True),
        number("budget_wan", "预算（万元）", "万元", digits=16),
        number("spend_wan", "已完成投资（万元）", "万元", digits=16),
        number("sewer_km", "污水管网（公里）", "公里", places=3, digits=10),
        number("capacity_kt_d", "处理能力（千吨/日）", "千吨/日", digits=10),
        number("area_mu", "面积（亩）", "亩", digits=14),
        number("culvert_uncovered_m", "揭盖复明长度（米）", "米", places=1, digits=10),
        Column("rivers", "关联河涌（编号）", ColumnType.codes, width=20),
        Column("parcels", "关联地块（编号）", ColumnType.codes, width=20),
        day("audit_joined_on", "审计介入日期", past=True),
        text("audit_findings", "审计发现", 2000, width=24),
        number("audit_saving_wan", "审计核减（万元）", "万元", digits=16),
    )

    def prepare(self, rows: list[Row]) -> None:
        rivers = {c for row in rows for c in row.get("rivers") or ()}
        parcels = {c for row in rows for c in row.get("parcels") or ()}
        self.rivers = {
            c: r["id"] for c, r in by_code(self.session, table_of(River), rivers).items()
        }
        self.parcels = {
            c: r["id"] for c, r in by_code(self.session, table_of(Parcel), parcels).items()
        }

    def values_of(self, row: Row) -> dict[str, Any] | None:
        n = row.number
        town: Town | None = row.get("town")
        kind: ProjectKind | None = row.get("kind")
        if town is not None:
            self.town_rows(n, town.id)
        known = len(self.problems)
        campaign = row.get("campaign")
        if kind is not None:
            expected = PROJECT_CAMPAIGN[kind]
            if campaign is not None and campaign != expected:
                self.rule(
                    ("campaign", "kind"),
                    "campaign",
                    f"项目类型“{kind.label}”属于{expected.label}，所属攻坚须一致",
                    campaign.label,
                )
            campaign = campaign or expected
        for start, end in (
            ("planned_start_on", "planned_end_on"),
            ("actual_start_on", "actual_end_on"),
        ):
            first, last = row.get(start), row.get(end)
            if first is not None and last is not None and last < first:
                self.rule((start, end), end, f"不能早于{self.header_of(start)}（{first}）", last)
        for name, found in (("rivers", self.rivers), ("parcels", self.parcels)):
            missing = [c for c in row.get(name) or () if c not in found]
            if missing:
                what = "河涌" if name == "rivers" else "地块"
                self.problem(n, name, f"没有编号为“{'、'.join(missing)}”的{what}", row.get(name))
        if len(self.problems) > known or row.bad or town is None or kind is None:
            return None
        values = {
            name: row.values.get(name)
            for name in (
                "name",
                "owner",
                "planned_start_on",
                "planned_end_on",
                "actual_start_on",
                "actual_end_on",
                "budget_wan",
                "spend_wan",
                "sewer_km",
                "capacity_kt_d",
                "area_mu",
                "culvert_uncovered_m",
                "audit_joined_on",
                "audit_findings",
                "audit_saving_wan",
            )
        }
        values.update(
            kind=kind.value,
            campaign=campaign.value if campaign else None,
            town_id=town.id,
            rivers=row.values.get("rivers") or (),
            parcels=row.values.get("parcels") or (),
        )
        return values

    def new_state_problem(self, row: Row, state: LabeledChoice) -> str | None:
        town: Town | None = row.get("town")
        if state == ProjectState.accepted and not allowed(
            self.actor, Action.approve, self.resource, town.id if town else None
        ):
            self.forbidden[row.number].append("“已验收”只能由市攻坚办给出")
        return None

    def stored_links(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, list[str]]] = {i: {"rivers": [], "parcels": []} for i in ids}
        for name, link, model, column in (
            ("rivers", project_rivers, River, project_rivers.c.river_id),
            ("parcels", project_parcels, Parcel, project_parcels.c.parcel_id),
        ):
            table: Table = table_of(model)
            for part in _chunks(ids):
                for project_id, code in self.session.execute(
                    select(link.c.project_id, table.c.code)
                    .join(table, table.c.id == column)
                    .where(link.c.project_id.in_(part))
                ):
                    found[project_id][name].append(code)
        return {
            pid: {name: tuple(sorted(codes)) for name, codes in links.items()}
            for pid, links in found.items()
        }

    def write_links(self) -> None:
        changed = [p for p in self.changes if "rivers" in p.values or "parcels" in p.values]
        for name, link, column, ids in (
            ("rivers", project_rivers, "river_id", self.rivers),
            ("parcels", project_parcels, "parcel_id", self.parcels),
        ):
            stale = [p.record_id for p in changed if name in p.values]
            for part in _chunks(stale):
                self.session.execute(delete(link).where(link.c.project_id.in_(part)))
            rows = [
                {"project_id": p.record_id, column: ids[code]}
                for p in [*self.adds, *(p for p in changed if name in p.values)]
                for code in p.values[name]
            ]
            if rows:
                bulk_insert(self.session, link, rows)

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        towns = self.town_names()
        for r in self.stored_rows(town_id):
            yield {
                **r,
                "kind": _label_of(ProjectKind, r["kind"]),
                "campaign": _label_of(Campaign, r["campaign"]),
                "town": towns[r["town_id"]],
                "state": _label_of(ProjectState, r["state"]),
                "rivers": _joined(r["rivers"]),
                "parcels": _joined(r["parcels"]),
            }


# --- parcels --------------------------------------------------------------------------

GEOMETRY_HEADER = "几何（GeoJSON 或 WKT，经度在前）"
SAME_SHAPE_DEGREES = 1e-9
"""Vertices this close (degrees, about 0.1 mm) are the same vertex: an exported geometry
read back is not a change, whatever its float noise."""
SHOWN_GEOMETRY = 80
"""Characters of a geometry cell a problem quotes."""
_AS_GIVEN = (InputCrs.wgs84, InputCrs.cgcs2000)
"""Coordinate systems whose coordinates are stored as given (``geo.crs.to_wgs84``)."""


def _shape_of(geometry: Mapping[str, Any] | str) -> BaseGeometry | None:
    """``geometry`` (a GeoJSON geometry, or GeoJSON or WKT text) as a shapely geometry,
    unchecked; ``None`` when it cannot be read."""
    try:
        if isinstance(geometry, str):
            text = geometry.strip()
            if text.startswith("{"):
                return shape(json.loads(text))
            return shapely.from_wkt(text)
        return shape(geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError):
        return None


def same_shape(first: Mapping[str, Any] | str, second: Mapping[str, Any]) -> bool:
    """Whether ``first`` (a GeoJSON geometry, or GeoJSON or WKT text) is the geometry
    ``second``, in the same coordinates: the same polygons and rings, vertex for vertex
    within ``SAME_SHAPE_DEGREES``, whatever the rings' first vertex and orientation, and
    whether positions are tuples or lists; ``False`` when either cannot be read."""
    one, other = _shape_of(first), _shape_of(second)
    if one is None or other is None:
        return False
    return bool(
        shapely.equals_exact(
            shapely.normalize(one), shapely.normalize(other), tolerance=SAME_SHAPE_DEGREES
        )
    )


def geometry_text(geometry: Mapping[str, Any] | None) -> str | None:
    """A stored geometry as a list shows it: compact GeoJSON (WGS84, as stored). ``None``
    (an empty cell, which an import reads as "keep the stored geometry") when there is
    none, or when it is longer than a spreadsheet cell holds (``CELL_MAX_CHARS``)."""
    if geometry is None:
        return None
    text = json.dumps(geometry, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= CELL_MAX_CHARS else None


def _brief(value: Any) -> Any:
    """A geometry cell as a problem quotes it: its first ``SHOWN_GEOMETRY`` characters."""
    if isinstance(value, str) and len(value) > SHOWN_GEOMETRY:
        return value[:SHOWN_GEOMETRY] + "…"
    return value


class ParcelListImporter(CodedListImporter):
    """Parcels (地块清单), keyed by code; each row checked as ``renewal.services.
    new_parcel`` checks a new parcel, its geometry read in ``crs`` (the caller's word:
    ``--crs``, ``?crs=``) and stored in WGS84.

    A geometry gives the parcel's area (on the WGS84 ellipsoid, in mu); the area column
    is needed only without one. A stored parcel's geometry is kept when the row's cell is
    empty (the one exception to "an empty cell clears the field", so that a geometry too
    long for a cell survives an export and import) or holds the same geometry (compared
    normalised, within ``SAME_SHAPE_DEGREES``); a kept geometry keeps its stored area,
    which a list cannot change. A different geometry is a change of the geometry and of
    the area computed from it."""

    kind = "parcels"
    resource = "parcel"
    label = "地块"
    sheet = "地块清单"
    model = Parcel
    key_note = "地块编号：同一编号即同一地块。"
    state = StateSpec("renewal_state", RenewalState.identified, ParcelStateChange, "parcel_id")
    empty_note = "例外：已有几何图形的地块，几何列留空表示保留原图形（不会清除）。"
    notes = (
        f"几何图形（“{GEOMETRY_HEADER}”列）可不填：填地块边界，GeoJSON 几何"
        '（如 {"type":"Polygon","coordinates":[[[113.38,22.52],[113.382,22.52],'
        "[113.382,22.522],[113.38,22.522],[113.38,22.52]]]}）或 WKT"
        "（如 POLYGON ((113.38 22.52, 113.382 22.52, 113.382 22.522, 113.38 22.522, "
        "113.38 22.52))），经度在前，须为中国范围内的有效多边形。",
        "坐标系：默认 WGS84（GPS）。高德、腾讯等地图的 GCJ-02 坐标须在导入时注明："
        "gongjian import parcels 文件.xlsx --crs gcj02（网页接口加 ?crs=gcj02）；"
        "CGCS2000（--crs cgcs2000）按 WGS84 处理。入库与导出的几何一律为 WGS84。",
        "有几何图形的地块，面积由图形计算（WGS84 椭球面，亩，保留两位小数）：面积列可不填，"
        "新增或改变几何图形时面积按图形重算（面积列不起作用）；没有几何图形时面积必填。",
        "已有几何图形的地块：几何列留空或与已有图形相同，即保留原图形，此时面积不能在清单中修改；"
        "填写不同的图形即更新图形（记入审计日志），面积随之重算。清单不能删除已有的几何图形。",
        f"导出的几何为 WGS84 的 GeoJSON，原样导入不产生变化；超过 {CELL_MAX_CHARS:,} 个字符"
        "（Excel 单元格上限）的图形导出时留空（导入时保留）。大批图形也可用 GeoJSON 导入"
        "（gongjian import parcels 文件.geojson）。",
        "状态、状态日期只对新地块生效：历史从该状态、该日期（空则今天，即低效认定日期）开始。",
    )
    columns = (
        text("code", "地块编号", 30, required=True, width=16),
        text("name", "地块名称", 120, width=24),
        town_column(required=True),
        text("park", "所属工业园（编号）", 30, note="须为同一镇街的工业园"),
        text("theme_park", "主题产业园（编号）", 20),
        number(
            "area_mu",
            "面积（亩）",
            "亩",
            digits=14,
            positive=True,
            note="没有几何图形时必填；有几何图形时由图形计算",
        ),
        choice("ownership", "土地权属", Ownership, note="空为“集体”"),
        text("owner_name", "权利人", 80, width=18),
        choice("state", "改造状态", RenewalState, note="只对新地块生效；空为“低效认定”"),
        day("state_on", "状态日期", past=True, note="新地块进入该状态的日期；空为今天"),
        Column(
            "geometry",
            GEOMETRY_HEADER,
            ColumnType.geometry,
            width=40,
            note="坐标系默认 WGS84，GCJ-02 导入时加 --crs gcj02；已有图形的地块留空为保留原图形",
        ),
    )

    def __init__(
        self,
        session: Session,
        *,
        actor: Actor,
        crs: InputCrs = InputCrs.wgs84,
        progress: Progress | None = None,
    ):
        super().__init__(session, actor=actor, progress=progress)
        self.crs = crs

    def import_details(self) -> dict[str, Any]:
        return {"crs": self.crs.value}

    def prepare(self, rows: list[Row]) -> None:
        self.lookups = ParcelLookups.load(self.session)

    def _kept(self, row: Row, current: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The stored geometry the row leaves as it is (an empty cell, or the same
        geometry in coordinates stored as given), or ``None``."""
        stored: dict[str, Any] | None = current["geometry"] if current else None
        if stored is None or "geometry" in row.bad:
            return None
        drawn = row.values.get("geometry")
        if drawn is None or (self.crs in _AS_GIVEN and same_shape(drawn, stored)):
            return stored
        return None

    def values_of(self, row: Row) -> dict[str, Any] | None:
        town: Town | None = row.get("town")
        if town is not None:
            self.town_rows(row.number, town.id)
        current = self.stored.get(row.values["code"])
        kept = self._kept(row, current)
        ownership = row.get("ownership")
        area = row.get("area_mu")
        if area is None and kept is not None and current is not None:
            area = current["area_mu"]  # the stored drawing's area
        given = {
            "code": row.values["code"],
            "town": town.code if town else "",
            "name": row.get("name"),
            "park": row.get("park"),
            "theme_park": row.get("theme_park"),
            "ownership": ownership.value if ownership else None,
            "owner_name": row.get("owner_name"),
            "area_mu": None if area is None else str(area),
            "geometry": None if kept is not None else row.get("geometry"),
        }
        parcel, found = new_parcel(given, self.lookups, self.crs)
        shown = 0
        for name, reason in found:
            if name not in row.bad:
                self.problem(row.number, name, reason, _brief(given.get(name)))
                shown += 1
        if parcel is None or row.bad or shown:
            return None
        stored = current["geometry"] if current is not None else None
        if (
            kept is None
            and stored is not None
            and parcel.geometry is not None
            and same_shape(parcel.geometry, stored)
        ):
            kept = stored  # the same drawing, given in another coordinate system
        geometry, size = parcel.geometry, parcel.area_mu
        if kept is not None and current is not None:
            if area is not None and area != current["area_mu"]:
                self.problem(
                    row.number,
                    "area_mu",
                    f"该地块有几何图形，面积由图形计算（{current['area_mu']} 亩），"
                    "不能在清单中修改",
                    area,
                )
                return None
            geometry, size = kept, current["area_mu"]
        return {
            "name": parcel.name,
            "town_id": parcel.town_id,
            "park_id": parcel.park_id,
            "theme_park_id": parcel.theme_park_id,
            "area_mu": size,
            "ownership": Ownership(parcel.ownership).value,
            "owner_name": parcel.owner_name,
            "geometry": geometry,
        }

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        towns = self.town_names()
        parks = self.codes_by_id(Park)
        themes = self.codes_by_id(ThemePark)
        for r in self.stored_rows(town_id):
            yield {
                **r,
                "town": towns[r["town_id"]],
                "park": parks.get(r["park_id"]) if r["park_id"] else None,
                "theme_park": themes.get(r["theme_park_id"]) if r["theme_park_id"] else None,
                "ownership": _label_of(Ownership, r["ownership"]),
                "state": _label_of(RenewalState, r["renewal_state"]),
                "geometry": geometry_text(r["geometry"]),
            }


# --- rivers ---------------------------------------------------------------------------


class RiverListImporter(CodedListImporter):
    """Rivers and creeks (河涌清单), keyed by code; the lead town answers for each."""

    kind = "rivers"
    resource = "river"
    label = "河涌"
    sheet = "河涌清单"
    model = River
    key_note = "河涌编号：同一编号即同一河涌。"
    state = StateSpec("remediation_state", RemediationState.listed, RiverStateChange, "river_id")
    notes = (
        "整治状态、状态日期只对新河涌生效；“评估通过”“长治久清”须有监测证据，只能通过状态变更给出。",
    )
    columns = (
        text("code", "河涌编号", 30, required=True, width=16),
        text("name", "河涌名称", 80, required=True, width=20),
        town_column("town", "牵头镇街", required=True),
        number("length_m", "长度（米）", "米", places=1, digits=12, required=True),
        choice("state", "整治状态", RemediationState, note="只对新河涌生效；空为“列入清单”"),
        day("state_on", "状态日期", past=True, note="新河涌进入该状态的日期；空为今天"),
    )

    def values_of(self, row: Row) -> dict[str, Any] | None:
        town: Town | None = row.get("town")
        if town is not None:
            self.town_rows(row.number, town.id)
        if row.bad or town is None:
            return None
        return {
            "name": row.values["name"],
            "lead_town_id": town.id,
            "length_m": row.values["length_m"],
        }

    def town_of(self, values: Mapping[str, Any]) -> int | None:
        town_id: int | None = values.get("lead_town_id")
        return town_id

    def new_state_problem(self, row: Row, state: LabeledChoice) -> str | None:
        if state in (RemediationState.evaluated, RemediationState.sustained):
            return f"新河涌不能直接为“{state.label}”：须有监测证据，请用状态变更"
        return None

    def narrow(self, stmt: Select[Any], town_id: int | None) -> Select[Any]:
        return stmt if town_id is None else stmt.where(River.lead_town_id == town_id)

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        towns = self.town_names()
        for r in self.stored_rows(town_id):
            yield {
                **r,
                "town": towns[r["lead_town_id"]],
                "state": _label_of(RemediationState, r["remediation_state"]),
            }


# --- monitoring points ----------------------------------------------------------------


class PointListImporter(CodedListImporter):
    """Monitoring points (检测点清单), keyed by code; a point belongs to its river's lead
    town."""

    kind = "points"
    resource = "monitoring_point"
    label = "检测点"
    sheet = "检测点清单"
    model = MonitoringPoint
    timestamped = False
    key_note = "检测点编号：同一编号即同一检测点（监测数据文件中的 point_id）。"
    notes = ("检测点属于所在河涌的牵头镇街。",)
    columns = (
        text("code", "检测点编号", 40, required=True, width=16),
        text("river", "所在河涌（编号）", 30, required=True, width=16),
        text("name", "检测点名称", 80, width=20),
        number(
            "chainage_m",
            "里程（米）",
            "米",
            places=1,
            digits=12,
            required=True,
            note="距河涌上游起点的距离",
        ),
        number(
            "lon",
            "经度（度）",
            "度",
            places=6,
            digits=10,
            low=Decimal(-180),
            high=Decimal(180),
            note="WGS84",
        ),
        number(
            "lat",
            "纬度（度）",
            "度",
            places=6,
            digits=10,
            low=Decimal(-90),
            high=Decimal(90),
            note="WGS84",
        ),
    )

    def prepare(self, rows: list[Row]) -> None:
        self.rivers = {
            code: (river_id, town_id)
            for river_id, code, town_id in self.session.execute(
                select(River.id, River.code, River.lead_town_id)
            )
        }
        self.river_towns = {river_id: town_id for river_id, town_id in self.rivers.values()}

    def town_of(self, values: Mapping[str, Any]) -> int | None:
        return self.river_towns.get(values.get("river_id"))

    def values_of(self, row: Row) -> dict[str, Any] | None:
        code = row.get("river")
        river = self.rivers.get(code) if code else None
        if code and river is None:
            self.problem(row.number, "river", f"没有编号为“{code}”的河涌", code)
            return None
        if river is not None:
            self.town_rows(row.number, river[1])
        if row.bad or river is None:
            return None
        return {
            "river_id": river[0],
            "name": row.values["name"],
            "chainage_m": row.values["chainage_m"],
            "lon": row.values["lon"],
            "lat": row.values["lat"],
        }

    def narrow(self, stmt: Select[Any], town_id: int | None) -> Select[Any]:
        if town_id is None:
            return stmt
        return stmt.join(River, River.id == MonitoringPoint.river_id).where(
            River.lead_town_id == town_id
        )

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        rivers = self.codes_by_id(River)
        for r in self.stored_rows(town_id):
            yield {**r, "river": rivers[r["river_id"]]}


# --- enterprises ----------------------------------------------------------------------


class EnterpriseListImporter(CodedListImporter):
    """Enterprises attracted or expanding (企业清单), keyed by code: on a parcel they lie
    in its town and, when it has one, its theme park."""

    kind = "enterprises"
    resource = "enterprise"
    label = "企业"
    sheet = "企业清单"
    model = Enterprise
    key_note = "企业编号：同一编号即同一企业。"
    notes = (
        "填写所在地块时，镇街可不填（随地块）；主题产业园可不填（随地块）。两者填写时须与地块一致。",
    )
    columns = (
        text("code", "企业编号", 30, required=True, width=16),
        text("name", "企业名称", 120, required=True, width=28),
        choice("kind", "企业类型", EnterpriseKind, required=True),
        town_column(note="可不填：随所在地块"),
        text("parcel", "所在地块（编号）", 30, width=16),
        text("theme_park", "主题产业园（编号）", 20),
        text("industry", "行业", 60),
        day("agreement_signed_on", "协议签订日期", past=True, note="空为尚未签约（不计入指标）"),
        number("investment_wan", "协议投资额（万元）", "万元", required=True),
        number("actual_investment_wan", "实际投资额（万元）", "万元"),
        Column("jobs", "就业人数（人）", ColumnType.integer, unit="人", high=Decimal(10_000_000)),
    )

    def prepare(self, rows: list[Row]) -> None:
        wanted = {row.get("parcel") for row in rows} - {None}
        self.parcels = by_code(self.session, table_of(Parcel), wanted)
        self.themes = {t.code: t for t in self.session.scalars(select(ThemePark))}
        self.theme_codes = {t.id: t.code for t in self.themes.values()}

    def values_of(self, row: Row) -> dict[str, Any] | None:
        n = row.number
        town: Town | None = row.get("town")
        parcel_code, theme_code = row.get("parcel"), row.get("theme_park")
        parcel = self.parcels.get(parcel_code) if parcel_code else None
        theme = self.themes.get(theme_code) if theme_code else None
        known = len(self.problems)
        if parcel_code and parcel is None:
            self.problem(n, "parcel", f"没有编号为“{parcel_code}”的地块", parcel_code)
        if theme_code and theme is None:
            self.problem(n, "theme_park", f"没有编号为“{theme_code}”的主题产业园", theme_code)
        town_id = town.id if town else (parcel["town_id"] if parcel else None)
        if town_id is None and "town" not in row.bad and "parcel" not in row.bad:
            self.problem(n, "town", "须填写镇街，或填写所在地块（镇街随地块）")
        self.town_rows(n, town_id)
        if len(self.problems) > known or row.bad or town_id is None:
            return None
        current = self.stored.get(row.values["code"])
        parcel_id = parcel["id"] if parcel else None
        moved = current is None or current["parcel_id"] != parcel_id
        theme_id = theme.id if theme else None
        if parcel is not None and theme_id is None and not theme_code and moved:
            theme_id = parcel["theme_park_id"]  # a new parcel brings its theme park
        if parcel is not None and parcel["town_id"] != town_id:
            where = next((t.name for t in self.towns.values() if t.id == parcel["town_id"]), "")
            self.rule(
                ("town_id", "parcel_id"),
                "town",
                f"地块“{parcel_code}”属于{where}，企业所在镇街须与地块一致",
                town.name if town else None,
            )
        if parcel is not None and parcel["theme_park_id"] not in (None, theme_id):
            self.rule(
                ("theme_park_id", "parcel_id"),
                "theme_park",
                f"地块“{parcel_code}”已划入主题产业园"
                f"“{self.theme_codes.get(parcel['theme_park_id'])}”，须与地块一致",
                theme_code,
            )
        v = row.values
        return {
            "name": v["name"],
            "kind": v["kind"].value,
            "town_id": town_id,
            "parcel_id": parcel_id,
            "theme_park_id": theme_id,
            "industry": v["industry"],
            "agreement_signed_on": v["agreement_signed_on"],
            "investment_wan": v["investment_wan"],
            "actual_investment_wan": v["actual_investment_wan"],
            "jobs": v["jobs"],
        }

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        towns = self.town_names()
        parcels = self.codes_by_id(Parcel)
        themes = self.codes_by_id(ThemePark)
        for r in self.stored_rows(town_id):
            yield {
                **r,
                "kind": _label_of(EnterpriseKind, r["kind"]),
                "town": towns[r["town_id"]],
                "parcel": parcels.get(r["parcel_id"]) if r["parcel_id"] else None,
                "theme_park": themes.get(r["theme_park_id"]) if r["theme_park_id"] else None,
            }


# --- leases ---------------------------------------------------------------------------


class LeaseListImporter(CodedListImporter):
    """Leases and subleases (租赁清单), keyed by code: a lease's town is its parcel's; a
    sublease lies on its parent's parcel, covers no more area, and parents never loop.
    A parent may be a lease of the same file."""

    kind = "leases"
    resource = "lease"
    label = "租赁"
    sheet = "租赁清单"
    model = Lease
    links = ("parent",)
    key_note = "租赁编号：同一编号即同一租赁合同。"
    notes = (
        "镇街随地块，可不填；填写时须与地块所在镇街一致。转租填写上级租赁编号（可为本文件中的租赁），"
        "地块可不填（随上级租赁）。",
    )
    columns = (
        text("code", "租赁编号", 30, required=True, width=16),
        text("parcel", "地块（编号）", 30, width=16, note="转租时可不填：随上级租赁"),
        town_column(note="可不填：随地块"),
        text("parent", "上级租赁（编号）", 30, width=16, note="转租时填写"),
        text("lessor", "出租方", 120, required=True, width=20),
        text("lessee", "承租方", 120, required=True, width=20),
        text("building", "楼栋", 80),
        number("area_m2", "租赁面积（平方米）", "平方米", digits=12, required=True, positive=True),
        number(
            "rent_yuan_m2_month",
            "租金（元/平方米/月）",
            "元/平方米/月",
            digits=10,
            required=True,
            positive=True,
        ),
        day("start_on", "起租日期", required=True),
        day("end_on", "到期日期"),
    )

    def prepare(self, rows: list[Row]) -> None:
        table: Table = table_of(Lease)
        self.all_leases = {
            r["code"]: dict(r)
            for r in self.session.execute(
                select(
                    table.c.id,
                    table.c.code,
                    table.c.parent_lease_id,
                    table.c.parcel_id,
                    table.c.area_m2,
                )
            ).mappings()
        }
        codes = {r["id"]: c for c, r in self.all_leases.items()}
        self.parent_of: dict[str, str | None] = {
            c: codes.get(r["parent_lease_id"]) if r["parent_lease_id"] else None
            for c, r in self.all_leases.items()
        }
        self.in_file = {row.values["code"]: row for row in rows if self.row_key(row) is not None}
        for code, row in self.in_file.items():
            if "parent" not in row.bad:
                self.parent_of[code] = row.values.get("parent")
        wanted = {row.get("parcel") for row in rows} - {None}
        self.parcels = by_code(self.session, table_of(Parcel), wanted)
        self.parcel_codes = {p["id"]: c for c, p in self.parcels.items()}
        missing = {r["parcel_id"] for r in self.all_leases.values()} - set(self.parcel_codes)
        for part in _chunks(sorted(missing)):
            for parcel in self.session.execute(
                select(table_of(Parcel)).where(table_of(Parcel).c.id.in_(part))
            ).mappings():
                self.parcels[parcel["code"]] = dict(parcel)
                self.parcel_codes[parcel["id"]] = parcel["code"]
        self.planned_parcel: dict[str, str] = {}

    def _parent_parcel(self, code: str, seen: set[str]) -> tuple[str | None, Decimal | None]:
        """The parcel code and area of lease ``code`` (as the file or the store has it)."""
        row = self.in_file.get(code)
        if row is not None:
            if code in seen:
                return None, None
            seen.add(code)
            parcel = row.get("parcel")
            if not parcel and row.get("parent"):
                parcel = self._parent_parcel(row.values["parent"], seen)[0]
            return parcel, row.get("area_m2")
        stored = self.all_leases.get(code)
        if stored is None:
            return None, None
        return self.parcel_codes.get(stored["parcel_id"]), stored["area_m2"]

    def _loop(self, code: str) -> list[str] | None:
        walked, current = [code], self.parent_of.get(code)
        while current is not None:
            if current == code:
                return [*walked, code]
            if current in walked:
                return None
            walked.append(current)
            current = self.parent_of.get(current)
        return None

    def values_of(self, row: Row) -> dict[str, Any] | None:
        n, v = row.number, row.values
        code = v["code"]
        known = len(self.problems)
        parent = row.get("parent")
        if parent and parent not in self.all_leases and parent not in self.in_file:
            self.problem(n, "parent", f"没有编号为“{parent}”的租赁", parent)
        parent_parcel, parent_area = self._parent_parcel(parent, set()) if parent else (None, None)
        parcel_code = row.get("parcel") or parent_parcel
        if not parcel_code and not {"parcel", "parent"} & row.bad and not row.get("parent"):
            self.problem(n, "parcel", "须填写地块，或填写上级租赁（地块随上级租赁）")
        parcel = self.parcels.get(parcel_code) if parcel_code else None
        if row.get("parcel") and parcel is None:
            self.problem(n, "parcel", f"没有编号为“{parcel_code}”的地块", parcel_code)
        town: Town | None = row.get("town")
        if parcel is not None:
            self.town_rows(n, parcel["town_id"])
            if town is not None and town.id != parcel["town_id"]:
                where = next((t.name for t in self.towns.values() if t.id == parcel["town_id"]), "")
                self.problem(
                    n, "town", f"地块“{parcel_code}”属于{where}，镇街须与地块一致", town.name
                )
        elif town is not None:
            self.town_rows(n, town.id)
        if len(self.problems) > known or row.bad or parcel is None:
            return None
        if parent and parent_parcel and parent_parcel != parcel_code:
            self.rule(
                ("parcel_id", "parent"),
                "parcel",
                f"转租须与上级租赁“{parent}”在同一地块（{parent_parcel}），而非“{parcel_code}”",
                parcel_code,
            )
        area = v["area_m2"]
        if parent and parent_area is not None and area > parent_area:
            self.rule(
                ("area_m2", "parent"),
                "area_m2",
                f"转租面积 {area} m² 超过上级租赁“{parent}”的面积 {parent_area} m²",
                area,
            )
        if parent == code:
            self.rule(("parent",), "parent", "租赁不能以自己为上级租赁", parent)
        elif parent and (loop := self._loop(code)):
            self.rule(("parent",), "parent", f"上级租赁形成循环：{' → '.join(loop)}", parent)
        start, end = v["start_on"], v["end_on"]
        if end is not None and end < start:
            self.rule(("start_on", "end_on"), "end_on", f"不能早于起租日期（{start}）", end)
        return {
            "parcel_id": parcel["id"],
            "town_id": parcel["town_id"],
            "parent": parent,
            "lessor": v["lessor"],
            "lessee": v["lessee"],
            "building": v["building"],
            "area_m2": area,
            "rent_yuan_m2_month": v["rent_yuan_m2_month"],
            "start_on": start,
            "end_on": end,
        }

    def stored_links(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        table: Table = table_of(Lease)
        parent = table.alias("parent")
        found: dict[int, dict[str, Any]] = {i: {"parent": None} for i in ids}
        for part in _chunks(ids):
            for lease_id, code in self.session.execute(
                select(table.c.id, parent.c.code)
                .join(parent, parent.c.id == table.c.parent_lease_id)
                .where(table.c.id.in_(part))
            ):
                found[lease_id]["parent"] = code
        return found

    def before_insert(self, values: dict[str, Any]) -> dict[str, Any]:
        values["parent_lease_id"] = None
        return values

    def after_insert(self) -> None:
        codes = {c: r["id"] for c, r in self.all_leases.items()}
        codes.update({p.key: p.record_id for p in self.adds if p.record_id is not None})
        batch = []
        for planned in self.adds:
            parent = planned.values.get("parent")
            if parent:
                planned.extra["after"]["parent_lease_id"] = codes[parent]
                batch.append({"lease_id": planned.record_id, "parent_id": codes[parent]})
        for planned in self.changes:
            if "parent" in planned.values:
                parent = planned.values["parent"]
                planned.extra["columns"] = {"parent_lease_id": codes[parent] if parent else None}
        if batch:  # rows added by this import, seen by no one else yet: no version to check
            table = table_of(Lease)
            self.session.execute(
                update(table)
                .where(table.c.id == bindparam("lease_id"))
                .values(parent_lease_id=bindparam("parent_id")),
                batch,
            )

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        towns = self.town_names()
        parcels = self.codes_by_id(Parcel)
        leases = self.codes_by_id(Lease)
        for r in self.stored_rows(town_id):
            yield {
                **r,
                "town": towns[r["town_id"]],
                "parcel": parcels[r["parcel_id"]],
                "parent": leases.get(r["parent_lease_id"]) if r["parent_lease_id"] else None,
            }


# --- commitments ----------------------------------------------------------------------


class Indicator(LabeledChoice):
    """The indicators a commitment letter sets targets for: the headline KPI keys of
    SPEC, each with its label and unit."""

    renewal_cleared_mu = ("renewal.cleared_mu", "拆除整理面积（亩）")
    renewal_attracted = ("renewal.attracted", "新招引企业（家）")
    renewal_expansions = ("renewal.expansions", "增资扩产企业（家）")
    renewal_investment_yi = ("renewal.investment_yi", "新增投资（亿元）")
    water_rivers_entered = ("water.rivers_entered", "进场整治河涌（条）")
    water_rivers_completed = ("water.rivers_completed", "完工河涌（条）")
    water_sewer_km = ("water.sewer_km", "新建污水管网（公里）")
    water_wwtp_started = ("water.wwtp_started", "污水处理厂开工（座）")
    water_black_odor_reduction_pct = ("water.black_odor_reduction_pct", "黑臭水体减少（%）")


assert set(Indicator.values()) == set(KPI_KEYS), "every KPI key is an indicator"


@dataclass
class _Letter:
    """A commitment letter (town, year, campaign) as the file gives it."""

    town_id: int
    year: int
    campaign: Campaign
    signed_on: dt.date | None
    first_row: int
    stored: dict[str, Any] | None = None
    record_id: int | None = None


class CommitmentListImporter(TaskListImporter):
    """Commitment letters (承诺书清单), a row per indicator target, keyed by town, year,
    campaign and indicator. A letter the city has signed off (approved) is locked: its
    targets and signing day refuse changes."""

    kind = "commitments"
    resource = "commitment"
    label = "承诺书"
    sheet = "承诺书清单"
    key = ("town", "year", "campaign", "indicator")
    key_note = "镇街 + 年度 + 攻坚类别 + 指标：每个承诺书的每项指标一行。"
    notes = (
        "同一承诺书（镇街、年度、攻坚类别相同）的各行，签订日期须一致。",
        "已由市攻坚办审批的承诺书已锁定，其目标值和签订日期不能修改。",
        "指标须属于所填攻坚类别（工改：拆除整理、新招引、增资扩产、新增投资；治水：其余）。",
    )
    columns = (
        town_column(required=True),
        Column(
            "year",
            "年度",
            ColumnType.integer,
            required=True,
            low=Decimal(2000),
            high=Decimal(2100),
            width=8,
        ),
        choice("campaign", "攻坚类别", Campaign, required=True),
        choice("indicator", "指标", Indicator, required=True, width=24),
        number(
            "target",
            "目标值（指标单位）",
            "按指标",
            digits=14,
            required=True,
            note="单位见指标名称中的括号",
        ),
        day("signed_on", "签订日期", past=True),
    )

    def __init__(self, session: Session, *, actor: Actor, progress: Progress | None = None):
        super().__init__(session, actor=actor, progress=progress)
        self.letters: dict[tuple[int, int, str], _Letter] = {}
        self.letter_changes: list[_Letter] = []
        self.touched: set[tuple[int, int, str]] = set()

    def written_models(self) -> tuple[type[Base], ...]:
        return (Commitment, CommitmentTarget)

    def _name(self, letter: _Letter) -> str:
        town = next(t for t in self.towns.values() if t.id == letter.town_id)
        return f"{town.code}/{letter.year}/{letter.campaign.value}"

    def plan_rows(self, rows: list[Row]) -> None:
        keyed = [(row, self.row_key(row)) for row in rows]
        towns = {key[0].id for _, key in keyed if key}
        years = {key[1] for _, key in keyed if key}
        stored: dict[tuple[int, int, str], dict[str, Any]] = {}
        targets: dict[tuple[int, str], dict[str, Any]] = {}
        if towns:
            table: Table = table_of(Commitment)
            found = self.session.execute(
                select(table).where(table.c.town_id.in_(towns), table.c.year.in_(years))
            ).mappings()
            stored = {(r["town_id"], r["year"], r["campaign"]): dict(r) for r in found}
            target_table: Table = table_of(CommitmentTarget)
            ids = [r["id"] for r in stored.values()]
            for part in _chunks(ids):
                for r in self.session.execute(
                    select(target_table).where(target_table.c.commitment_id.in_(part))
                ).mappings():
                    targets[(r["commitment_id"], r["indicator"])] = dict(r)
        for row, key in keyed:
            if key is None:
                continue
            town, year, campaign, indicator = key
            n = row.number
            letter_key = (town.id, year, campaign.value)
            current = stored.get(letter_key)
            self.town_rows(n, town.id)
            if not indicator.value.startswith(f"{campaign.value}."):
                self.problem(n, "indicator", f"该指标不属于{campaign.label}", indicator.label)
                continue
            if row.bad:
                continue
            letter = self.letters.get(letter_key)
            signed_on = row.values["signed_on"]
            if letter is None:
                letter = _Letter(town.id, year, campaign, signed_on, n, current)
                letter.record_id = current["id"] if current else None
                self.letters[letter_key] = letter
            elif letter.signed_on != signed_on:
                self.problem(
                    n,
                    "signed_on",
                    f"同一承诺书的签订日期须一致"
                    f"（第 {letter.first_row} 行为 {letter.signed_on or '空'}）",
                    signed_on,
                )
                continue
            name = f"{town.code}/{year}/{campaign.value}/{indicator.value}"
            target = row.values["target"]
            if current is None:
                self._add(row, name, town.id, indicator, target, letter_key)
                continue
            locked = current["approved_at"] is not None
            stored_target = targets.get((current["id"], indicator.value))
            signed_changed = current["signed_on"] != signed_on and letter.first_row == n
            if (
                stored_target is not None
                and stored_target["target"] == target
                and not signed_changed
            ):
                self.unchanged += 1
                continue
            if locked:
                self.problem(
                    n,
                    "target" if not signed_changed else "signed_on",
                    f"该承诺书已由 {current['approved_by'] or '市攻坚办'} 审批锁定，不能修改",
                    target if not signed_changed else signed_on,
                )
                continue
            if stored_target is None:
                self._add(row, name, town.id, indicator, target, letter_key)
            else:
                values, before = {}, {}
                if stored_target["target"] != target:
                    values["target"], before["target"] = target, stored_target["target"]
                if signed_changed:
                    values["signed_on"], before["signed_on"] = signed_on, current["signed_on"]
                self.changes.append(
                    Planned(
                        n,
                        name,
                        town.id,
                        values,
                        before,
                        stored_target["id"],
                        extra={"letter": letter_key},
                    )
                )
                self.touched.add(letter_key)
            if signed_changed:
                self.letter_changes.append(letter)

    def _add(
        self,
        row: Row,
        name: str,
        town_id: int,
        indicator: Indicator,
        target: Decimal,
        letter_key: tuple[int, int, str],
    ) -> None:
        self.adds.append(
            Planned(
                row.number,
                name,
                town_id,
                {"indicator": indicator.value, "target": target},
                extra={"letter": letter_key},
            )
        )
        self.touched.add(letter_key)

    def write(self, import_id: int) -> int:
        entries: list[tuple[str, str, int | None, Any, Any, str]] = []
        detail = f"清单导入（导入记录 #{import_id}）"
        new_letters = [
            letter
            for key, letter in self.letters.items()
            if letter.stored is None and key in self.touched
        ]
        table: Table = table_of(Commitment)
        if new_letters:
            rows = [
                {
                    "town_id": letter.town_id,
                    "year": letter.year,
                    "campaign": letter.campaign.value,
                    "signed_on": letter.signed_on,
                    "approved_by": None,
                    "approved_at": None,
                    "import_id": import_id,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for letter in new_letters
            ]
            ids = bulk_insert(self.session, table, rows, ids=True)
            for letter, record_id, values in zip(new_letters, ids, rows, strict=True):
                letter.record_id = record_id
                entries.append(
                    (
                        Action.add.value,
                        self._name(letter),
                        letter.town_id,
                        None,
                        {"id": record_id, **values},
                        detail,
                    )
                )
        signed = {id(letter) for letter in self.letter_changes}
        touched = [
            {
                "id": letter.record_id,
                "import_id": import_id,
                "updated_at": self.now,
                "version": letter.stored["version"],
                **({"signed_on": letter.signed_on} if id(letter) in signed else {}),
            }
            for key, letter in self.letters.items()
            if letter.stored is not None and key in self.touched
        ]
        for batch in (
            [t for t in touched if "signed_on" in t],
            [t for t in touched if "signed_on" not in t],
        ):
            if batch:
                self.session.execute(update(Commitment), batch)
        for letter in self.letter_changes:
            assert letter.stored is not None
            entries.append(
                (
                    Action.change.value,
                    self._name(letter),
                    letter.town_id,
                    {"signed_on": letter.stored["signed_on"]},
                    {"signed_on": letter.signed_on},
                    detail,
                )
            )
        target_table: Table = table_of(CommitmentTarget)
        if self.adds:
            rows = [
                {"commitment_id": self.letters[p.extra["letter"]].record_id, **p.values}
                for p in self.adds
            ]
            ids = bulk_insert(self.session, target_table, rows, ids=True)
            for planned, record_id, values in zip(self.adds, ids, rows, strict=True):
                planned.record_id = record_id
                entries.append(
                    (
                        Action.add.value,
                        planned.key,
                        planned.town_id,
                        None,
                        {"id": record_id, **values},
                        f"{detail}，第 {planned.row} 行",
                    )
                )
        changed = [p for p in self.changes if "target" in p.values]
        if changed:
            self.session.execute(
                update(CommitmentTarget),
                [{"id": p.record_id, "target": p.values["target"]} for p in changed],
            )
        entries += [
            (
                Action.change.value,
                p.key,
                p.town_id,
                {"target": p.before["target"]},
                {"target": p.values["target"]},
                f"{detail}，第 {p.row} 行",
            )
            for p in changed
            if p.before is not None
        ]
        self.audit_rows(entries)
        return len(self.adds)

    def records(self, town_id: int | None) -> Iterator[dict[str, Any]]:
        stmt = (
            select(Commitment, CommitmentTarget, Town)
            .join(CommitmentTarget, CommitmentTarget.commitment_id == Commitment.id)
            .join(Town, Town.id == Commitment.town_id)
            .order_by(Town.code, Commitment.year, Commitment.campaign, CommitmentTarget.indicator)
        )
        if town_id is not None:
            stmt = stmt.where(Commitment.town_id == town_id)
        stmt = restrict(self.session, self.actor, stmt, self.resource)
        for letter, target, town in self.session.execute(stmt).tuples():
            yield {
                "town": town.name,
                "year": letter.year,
                "campaign": Campaign(letter.campaign).label,
                "indicator": _indicator_label(target.indicator),
                "target": target.target,
                "signed_on": letter.signed_on,
            }


def _indicator_label(key: str) -> str:
    try:
        return Indicator(key).label
    except ValueError:
        return key


# --- the kinds, templates and exports -------------------------------------------------

LISTS: dict[str, type[TaskListImporter]] = {
    importer.kind: importer
    for importer in (
        ProjectListImporter,
        ParcelListImporter,
        RiverListImporter,
        PointListImporter,
        EnterpriseListImporter,
        LeaseListImporter,
        CommitmentListImporter,
    )
}
"""Every kind of task list by its name (``gongjian import KIND``, ``/templates/KIND.xlsx``)."""


def list_kind(name: str, *, crs: InputCrs | None = None) -> type[TaskListImporter]:
    """The task list called ``name``; ``NotFound`` naming the kinds otherwise. Given
    ``crs`` (the coordinate system of a list's geometries), only the parcel list, the one
    list with geometries, is found; any other is ``Invalid``."""
    found = LISTS.get(name)
    if found is None:
        raise NotFound(f"没有“{name}”这种清单，可选：{'、'.join(LISTS)}")
    if crs is not None and not issubclass(found, ParcelListImporter):
        raise Invalid(
            f"{found.label}清单没有几何图形，不接受坐标系",
            [Problem("坐标系（crs）只用于地块清单（parcels）的几何列", column="crs")],
        )
    return found


def list_importer(
    name: str,
    session: Session,
    *,
    actor: Actor,
    crs: InputCrs | None = None,
    progress: Progress | None = None,
) -> TaskListImporter:
    """The importer of the task list called ``name``, as ``list_kind`` finds it; the
    parcel list's reads its geometries in ``crs`` (default WGS84)."""
    kind = list_kind(name, crs=crs)
    if crs is not None and issubclass(kind, ParcelListImporter):
        return kind(session, actor=actor, crs=crs, progress=progress)
    return kind(session, actor=actor, progress=progress)
