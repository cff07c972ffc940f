"""The briefing as a Word document: the official layout (GB/T 9704-2012), its fonts and
numbering, the town tables, and figures equal to the KPI function's."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.campaign.choices import Campaign, Outlook
from gongjian.campaign.commitments import progress
from gongjian.campaign.projects import overdue_projects
from gongjian.campaign.rules import INDICATORS
from gongjian.campaign.scoring import ranking
from gongjian.display import change, full, headline, headline_wan_yuan
from gongjian.errors import Forbidden, Invalid
from gongjian.kpi.services import kpis
from gongjian.periods import parse_period
from gongjian.reports.briefings import briefing_data, holds_demo, parse_campaigns
from gongjian.reports.docx_layout import CHINESE_NUMERALS, OFFICIAL_FONTS, chinese_number
from gongjian.towns.models import Town
from tests.reports.conftest import Generated

AS_OF = dt.date(2023, 1, 31)
PREVIOUS = dt.date(2022, 12, 31)
SYSTEM = Actor.system("test")
LEVEL_1 = re.compile(rf"^([{CHINESE_NUMERALS}]+)、")
LEVEL_2 = re.compile(rf"^（([{CHINESE_NUMERALS}]+)）")
LEVEL_3 = re.compile(r"^(\d+)\. ")
LEVEL_4 = re.compile(r"^（(\d+)）")
FROM_CHINESE = {chinese_number(n): n for n in range(1, 100)}
FIGURE = re.compile(
    r"^(?P<label>.+?)(?P<value>−?[\d.]+[万亿]?(?:亩|家|亿元|万元|元|条|公里|座|%))"
    r"（(?P<change>较上期 [+−±][\d.]+[万亿]?(?:亩|家|亿元|万元|元|条|公里|座|个百分点))）$"
)


def _mm(length: int | None) -> float:
    assert length is not None
    return length / 36000


def _fonts(paragraph: Paragraph) -> set[tuple[str | None, float | None]]:
    """(East Asian font, size in pt) of the paragraph's runs with text."""
    found = set()
    for run in paragraph.runs:
        if not run.text:
            continue
        fonts = run._r.rPr.rFonts
        size = run.font.size.pt if run.font.size is not None else None
        found.add((fonts.get(qn("w:eastAsia")), size))
    return found


def _texts(generated: Generated) -> list[Paragraph]:
    return [p for p in generated.document.paragraphs if p.text.strip()]


def test_page_is_a4_with_the_official_margins_and_a_22_by_28_grid(briefing: Generated) -> None:
    section = briefing.document.sections[0]
    assert round(_mm(section.page_width), 1) == 210.0
    assert round(_mm(section.page_height), 1) == 297.0
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(_mm(m), 1) for m in margins] == [37.0, 35.0, 28.0, 26.0]

    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars"
    pitch, space = int(grid.get(qn("w:linePitch"))), int(grid.get(qn("w:charSpace")))
    height = section.page_height.twips - section.top_margin.twips - section.bottom_margin.twips
    width = section.page_width.twips - section.left_margin.twips - section.right_margin.twips
    assert 22 * pitch <= height < 23 * pitch
    char_twips = (16 + space / 4096) * 20
    assert 28 * char_twips <= width < 29 * char_twips

    body = [p for p in _texts(briefing) if _fonts(p) == {("仿宋_GB2312", 16.0)}]
    assert len(body) > 20
    for paragraph in body:
        assert paragraph.paragraph_format.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert paragraph.paragraph_format.line_spacing.twips == pitch


def test_page_numbers_sit_at_the_outside_corner_of_odd_and_even_pages(
    briefing: Generated,
) -> None:
    document = briefing.document
    assert document.settings.odd_and_even_pages_header_footer
    section = document.sections[0]
    odd, even = section.footer.paragraphs[0], section.even_page_footer.paragraphs[0]
    assert odd.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert even.alignment == WD_ALIGN_PARAGRAPH.LEFT
    for footer in (odd, even):
        assert footer.text == "— 1 —"
        assert "PAGE" in "".join(t.text for t in footer._p.iter(qn("w:instrText")))
        assert {(r._r.rPr.rFonts.get(qn("w:eastAsia")), r.font.size.pt) for r in footer.runs} == {
            ("宋体", 14.0)
        }


