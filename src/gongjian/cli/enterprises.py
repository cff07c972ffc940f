"""Enterprise and theme-park commands: ``enterprise add|list|show|update`` and
``theme-park list|show|add|update|summary``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from gongjian.checks import parse_amount
from gongjian.cli.common import (
    JsonOption,
    amount_option,
    changes_given,
    command,
    console,
    day_option,
    echo_json,
    facts_table,
    json_rows,
    operator,
    session,
    table,
)
from gongjian.errors import Invalid, Problem
from gongjian.renewal.choices import EnterpriseKind
from gongjian.renewal.enterprises import (
    EnterpriseView,
    add_enterprise,
    add_theme_park,
    get_enterprise,
    get_theme_park,
    list_enterprises,
    list_theme_parks,
    theme_park_summary,
    update_enterprise,
    update_theme_park,
)
from gongjian.renewal.schemas import EnterpriseRead, ThemeParkSummaryRead

enterprise_app = typer.Typer(
    help="新招引企业、增资扩产企业：新增、列出、查看、修改。", no_args_is_help=True
)
theme_park_app = typer.Typer(
    help="主题产业园：列出、查看、新增、修改（市攻坚办），汇总。", no_args_is_help=True
)

TownOption = Annotated[str | None, typer.Option("--town", help="镇街名称或代码")]
CLEARABLE = {
    "parcel": "parcel",
    "theme-park": "theme_park",
    "industry": "industry",
    "signed-on": "agreement_signed_on",
    "actual-investment-wan": "actual_investment_wan",
    "jobs": "jobs",
}


def parse_kind(text: str) -> EnterpriseKind:
    """An enterprise kind by identifier (``attracted``) or label (``新招引企业``)."""
    try:
        return EnterpriseKind.parse(text)
    except ValueError as exc:
        raise Invalid("企业类型无效", [Problem(str(exc), column="--kind", value=text)]) from None


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,}"


def _show(found: EnterpriseView) -> None:
    console.print(f"{found.code} {found.name}（{found.kind.label}）")
    facts = (
        ("镇街", found.town),
        ("地块", found.parcel or ""),
        ("主题产业园", found.theme_park or ""),
        ("行业", found.industry or ""),
        ("协议签订", str(found.agreement_signed_on or "未签订")),
        ("协议投资（万元）", _money(found.investment_wan)),
        ("实际投资（万元）", _money(found.actual_investment_wan)),
        ("就业人数", "" if found.jobs is None else str(found.jobs)),
    )
    console.print(facts_table(facts))


def register(app: typer.Typer) -> None:
    """Add the ``enterprise`` and ``theme-park`` sub-apps to ``app``."""
    app.add_typer(enterprise_app, name="enterprise")
    app.add_typer(theme_park_app, name="theme-park")


@command(enterprise_app, "add")
def add(
    code: Annotated[str, typer.Argument(help="企业编号")],
    name: Annotated[str, typer.Option("--name", help="企业名称")],
    kind: Annotated[str, typer.Option("--kind", help="attracted/新招引企业 或 expansion/增资扩产")],
    investment_wan: Annotated[str, typer.Option("--investment-wan", help="协议投资额（万元）")],
    town: TownOption = None,
    parcel: Annotated[
        str | None, typer.Option("--parcel", help="地块编号（镇街、主题产业园随地块）")
    ] = None,
    theme_park: Annotated[str | None, typer.Option("--theme-park", help="主题产业园编号")] = None,
    industry: Annotated[str | None, typer.Option("--industry", help="行业")] = None,
    signed_on: Annotated[
        str | None, typer.Option("--signed-on", help="协议签订日期；不填为未签订")
    ] = None,
    actual_investment_wan: Annotated[
        str | None, typer.Option("--actual-investment-wan", help="实际投资额（万元）")
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", help="就业人数")] = None,
) -> None:
    """新增企业（新招引或增资扩产）。"""
    with session() as db:
        found = add_enterprise(
            db,
            actor=operator(),
            code=code,
            name=name,
            kind=parse_kind(kind),
            investment_wan=parse_amount(
                investment_wan, column="--investment-wan", label="协议投资额（万元）"
            ),
            town=town,
            parcel=parcel,
            theme_park=theme_park,
            industry=industry,
            agreement_signed_on=day_option(signed_on, "--signed-on"),
            actual_investment_wan=amount_option(
                actual_investment_wan, "--actual-investment-wan", "实际投资额（万元）"
            ),
            jobs=jobs,
        )
        console.print(f"已新增企业 {found.code} {found.name}（{found.kind.label}，{found.town}）")


@command(enterprise_app, "list")
def list_(
    town: TownOption = None,
    kind: Annotated[str | None, typer.Option("--kind", help="attracted 或 expansion")] = None,
    signed: Annotated[
        bool | None, typer.Option("--signed/--unsigned", help="只列已签订 / 未签订协议的")
    ] = None,
    theme_park: Annotated[str | None, typer.Option("--theme-park", help="主题产业园编号")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="最多列出几家")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="跳过前几家")] = 0,
    as_json: JsonOption = False,
) -> None:
    """列出企业，可按镇街、类型、是否签约、主题产业园筛选。"""
    with session() as db:
        total, rows = list_enterprises(
            db,
            actor=operator(),
            town=town,
            kind=parse_kind(kind) if kind else None,
            signed=signed,
            theme_park=theme_park,
            limit=limit,
            offset=offset,
        )
    if as_json:
        echo_json({"total": total, "items": json_rows(EnterpriseRead, rows)})
        return
    listed = table(
        f"企业（共 {total} 家，显示 {len(rows)} 家）",
        ("编号", "名称", "类型", "镇街", "地块", "主题产业园", "签约日期", "协议投资（万元）"),
        right={"协议投资（万元）"},
        no_wrap={"编号"},
    )
    for row in rows:
        listed.add_row(
            row.code,
            row.name,
            row.kind.label,
            row.town,
            row.parcel or "",
            row.theme_park or "",
            str(row.agreement_signed_on or "未签订"),
            _money(row.investment_wan),
        )
    console.print(listed)


@command(enterprise_app, "show")
def show(code: Annotated[str, typer.Argument(help="企业编号")]) -> None:
    """查看一家企业。"""
    with session() as db:
        found = get_enterprise(db, actor=operator(), code=code)
    _show(found)


@command(enterprise_app, "update")
def update(
    code: Annotated[str, typer.Argument(help="企业编号")],
    name: Annotated[str | None, typer.Option("--name", help="企业名称")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="attracted 或 expansion")] = None,
    town: TownOption = None,
    parcel: Annotated[str | None, typer.Option("--parcel", help="地块编号")] = None,
    theme_park: Annotated[str | None, typer.Option("--theme-park", help="主题产业园编号")] = None,
    industry: Annotated[str | None, typer.Option("--industry", help="行业")] = None,
    signed_on: Annotated[str | None, typer.Option("--signed-on", help="协议签订日期")] = None,
    investment_wan: Annotated[
        str | None, typer.Option("--investment-wan", help="协议投资额（万元）")
    ] = None,
    actual_investment_wan: Annotated[
        str | None, typer.Option("--actual-investment-wan", help="实际投资额（万元）")
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", help="就业人数")] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option("--clear", help=f"清空某项（可重复）：{'、'.join(CLEARABLE)}"),
    ] = None,
) -> None:
    """修改企业：只改给出的项；--clear 清空某项。"""
    given: dict[str, Any] = {
        "name": name,
        "kind": parse_kind(kind) if kind else None,
        "town": town,
        "parcel": parcel,
        "theme_park": theme_park,
        "industry": industry,
        "agreement_signed_on": day_option(signed_on, "--signed-on"),
        "investment_wan": amount_option(investment_wan, "--investment-wan", "协议投资额（万元）"),
        "actual_investment_wan": amount_option(
            actual_investment_wan, "--actual-investment-wan", "实际投资额（万元）"
        ),
        "jobs": jobs,
    }
    changes = changes_given(code, given, clear, CLEARABLE)
    with session() as db:
        found = update_enterprise(db, actor=operator(), code=code, changes=changes)
    console.print(f"已修改企业 {found.code}")
    _show(found)


@command(theme_park_app, "list")
def list_parks() -> None:
    """列出主题产业园。"""
    with session() as db:
        _total, rows = list_theme_parks(db, actor=operator(), limit=1000)
        parks = table("主题产业园", ("编号", "名称", "产业主题"))
        for park in rows:
            parks.add_row(park.code, park.name, park.theme)
    console.print(parks)


@command(theme_park_app, "show")
def show_park(code: Annotated[str, typer.Argument(help="主题产业园编号")]) -> None:
    """查看一个主题产业园。"""
    with session() as db:
        park = get_theme_park(db, actor=operator(), code=code)
        console.print(f"{park.code} {park.name}（产业主题：{park.theme}）")


@command(theme_park_app, "add")
def add_park(
    code: Annotated[str, typer.Argument(help="编号，如 TP11")],
    name: Annotated[str, typer.Option("--name", help="名称")],
    theme: Annotated[str, typer.Option("--theme", help="产业主题，如 高端装备")],
) -> None:
    """新增主题产业园（市攻坚办）。"""
    with session() as db:
        park = add_theme_park(db, actor=operator(), code=code, name=name, theme=theme)
        console.print(f"已新增主题产业园 {park.code} {park.name}")


@command(theme_park_app, "update")
def update_park(
    code: Annotated[str, typer.Argument(help="主题产业园编号")],
    name: Annotated[str | None, typer.Option("--name", help="名称")] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="产业主题")] = None,
) -> None:
    """修改主题产业园的名称或产业主题（市攻坚办）。"""
    changes = {k: v for k, v in {"name": name, "theme": theme}.items() if v is not None}
    if not changes:
        raise Invalid("没有要修改的项", [Problem("请给出 --name 或 --theme", column=code)])
    with session() as db:
        park = update_theme_park(db, actor=operator(), code=code, changes=changes)
        console.print(f"已修改主题产业园 {park.code} {park.name}（{park.theme}）")


@command(theme_park_app, "summary")
def summary(as_json: JsonOption = False) -> None:
    """主题产业园汇总：划入地块（块、亩）、企业（已签约按类型、未签约）、协议投资（万元）。"""
    with session() as db:
        rows = theme_park_summary(db, actor=operator())
    if as_json:
        echo_json(json_rows(ThemeParkSummaryRead, rows))
        return
    figures = ("地块", "面积（亩）", "新招引", "增资扩产", "未签约", "协议投资（万元）")
    summed = table(
        "主题产业园汇总（企业按已签订协议计）", ("编号", "名称", *figures), right=figures
    )
    for row in rows:
        summed.add_row(
            row.code,
            row.name,
            str(row.parcels),
            f"{row.area_mu:,}",
            str(row.attracted),
            str(row.expansions),
            str(row.unsigned),
            _money(row.investment_wan),
        )
    summed.add_row(
        "合计",
        "",
        str(sum(row.parcels for row in rows)),
        f"{sum((row.area_mu for row in rows), Decimal(0)):,}",
        str(sum(row.attracted for row in rows)),
        str(sum(row.expansions for row in rows)),
        str(sum(row.unsigned for row in rows)),
        _money(sum((row.investment_wan for row in rows), Decimal(0))),
    )
    console.print(summed)
