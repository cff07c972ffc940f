"""``gongjian import``: bring files of records into the platform."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

app = typer.Typer(help="导入数据文件（CSV、Parquet、Excel）。", no_args_is_help=True)


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
        typer.Argument(help="地块文件：GeoJSON（要素属性 parcel_id、town）或 .xlsx、CSV、Parquet"),
    ],
    crs: Annotated[
        str, typer.Option("--crs", help="坐标系：wgs84（默认）、cgcs2000 或 gcj02（火星坐标）")
    ] = "wgs84",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验，不写入")] = False,
) -> None:
    """导入地块：几何有误（自相交、为空、超出中国范围、经纬度颠倒）或任何一行有误则整批不写入；已有编号跳过。"""
    from gongjian.geo.crs import InputCrs
    from gongjian.imports.parcels import ParcelImporter

    try:
        input_crs = InputCrs(crs)
    except ValueError:
        raise fail(f"--crs 只能是 wgs84、cgcs2000 或 gcj02，而不是“{crs}”", EXIT_INVALID) from None
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
