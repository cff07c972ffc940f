"""Campaign commands: ``commitment list|show|progress|approve``, ``ranking``, ``adjust``,
``commend`` and ``dispatch``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from gongjian.campaign import commitments, dispatch, scoring
from gongjian.campaign.choices import Campaign
from gongjian.campaign.rules import INDICATORS, rounded
from gongjian.cli.common import (
    EXIT_INVALID,
    TownOption,
    command,
    console,
    day_option,
    fail,
    operator,
    session,
    table,
    town_id_of,
)
from gongjian.towns.services import find_town

commitment_app = typer.Typer(
    help="承诺书：列表、详情、进度与年末预测、审定（锁定）。", no_args_is_help=True
)

YearOption = Annotated[int, typer.Option("--year", min=1990, max=2100, help="年度")]
CampaignOption = Annotated[str, typer.Option("--campaign", help="renewal（工改）或 water（治水）")]
RankingCampaignOption = Annotated[
    str | None,
    typer.Option("--campaign", help="renewal（工改）或 water（治水）；不填为综合（两项之和）"),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="截至日期 2023-01-31 或时段 2023-01；默认今天（至多年末）"),
]
TownArgument = Annotated[str, typer.Argument(help="镇街名称或代码")]


def register(app: typer.Typer) -> None:
    """Add the campaign commands to ``app``."""
    app.add_typer(commitment_app, name="commitment")
    command(app, "ranking")(ranking)
    command(app, "adjust")(adjust)
    command(app, "commend")(commend)
    command(app, "dispatch")(recommend_dispatch)


def _campaign(text: str) -> Campaign:
    try:
        return Campaign.parse(text.strip())
    except ValueError as exc:
        raise fail(f"--campaign：{exc}", EXIT_INVALID) from None


def _scope(text: str | None) -> Campaign | None:
    return None if text is None else _campaign(text)


def _unit(key: str) -> str:
    return INDICATORS[key].unit if key in INDICATORS else ""


def _label(key: str) -> str:
    return INDICATORS[key].label if key in INDICATORS else key


@command(commitment_app, "list")
def list_commitments(
    year: Annotated[int | None, typer.Option("--year", min=1990, max=2100, help="年度")] = None,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="renewal（工改）或 water（治水）")
    ] = None,
    town: TownOption = None,
) -> None:
    """列出承诺书（按年度、攻坚、镇街代码）。"""
    with session() as db:
        town_id = town_id_of(db, town)
        found = commitments.list_commitments(
            db, actor=operator(), year=year, campaign=_scope(campaign), town_id=town_id
        )
        listed = table(
            f"承诺书（{len(found)} 份）",
            ("年度", "攻坚", "镇街", "目标", "签署", "审定"),
            right=("目标",),
        )
        for row in found:
            listed.add_row(
                str(row.year),
                Campaign(row.campaign).label,
                row.town.name,
                str(len(row.targets)),
                str(row.signed_on or "—"),
                f"{row.approved_by}（已锁定）" if row.approved_at else "—",
            )
    console.print(listed)


@command(commitment_app, "show")
def show(town: TownArgument, year: YearOption, campaign: CampaignOption) -> None:
    """承诺书详情：各项目标、签署与审定。"""
    with session() as db:
        found = commitments.get_commitment(
            db, actor=operator(), town=town, year=year, campaign=_campaign(campaign)
        )
        state = commitments.locked_message(found) if found.approved_at else "尚未审定，可修改"
        console.print(
            f"{commitments.describe(found)}：签署于 {found.signed_on or '（未签署）'}；{state}",
            highlight=False,
        )
        listed = table("目标（年末累计）", ("指标", "键", "目标", "单位"), right=("目标",))
        for target in sorted(found.targets, key=commitments.indicator_order):
            listed.add_row(
                _label(target.indicator),
                target.indicator,
                str(target.target),
                _unit(target.indicator),
            )
    console.print(listed)


@command(commitment_app, "progress")
def progress(
    town: TownArgument, year: YearOption, campaign: CampaignOption, as_of: AsOfOption = None
) -> None:
    """承诺书进度：截至某日各指标完成情况与年末预测（可完成、有风险、滞后）。"""
    with session() as db:
        found = commitments.progress(
            db,
            actor=operator(),
            town=town,
            year=year,
            campaign=_campaign(campaign),
            as_of=day_option(as_of, "--as-of"),
        )
        title = f"{commitments.describe(found.commitment)}进度（截至 {found.as_of}）"
    listed = table(
        title,
        ("指标", "年初", "现值", "目标", "完成率", "年内完成", "年内目标", "年末预测", "预判"),
        right=("年初", "现值", "目标", "完成率", "年内完成", "年内目标", "年末预测"),
    )
    for row in found.forecasts:
        listed.add_row(
            _label(row.indicator),
            str(rounded(row.start)),
            str(rounded(row.achieved)),
            str(row.target),
            "—" if row.share_pct is None else f"{row.share_pct}%",
            str(rounded(row.achieved_in_year)),
            str(rounded(row.target_in_year)),
            str(rounded(row.forecast)),
            row.outlook.label,
        )
    console.print(listed)
    for row in found.forecasts:
        console.print(row.explanation, highlight=False)


@command(commitment_app, "approve")
def approve(town: TownArgument, year: YearOption, campaign: CampaignOption) -> None:
    """审定承诺书（市攻坚办）：审定后锁定，不能再修改。"""
    with session() as db:
        found = commitments.approve(
            db, actor=operator(), town=town, year=year, campaign=_campaign(campaign)
        )
        console.print(commitments.locked_message(found), highlight=False)


def ranking(
    year: YearOption,
    campaign: RankingCampaignOption = None,
    explain: Annotated[
        str | None, typer.Option("--explain", help="列出该镇街（名称或代码）得分的逐项依据")
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """镇街排名：按评分细则计分（承诺指标、逾期项目、投诉河涌、加减分），--explain 逐项说明。"""
    scope = _scope(campaign)
    with session() as db:
        board = scoring.ranking(
            db,
            actor=operator(),
            year=year,
            campaign=scope,
            as_of=day_option(as_of, "--as-of"),
        )
        explained = find_town(db, explain) if explain else None
    name = scoring.SCOPE_LABELS[board.campaign]
    listed = table(
        f"{year} 年度{name}攻坚排名（截至 {board.as_of}）",
        ("名次", "镇街", "得分", "完成率", "逾期项目", "承诺书", "全部完成"),
        right=("名次", "得分", "完成率", "逾期项目"),
    )
    for row in board.rows:
        listed.add_row(
            str(row.rank),
            row.town.name,
            str(row.score),
            f"{row.completion_pct}%",
            str(row.overdue_projects),
            "有" if row.committed else "无",
            "是" if row.met_all else "",
        )
    console.print(listed)
    if explained is not None:
        row = next(r for r in board.rows if r.town.id == explained.id)
        items = table(
            f"{row.town.name}：第 {row.rank} 名，{row.score} 分",
            ("攻坚", "项目", "依据", "分值"),
            right=("分值",),
        )
        for item in row.items:
            items.add_row(item.campaign.label, item.title, item.explanation, f"{item.points:+}")
        console.print(items)


def adjust(
    town: Annotated[str, typer.Option("--town", help="镇街名称或代码")],
    year: YearOption,
    campaign: CampaignOption,
    points: Annotated[str, typer.Option("--points", help="加分为正、扣分为负，如 3 或 -2.5")],
    reason: Annotated[str, typer.Option("--reason", help="理由（如上级通报表扬或批评）")],
    on: Annotated[str | None, typer.Option("--on", help="决定日期；默认今天")] = None,
) -> None:
    """录入市攻坚办对镇街的加减分（计入该年度该项攻坚得分）。"""
    try:
        value = Decimal(points)
    except InvalidOperation:
        raise fail(f"--points 须为数值，而不是“{points}”", EXIT_INVALID) from None
    with session() as db:
        row = scoring.add_adjustment(
            db,
            actor=operator(),
            town=town,
            year=year,
            campaign=_campaign(campaign),
            points=value,
            reason=reason,
            entered_on=day_option(on, "--on"),
        )
        console.print(
            f"已录入：{find_town(db, town).name} {row.year} 年"
            f"{Campaign(row.campaign).label} {row.points:+} 分（{row.reason}）",
            highlight=False,
        )


def commend(
    year: YearOption,
    campaign: RankingCampaignOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出名单，不写入")] = False,
) -> None:
    """通报表扬先进单位：各排名前 N 名（设置 commend_top_n）及全部完成承诺目标的镇街。"""
    scope = _scope(campaign)
    with session() as db:
        found = scoring.commendation_list(db, actor=operator(), year=year, campaign=scope)
        written, kept = (
            ([], [])
            if dry_run
            else scoring.commend(db, actor=operator(), year=year, campaign=scope)
        )
    listed = table(
        f"{year} 年度通报表扬名单（先进单位，{len(found)} 个）",
        ("排名", "名次", "镇街", "得分", "表扬事由"),
        right=("名次", "得分"),
    )
    for row in found:
        listed.add_row(
            scoring.SCOPE_LABELS[row.campaign],
            str(row.rank),
            row.town.name,
            str(row.score),
            row.citation,
        )
    console.print(listed)
    if dry_run:
        console.print("（--dry-run：未写入）")
    else:
        console.print(f"已写入 {len(written)} 条表扬；此前已表扬 {len(kept)} 条，未重复写入")


def recommend_dispatch(
    cadres: Annotated[int, typer.Option("--cadres", help="下派干部总人数")],
    minimum: Annotated[int, typer.Option("--min", help="每个镇街至少几人")] = dispatch.DEFAULT_MIN,
    maximum: Annotated[int, typer.Option("--max", help="每个镇街至多几人")] = dispatch.DEFAULT_MAX,
    year: Annotated[
        int | None,
        typer.Option("--year", min=1990, max=2100, help="承诺书年度；默认截至日期所在年度"),
    ] = None,
    as_of: AsOfOption = None,
) -> None:
    """下派干部建议：按各镇街未完成承诺目标的压力，用最大余数法分配（含上下限），逐镇说明。"""
    with session() as db:
        found = dispatch.recommend(
            db,
            actor=operator(),
            cadres=cadres,
            minimum=minimum,
            maximum=maximum,
            year=year,
            as_of=day_option(as_of, "--as-of"),
        )
    listed = table(
        f"{found.year} 年下派干部建议：{found.cadres} 人，每镇街 {found.minimum}–{found.maximum} 人"
        f"（截至 {found.as_of}）",
        ("镇街", "人数", "压力", "说明"),
        right=("人数", "压力"),
    )
    for row in found.towns:
        listed.add_row(
            row.town.name,
            str(row.cadres),
            str(rounded(row.pressure.pressure, dispatch.PRESSURE_PLACES)),
            row.explanation,
        )
    console.print(listed)
    console.print(f"合计 {sum(row.cadres for row in found.towns)} 人")
