"""``gongjian audit``: the audit log."""

from __future__ import annotations

import typer

from gongjian.audit.services import verify_log
from gongjian.cli.common import command, console, fail, operator, session

app = typer.Typer(help="审计日志：校验哈希链。", no_args_is_help=True)


@command(app, "verify")
def verify() -> None:
    """校验审计日志的哈希链：找出被修改、插入或删除的条目。"""
    with session() as db:
        result = verify_log(db, actor=operator())
    if result.ok:
        console.print(f"审计日志完好：共 {result.entries} 条，哈希链校验通过")
        return
    for problem in result.problems:
        console.print(f"[red]✗[/] {problem}", highlight=False)
    raise fail(
        f"审计日志校验失败：发现 {len(result.problems)} 处问题（共读取 {result.entries} 条）"
    )
