"""Reading and writing task lists (清单) as .xlsx and CSV, safely.

Every file a person brings is checked before anything parses it (``check_upload``):

- its size, at most the setting ``upload_max_mb``;
- its real kind, by its bytes and not its name: an .xlsx is a zip (``PK\\x03\\x04``)
  holding ``[Content_Types].xml`` and ``xl/workbook.xml``; a CSV is text (UTF-8, or
  GBK/GB18030) without NUL bytes. A renamed program, an old binary .xls, a Word file
  or text named .xlsx is refused;
- for a zip, its directory, read with ``zipfile`` before openpyxl opens it: the sum of
  the members' uncompressed sizes at most ``upload_max_unpacked_mb``, and no member
  larger than ``RATIO_FLOOR_BYTES`` unpacked that is compressed more than
  ``MAX_RATIO``:1 (a zip bomb). ``zipfile`` never inflates a member beyond the size
  its directory declares, so a directory that lies cannot get past these checks.

``check_workbook`` runs the zip checks alone, for a workbook that may be larger than
``upload_max_mb`` (monitoring data read by ``files.load``).

Formulas are never trusted: a cell whose data type is ``f`` (read with openpyxl without
``data_only``) is refused, as is an error cell (``#N/A``). Reading uses openpyxl's
read-only mode; writing its write-only mode, so large lists stream.

Formula injection (CSV/Excel injection) is neutralised on the way out: a text that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a
leading apostrophe (``'=1+2``) and, in .xlsx, stored as an explicit string; numbers stay
numbers (a negative number too) and dates stay dates. Reading strips that apostrophe
again, only where what follows it begins with one of those characters, and takes the
rest verbatim (a leading tab is not whitespace to trim), so our own export reads back
as it was. A text that already begins with apostrophes before such a character gets
one more on the way out and loses one on the way in, so it too survives.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from openpyxl.utils import get_column_letter

from gongjian.config import get_settings
from gongjian.errors import Invalid, Problem

MB = 1024 * 1024
"""One MB as the upload settings count it (MiB)."""
MAX_RATIO = 100
"""Largest compression ratio (unpacked ÷ packed) a large zip member may have."""
RATIO_FLOOR_BYTES = 4 * MB
"""Members smaller than this unpacked may be compressed at any ratio (a sheet of
repeated values compresses well; a few MB of it cannot hurt)."""
XLSX_MAGIC = b"PK\x03\x04"
XLSX_MEMBERS = ("[Content_Types].xml", "xl/workbook.xml")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The start of an old binary .xls (and .doc): not a task list."""
ENCODINGS = ("utf-8-sig", "gb18030")
"""What a CSV may be encoded in, tried in this order (GB18030 covers GBK and GB2312)."""
DANGEROUS = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet read a cell as a formula."""
DATE_FORMAT = "yyyy-mm-dd"
CELL_MAX_CHARS = 32_767
"""Most characters a spreadsheet cell holds (Excel's limit: it cuts longer texts)."""
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters an .xlsx cannot hold (openpyxl refuses them)."""


class TooLarge(Invalid):
    """A file over the upload limits, packed or unpacked (413)."""

    status = 413


class Unsupported(Invalid):
    """A file that is not what a task list may be: .xlsx or CSV (415)."""

    status = 415


class FileKind(StrEnum):
    """What a checked upload holds."""

    xlsx = "xlsx"
    csv = "csv"


class _Refused:
    """A cell already reported as a problem (a formula, an error value)."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED: Any = _Refused()
"""The value read for a refused cell: parsers skip it (its problem is already listed)."""


def neutralise(text: str) -> str:
    """``text`` as written to a spreadsheet: an apostrophe in front when it would
    otherwise start a formula (see the module docstring)."""
    core = text.lstrip("'")
    if core and core[0] in DANGEROUS:
        return "'" + text
    return text


class Verbatim(str):
    """A text read back from a neutralised cell: exactly as it was exported, so its
    leading tab or carriage return is not whitespace to strip."""

    __slots__ = ()


def restore(text: str) -> str:
    """``text`` as read back: one leading apostrophe removed when what follows it (past
    any further apostrophes) begins with a formula character (the result is then
    ``Verbatim``); otherwise unchanged."""
    if text.startswith("'"):
        core = text.lstrip("'")
        if core and core[0] in DANGEROUS:
            return Verbatim(text[1:])
    return text


def _mb(size: int | Decimal) -> str:
    return f"{Decimal(size) / MB:.2f}".rstrip("0").rstrip(".")


def _refusal(kind: type[Invalid], name: str, reason: str) -> Invalid:
    return kind(f"文件“{name}”未被接受", [Problem(reason, file=name)])


def check_upload(path: Path, *, name: str | None = None) -> FileKind:
    """What ``path`` holds (.xlsx or CSV), after the checks of the module docstring;
    ``TooLarge`` or ``Unsupported`` naming the file (``name``: as the user called it)
    otherwise."""
    name = name or path.name
    settings = get_settings()
    limit = int(settings.upload_max_mb * MB)
    if not path.is_file():
        raise _refusal(Invalid, name, "文件不存在")
    size = path.stat().st_size
    if size > limit:
        raise _refusal(
            TooLarge, name, f"文件大小 {_mb(size)} MB，超过上限 {_mb(limit)} MB（upload_max_mb）"
        )
    if size == 0:
        raise _refusal(Unsupported, name, "文件是空的")
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    suffix = Path(name).suffix.lower()
    if head.startswith(XLSX_MAGIC):
        _check_zip(path, name, int(settings.upload_max_unpacked_mb * MB))
        if suffix not in ("", ".xlsx"):
            raise _refusal(
                Unsupported, name, f"内容是 Excel 工作簿（.xlsx），而文件名后缀为“{suffix}”"
            )
        return FileKind.xlsx
    if head.startswith(OLE_MAGIC):
        raise _refusal(
            Unsupported, name, "这是旧版 Excel（.xls）或其他 Office 二进制文件：请另存为 .xlsx"
        )
    if b"\x00" in head:
        raise _refusal(Unsupported, name, "不是 Excel 工作簿（.xlsx）或 CSV 文本：内容为二进制")
    if not _is_text(path):
        raise _refusal(
            Unsupported,
            name,
            "不是 Excel 工作簿（.xlsx），也不是可读的 CSV 文本：CSV 应为 UTF-8 或 GBK/GB18030 "
            "编码，请用“另存为 CSV UTF-8”重新保存",
        )
    if suffix == ".xlsx":
        raise _refusal(Unsupported, name, "文件名为 .xlsx，但内容是文本而不是 Excel 工作簿")
    if suffix not in ("", ".csv"):
        raise _refusal(Unsupported, name, f"只接受 .xlsx 或 .csv 文件，而不是“{suffix}”")
    return FileKind.csv


def check_workbook(path: Path, *, name: str | None = None) -> None:
    """The zip checks of ``check_upload`` alone, for a workbook that may be larger than
    ``upload_max_mb`` (monitoring data, ``gongjian import samples``): ``Unsupported``
    when ``path`` is not a zip holding a workbook, ``TooLarge`` when it would unpack past
    ``upload_max_unpacked_mb`` or holds a member compressed like a zip bomb. Call it
    before openpyxl opens the file."""
    name = name or path.name
    with path.open("rb") as handle:
        head = handle.read(len(XLSX_MAGIC))
    if head != XLSX_MAGIC:
        raise _refusal(Unsupported, name, "不是 Excel 工作簿（.xlsx）：内容不是 zip 压缩包")
    _check_zip(path, name, int(get_settings().upload_max_unpacked_mb * MB))


def _check_zip(path: Path, name: str, unpacked_limit: int) -> None:
    """The zip checks of the module docstring, on its directory only."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refusal(Unsupported, name, f"不是有效的 Excel 工作簿（zip 损坏：{exc}）") from None
    names = {member.filename for member in members}
    missing = [member for member in XLSX_MEMBERS if member not in names]
    if missing:
        raise _refusal(
            Unsupported,
            name,
            f"是 zip 压缩包，但不是 Excel 工作簿（缺少 {'、'.join(missing)}）",
        )
    total = sum(member.file_size for member in members)
    if total > unpacked_limit:
        raise _refusal(
            TooLarge,
            name,
            f"解压后共 {_mb(total)} MB，超过上限 {_mb(unpacked_limit)} MB"
            "（upload_max_unpacked_mb），疑为压缩炸弹",
        )
    for member in members:
        if member.file_size <= RATIO_FLOOR_BYTES:
            continue
        if member.compress_size == 0 or member.file_size > MAX_RATIO * member.compress_size:
            ratio = member.file_size / max(member.compress_size, 1)
            raise _refusal(
                TooLarge,
                name,
                f"成员 {member.filename} 解压后 {_mb(member.file_size)} MB，压缩比"
                f" {ratio:,.0f}:1，超过 {MAX_RATIO}:1，疑为压缩炸弹",
            )


def _is_text(path: Path) -> bool:
    data = path.read_bytes()
    return any(_decodes(data, encoding) for encoding in ENCODINGS)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class Table:
    """The cells of one sheet or CSV as read: the header row (row 1) and each non-empty
    data row with its number; refused cells hold ``REFUSED`` and are in ``problems``."""

    source: str
    """How problems name where they are: the file, and for a workbook the sheet."""
    header: list[str | None]
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def column_name(self, index: int) -> str:
        """A column as problems name it: its header, or its letter when it has none."""
        header = self.header[index] if index < len(self.header) else None
        return header or f"第 {get_column_letter(index + 1)} 列（无列名）"


def sheet_source(name: str, sheet: str) -> str:
    """Where a problem in ``sheet`` of workbook ``name`` is, as Excel writes it."""
    return f"[{name}]{sheet}"


def read_table(path: Path, kind: FileKind, *, name: str, sheet: str) -> Table:
    """The cells of ``path`` (checked by ``check_upload``): of the sheet named ``sheet``
    in a workbook, or of a CSV. Texts lose a neutralising apostrophe (``restore``);
    empty texts read as ``None``."""
    if kind is FileKind.xlsx:
        return _read_xlsx(path, name=name, sheet=sheet)
    return _read_csv(path, name=name)


def _text_cell(value: str) -> str | None:
    return restore(value) if value.strip() else None


def _read_xlsx(path: Path, *, name: str, sheet: str) -> Table:
    with path.open("rb") as handle:  # a handle: openpyxl would judge a path by its name
        return _read_book(handle, name=name, sheet=sheet)


def _read_book(handle: IO[bytes], *, name: str, sheet: str) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(handle, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise _refusal(Unsupported, name, f"无法读取 Excel 工作簿：{exc}") from None
    try:
        if sheet not in book.sheetnames:
            found = "、".join(book.sheetnames)
            return Table(
                sheet_source(name, sheet),
                [],
                problems=[
                    Problem(
                        f"找不到数据表“{sheet}”（工作簿中有：{found}）：请使用模板，"
                        "不要重命名数据表",
                        file=name,
                    )
                ],
            )
        worksheet = book[sheet]
        worksheet.reset_dimensions()
        table = Table(sheet_source(name, sheet), [])
        for number, cells in enumerate(worksheet.iter_rows(), start=1):
            values: list[Any] = []
            filled = False
            for index, cell in enumerate(cells):
                kind = cell.data_type
                value = cell.value
                if value is None:
                    values.append(None)
                    continue
                if kind == "f" or kind == "e":
                    reason = (
                        "公式单元格不被接受（公式的结果不可信）：请粘贴为数值后再导入"
                        if kind == "f"
                        else "单元格是错误值，请改为有效数据"
                    )
                    table.problems.append(
                        Problem(
                            reason,
                            file=table.source,
                            row=number,
                            column=table.column_name(index)
                            if number > 1
                            else get_column_letter(index + 1),
                            value=str(value),
                        )
                    )
                    values.append(REFUSED)
                    filled = True
                    continue
                if isinstance(value, str):
                    value = _text_cell(value)
                    if value is None:
                        values.append(None)
                        continue
                values.append(value)
                filled = True
            if number == 1:
                table.header = [_header(v) for v in values]
            elif filled:
                table.rows.append((number, values))
        return table
    finally:
        book.close()


def _header(value: Any) -> str | None:
    if value is None or value is REFUSED:
        return None
    return str(value).strip() or None


def _read_csv(path: Path, *, name: str) -> Table:
    data = path.read_bytes()
    text = None
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise _refusal(Unsupported, name, "编码无法识别：CSV 应为 UTF-8，或 GBK/GB18030 编码")
    table = Table(name, [])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for number, record in enumerate(reader, start=1):
            values = [_text_cell(v) for v in record]
            if number == 1:
                table.header = [_header(v) for v in values]
            elif any(v is not None for v in values):
                table.rows.append((number, values))
    except csv.Error as exc:
        table.problems.append(Problem(f"CSV 格式有误：{exc}", file=name, row=reader.line_num))
    return table


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """A small sheet beside the data (an export's 筛选条件): its name and its lines, the
    first one bold; texts neutralised like the data's, columns fitted to their content."""

    name: str
    lines: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Layout:
    """How a list's data sheet looks: its name, headers, the narrowest width of each
    column (widened to fit the first ``FIT_ROWS`` rows), the drop-down lists of some
    columns (by index), the small sheets written after it (``extra``), and the
    instructions sheet (none when ``notes`` is empty)."""

    sheet: str
    headers: Sequence[str]
    widths: Sequence[int]
    choices: dict[int, Sequence[str]]
    notes_sheet: str
    notes: Sequence[Sequence[str]]
    extra: Sequence[Sheet] = ()


FIT_ROWS = 1000
"""Rows read to fit the data sheet's column widths (the rest stream after them)."""
WIDTH_MAX = 60
"""Widest column a fitted sheet gets, in character widths."""


def text_width(value: Any) -> int:
    """How wide ``value`` shows in a cell, in character widths: CJK (wide and full-width)
    characters count double."""
    if value is None:
        return 0
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return len(DATE_FORMAT)
    text = csv_text(value)
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def fitted_widths(
    floors: Sequence[int], lines: Iterable[Sequence[Any]], columns: int | None = None
) -> list[int]:
    """Column widths that fit ``lines`` (two characters of margin, at most ``WIDTH_MAX``),
    at least ``floors``; a header's width counts like a value's."""
    count = max(columns or 0, len(floors))
    widths = [*floors, *([0] * (count - len(floors)))]
    for line in lines:
        for index, value in enumerate(line):
            if index >= len(widths):
                widths.append(0)
            widths[index] = max(widths[index], min(WIDTH_MAX, text_width(value) + 2))
    return widths


def _validation_formula(options: Sequence[str]) -> str:
    listed = ",".join(options)
    if len(listed) > 255 or any('"' in o or "," in o for o in options):
        raise ValueError(f"a drop-down list must be under 256 characters: {listed}")
    return f'"{listed}"'


def write_xlsx(target: Path | IO[bytes], layout: Layout, rows: Iterable[Sequence[Any]]) -> None:
    """Write a workbook: the data sheet (bold frozen header, columns fitted to the header
    and the first ``FIT_ROWS`` rows, drop-downs, ``rows`` below, formula characters
    neutralised), then the small ``extra`` sheets, then the instructions sheet. Streams
    (write-only) past the rows it fits to."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook(write_only=True)
    sheet = book.create_sheet(layout.sheet)
    sheet.freeze_panes = "A2"
    remaining = iter(rows)
    head = list(islice(remaining, FIT_ROWS))
    widths = fitted_widths(layout.widths, [layout.headers, *head])
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for index, options in layout.choices.items():
        letter = get_column_letter(index + 1)
        validation = DataValidation(
            type="list",
            formula1=_validation_formula(options),
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle="取值不在列表中",
            error="请从下拉列表中选择（也可填写英文标识）",
        )
        validation.add(f"{letter}2:{letter}1048576")
        sheet.data_validations.append(validation)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    header = []
    for text in layout.headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        header.append(cell)
    sheet.append(header)
    for row in chain(head, remaining):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    for extra in layout.extra:
        _write_sheet(book, extra, bold)
    if layout.notes:
        notes = book.create_sheet(layout.notes_sheet)
        notes.column_dimensions["A"].width = 24
        for letter in "BCDE":
            notes.column_dimensions[letter].width = 18
        notes.column_dimensions["F"].width = 70
        for line in layout.notes:
            notes.append([_xlsx_cell(notes, value) for value in line])
    book.save(target)


def _write_sheet(book: Any, extra: Sheet, bold: Any) -> None:
    """One of a layout's small sheets: fitted columns, its first line bold, frozen below it."""
    from openpyxl.cell.cell import Cell

    sheet = book.create_sheet(extra.name)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(fitted_widths([], extra.lines), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for number, line in enumerate(extra.lines):
        cells = [_xlsx_cell(sheet, value) for value in line]
        if number == 0:
            for cell in cells:
                if isinstance(cell, Cell):
                    cell.font = bold
        sheet.append(cells)


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if value is None:
        return None
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=neutralise(_ILLEGAL.sub("", value)))
        cell.data_type = "s"
        return cell
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    return value


def csv_text(value: Any) -> str:
    """A value as a CSV field: texts neutralised, numbers written out exactly, dates in
    ISO 8601, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(target: IO[str], headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV (the caller opens ``target`` as UTF-8 with a BOM, so Excel reads the
    Chinese right): the header, then ``rows``, formula characters neutralised."""
    writer = csv.writer(target, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_text(value) for value in row])
