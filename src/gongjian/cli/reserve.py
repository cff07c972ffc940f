"""Land-reserve commands: ``reserve add|release|balance|list`` (挂账收储、供地出库)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from gongjian.checks import parse_amount
from gongjian.cli.common import (
    JsonOption,
    TownOption,
    command,
    console,
    echo_json,
    operator,
    session,
    table,
)
from gongjian.errors import Invalid, Problem
from gongjian.periods import parse_as_of
from gongjian.renewal.choices import ReserveEntryKind
from gongjian.renewal.reserve import balance, list_entries, release, reserve_on_account
from gongjian.renewal.schemas import ReserveBalanceRead

reserve_app = typer.Typer(help="收储台账：挂账收储、供地出库、余额、明细。", no_args_is_help=True)

ParcelArgument = Annotated[str, typer.Argument(help="地块编号")]
AreaOption = Annotated[str, typer.Option("--area-mu", help="面积（亩），如 12.50")]
OnOption = Annotated[str, typer.Option("--on", help="入账日期，如 2023-01-31（不能晚于今天）")]
FundingOption = Annotated[str | None, typer.Option("--funding-source", help="资金来源")]
ParcelOption = Annotated[str | None, typer.Option("--parcel", help="地块编号")]


def _figure(value: Decimal) -> str:
    return f"{value:,}"


def register(app: typer.Typer) -> None:
    """Add the ``reserve`` sub-app to ``app``."""
    app.add_typer(reserve_app, name="reserve")


@command(reserve_app, "add")
def add(
    parcel: ParcelArgument,
    area_mu: AreaOption,
    valuation_wan: Annotated[str, typer.Option("--valuation-wan", help="估值（万元）")],
    on: OnOption,
    funding_source: FundingOption = None,
) -> None:
    """挂账收储：地块纳入政府储备（每块地只收储一次，面积不超过地块面积）。"""
    with session() as db:
        entry = reserve_on_account(
            db,
            actor=operator(),
            parcel=parcel,
            area_mu=parse_amount(area_mu, column="--area-mu", label="面积（亩）"),
            valuation_wan=parse_amount(
                valuation_wan, column="--valuation-wan", label="估值（万元）"
            ),
            entry_on=parse_as_of(on, field="--on"),
            funding_source=funding_source,
        )
    console.print(
        f"已挂账收储：地块 {entry.parcel}（{entry.town}）{entry.area_mu} 亩，"
        f"估值 {_figure(entry.valuation_wan)} 万元（{entry.entry_on}）"
    )


@command(reserve_app, "release")
def release_(
    parcel: ParcelArgument,
    area_mu: AreaOption,
    on: OnOption,
    funding_source: FundingOption = None,
) -> None:
    """供地出库：已收储的地块出库（不超过收储面积，账面价值按面积比例转出）。"""
    with session() as db:
        entry = release(
            db,
            actor=operator(),
            parcel=parcel,
            area_mu=parse_amount(area_mu, column="--area-mu", label="面积（亩）"),
            entry_on=parse_as_of(on, field="--on"),
            funding_source=funding_source,
        )
    console.print(
        f"已供地出库：地块 {entry.parcel}（{entry.town}）{entry.area_mu} 亩，"
        f"账面价值 {_figure(entry.valuation_wan)} 万元（{entry.entry_on}）"
    )


@command(reserve_app, "balance")
def show_balance(
    town: TownOption = None,
    parcel: ParcelOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="截至日期 2023-01-31 或时段 2023-01；默认今天")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """收储余额（亩、万元）：全市、各镇街、各地块，截至某日。"""
    day = parse_as_of(as_of, field="--as-of")
    with session() as db:
        found = balance(db, actor=operator(), as_of=day, town=town, parcel=parcel)
    if as_json:
        echo_json(ReserveBalanceRead.model_validate(found).model_dump(mode="json"))
        return
    scope = "全市" if found.scope == "city" else found.scope
    console.print(
        f"{scope}收储余额（截至 {day}）：{_figure(found.area_mu)} 亩，"
        f"{_figure(found.valuation_wan)} 万元（收储 {_figure(found.reserved_mu)} 亩，"
        f"出库 {_figure(found.released_mu)} 亩）"
    )
    figures = ("收储（亩）", "出库（亩）", "余额（亩）", "余额（万元）")
    towns = table("各镇街", ("镇街", "地块", *figures), right={"地块", *figures})
    for town_row in found.towns:
        towns.add_row(
            town_row.town,
            str(town_row.parcels),
            _figure(town_row.reserved_mu),
            _figure(town_row.released_mu),
            _figure(town_row.area_mu),
            _figure(town_row.valuation_wan),
        )
    console.print(towns)
    parcels = table("各地块", ("地块", "镇街", *figures), right=figures)
    for row in found.parcels:
        parcels.add_row(
            row.parcel,
            row.town,
            _figure(row.reserved_mu),
            _figure(row.released_mu),
            _figure(row.area_mu),
            _figure(row.valuation_wan),
        )
    console.print(parcels)


@command(reserve_app, "list")
def list_(
    town: TownOption = None,
    parcel: ParcelOption = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="reserve_on_account/挂账收储 或 release/供地出库")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="最多列出几条")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="跳过前几条")] = 0,
) -> None:
    """收储台账明细，按日期。"""
    chosen = None
    if kind:
        try:
            chosen = ReserveEntryKind.parse(kind)
        except ValueError as exc:
            raise Invalid("类型无效", [Problem(str(exc), column="--kind", value=kind)]) from None
    with session() as db:
        total, rows = list_entries(
            db,
            actor=operator(),
            town=town,
            parcel=parcel,
            kind=chosen,
            limit=limit,
            offset=offset,
        )
    ledger = table(
        f"收储台账（共 {total} 条，显示 {len(rows)} 条）",
        ("日期", "类型", "地块", "镇街", "面积（亩）", "金额（万元）", "资金来源"),
        right={"面积（亩）", "金额（万元）"},
    )
    for row in rows:
        ledger.add_row(
            str(row.entry_on),
            row.kind.label,
            row.parcel,
            row.town,
            _figure(row.area_mu),
            _figure(row.valuation_wan),
            row.funding_source or "",
        )
    console.print(ledger)
