"""Task-list (清单) commands: ``template KIND --out FILE.xlsx`` and ``export KIND --out
FILE.xlsx|.csv [--town]``; importing them is ``gongjian import KIND FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gongjian.cli.common import EXIT_INVALID, command, console, fail, operator, session

KINDS = "projects、parcels、rivers、points、enterprises、leases、commitments"
KindArgument = Annotated[str, typer.Argument(help=f"清单种类：{KINDS}")]


def register(app: typer.Typer) -> None:
    """Add ``template`` and ``export`` to ``app``."""

    @command(app, "template")
    def template(
        kind: KindArgument,
        out: Annotated[Path, typer.Option("--out", help="写入的 .xlsx 文件")],
    ) -> None:
        """生成清单模板（.xlsx）：带单位的中文列名、冻结表头、镇街和状态下拉选项，以及“说明”工作表。"""
        from gongjian.imports.exports import write_template
        from gongjian.imports.tasklists import list_kind

        if out.suffix.lower() != ".xlsx":
            raise fail(f"模板只能是 .xlsx 文件，而不是“{out.name}”", EXIT_INVALID)
        importer = list_kind(kind)
        write_template(kind, out)
        console.print(f"已生成{importer.label}清单模板：{out}（数据表“{importer.sheet}”）")

    @command(app, "export")
    def export(
        kind: KindArgument,
        out: Annotated[Path, typer.Option("--out", help="写入的文件：.xlsx 或 .csv")],
        town: Annotated[
            str | None, typer.Option("--town", help="镇街名称或代码；不填为全市")
        ] = None,
    ) -> None:
        """导出清单（.xlsx 或 CSV），列与模板相同，可改后再导入；= + - @ 开头的文字前加单引号。"""
        from gongjian.imports.excel import FileKind
        from gongjian.imports.exports import export_list
        from gongjian.imports.tasklists import list_kind

        suffix = out.suffix.lower()
        if suffix not in (".xlsx", ".csv"):
            raise fail(f"只能导出为 .xlsx 或 .csv，而不是“{out.name}”", EXIT_INVALID)
        importer = list_kind(kind)
        with session() as db, out.open("wb") as handle:
            rows = export_list(
                db,
                actor=operator(),
                name=kind,
                target=handle,
                kind=FileKind.xlsx if suffix == ".xlsx" else FileKind.csv,
                town=town,
            )
        console.print(f"已导出{importer.label}清单 {rows:,} 行：{out}")
