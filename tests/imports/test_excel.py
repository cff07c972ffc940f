"""Safe reading and writing of task-list files: sizes and real content types checked
before parsing, zip bombs refused from the zip directory, formulas refused, formula
injection neutralised on the way out and undone on the way in."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from gongjian.config import get_settings
from gongjian.errors import Invalid
from gongjian.imports.excel import (
    MB,
    REFUSED,
    FileKind,
    Layout,
    TooLarge,
    Unsupported,
    check_upload,
    csv_text,
    neutralise,
    read_table,
    restore,
    write_csv,
    write_xlsx,
)

LAYOUT = Layout(
    sheet="数据",
    headers=["编号", "名称", "金额（万元）", "日期"],
    widths=[10, 10, 10, 10],
    choices={1: ["甲", "乙"]},
    notes_sheet="说明",
    notes=[["说明"]],
)


def xlsx(path: Path, rows: list[list[Any]], sheet: str = "数据") -> Path:
    book = Workbook()
    active = book.active
    assert active is not None
    active.title = sheet
    for row in rows:
        active.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+86 760", "'+86 760"),
        ("-某单位", "'-某单位"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'=already", "''=already"),
        ("普通文字", "普通文字"),
        ("'quoted", "'quoted"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_and_restore_are_inverse(text: str, written: str) -> None:
    assert neutralise(text) == written
    assert restore(written) == text


def test_restore_strips_only_before_a_formula_character() -> None:
    assert restore("'abc") == "'abc"
    assert restore("'-5") == "-5"
    assert restore("''") == "''"


def test_csv_fields_keep_numbers_and_dates() -> None:
    assert csv_text(Decimal("-12.50")) == "-12.50"
    assert csv_text(-3) == "-3"
    assert csv_text(dt.date(2023, 1, 5)) == "2023-01-05"
    assert csv_text("-张三") == "'-张三"
    assert csv_text(None) == ""


def test_an_exported_formula_text_opens_as_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = [['=HYPERLINK("http://x")', "-负责人", Decimal("-12.5"), dt.date(2023, 1, 5)]]
    write_xlsx(path, LAYOUT, rows)
    book = load_workbook(path)
    sheet = book["数据"]
    assert sheet.freeze_panes == "A2"
    first, second, amount, day = sheet[2]
    assert (first.value, first.data_type) == ('\'=HYPERLINK("http://x")', "s")
    assert (second.value, second.data_type) == ("'-负责人", "s")
    assert (amount.value, amount.data_type) == (-12.5, "n")
    assert day.value == dt.datetime(2023, 1, 5)
    assert day.is_date
    kind = check_upload(path)
    table = read_table(path, kind, name=path.name, sheet="数据")
    assert table.rows[0][1][:2] == ['=HYPERLINK("http://x")', "-负责人"]
    assert table.rows[0][1][2] == -12.5
    assert table.problems == []


def test_a_csv_round_trip_restores_texts(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        write_csv(handle, ["编号", "名称"], [["=1", "-2"], ["@x", None]])
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    table = read_table(path, check_upload(path), name=path.name, sheet="")
    assert table.header == ["编号", "名称"]
    assert [values for _, values in table.rows] == [["=1", "-2"], ["@x", None]]


def test_a_gbk_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("编号,镇街\nA-1,石岐\n".encode("gbk"))
    table = read_table(path, check_upload(path), name=path.name, sheet="")
    assert table.rows == [(2, ["A-1", "石岐"])]


def test_formula_and_error_cells_are_refused(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "f.xlsx", [["编号", "金额（万元）"], ["A-1", "=1+1"], ["A-2", 3]])
    book = load_workbook(path)
    book["数据"]["B3"].value = "#N/A"
    book["数据"]["B3"].data_type = "e"
    book.save(path)
    table = read_table(path, check_upload(path), name=path.name, sheet="数据")
    assert table.rows[0][1][1] is REFUSED
    assert [(p.row, p.column) for p in table.problems] == [(2, "金额（万元）"), (3, "金额（万元）")]
    assert "公式" in table.problems[0].reason
    assert table.problems[0].file == "[f.xlsx]数据"


def test_a_renamed_data_sheet_is_named(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "r.xlsx", [["编号"], ["A-1"]], sheet="Sheet1")
    table = read_table(path, check_upload(path), name=path.name, sheet="数据")
    assert "数据" in table.problems[0].reason
    assert "Sheet1" in table.problems[0].reason


def test_an_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "upload_max_mb", Decimal("0.01"))
    path = tmp_path / "big.csv"
    path.write_text("编号\n" + "A-1\n" * 5000, encoding="utf-8")
    with pytest.raises(TooLarge) as refused:
        check_upload(path)
    assert refused.value.status == 413
    assert "upload_max_mb" in refused.value.problems[0].reason


def _bomb(path: Path, member_mb: int, extra: dict[str, bytes] | None = None) -> Path:
    """A zip that looks like a workbook, with one member of ``member_mb`` MB of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        block = bytes(MB)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(member_mb):
                member.write(block)
    return path


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "bomb.xlsx", 300)
    assert path.stat().st_size < MB
    with pytest.raises(TooLarge) as refused:
        check_upload(path)
    assert "压缩炸弹" in refused.value.problems[0].reason
    assert "upload_max_unpacked_mb" in refused.value.problems[0].reason


def test_a_member_compressed_too_well_is_refused(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "ratio.xlsx", 20)
    with pytest.raises(TooLarge) as refused:
        check_upload(path)
    assert ":1" in refused.value.problems[0].reason


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("tool.xlsx", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200), "二进制"),
        ("list.xlsx", "编号,名称\nA,B\n".encode(), "文本"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ".xls"),
        ("list.txt", b"a,b\n", ".txt"),
        ("empty.csv", b"", "空"),
    ],
)
def test_a_file_that_is_not_a_list_is_refused(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Unsupported) as refused:
        check_upload(path)
    assert refused.value.status == 415
    assert reason in refused.value.problems[0].reason
    assert refused.value.problems[0].file == name


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    with pytest.raises(Unsupported) as refused:
        check_upload(path)
    assert "xl/workbook.xml" in refused.value.problems[0].reason


def test_kinds_come_from_content_not_names(tmp_path: Path) -> None:
    workbook = xlsx(tmp_path / "list.xlsx", [["编号"], ["A-1"]])
    assert check_upload(workbook) is FileKind.xlsx
    assert check_upload(workbook, name="清单") is FileKind.xlsx
    with pytest.raises(Unsupported):
        check_upload(workbook, name="清单.csv")
    text = tmp_path / "list.csv"
    text.write_text("编号\nA-1\n", encoding="utf-8")
    assert check_upload(text) is FileKind.csv


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as refused:
        check_upload(tmp_path / "nothing.xlsx")
    assert "不存在" in refused.value.problems[0].reason


def test_a_large_export_streams(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    rows = ([f"A-{i}", "甲", Decimal(i), None] for i in range(5000))
    write_xlsx(buffer, LAYOUT, rows)
    path = tmp_path / "large.xlsx"
    path.write_bytes(buffer.getvalue())
    table = read_table(path, check_upload(path), name=path.name, sheet="数据")
    assert len(table.rows) == 5000
    number, values = table.rows[-1]
    assert (number, values[:3]) == (5001, ["A-4999", "甲", 4999])