def test_every_run_names_its_official_east_asian_font(briefing: Generated) -> None:
    document = briefing.document
    section = document.sections[0]
    parts = [document.element.body, section.footer._element, section.even_page_footer._element]
    runs = [run for part in parts for run in part.iter(qn("w:r"))]
    assert len(runs) > 500
    for run in runs:
        fonts = run.find(qn("w:rPr")).find(qn("w:rFonts"))
        east_asian = fonts.get(qn("w:eastAsia"))
        assert east_asian in OFFICIAL_FONTS
        assert fonts.get(qn("w:ascii")) == fonts.get(qn("w:hAnsi")) == east_asian


def test_title_headings_and_body_have_their_fonts_and_sizes(briefing: Generated) -> None:
    paragraphs = _texts(briefing)
    title = paragraphs[0]
    assert title.text == "关于2023年1月工改治水攻坚工作进展情况的通报"
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert _fonts(title) == {("方正小标宋简体", 22.0)}
    levels = {"1": 0, "2": 0, "3": 0, "4": 0}
    for paragraph in paragraphs[1:]:
        text, fonts = paragraph.text, _fonts(paragraph)
        if LEVEL_1.match(text):
            levels["1"] += 1
            assert fonts == {("黑体", 16.0)}, text
        elif LEVEL_2.match(text) and not text.startswith("（示例"):
            levels["2"] += 1
            assert fonts == {("楷体_GB2312", 16.0)}, text
        elif LEVEL_3.match(text) or LEVEL_4.match(text):
            levels["3" if LEVEL_3.match(text) else "4"] += 1
            assert fonts == {("仿宋_GB2312", 16.0)}, text
    assert levels["1"] == 5
    assert all(count > 0 for count in levels.values())


def test_headings_are_numbered_in_order_at_four_levels(briefing: Generated) -> None:
    numbers = [0, 0, 0, 0]
    headings = []
    for paragraph in _texts(briefing)[1:]:
        text = paragraph.text
        for level, pattern in enumerate((LEVEL_1, LEVEL_2, LEVEL_3, LEVEL_4)):
            match = pattern.match(text)
            if not match or text.startswith("（示例"):
                continue
            value = FROM_CHINESE[match[1]] if level < 2 else int(match[1])
            assert value == numbers[level] + 1, text
            numbers[level] = value
            numbers[level + 1 :] = [0] * (3 - level)
            if level == 0:
                headings.append(text)
            break
    assert headings == [
        "一、总体进展情况",
        "二、各镇街排名情况",
        "三、存在问题",
        "四、通报表扬",
        "五、工作要求",
    ]


def _figures_paragraph(briefing: Generated, campaign: Campaign) -> str:
    start = f"截至2023年1月31日，全市{campaign.label}攻坚累计："
    found = [p.text for p in briefing.document.paragraphs if p.text.startswith(start)]
    assert len(found) == 1
    return found[0].removeprefix(start).removesuffix("。")


def _expected(key: str, now: dict[str, object], before: dict[str, object]) -> tuple[str, str]:
    value, previous = now[key], before[key]
    assert isinstance(value, int | float)
    assert isinstance(previous, int | float)
    indicator = INDICATORS[key]
    shown = (
        headline_wan_yuan(Decimal(str(value)) * 10_000)
        if key == "renewal.investment_yi"
        else headline(value, indicator.unit)
    )
    unit = "个百分点" if indicator.percentage else indicator.unit
    return shown, change(Decimal(str(value)) - Decimal(str(previous)), unit)


@pytest.mark.parametrize("campaign", list(Campaign))
def test_every_headline_figure_equals_the_kpi_function(
    briefing: Generated, demo_session: Session, campaign: Campaign
) -> None:
    now, before = kpis(demo_session, as_of=AS_OF), kpis(demo_session, as_of=PREVIOUS)
    keys = [k for k, i in INDICATORS.items() if i.campaign is campaign]
    items = _figures_paragraph(briefing, campaign).split("，")
    assert len(items) == len(keys)
    for key, item in zip(keys, items, strict=True):
        match = FIGURE.match(item)
        assert match, item
        assert match["label"] == INDICATORS[key].label
        assert (match["value"], match["change"]) == _expected(key, now, before), key


def _ranking_tables(briefing: Generated) -> list[list[list[str]]]:
    tables = [
        [[cell.text for cell in row.cells] for row in table.rows]
        for table in briefing.document.tables
    ]
    return [t for t in tables if t[0][0] == "名次"]


