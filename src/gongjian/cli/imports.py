"""``gongjian import``: bring files of records into the platform.

``samples`` takes monitoring data; each task list (清单) kind has a command of its own
(``projects``, ``parcels``, ``rivers``, ``points``, ``enterprises``, ``leases``,
``commitments``) taking the list as .xlsx (from ``gongjian template`` or ``gongjian
export``) or CSV. ``parcels`` also takes GeoJSON (and Parquet) through the parcel
importer; its ``--crs`` names the coordinate system of the geometries in either (the
list's geometry column, GeoJSON, Parquet).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gongjian.cli.common import (
    EXIT_INVALID,
    command,
    console,
    fail,
    operator,
    progress_bar,
    session,
)

if TYPE_CHECKING:
    from gongjian.geo.choices import InputCrs
    from gongjian.imports.tasklists import TaskListResult

app = typer.Typer(
    help="导入数据文件：监测数据（CSV、Parquet、Excel），各类清单（.xlsx 或 CSV），"
    "地块（另可 GeoJSON）。",
    no_args_is_help=True,
)

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="只校验，列出全部问题与将要的变化，不写入")
]
SHOWN_CHANGES = 20
"""Updated rows a run lists (the rest are counted)."""
TABLE_SUFFIXES = (".xlsx", ".csv")


@command(app, "samples")
def samples(
    file: Annotated[
        Path, typer.Argument(help="监测数据文件：CSV（UTF-8 或 GBK/GB18030）、Parquet、.xlsx")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验，不写入")] = False,
) -> None:
    """导入监测数据：任何一行有误则整批不写入并逐行列出问题；已有的数据（同一检测点、同一时刻）跳过。"""
    from gongjian.imports.samples import SampleImporter  # DuckDB and pyarrow load on use

    with session() as db, progress_bar() as progress:
        result = SampleImporter(db, actor=operator(), progress=progress).run_file(
            file, dry_run=dry_run
        )
    if result.dry_run:
        console.print(f"校验通过：{result.filename} 共 {result.rows:,} 行，未写入（--dry-run）")
        return
    console.print(
        f"已导入 {result.filename}：{result.rows:,} 行，新增 {result.added:,}，"
        f"已有而跳过 {result.skipped:,}（导入记录 #{result.import_id}）"
    )


@command(app, "parcels")
def parcels(
    file: Annotated[
        Path,
        typer.Argument(
            help="地块文件：地块清单（.xlsx 或 CSV，见 gongjian template parcels），"
            "或 GeoJSON（要素属性 parcel_id、town）、Parquet"
        ),
    ],
    crs: Annotated[
        str,
        typer.Option(
            "--crs",
            help="几何的坐标系（清单的几何列、GeoJSON、Parquet）：wgs84（默认）、cgcs2000"
            " 或 gcj02（高德、腾讯地图的火星坐标）；入库一律为 WGS84",
        ),
    ] = "wgs84",
    dry_run: DryRunOption = False,
) -> None:
    """导入地块。清单（.xlsx、CSV）：按地块编号新增或更新，几何列可选，任何一格有误则整个文件不写入；GeoJSON、Parquet：几何有误或任何一行有误则整批不写入，已有编号跳过。"""
    from gongjian.geo.choices import InputCrs

    try:
        input_crs = InputCrs(crs)
    except ValueError:
        raise fail(f"--crs 只能是 wgs84、cgcs2000 或 gcj02，而不是“{crs}”", EXIT_INVALID) from None
    if file.suffix.lower() in TABLE_SUFFIXES:
        _import_list("parcels", file, dry_run=dry_run, crs=input_crs)
        return
    from gongjian.imports.parcels import ParcelImporter

    with session() as db, progress_bar() as progress:
        result = ParcelImporter(db, actor=operator(), crs=input_crs, progress=progress).run_file(
            file, dry_run=dry_run
        )
    if result.dry_run:
        console.print(f"校验通过：{result.filename} 共 {result.rows:,} 块地，未写入（--dry-run）")
        return
    console.print(
        f"已导入 {result.filename}：{result.rows:,} 块地，新增 {result.added:,}，"
        f"编号已有而跳过 {result.skipped:,}（导入记录 #{result.import_id}）"
    )


def _report(result: TaskListResult) -> None:
    """What a list import did, or would do."""
    counts = f"新增 {result.added:,}，更新 {result.updated:,}，未变 {result.unchanged:,}"
    for change in result.changes[:SHOWN_CHANGES]:
        console.print(
            f"  第 {change.row} 行 {change.key}：{'、'.join(change.columns)}", highlight=False
        )
    if len(result.changes) > SHOWN_CHANGES:
        console.print(f"  ……另有 {len(result.changes) - SHOWN_CHANGES:,} 行更新")
    if result.dry_run:
        console.print(
            f"校验通过：{result.filename} 共 {result.rows:,} 行，将{counts}（--dry-run，未写入）"
        )
    elif result.import_id is None:
        console.print(f"{result.filename} 共 {result.rows:,} 行，与已有记录完全相同：未写入")
    else:
        console.print(
            f"已导入 {result.filename}：{result.rows:,} 行，{counts}"
            f"（导入记录 #{result.import_id}）"
        )


def _import_list(kind: str, file: Path, *, dry_run: bool, crs: InputCrs | None = None) -> None:
    from gongjian.imports.tasklists import list_importer  # openpyxl and DuckDB load on use

    with session() as db, progress_bar() as progress:
        importer = list_importer(kind, db, actor=operator(), crs=crs, progress=progress)
        result = importer.run_file(file, dry_run=dry_run)
    _report(result)


def _list_command(kind: str, label: str) -> None:
    """Add ``gongjian import KIND`` for the task list ``kind``."""

    def run(file: Path, dry_run: bool = False) -> None:
        _import_list(kind, file, dry_run=dry_run)

    # Annotations as objects: the help names the kind, which a string could not see.
    run.__annotations__ = {
        "file": Annotated[
            Path, typer.Argument(help=f"{label}清单：.xlsx（模板或导出的文件）或 CSV")
        ],
        "dry_run": DryRunOption,
        "return": None,
    }
    run.__doc__ = (
        f"导入{label}清单（gongjian template {kind} 生成模板）：按唯一键新增或更新，"
        "相同的行不写入；任何一格有误则整个文件不写入，并列出全部问题。"
    )
    run.__name__ = f"import_{kind}"
    command(app, kind)(run)


for _kind, _label in (
    ("projects", "项目"),
    ("rivers", "河涌"),
    ("points", "检测点"),
    ("enterprises", "企业"),
    ("leases", "租赁"),
    ("commitments", "承诺书"),
):
    _list_command(_kind, _label)
