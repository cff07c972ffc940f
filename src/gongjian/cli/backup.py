"""``gongjian backup`` and ``gongjian restore``: the whole database to a folder with a
manifest of checksums, row counts and the audit chain's head, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gongjian.cli.common import command, console, err_console, operator


def register(app: typer.Typer) -> None:
    """Add the ``backup`` and ``restore`` commands to ``app``."""

    @command(app, "backup")
    def backup_command(
        out: Annotated[
            Path,
            typer.Option("--out", help="备份目录（新的或空的目录）", show_default=False),
        ],
    ) -> None:
        """备份整个数据库（SQLite 在线备份 / PostgreSQL pg_dump），附校验清单。"""
        from gongjian.backup import backup
        from gongjian.db import get_engine

        manifest = backup(get_engine(), out, actor=operator(), report=err_console.print)
        console.print(
            f"已备份到 {out}：{manifest.file}（{manifest.bytes:,} 字节，"
            f"{sum(manifest.rows.values()):,} 行，审计链 {manifest.audit_entries:,} 条）"
        )
        console.print(f"SHA-256 {manifest.sha256}")

    @command(app, "restore")
    def restore_command(
        source: Annotated[
            Path, typer.Argument(help="备份目录（含 manifest.json）", show_default=False)
        ],
    ) -> None:
        """把备份恢复到空数据库，并按清单核对行数与审计链。"""
        from gongjian.backup import restore
        from gongjian.db import get_engine

        manifest = restore(get_engine(), source, actor=operator(), report=err_console.print)
        console.print(
            f"已从 {source} 恢复：{sum(manifest.rows.values()):,} 行与清单一致，"
            f"审计链 {manifest.audit_entries:,} 条校验通过（备份于 {manifest.created_at}）"
        )
