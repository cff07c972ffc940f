"""``gongjian report``: briefings (通报) as Word documents in the official layout, and PDF.

The heavy libraries (python-docx, matplotlib) load inside the command, so ``gongjian
--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gongjian.cli.common import command, console, err_console, operator, session
from gongjian.periods import parse_period

app = typer.Typer(
    help="通报：按公文格式（GB/T 9704-2012）生成 Word 文档及 PDF。", no_args_is_help=True
)


@command(app, "briefing")
def briefing(
    period: Annotated[
        str, typer.Option("--period", help="时段：2023-01（月）或 2023-W05（ISO 周）")
    ],
    out: Annotated[Path, typer.Option("--out", help="输出的 .docx 文件")],
    campaign: Annotated[
        str, typer.Option("--campaign", help="renewal（工改）、water（治水）或 both（两者）")
    ] = "both",
    pdf: Annotated[bool, typer.Option("--pdf", help="同时用 LibreOffice 生成 PDF")] = False,
) -> None:
    """生成某时段的通报（截至时段末日，较上一时段末日的变化）：核心指标、镇街排名、滞后镇街、
    重度黑臭河涌、逾期项目、通报表扬和图表。"""
    from gongjian.reports.briefings import briefing_data, parse_campaigns
    from gongjian.reports.docx_layout import OFFICIAL_FONTS, write_briefing

    chosen = parse_campaigns(campaign)
    when = parse_period(period, field="--period")
    with session() as db:
        data = briefing_data(db, actor=operator(), period=when, campaigns=chosen)
    written = write_briefing(data, out)
    label = "（示例数据）" if data.example else ""
    console.print(f"已生成通报{label}：{written}（{data.title}）")
    if not pdf:
        return
    from gongjian.reports.pdf import convert_to_pdf, font_substitutions

    printed = convert_to_pdf(written)
    console.print(f"已生成 PDF：{printed}")
    for found in font_substitutions(OFFICIAL_FONTS):
        err_console.print(
            f"字体替代：本机未安装“{found.official}”，PDF 中以“{found.used}”代替"
            "（.docx 仍指定原字体，收文方 Word 按原字体显示）"
        )


@command(app, "publish")
def publish(
    period: Annotated[
        str, typer.Option("--period", help="时段：2023-01（月）或 2023-W05（ISO 周）")
    ],
    campaign: Annotated[
        str, typer.Option("--campaign", help="renewal（工改）、water（治水）或 both（两者）")
    ] = "both",
    corrects: Annotated[
        int | None, typer.Option("--corrects", help="更正已发布的第 ID 号通报")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="更正原因（与 --corrects 同用）")
    ] = None,
) -> None:
    """把某时段的通报发布到公众门户：发布时计算并随通报保存其全部数字，此后不随记录变化；
    更正须另发一期通报，写明更正的通报和原因。"""
    from gongjian.reports.briefings import parse_campaigns
    from gongjian.reports.publishing import publish_briefing

    chosen = parse_campaigns(campaign)
    when = parse_period(period, field="--period")
    with session() as db:
        briefing = publish_briefing(
            db,
            actor=operator(),
            period=when,
            campaigns=chosen,
            corrects_id=corrects,
            reason=reason,
        )
        number, title = briefing.id, briefing.title
    console.print(f"已发布第{number}号通报：{title}（公众门户 /portal/briefings/{number}）")
