"""The charts of a briefing, drawn with matplotlib on its Agg canvas (no display, no
pyplot state) in an installed CJK font, as PNG images with their captions.

- progress over time: a campaign's city figures at the end of the period and of the
  twelve before it (``BriefingData.history``);
- per-town bars: the 23 towns' scores in a campaign's ranking, best at the top.

Series are told apart by marker and line style as well as colour (DESIGN.md: never
colour alone), and every bar carries its value.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gongjian.campaign.choices import Campaign
from gongjian.campaign.rules import INDICATORS
from gongjian.display import day_text
from gongjian.errors import GongjianError
from gongjian.reports.briefings import BriefingData, CampaignSection

CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC")
"""The fonts charts are drawn in, the first installed (Debian's fonts-noto-cjk)."""
FONT_PACKAGE = "fonts-noto-cjk"
ACCENT = "#0b4f9c"
TEXT = "#1a1a1a"
SERIES_STYLES = ((ACCENT, "o", "-"), ("#1b5e20", "s", "--"))
"""Colour, marker and line style of each series of a chart."""
PROGRESS_SERIES: dict[Campaign, tuple[str, ...]] = {
    Campaign.renewal: ("renewal.cleared_mu",),
    Campaign.water: ("water.rivers_entered", "water.rivers_completed"),
}
"""The KPIs each campaign's progress chart draws (of one unit each)."""
WIDTH_IN = 6.0
DPI = 150


@dataclass(frozen=True)
class Chart:
    """A chart as a PNG image, with the caption printed under it (without its number)."""

    png: bytes
    caption: str


@cache
def cjk_font() -> str:
    """The family of the first installed font of ``CJK_FONTS``, as matplotlib knows it;
    an error naming the package to install when there is none."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in installed:
            return family
    raise GongjianError(
        f"未找到中文字体（{'、'.join(CJK_FONTS)}），无法绘制图表："
        f"请安装 Debian 软件包 {FONT_PACKAGE}（apt-get install {FONT_PACKAGE}）"
    )


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def _style() -> Any:
    """The rc settings of every chart (typed ``Any``: matplotlib types ``rc_context``'s
    keys as a literal of every rc name)."""
    return {
        "font.family": [cjk_font()],
        "font.size": 10,
        "axes.unicode_minus": False,
        "text.color": TEXT,
        "axes.labelcolor": TEXT,
        "xtick.color": TEXT,
        "ytick.color": TEXT,
    }


def progress_chart(data: BriefingData, campaign: Campaign) -> Chart:
    """The city's figures of ``campaign`` at the end of each period of the history."""
    keys = PROGRESS_SERIES[campaign]
    labels = [point.period for point in data.history]
    unit = INDICATORS[keys[0]].unit
    with rc_context(_style()):
        figure = Figure(figsize=(WIDTH_IN, 3.2), layout="constrained")
        axes = figure.add_subplot()
        for key, (color, marker, linestyle) in zip(keys, SERIES_STYLES, strict=False):
            values = [point.kpi[key] or 0 for point in data.history]
            axes.plot(
                labels,
                values,
                label=f"{INDICATORS[key].label}（{unit}）",
                color=color,
                marker=marker,
                linestyle=linestyle,
            )
            axes.annotate(
                f"{values[-1]:,}",
                (len(values) - 1, values[-1]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
            )
        axes.set_ylabel(unit)
        axes.set_ylim(bottom=0)
        axes.grid(axis="y", linewidth=0.5, alpha=0.5)
        axes.tick_params(axis="x", labelrotation=45)
        axes.legend(loc="lower right", frameon=False)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        png = _png(figure)
    first, last = data.history[0].period_text, data.history[-1].period_text
    return Chart(png, f"全市{campaign.label}攻坚进展（{first}至{last}，各期末累计）")


def town_chart(data: BriefingData, section: CampaignSection) -> Chart:
    """The towns' scores in ``section``'s ranking, best at the top, each with its value."""
    rows = list(reversed(section.ranking))
    scores = [float(row.score) for row in rows]
    with rc_context(_style()):
        figure = Figure(figsize=(WIDTH_IN, 5.6), layout="constrained")
        axes = figure.add_subplot()
        bars = axes.barh([row.town for row in rows], scores, color=ACCENT, height=0.65)
        axes.bar_label(bars, labels=[f"{row.score:.2f}" for row in rows], padding=3, fontsize=8)
        axes.axvline(0, color=TEXT, linewidth=0.6)
        axes.set_xlabel("得分")
        axes.set_xlim(right=max([*scores, 0.0]) * 1.12 + 1)
        axes.grid(axis="x", linewidth=0.5, alpha=0.5)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        png = _png(figure)
    return Chart(
        png, f"{data.period_text}各镇街{section.label}攻坚得分（截至{day_text(data.as_of)}）"
    )
