"""Reading the files people bring (CSV, Parquet, Excel) into DuckDB, as they are.

Every reader gives each data row its position (0 for the first row after the header), so
problems can name the file's own row numbers (the header is row 1): a Parquet file stays
on disk behind a view whose ``ROW_POSITION`` column holds it (its columns are typed and
read in parallel, so copying them would only cost memory); CSV and Excel land in a table
whose ``rowid`` holds it (``row_position`` says which).

An .xlsx is checked as an upload is (``excel.check_workbook``: a real workbook, and no
zip bomb, from the zip's directory) before openpyxl opens it; the upload size limit does
not apply, since monitoring data is legitimately large.

CSV files from Chinese monitoring stations are often in GBK or GB18030: a file that is not
UTF-8 is read as GB18030 (a superset of GBK) when it decodes as such, and refused, naming
the encodings expected, when it does not.
"""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from gongjian.errors import Invalid, Problem
from gongjian.imports.excel import check_workbook

ENCODINGS = ("utf-8", "gb18030")
"""What a CSV may be encoded in, tried in this order (GB18030 covers GBK and GB2312)."""

CHUNK = 1 << 20
ROW_POSITION = "__row_position"
"""The column of a Parquet view holding each row's position in the file."""


def quoted(column: str) -> str:
    """A column name as a DuckDB identifier."""
    escaped = column.replace('"', '""')
    return f'"{escaped}"'


def row_position(columns: Iterable[str]) -> str:
    """SQL for a row's position (0 for the first data row) in a relation made by ``load``
    (or any table, by its ``rowid``), given the relation's column names."""
    return ROW_POSITION if ROW_POSITION in columns else "rowid"


def _literal(path: Path) -> str:
    """``path`` inside a single-quoted SQL string (a view's definition takes no
    parameters)."""
    return str(path).replace("'", "''")


def _refused(path: Path, reason: str) -> Invalid:
    return Invalid("无法读取输入文件", [Problem(reason, file=str(path))])


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _utf8(path: Path) -> Iterator[tuple[Path, str]]:
    """``path`` as a UTF-8 file (a transcoded temporary copy when it is GB18030)."""
    encoding = next((e for e in ENCODINGS if _decodes(path, e)), None)
    if encoding is None:
        raise _refused(path, "编码无法识别：CSV 应为 UTF-8，或 GBK/GB18030（国标）编码")
    if encoding == "utf-8":
        yield path, encoding
        return
    with tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8") as copy:
        with path.open(encoding=encoding, newline="") as source:
            while block := source.read(CHUNK):
                copy.write(block)
        copy.flush()
        yield Path(copy.name), encoding


def _excel(path: Path) -> pa.Table:
    """The first sheet of an .xlsx workbook, every cell as text; the first row names the
    columns."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _refused(path, f"不是有效的 Excel（.xlsx）文件：{exc}") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise _refused(path, "工作表是空的")
        names = [
            str(h).strip() if h is not None else f"column{i + 1}" for i, h in enumerate(header)
        ]
        columns: list[list[str | None]] = [[] for _ in names]
        for row in rows:
            for i, column in enumerate(columns):
                cell = row[i] if i < len(row) else None
                column.append(None if cell is None else _cell_text(cell))
    finally:
        book.close()
    return pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(names, columns, strict=True)}
    )


def _cell_text(cell: object) -> str:
    """A cell as the text a person typed: dates in ISO 8601, numbers without float noise."""
    if hasattr(cell, "isoformat"):
        return cell.isoformat()  # type: ignore[no-any-return]
    if isinstance(cell, float):
        return repr(cell)
    return str(cell)


def load(connection: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[str]:
    """Make ``table`` in DuckDB hold ``path`` (CSV, Parquet or .xlsx); return its column
    names (``ROW_POSITION`` aside). CSV and Excel are read into a table, every column as
    text; Parquet stays a view over the file and keeps its types."""
    if not path.is_file():
        raise _refused(path, "文件不存在")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            source = f"read_parquet('{_literal(path)}', file_row_number = true)"
            connection.execute(
                f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * EXCLUDE (file_row_number),"
                f" file_row_number AS {ROW_POSITION} FROM {source}"
            )
        elif suffix == ".xlsx":
            check_workbook(path, name=str(path))  # no zip bomb reaches openpyxl
            connection.register("excel_sheet", _excel(path))
            connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM excel_sheet")
            connection.unregister("excel_sheet")
        else:
            with _utf8(path) as (readable, _encoding):
                connection.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_csv(?,"
                    " all_varchar = true, header = true, delim = ',', quote = '\"',"
                    " escape = '\"', strict_mode = true)",
                    [str(readable)],
                )
        # A view reads the file only when queried: describing it finds a broken file now.
        described = connection.execute(f"SELECT * FROM {table} LIMIT 0").description or []
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _refused(path, f"无法读取（CSV、Parquet 或 Excel .xlsx）：{first_line}") from None
    return [str(column[0]) for column in described if column[0] != ROW_POSITION]
