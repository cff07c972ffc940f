"""``gongjian users``: accounts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongjian.auth import services
from gongjian.auth.choices import Role
from gongjian.cli.common import command, console, operator, session
from gongjian.errors import Invalid, Problem

app = typer.Typer(help="用户账号：新增、列出、改密码、停用。", no_args_is_help=True)


def _password(value: str | None) -> str:
    if value is not None:
        return value
    return typer.prompt("密码", hide_input=True, confirmation_prompt=True)


@command(app, "add")
def add(
    username: Annotated[str, typer.Argument(help="用户名")],
    role: Annotated[str, typer.Option(help="角色：admin、city、town、auditor")],
    town: Annotated[str | None, typer.Option(help="镇街用户所属镇街（名称或代码）")] = None,
    name: Annotated[str | None, typer.Option(help="显示名")] = None,
    password: Annotated[str | None, typer.Option(help="密码（不填则提示输入）")] = None,
) -> None:
    """新增账号。"""
    try:
        parsed = Role.parse(role)
    except ValueError as exc:
        raise Invalid("角色无效", [Problem(str(exc), column="--role", value=role)]) from None
    with session() as db:
        services.add_user(
            db,
            actor=operator(),
            username=username,
            password=_password(password),
            role=parsed,
            town=town,
            display_name=name,
        )
    console.print(f"已新增账号 {username}（{parsed.label}）")


@command(app, "list")
def list_() -> None:
    """列出全部账号。"""
    with session() as db:
        users = services.list_users(db, actor=operator())
        table = Table(title="用户账号")
        for header in ("用户名", "显示名", "角色", "镇街", "状态"):
            table.add_column(header)
        for user in users:
            table.add_row(
                user.username,
                user.display_name,
                Role(user.role).label,
                str(user.town_id or ""),
                "启用" if user.is_active else "停用",
            )
    console.print(table)


@command(app, "passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="用户名")],
    password: Annotated[str | None, typer.Option(help="新密码（不填则提示输入）")] = None,
) -> None:
    """修改账号密码。"""
    with session() as db:
        services.set_password(db, actor=operator(), username=username, password=_password(password))
    console.print(f"已修改 {username} 的密码")


@command(app, "disable")
def disable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用账号（不删除，历史记录保留）。"""
    with session() as db:
        services.set_active(db, actor=operator(), username=username, active=False)
    console.print(f"已停用账号 {username}")


@command(app, "enable")
def enable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """重新启用账号。"""
    with session() as db:
        services.set_active(db, actor=operator(), username=username, active=True)
    console.print(f"已启用账号 {username}")
