"""``gongjian grade-file``: grade sample files without a database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gongjian.cli.common import EXIT_INVALID, command, console, err_console
from gongjian.errors import Invalid, Problem
from gongjian.water.choices import Grade

WARNINGS_SHOWN = 20


def problem_line(problem: Problem) -> str:
    """One problem as ``FILE:ROW:COLUMN: reason``, the shape editors and grep understand."""
    value = f"（值：{problem.value}）" if problem.value is not None else ""
    row = "" if problem.row is None else str(problem.row)
    return f"{problem.file or ''}:{row}:{problem.column or ''}: {problem.reason}{value}"


def _tally(counts: dict[Grade, int]) -> str:
    return "，".join(f"{grade.label} {counts.get(grade, 0)}" for grade in Grade)


def register(app: typer.Typer) -> None:
    """Add the ``grade-file`` command to ``app``."""

    @command(app, "grade-file")
    def grade_file_command(
        samples: Annotated[
            Path, typer.Argument(help="监测数据文件（UTF-8 CSV 或 Parquet）", show_default=False)
        ],
        points: Annotated[
            Path,
            typer.Option(
                "--points",
                help="检测点文件：point_id, water_body_id, chainage_m",
                show_default=False,
            ),
        ],
        out: Annotated[
            Path,
            typer.Option(
                "--out", help="输出目录：写出 points.csv 与 water_bodies.csv", show_default=False
            ),
        ],
        rules: Annotated[
            Path | None, typer.Option("--rules", help="规则文件（TOML）；默认用内置规则")
        ] = None,
    ) -> None:
        """按《城市黑臭水体整治工作指南》对文件中的监测数据分级（不用数据库）。

        文件中的全部样本视为同一时段。输入有误时退出码为 2，逐行列出问题，不写出任何文件。
        """
        from gongjian.water.gradefile import grade_file  # DuckDB and Ibis load on use

        try:
            result = grade_file(samples, points, out, rules)
        except Invalid as exc:
            err_console.print(f"[bold red]错误：[/]{exc.message}", highlight=False)
            for problem in exc.problems:
                typer.echo(problem_line(problem), err=True)
            raise typer.Exit(EXIT_INVALID) from None
        shown = result.warnings[:WARNINGS_SHOWN]
        for warning in shown:
            err_console.print(f"[yellow]提示：[/]{warning}", highlight=False, soft_wrap=True)
        if len(result.warnings) > len(shown):
            err_console.print(
                f"[yellow]提示：[/]另有 {len(result.warnings) - len(shown)} 条采样规范提示未列出",
                highlight=False,
            )
        console.print(
            f"已分级检测点 {sum(result.points.values())} 个（{_tally(result.points)}），"
            f"水体 {sum(result.water_bodies.values())} 个（{_tally(result.water_bodies)}），"
            f"结果已写入 {out}（规则 sha256 {result.rules_hash[:12]}）",
            highlight=False,
            soft_wrap=True,
        )