@pytest.mark.parametrize("campaign", list(Campaign))
def test_the_town_table_ranks_the_23_towns_by_score(
    briefing: Generated, demo_session: Session, campaign: Campaign
) -> None:
    table = _ranking_tables(briefing)[list(Campaign).index(campaign)]
    header, rows = table[0], table[1:]
    labels = [i.label for i in INDICATORS.values() if i.campaign is campaign]
    assert header[:3] == ["名次", "镇街", "得分"]
    assert [h.split("\n")[0] for h in header[3:]] == labels
    assert len(rows) == 23
    assert [int(row[0]) for row in rows] == list(range(1, 24))
    scores = [Decimal(row[2].replace("−", "-").replace(",", "")) for row in rows]
    assert scores == sorted(scores, reverse=True)
    board = ranking(demo_session, actor=SYSTEM, year=2023, campaign=campaign, as_of=AS_OF)
    assert [row[1] for row in rows] == [score.town.name for score in board.rows]
    assert [row[2] for row in rows] == [full(score.score, 2) for score in board.rows]
    assert {row[1] for row in rows} == {t.name for t in demo_session.query(Town)}
    outlooks = {o.label for o in Outlook}
    for row in rows:
        for cell in row[3:]:
            assert cell in ("—", "未签") or cell.split("\n")[1] in outlooks


def test_towns_behind_schedule_are_named_with_what_is_behind(
    briefing: Generated, demo_session: Session
) -> None:
    named = set()
    for paragraph in _texts(briefing):
        match = re.match(r"^（\d+）(?P<town>[^（]+)（排名第\d+）：(?P<what>.+)。$", paragraph.text)
        if match:
            for part in match["what"].split("；"):
                named.add((match["town"], part.split("年内完成")[0]))
    expected = set()
    for campaign in Campaign:
        board = ranking(demo_session, actor=SYSTEM, year=2023, campaign=campaign, as_of=AS_OF)
        for score in board.rows:
            if not score.committed:
                continue
            found = progress(
                demo_session,
                actor=SYSTEM,
                town=score.town.code,
                year=2023,
                campaign=campaign,
                as_of=AS_OF,
            )
            expected |= {
                (score.town.name, INDICATORS[f.indicator].label)
                for f in found.forecasts
                if f.outlook is Outlook.behind
            }
    assert expected
    assert named == expected


def test_overdue_projects_are_listed_in_the_attachment(
    briefing: Generated, demo_session: Session
) -> None:
    late = overdue_projects(demo_session, actor=SYSTEM, as_of=AS_OF)
    attachment = briefing.document.tables[-1]
    assert attachment.rows[0].cells[1].text == "项目编号"
    assert [row.cells[1].text for row in attachment.rows[1:]] == [
        item.project.code for item in late
    ]
    text = "\n".join(p.text for p in briefing.document.paragraphs)
    assert f"逾期项目{len(late)}个" in text


def test_charts_are_embedded_with_captions(briefing: Generated) -> None:
    assert len(briefing.document.inline_shapes) == 4
    captions = [p.text for p in _texts(briefing) if re.match(r"^图\d　", p.text)]
    assert [c.split("　")[0] for c in captions] == ["图1", "图2", "图3", "图4"]


def test_the_demo_city_is_labelled_as_example_data(briefing: Generated, session: Session) -> None:
    assert _texts(briefing)[1].text == "（示例数据，仅供演示）"
    assert briefing.data.example
    assert not holds_demo(session)


def test_a_weekly_briefing_of_one_campaign(demo_session: Session) -> None:
    data = briefing_data(
        demo_session,
        actor=SYSTEM,
        period=parse_period("2023-W05"),
        campaigns=parse_campaigns("water"),
    )
    assert data.title == "关于2023年第5周治水攻坚工作进展情况的通报"
    assert (data.as_of, data.previous_as_of) == (dt.date(2023, 2, 5), dt.date(2023, 1, 29))
    assert [s.campaign for s in data.campaigns] == [Campaign.water]
    assert {c.scope for c in data.commended} <= {"治水"}
    assert data.history[-1].kpi == kpis(demo_session, as_of=data.as_of)
    with pytest.raises(Invalid):
        parse_campaigns("both campaigns")


def test_only_the_city_writes_briefings(demo_session: Session) -> None:
    town = demo_session.query(Town).first()
    assert town is not None
    actor = Actor(username="town-user", role=Role.town, town_id=town.id)
    with pytest.raises(Forbidden):
        briefing_data(demo_session, actor=actor, period=parse_period("2023-01"))
