"""Lease and rent commands: ``lease add|list|show|update|flags`` (二房东) and
``rents index`` (the towns' quarterly median rent)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gongjian.checks import parse_amount
from gongjian.cli.common import (
    JsonOption,
    TownOption,
    changes_given,
    command,
    console,
    day_option,
    echo_json,
    json_rows,
    operator,
    session,
    table,
)
from gongjian.config import get_settings
from gongjian.periods import parse_as_of
from gongjian.renewal.leases import (
    add_lease,
    get_lease,
    list_leases,
    sublease_flags,
    town_rent_index,
    update_lease,
)
from gongjian.renewal.rent_rules import parse_quarter
from gongjian.renewal.schemas import LeaseDetailRead, RentIndexRead, SubleaseFlagRead

lease_app = typer.Typer(
    help="租赁与转租（二房东）：新增、列出、查看（含转租链）、修改、加价超限清单。",
    no_args_is_help=True,
)
rents_app = typer.Typer(help="租金指数：各镇街按季度的租金中位数及同比。", no_args_is_help=True)

CLEARABLE = {"parent": "parent", "building": "building", "end-on": "end_on"}


def register(app: typer.Typer) -> None:
    """Add the ``lease`` and ``rents`` sub-apps to ``app``."""
    app.add_typer(lease_app, name="lease")
    app.add_typer(rents_app, name="rents")


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value}%"


@command(lease_app, "add")
def add(
    code: Annotated[str, typer.Argument(help="租赁编号")],
    lessor: Annotated[str, typer.Option("--lessor", help="出租方")],
    lessee: Annotated[str, typer.Option("--lessee", help="承租方")],
    area_m2: Annotated[str, typer.Option("--area-m2", help="租赁面积（m²）")],
    rent: Annotated[str, typer.Option("--rent", help="租金（元/m²/月）")],
    start_on: Annotated[str, typer.Option("--start-on", help="起租日期")],
    end_on: Annotated[str | None, typer.Option("--end-on", help="到期日期；不填为未定")] = None,
    parcel: Annotated[
        str | None, typer.Option("--parcel", help="地块编号（转租可不填，随上级租赁）")
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="上级租赁编号（转租时填写）")
    ] = None,
    building: Annotated[str | None, typer.Option("--building", help="楼栋，如 1号厂房")] = None,
) -> None:
    """新增租赁；给出 --parent 即为转租。"""
    with session() as db:
        lease = add_lease(
            db,
            actor=operator(),
            code=code,
            lessor=lessor,
            lessee=lessee,
            area_m2=parse_amount(area_m2, column="--area-m2", label="租赁面积（m²）"),
            rent_yuan_m2_month=parse_amount(rent, column="--rent", label="租金（元/m²/月）"),
            start_on=parse_as_of(start_on, field="--start-on"),
            end_on=day_option(end_on, "--end-on"),
            parcel=parcel,
            parent=parent,
            building=building,
        )
    kind = f"转租（上级 {lease.parent}）" if lease.parent else "租赁"
    console.print(
        f"已新增{kind} {lease.code}：地块 {lease.parcel}（{lease.town}），"
        f"{lease.area_m2} m²，{lease.rent_yuan_m2_month} 元/m²/月"
    )


@command(lease_app, "list")
def list_(
    town: TownOption = None,
    parcel: Annotated[str | None, typer.Option("--parcel", help="地块编号")] = None,
    subleases: Annotated[
        bool | None, typer.Option("--subleases/--originals", help="只列转租 / 只列原始租赁")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="最多列出几条")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="跳过前几条")] = 0,
) -> None:
    """列出租赁，可按镇街、地块、是否转租筛选。"""
    with session() as db:
        total, rows = list_leases(
            db,
            actor=operator(),
            town=town,
            parcel=parcel,
            subleases=subleases,
            limit=limit,
            offset=offset,
        )
    listed = table(
        f"租赁（共 {total} 条，显示 {len(rows)} 条）",
        ("编号", "上级", "地块", "镇街", "出租方", "承租方", "面积（m²）", "租金", "起止"),
        right={"面积（m²）", "租金"},
        no_wrap={"编号"},
    )
    for row in rows:
        listed.add_row(
            row.code,
            row.parent or "",
            row.parcel,
            row.town,
            row.lessor,
            row.lessee,
            f"{row.area_m2:,}",
            f"{row.rent_yuan_m2_month}",
            f"{row.start_on} 至 {row.end_on or '未定'}",
        )
    console.print(listed)


@command(lease_app, "show")
def show(
    code: Annotated[str, typer.Argument(help="租赁编号")], as_json: JsonOption = False
) -> None:
    """查看租赁，含转租链（上溯至原始租赁）、各级加价和总加价。"""
    with session() as db:
        found = get_lease(db, actor=operator(), code=code)
    if as_json:
        echo_json(LeaseDetailRead.model_validate(found).model_dump(mode="json"))
        return
    console.print(
        f"{found.code}：{found.lessor} → {found.lessee}，地块 {found.parcel}（{found.town}）"
        f"{'，' + found.building if found.building else ''}，{found.area_m2} m²，"
        f"{found.rent_yuan_m2_month} 元/m²/月，{found.start_on} 至 {found.end_on or '未定'}"
    )
    chain = table(
        f"转租链：原始租赁 {found.original}（{found.original_rent} 元/m²/月），"
        f"总加价 {_pct(found.total_markup_pct)}",
        ("层级", "租赁", "出租方", "承租方", "租金（元/m²/月）", "较上级加价"),
        right={"层级", "较上级加价"},
    )
    for level, link in enumerate(found.chain):
        chain.add_row(
            str(level),
            link.code,
            link.lessor,
            link.lessee,
            f"{link.rent_yuan_m2_month}",
            _pct(link.markup_pct),
        )
    console.print(chain)
    if found.subleases:
        console.print(f"转租：{'、'.join(found.subleases)}")


@command(lease_app, "update")
def update(
    code: Annotated[str, typer.Argument(help="租赁编号")],
    lessor: Annotated[str | None, typer.Option("--lessor", help="出租方")] = None,
    lessee: Annotated[str | None, typer.Option("--lessee", help="承租方")] = None,
    area_m2: Annotated[str | None, typer.Option("--area-m2", help="租赁面积（m²）")] = None,
    rent: Annotated[str | None, typer.Option("--rent", help="租金（元/m²/月）")] = None,
    start_on: Annotated[str | None, typer.Option("--start-on", help="起租日期")] = None,
    end_on: Annotated[str | None, typer.Option("--end-on", help="到期日期")] = None,
    parcel: Annotated[str | None, typer.Option("--parcel", help="地块编号")] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="上级租赁编号")] = None,
    building: Annotated[str | None, typer.Option("--building", help="楼栋")] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option("--clear", help=f"清空某项（可重复）：{'、'.join(CLEARABLE)}"),
    ] = None,
) -> None:
    """修改租赁：只改给出的项；--clear parent 使其成为原始租赁。"""
    given: dict[str, Any] = {
        "lessor": lessor,
        "lessee": lessee,
        "area_m2": parse_amount(area_m2, column="--area-m2", label="租赁面积（m²）")
        if area_m2
        else None,
        "rent_yuan_m2_month": parse_amount(rent, column="--rent", label="租金（元/m²/月）")
        if rent
        else None,
        "start_on": day_option(start_on, "--start-on"),
        "end_on": day_option(end_on, "--end-on"),
        "parcel": parcel,
        "parent": parent,
        "building": building,
    }
    changes = changes_given(code, given, clear, CLEARABLE)
    with session() as db:
        lease = update_lease(db, actor=operator(), code=code, changes=changes)
    console.print(
        f"已修改租赁 {lease.code}：上级 {lease.parent or '无'}，{lease.area_m2} m²，"
        f"{lease.rent_yuan_m2_month} 元/m²/月"
    )


@command(lease_app, "flags")
def flags(town: TownOption = None, as_json: JsonOption = False) -> None:
    """二房东：转租租金较上级租赁（或转租链的原始租赁）加价超过设定比例的清单。"""
    with session() as db:
        found = sublease_flags(db, actor=operator(), town=town)
    if as_json:
        echo_json(json_rows(SubleaseFlagRead, found))
        return
    pct = get_settings().sublease_markup_pct
    flagged = table(
        f"转租加价超过 {pct}% 的租赁（共 {len(found)} 条，⚑ 为超限）",
        ("转租", "镇街·地块", "二房东", "租金：上级→转租", "较上级", "转租链", "较原始"),
        right={"较上级", "较原始"},
        no_wrap={"转租"},
    )
    for flag in found:
        flagged.add_row(
            flag.code,
            f"{flag.town} {flag.parcel}",
            flag.lessor,
            f"{flag.parent_rent} → {flag.rent_yuan_m2_month}",
            _pct(flag.markup_pct) + (" ⚑" if flag.over_parent else ""),
            " → ".join(flag.chain) + f"（原始 {flag.original_rent}）",
            _pct(flag.total_markup_pct) + (" ⚑" if flag.over_original else ""),
        )
    console.print(flagged)


@command(rents_app, "index")
def index(
    town: TownOption = None,
    first: Annotated[
        str | None, typer.Option("--from", help="起始季度 2022-Q1；默认结束季度的上年同季")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="结束季度 2023-Q1；默认本季度")] = None,
    subleases: Annotated[
        bool, typer.Option("--subleases/--no-subleases", help="是否计入转租（默认计入）")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """租金指数：各镇街每季度在租租赁的租金中位数（元/m²/月），同比涨幅超过设定比例的标出。"""
    with session() as db:
        rows = town_rent_index(
            db,
            actor=operator(),
            town=town,
            first=parse_quarter(first, field="--from") if first else None,
            last=parse_quarter(last, field="--to") if last else None,
            subleases=subleases,
        )
    if as_json:
        echo_json(json_rows(RentIndexRead, rows))
        return
    pct = get_settings().rent_rise_pct
    figures = ("在租租赁", "中位数", "上年同季", "同比", "超限")
    indexed = table(
        f"租金指数（同比涨幅超过 {pct}% 标出）", ("镇街", "季度", *figures), right=figures
    )
    for row in rows:
        indexed.add_row(
            row.town,
            row.quarter,
            str(row.leases),
            "—" if row.median_rent is None else f"{row.median_rent}",
            "—" if row.year_before is None else f"{row.year_before}",
            _pct(row.rise_pct),
            "⚑" if row.flagged else "",
        )
    console.print(indexed)
