"""Parcel commands: ``parcel list|show|state|history|milestone|performance|identify|
before-after``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from gongjian.cli.common import (
    EXIT_INVALID,
    TownOption,
    command,
    console,
    day_option,
    fail,
    history_table,
    move_text,
    next_states_text,
    operator,
    session,
    table,
    town_id_of,
)
from gongjian.periods import parse_as_of
from gongjian.records import list_records
from gongjian.renewal import services
from gongjian.renewal.choices import MilestoneKind, RenewalState
from gongjian.renewal.rules import Figures

app = typer.Typer(
    help="工改地块：列表、状态变更、建设进度、亩均数据、低效认定、改造前后对比。",
    no_args_is_help=True,
)


def _state(text: str) -> RenewalState:
    try:
        return RenewalState.parse(text)
    except ValueError as exc:
        raise fail(str(exc), EXIT_INVALID) from None


def _decimal(text: str | None, field: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise fail(f"{field} 须为数值，而不是“{text}”", EXIT_INVALID) from None
    if not value.is_finite() or value < 0:
        raise fail(f"{field} 须为非负数，而不是“{text}”", EXIT_INVALID)
    return value


def _shown(value: Decimal | None) -> str:
    return "—" if value is None else str(value)


@command(app, "list")
def list_parcels(
    town: TownOption = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="最多列出几块")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="跳过前几块")] = 0,
) -> None:
    """列出地块（按编号）。"""
    with session() as db:
        town_id = town_id_of(db, town)
        total, parcels = list_records(
            db, services.PARCELS, actor=operator(), town_id=town_id, limit=limit, offset=offset
        )
        listed = table(
            f"地块（共 {total} 块，显示 {len(parcels)} 块）",
            ("编号", "名称", "镇街", "面积（亩）", "状态"),
        )
        for parcel in parcels:
            listed.add_row(
                parcel.code,
                parcel.name or "",
                parcel.town.name,
                str(parcel.area_mu),
                RenewalState(parcel.renewal_state).label,
            )
    console.print(listed)


@command(app, "show")
def show(code: Annotated[str, typer.Argument(help="地块编号")]) -> None:
    """地块详情、状态历史和建设进度。"""
    with session() as db:
        found = services.parcel_history(db, actor=operator(), parcel_code=code)
        parcel = found.parcel
        state = RenewalState(parcel.renewal_state)
        allowed = next_states_text(found.allowed_next)
        console.print(
            f"{parcel.code} {parcel.name or ''}（{parcel.town.name}，{parcel.area_mu} 亩）："
            f"{state.label}；下一步可改为：{allowed}",
            highlight=False,
        )
        if parcel.plan_comment_until:
            console.print(f"方案公示期至 {parcel.plan_comment_until}")
        console.print(history_table(found.changes, RenewalState))
        for milestone in found.milestones:
            console.print(
                f"{milestone.happened_on} {MilestoneKind(milestone.kind).label}："
                f"{milestone.area_m2} 平方米"
            )


@command(app, "state")
def change_state(
    code: Annotated[str, typer.Argument(help="地块编号")],
    to: Annotated[str, typer.Option("--to", help="新状态，如 plan_published 或 方案公示")],
    on: Annotated[str, typer.Option("--on", help="日期，如 2023-01-31")],
    comment_until: Annotated[
        str | None, typer.Option("--comment-until", help="方案公示的公示期截止日期")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="说明")] = None,
) -> None:
    """变更地块的改造状态（只能改为允许的下一状态）。"""
    with session() as db:
        change = services.change_state(
            db,
            actor=operator(),
            parcel_code=code,
            to_state=_state(to),
            on=parse_as_of(on, field="--on"),
            comment_until=day_option(comment_until, "--comment-until"),
            reason=reason,
        )
        console.print(f"地块 {code}：{move_text(change, RenewalState)}")


@command(app, "milestone")
def milestone(
    code: Annotated[str, typer.Argument(help="地块编号")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="planning_application（规划报建）、construction_permit（施工许可）、"
            "completion_acceptance（竣工验收）",
        ),
    ],
    area_m2: Annotated[str, typer.Option("--area-m2", help="建筑面积（平方米）")],
    on: Annotated[str, typer.Option("--on", help="日期，如 2023-01-31")],
) -> None:
    """登记供地后的建设进度及其建筑面积。"""
    try:
        step = MilestoneKind.parse(kind)
    except ValueError as exc:
        raise fail(str(exc), EXIT_INVALID) from None
    area = _decimal(area_m2, "--area-m2")
    assert area is not None
    with session() as db:
        services.record_milestone(
            db,
            actor=operator(),
            parcel_code=code,
            kind=step,
            area_m2=area,
            on=parse_as_of(on, field="--on"),
        )
    console.print(f"地块 {code}：已登记{step.label} {area} 平方米（{on}）")


@command(app, "performance")
def performance(
    code: Annotated[str, typer.Argument(help="地块编号")],
    year: Annotated[int, typer.Option("--year", min=1990, max=2100, help="年度")],
    output: Annotated[str | None, typer.Option("--output", help="亩均产值（万元/亩）")] = None,
    tax: Annotated[str | None, typer.Option("--tax", help="亩均税收（万元/亩）")] = None,
    far: Annotated[str | None, typer.Option("--far", help="容积率")] = None,
) -> None:
    """登记（或更正）地块某年度的亩均产值、亩均税收和容积率。"""
    figures = Figures(_decimal(output, "--output"), _decimal(tax, "--tax"), _decimal(far, "--far"))
    with session() as db:
        services.set_performance(db, actor=operator(), parcel_code=code, year=year, figures=figures)
    console.print(f"地块 {code}：已登记 {year} 年亩均数据")


@command(app, "identify")
def identify(
    year: Annotated[int, typer.Option("--year", min=1990, max=2100, help="年度")],
    town: TownOption = None,
) -> None:
    """低效认定：列出该年度亩均产值、亩均税收或容积率低于标准的地块，并说明原因。"""
    with session() as db:
        town_id = town_id_of(db, town)
        bounds, candidates = services.identify(db, actor=operator(), year=year, town_id=town_id)
        console.print(
            f"{year} 年低效认定标准：亩均产值低于 {bounds.output_per_mu} 万元/亩，"
            f"或亩均税收低于 {bounds.tax_per_mu} 万元/亩，或容积率低于 {bounds.floor_area_ratio}",
            highlight=False,
        )
        listed = table(
            f"{year} 年低效用地（{len(candidates)} 块）", ("镇街", "编号", "面积（亩）", "原因")
        )
        for candidate in candidates:
            listed.add_row(
                candidate.town.name,
                candidate.parcel.code,
                str(candidate.parcel.area_mu),
                candidate.explanation,
            )
    console.print(listed)


@command(app, "before-after")
def before_after(town: TownOption = None) -> None:
    """改造前后对比：各镇街（按用地面积加权）的亩均产值、亩均税收和容积率。"""
    with session() as db:
        town_id = town_id_of(db, town)
        _parcels, towns = services.before_after(db, actor=operator(), town_id=town_id)
    compared = table(
        "改造前后对比（前后均有数据的地块）",
        ("镇街", "地块", "面积（亩）", "亩均产值 前→后", "亩均税收 前→后", "容积率 前→后"),
    )
    for row in towns:
        compared.add_row(
            row.town.name,
            str(row.parcels),
            str(row.area_mu),
            *(
                f"{_shown(row.mean('before', n))} → {_shown(row.mean('after', n))}"
                for n in ("output_per_mu", "tax_per_mu", "floor_area_ratio")
            ),
        )
    console.print(compared)


@command(app, "clusters")
def clusters(
    town: TownOption = None,
    gap_m: Annotated[float, typer.Option("--gap-m", min=0, help="间距（米），默认 0：相接")] = 0,
    min_mu: Annotated[
        str | None, typer.Option("--min-mu", help="连片面积下限（亩）；默认取设置 cluster_min_mu")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="列出前几片（按面积）")] = 20,
) -> None:
    """连片改造：已入库地块中相接（或间距不超过 --gap-m 米）的地块连成一片，达到面积下限的标出。"""
    threshold = _decimal(min_mu, "--min-mu")
    with session() as db:
        town_id = town_id_of(db, town)
        found, without = services.parcel_clusters(
            db, actor=operator(), gap_m=gap_m, min_mu=threshold, town_id=town_id
        )
    flagged = [c for c in found if c.flagged]
    listed = table(
        f"连片（共 {len(found)} 片，达到面积下限 {len(flagged)} 片，"
        f"合计 {sum((c.area_mu for c in flagged), Decimal(0))} 亩）",
        ("片区（最小编号）", "地块数", "面积（亩）", "连片改造"),
    )
    for cluster in found[:top]:
        listed.add_row(
            cluster.cluster_id,
            str(len(cluster.parcels)),
            str(cluster.area_mu),
            "是" if cluster.flagged else "否",
        )
    console.print(listed)
    if without:
        console.print(f"另有 {without} 块地没有几何，未参与连片分析")
