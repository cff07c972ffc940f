"""The ``gongjian`` command line: one Typer app, one sub-app per area."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table

from gongjian.cli.audit import app as audit_app
from gongjian.cli.backup import register as register_backup
from gongjian.cli.campaign import register as register_campaign
from gongjian.cli.clusters import register as register_clusters
from gongjian.cli.common import command, console, err_console, fail, operator, progress_bar, session
from gongjian.cli.enterprises import register as register_enterprises
from gongjian.cli.grade import register as register_grade_file
from gongjian.cli.imports import app as imports_app
from gongjian.cli.leases import register as register_leases
from gongjian.cli.parcels import app as parcels_app
from gongjian.cli.portal import app as portal_app
from gongjian.cli.projects import register as register_projects
from gongjian.cli.reports import app as reports_app
from gongjian.cli.reserve import register as register_reserve
from gongjian.cli.rivers import register as register_rivers
from gongjian.cli.tasklists import register as register_tasklists
from gongjian.cli.users import app as users_app
from gongjian.cli.water import register as register_water
from gongjian.config import get_settings
from gongjian.db import get_engine
from gongjian.kpi.services import headline
from gongjian.periods import parse_as_of

app = typer.Typer(
    name="gongjian",
    help=(
        "攻坚：工改与治水攻坚指挥平台。"
        "数据库由 GONGJIAN_DATABASE_URL 指定（默认 var/ 下的 SQLite 文件）。"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(imports_app, name="import")
app.add_typer(parcels_app, name="parcel")
app.add_typer(portal_app, name="portal")
app.add_typer(reports_app, name="report")

KPI_LABELS = {
    "renewal.cleared_mu": ("拆除整理", "亩"),
    "renewal.attracted": ("新招引企业", "家"),
    "renewal.expansions": ("增资扩产", "家"),
    "renewal.investment_yi": ("新增投资", "亿元"),
    "water.rivers_entered": ("进场整治河涌", "条"),
    "water.rivers_completed": ("完工河涌", "条"),
    "water.sewer_km": ("新建污水管网", "公里"),
    "water.wwtp_started": ("污水处理厂（新建、扩建）", "座"),
    "water.black_odor_reduction_pct": ("黑臭水体较基线减少", "%"),
}


def _figure(value: float | None) -> str:
    """A KPI for people: integers as they are, other figures to two places."""
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


@command(app, "init")
def init() -> None:
    """创建或升级数据库结构（Alembic 迁移），并写入 23 个镇街。"""
    from gongjian.migrate import upgrade
    from gongjian.towns.services import ensure_towns

    upgrade(get_engine())
    with session() as db:
        added = ensure_towns(db, actor=operator())
    console.print(f"数据库已就绪：{get_settings().database_url}（新增镇街 {added} 个）")


@command(app, "demo")
def demo(
    seed: Annotated[int, typer.Option(help="随机种子：同一种子生成完全相同的示例城市")] = 7,
    scale: Annotated[str, typer.Option(help="规模：small（测试用）或 city（全市规模）")] = "small",
    reset: Annotated[bool, typer.Option(help="先清空数据库再生成")] = False,
) -> None:
    """生成并载入合成的示例城市（示例数据）。"""
    from gongjian.demo.generate import DEMO_USERS, load_demo
    from gongjian.migrate import downgrade_all, upgrade

    if scale not in ("small", "city"):
        raise fail(f"--scale 只能是 small 或 city，而不是“{scale}”", 2)
    engine = get_engine()
    if reset:
        downgrade_all(engine)
    upgrade(engine)
    started = time.perf_counter()
    with progress_bar() as progress:
        counts = load_demo(engine, seed=seed, scale=scale, progress=progress)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    console.print(
        f"示例城市已载入（seed={seed}，scale={scale}，用时 {elapsed:.1f} 秒）："
        f"河涌 {counts.get('rivers', 0)} 条，检测点 {counts.get('monitoring_points', 0)} 个，"
        f"监测数据 {counts.get('samples', 0):,} 条，地块 {counts.get('parcels', 0)} 块，"
        f"项目 {counts.get('projects', 0)} 个"
    )
    table = Table(title="示例账号（示例数据，仅供演示）")
    for header in ("用户名", "密码", "角色", "镇街"):
        table.add_column(header)
    for username, password, role, town, _display in DEMO_USERS:
        table.add_row(username, password, role, town or "")
    console.print(table)


@command(app, "serve")
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址（默认取设置 host）")] = None,
    port: Annotated[int | None, typer.Option(help="端口（默认取设置 port）")] = None,
) -> None:
    """启动 Web 服务（FastAPI + uvicorn）。"""
    import uvicorn

    from gongjian.web.app import create_app

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    err_console.print(
        f"服务地址：http://{host}:{port}  （API 文档：/docs，接口描述：/openapi.json）"
    )
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@command(app, "kpi")
def kpi(
    as_json: Annotated[bool, typer.Option("--json", help="只输出一个 JSON 对象")] = False,
    town: Annotated[str | None, typer.Option("--town", help="镇街名称或代码；不填为全市")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="截至日期 2023-01-31 或时段 2023-01；默认今天")
    ] = None,
) -> None:
    """核心指标（工改 4 项、治水 5 项），全市或某镇街，截至某日。"""
    with session() as db:
        report = headline(
            db, actor=operator(), as_of=parse_as_of(as_of, field="--as-of"), town=town
        )
    if as_json:
        typer.echo(json.dumps(report.kpi, ensure_ascii=False))
        return
    scope = "全市" if report.scope == "city" else report.scope
    table = Table(title=f"{scope}核心指标（截至 {report.as_of:%Y年%m月%d日}）")
    table.add_column("指标")
    table.add_column("数值", justify="right")
    table.add_column("单位")
    for key, value in report.kpi.items():
        label, unit = KPI_LABELS[key]
        table.add_row(label, _figure(value), unit)
    console.print(table)


register_grade_file(app)
register_water(app)
register_rivers(app)
register_clusters(app)
register_enterprises(app)
register_reserve(app)
register_leases(app)
register_tasklists(app)
register_campaign(app)
register_projects(app)
register_backup(app)
