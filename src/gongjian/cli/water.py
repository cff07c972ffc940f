"""Water commands: ``assess``, ``baseline freeze|show``, ``stations add|list|revoke``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongjian.auth import stations
from gongjian.cli.common import command, console, operator, progress_bar, session
from gongjian.periods import city_zone, parse_as_of, parse_period
from gongjian.water.baseline import freeze_baseline, latest_baseline
from gongjian.water.choices import Grade

baseline_app = typer.Typer(help="央督基线：冻结、查看。", no_args_is_help=True)
stations_app = typer.Typer(
    help="监测站令牌：新建（只显示一次）、列出、吊销。", no_args_is_help=True
)

STATUS_LABELS = {
    "graded": "已评价",
    "regraded": "已重新评价",
    "up_to_date": "无变化，跳过",
    "no_samples": "无监测数据，跳过",
}


def _tally(counts: dict[str, int]) -> str:
    return "，".join(f"{grade.label} {counts[grade.value]}" for grade in Grade if counts.get(grade))


def register(app: typer.Typer) -> None:
    """Add the water commands to ``app``."""
    app.add_typer(baseline_app, name="baseline")
    app.add_typer(stations_app, name="stations")

    @command(app, "assess")
    def assess(
        period: Annotated[
            str | None, typer.Option("--period", help="时段：2023-01（月）或 2023-W05（周）")
        ] = None,
        first: Annotated[str | None, typer.Option("--from", help="起始时段（含）")] = None,
        last: Annotated[str | None, typer.Option("--to", help="结束时段（含）")] = None,
        force: Annotated[bool, typer.Option(help="数据与规则未变也重新评价")] = False,
    ) -> None:
        """黑臭水体评价：按时段给检测点和水体分级并保存（带依据）。

        不指定时段时，评价所有有监测数据的月份；数据或规则未变的时段跳过，
        有迟到数据的时段重新评价。
        """
        from gongjian.water.assessment import assess_periods, periods_to_assess  # loads Ibis

        with session() as db:
            periods = periods_to_assess(
                db, period=period, first=first, last=last, names=("--period", "--from", "--to")
            )
            with progress_bar() as progress:
                results = assess_periods(
                    db, actor=operator(), periods=periods, force=force, progress=progress
                )
        table = Table(title="黑臭水体评价（已评价的时段，旧结果保留为被替代）")
        for header in ("时段", "结果", "样本", "水体分级", "采样规范提示", "返黑返臭"):
            table.add_column(header)
        for result in results:
            table.add_row(
                result.period,
                STATUS_LABELS[result.status],
                f"{result.samples:,}",
                _tally(result.water_bodies),
                str(result.warnings) if result.status in ("graded", "regraded") else "",
                "、".join(result.relapsed),
            )
        console.print(table)

    @command(baseline_app, "freeze")
    def freeze(
        as_of: Annotated[str, typer.Option("--as-of", help="基线日期（央督日期），如 2022-01-01")],
        period: Annotated[
            str | None,
            typer.Option("--period", help="依据的评价时段；默认取该日期前最近一个已评价月份"),
        ] = None,
    ) -> None:
        """冻结央督基线：把该日期时的黑臭水体清单固定下来（之后不可修改）。"""
        day = parse_as_of(as_of, field="--as-of")
        label = parse_period(period, field="--period").label if period else None
        with session() as db:
            baseline = freeze_baseline(db, actor=operator(), as_of=day, period=label)
            console.print(
                f"已冻结 {baseline.frozen_on} 的央督基线：依据 {baseline.source_period} 评价，"
                f"黑臭水体 {len(baseline.members)} 条"
            )

    @command(baseline_app, "show")
    def show() -> None:
        """查看最近冻结的央督基线。"""
        with session() as db:
            baseline = latest_baseline(db, actor=operator())
            counts: dict[str, int] = {}
            for member in baseline.members:
                counts[member.grade] = counts.get(member.grade, 0) + 1
            frozen_at = baseline.frozen_at.astimezone(city_zone())
            console.print(
                f"央督基线 {baseline.frozen_on}（依据 {baseline.source_period}，"
                f"{baseline.frozen_by} 于 {frozen_at:%Y-%m-%d %H:%M} 冻结）："
                f"黑臭水体 {len(baseline.members)} 条（{_tally(counts)}）"
            )

    @command(stations_app, "add")
    def add_station(
        name: Annotated[str, typer.Argument(help="监测站名称")],
        points: Annotated[str, typer.Option("--points", help="可报送的检测点编号，逗号分隔")],
    ) -> None:
        """新建监测站令牌；令牌只显示这一次，请妥善保存。"""
        codes = [code.strip() for code in points.split(",") if code.strip()]
        with session() as db:
            token, secret = stations.create_token(
                db, actor=operator(), name=name, point_codes=codes
            )
            console.print(f"已为监测站“{token.name}”新建令牌（检测点 {len(codes)} 个）：")
            typer.echo(secret)

    @command(stations_app, "list")
    def list_stations() -> None:
        """列出监测站令牌（不显示令牌本身）。"""
        with session() as db:
            table = Table(title="监测站令牌")
            for header in ("名称", "前缀", "检测点", "新建", "最近使用", "状态"):
                table.add_column(header)
            for token in stations.list_tokens(db, actor=operator()):
                table.add_row(
                    token.name,
                    token.prefix,
                    "、".join(stations.point_codes(db, token)),
                    f"{token.created_at:%Y-%m-%d}",
                    f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "—",
                    "已吊销" if token.revoked_at else "有效",
                )
            console.print(table)

    @command(stations_app, "revoke")
    def revoke_station(name: Annotated[str, typer.Argument(help="监测站名称")]) -> None:
        """吊销监测站令牌：此后用它报送的数据一律拒收。"""
        with session() as db:
            stations.revoke_token(db, actor=operator(), name=name)
            console.print(f"已吊销监测站“{name}”的令牌")
