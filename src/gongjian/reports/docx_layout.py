"""A briefing laid out as an official document (GB/T 9704-2012) in Word's .docx.

The layout rules and how each is set:

- A4 (210 × 297 mm) with margins top 37, bottom 35, left (binding) 28, right 26 mm
  (``w:pgSz``, ``w:pgMar``): a text area of 156 × 225 mm.
- 22 lines of 28 characters: the section's document grid (``w:docGrid
  w:type="linesAndChars"``) has a line pitch of the text height ÷ 22 (579 twips,
  28.95 pt) and a character pitch of the text width ÷ 28 (15.79 pt: ``w:charSpace`` is
  the difference from the 16 pt body size in 1/4096 pt, rounded down so 28 fit); every
  paragraph on the grid has exact line spacing of one line pitch.
- Title in 2号 (22 pt) 方正小标宋简体, centred; body in 3号 (16 pt) 仿宋_GB2312 with a
  two-character first-line indent; headings in 3号: 一、 in 黑体, （一） in
  楷体_GB2312, 1. and （1） in 仿宋_GB2312.
- Every run names its fonts explicitly (``w:rFonts`` ``w:ascii``, ``w:hAnsi``,
  ``w:eastAsia`` and ``w:cs``) with the official names, so the recipients' Word shows
  the official fonts.
- Page numbers in 4号 (14 pt) 宋体 half-width digits as ``— 1 —``, in the footer at the
  outside corner one character in: right on odd pages, left on even pages (separate
  odd and even footers, ``w:evenAndOddHeaders`` in the settings).
- Tables and charts sit off the grid (their own line spacing) in 小四 (12 pt), headers
  in 黑体; table captions above, chart captions below.

The figures come from ``BriefingData`` as it was computed: headline figures print their
stored texts, tables their values through ``gongjian.display``.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.section import Section
from docx.shared import Mm, Pt, Twips
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from gongjian.campaign.rules import INDICATORS
from gongjian.display import day_text, full
from gongjian.reports.briefings import (
    PERCENTAGE_POINTS,
    BriefingData,
    CampaignSection,
    Progress,
    TownRow,
)
from gongjian.reports.charts import Chart, progress_chart, town_chart

# --- Page and grid ---------------------------------------------------------------------

TWIPS_PER_MM = 1440 / 25.4
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
FOOTER_MM = 24
"""Page bottom to the footer's bottom: the page number's line sits about 7 mm under the
text area (GB/T 9704-2012 7.5: 一字线上距版心下边缘7mm)."""


def mm_twips(mm: float) -> int:
    """Millimetres in twips (1/20 pt), rounded."""
    return round(mm * TWIPS_PER_MM)


PAGE_WIDTH, PAGE_HEIGHT = (mm_twips(side) for side in PAGE_MM)
TEXT_WIDTH = PAGE_WIDTH - mm_twips(MARGINS_MM["left"]) - mm_twips(MARGINS_MM["right"])
TEXT_HEIGHT = PAGE_HEIGHT - mm_twips(MARGINS_MM["top"]) - mm_twips(MARGINS_MM["bottom"])
LINE_PITCH = TEXT_HEIGHT // LINES_PER_PAGE
"""Twips per line: 22 lines fill the text height."""
CHAR_PITCH = TEXT_WIDTH // CHARS_PER_LINE
"""Twips per character (rounded down): 28 characters fill the text width."""


@dataclass(frozen=True)
class Face:
    """A font by its official name, at a size in points."""

    name: str
    size_pt: float


TITLE = Face("方正小标宋简体", 22)
BODY = Face("仿宋_GB2312", 16)
HEADING_1 = Face("黑体", 16)
HEADING_2 = Face("楷体_GB2312", 16)
PAGE_NUMBER = Face("宋体", 14)
TABLE_BODY = Face("仿宋_GB2312", 12)
TABLE_HEAD = Face("黑体", 12)
OFFICIAL_FONTS = tuple(
    dict.fromkeys(face.name for face in (TITLE, BODY, HEADING_1, HEADING_2, PAGE_NUMBER))
)
"""Every font the document names."""

CHAR_SPACE = math.floor((TEXT_WIDTH / CHARS_PER_LINE / 20 - BODY.size_pt) * 4096)
"""``w:charSpace``: the character pitch less the body size, in 1/4096 pt (rounded down)."""
CONDENSED = -math.ceil((BODY.size_pt - TEXT_WIDTH / CHARS_PER_LINE / 20) * 20)
"""Character spacing of every run, in twentieths of a point (``w:spacing`` in the
defaults): 28 body characters fit the width at their natural advance too, so a renderer
that gives each character whole grid cells (LibreOffice) keeps 28 to the line."""

ISSUER = "市工改治水攻坚指挥部办公室"
RECIPIENTS = "各镇人民政府、各街道办事处，市攻坚办各成员单位："
CHINESE_NUMERALS = "一二三四五六七八九十"
FIGURE_WIDTH_MM = 150
_AFTER_SNAP_TO_GRID = (
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)


def chinese_number(n: int) -> str:
    """1–99 in Chinese numerals, as headings count: 一, 十, 十一, 二十三."""
    tens, ones = divmod(n, 10)
    text = (CHINESE_NUMERALS[tens - 1] if tens > 1 else "") + ("十" if tens else "")
    return text + (CHINESE_NUMERALS[ones - 1] if ones else "")


# --- Low-level XML helpers -------------------------------------------------------------


def set_fonts(run: Run, face: Face) -> Run:
    """Give ``run`` the face's size and name it for every script (``w:eastAsia`` included)."""
    run.font.size = Pt(face.size_pt)
    fonts = run._r.get_or_add_rPr().get_or_add_rFonts()
    for script in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(script), face.name)
    return run


def add_run(paragraph: Paragraph, text: str, face: Face) -> Run:
    """A run of ``text`` in ``face`` at the end of ``paragraph``."""
    return set_fonts(paragraph.add_run(text), face)


def _snap_to_grid(paragraph: Paragraph, *, on: bool) -> None:
    snap = OxmlElement("w:snapToGrid")
    snap.set(qn("w:val"), "1" if on else "0")
    paragraph._p.get_or_add_pPr().insert_element_before(snap, *_AFTER_SNAP_TO_GRID)


def _off_grid(paragraph: Paragraph) -> None:
    """Single line spacing and no snapping to the grid (tables, images, footers)."""
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    fmt.space_before = fmt.space_after = Pt(0)
    _snap_to_grid(paragraph, on=False)


def _on_grid(paragraph: Paragraph, *, indent_chars: int = 0) -> None:
    """Exact line spacing of one line pitch; a first-line indent of ``indent_chars``."""
    fmt = paragraph.paragraph_format
    fmt.line_spacing = Twips(LINE_PITCH)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = False
    if indent_chars:
        fmt.first_line_indent = Twips(CHAR_PITCH * indent_chars)
        fmt._element.get_or_add_pPr().get_or_add_ind().set(
            qn("w:firstLineChars"), str(indent_chars * 100)
        )


def _field(paragraph: Paragraph, instruction: str, face: Face, shown: str) -> None:
    """A field (e.g. ``PAGE``) whose every run names ``face``."""
    for kind in ("begin", "instr", "separate", "shown", "end"):
        run = add_run(paragraph, shown if kind == "shown" else "", face)
        if kind == "instr":
            text = OxmlElement("w:instrText")
            text.set(qn("xml:space"), "preserve")
            text.text = f" {instruction} "
            run._r.append(text)
        elif kind != "shown":
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)


def _fonts_of_style(element: object, face: Face) -> None:
    """Name ``face`` on a style's or the defaults' run properties, themes removed."""
    fonts = element.get_or_add_rPr().get_or_add_rFonts()  # type: ignore[attr-defined]
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    for script in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(script), face.name)


# --- The document ----------------------------------------------------------------------


def _page(section: Section) -> None:
    section.page_width, section.page_height = Twips(PAGE_WIDTH), Twips(PAGE_HEIGHT)
    section.top_margin = Twips(mm_twips(MARGINS_MM["top"]))
    section.bottom_margin = Twips(mm_twips(MARGINS_MM["bottom"]))
    section.left_margin = Twips(mm_twips(MARGINS_MM["left"]))
    section.right_margin = Twips(mm_twips(MARGINS_MM["right"]))
    section.gutter = Twips(0)
    section.header_distance = Mm(15)
    section.footer_distance = Mm(FOOTER_MM)
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sect_pr.append(grid)
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(LINE_PITCH))
    grid.set(qn("w:charSpace"), str(CHAR_SPACE))
    _page_number(section.footer.paragraphs[0], odd=True)
    _page_number(section.even_page_footer.paragraphs[0], odd=False)


def _page_number(paragraph: Paragraph, *, odd: bool) -> None:
    """``— 1 —`` at the outside corner, one character in (GB/T 9704-2012 7.5)."""
    _off_grid(paragraph)
    fmt = paragraph.paragraph_format
    one_char = Pt(PAGE_NUMBER.size_pt)
    if odd:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        fmt.right_indent = one_char
    else:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
        fmt.left_indent = one_char
    add_run(paragraph, "— ", PAGE_NUMBER)
    _field(paragraph, "PAGE", PAGE_NUMBER, "1")
    add_run(paragraph, " —", PAGE_NUMBER)


def _new_document() -> DocxDocument:
    document = Document()
    document.settings.odd_and_even_pages_header_footer = True
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for old in defaults.findall(qn("w:rFonts")):
        defaults.remove(old)
    fonts = OxmlElement("w:rFonts")
    defaults.insert(0, fonts)
    for script in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(script), BODY.name)
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), str(CONDENSED))
    fonts.addnext(spacing)
    for tag in ("w:sz", "w:szCs"):
        size = defaults.find(qn(tag))
        if size is None:
            size = OxmlElement(tag)
            defaults.append(size)
        size.set(qn("w:val"), str(round(BODY.size_pt * 2)))
    lang = defaults.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")
    paragraph_defaults = styles.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr"))
    for old in paragraph_defaults.findall(qn("w:spacing")):
        paragraph_defaults.remove(old)
    normal = document.styles["Normal"]
    normal.font.size = Pt(BODY.size_pt)
    _fonts_of_style(normal.element, BODY)
    _page(document.sections[0])
    return document


class _Writer:
    """Appends the parts of a briefing to a document, numbering tables and figures."""

    def __init__(self, document: DocxDocument) -> None:
        self.document = document
        self.tables = 0
        self.figures = 0

    def paragraph(
        self,
        text: str = "",
        face: Face = BODY,
        *,
        indent_chars: int = 2,
        align: WD_ALIGN_PARAGRAPH | None = None,
    ) -> Paragraph:
        paragraph = self.document.add_paragraph()
        _on_grid(paragraph, indent_chars=indent_chars)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY if align is None else align
        if text:
            add_run(paragraph, text, face)
        return paragraph

    def blank(self) -> None:
        self.paragraph(indent_chars=0)

    def title(self, text: str) -> None:
        """Centred, off the character grid (a 22 pt character would take two cells)."""
        paragraph = self.paragraph(text, TITLE, indent_chars=0, align=WD_ALIGN_PARAGRAPH.CENTER)
        _snap_to_grid(paragraph, on=False)

    def heading(self, number: int, text: str) -> None:
        """一、 in 黑体."""
        self.paragraph(f"{chinese_number(number)}、{text}", HEADING_1)

    def subheading(self, number: int, text: str) -> None:
        """（一） in 楷体_GB2312."""
        self.paragraph(f"（{chinese_number(number)}）{text}", HEADING_2)

    def item(self, number: int, text: str) -> None:
        """1. in 仿宋_GB2312."""
        self.paragraph(f"{number}. {text}")

    def subitem(self, number: int, text: str) -> None:
        """（1） in 仿宋_GB2312."""
        self.paragraph(f"（{number}）{text}")

    def page_break(self) -> None:
        paragraph = self.paragraph(indent_chars=0)
        add_run(paragraph, "", BODY).add_break(WD_BREAK.PAGE)

    def chart(self, chart: Chart) -> None:
        """The image, centred, and its numbered caption under it."""
        self.figures += 1
        paragraph = self.document.add_paragraph()
        _off_grid(paragraph)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.keep_with_next = True
        run = add_run(paragraph, "", BODY)
        run.add_picture(io.BytesIO(chart.png), width=Mm(FIGURE_WIDTH_MM))
        self.paragraph(
            f"图{self.figures}　{chart.caption}", indent_chars=0, align=WD_ALIGN_PARAGRAPH.CENTER
        )

    def table(
        self,
        caption: str,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        widths_mm: Sequence[float],
    ) -> Table:
        """A numbered caption, then a table whose header row repeats on every page."""
        self.tables += 1
        caption_paragraph = self.paragraph(
            f"表{self.tables}　{caption}", indent_chars=0, align=WD_ALIGN_PARAGRAPH.CENTER
        )
        caption_paragraph.paragraph_format.keep_with_next = True
        table = self.document.add_table(rows=0, cols=len(header))
        table.style = self.document.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        widths = [mm_twips(width) for width in widths_mm]
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Twips(width)
        table._tbl.append(_row(header, widths, TABLE_HEAD, header_row=True))
        for values in rows:
            table._tbl.append(_row(values, widths, TABLE_BODY))
        return table


def _run_properties_xml(face: Face) -> str:
    """The run properties ``set_fonts`` gives, in WordprocessingML."""
    names = "".join(f' w:{script}="{face.name}"' for script in ("ascii", "hAnsi", "eastAsia", "cs"))
    size = round(face.size_pt * 2)
    return f'<w:rPr><w:rFonts{names}/><w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'


def _row(
    values: Sequence[str], widths: Sequence[int], face: Face, *, header_row: bool = False
) -> BaseOxmlElement:
    """A table row of centred cells (off the grid); a line break in a value is a line
    break in its cell. Built as XML at once: a long table would take seconds through
    python-docx's cell by cell API."""
    cells = []
    for value, width in zip(values, widths, strict=True):
        properties = _run_properties_xml(face)
        runs = f"<w:r>{properties}<w:br/></w:r>".join(
            f'<w:r>{properties}<w:t xml:space="preserve">{escape(line)}</w:t></w:r>'
            for line in value.split("\n")
        )
        cells.append(
            f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/><w:vAlign w:val="center"/>'
            '</w:tcPr><w:p><w:pPr><w:snapToGrid w:val="0"/>'
            '<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
            f'<w:jc w:val="center"/></w:pPr>{runs}</w:p></w:tc>'
        )
    head = "<w:trPr><w:tblHeader/></w:trPr>" if header_row else ""
    return parse_xml(f"<w:tr {nsdecls('w')}>{head}{''.join(cells)}</w:tr>")


# --- The words -------------------------------------------------------------------------


def _amount(value: Decimal, key: str) -> str:
    """An indicator's figure in its unit: counts whole, others to two places."""
    places = 0 if INDICATORS[key].count else 2
    unit = PERCENTAGE_POINTS if INDICATORS[key].percentage else INDICATORS[key].unit
    return f"{full(value, places)}{unit}"


def _progress_cell(progress: Progress | None, row: TownRow) -> str:
    if not row.committed:
        return "未签"
    if progress is None:
        return "—"
    return f"{full(progress.completion_pct, 2)}%\n{progress.outlook.label}"


def _behind_text(progress: Progress) -> str:
    key = progress.indicator
    return (
        f"{progress.label}年内完成{_amount(progress.achieved_in_year, key)}，"
        f"为年内目标{_amount(progress.target_in_year, key)}的"
        f"{full(progress.completion_pct, 2)}%，按当前进度预计全年完成"
        f"{_amount(progress.forecast_in_year, key)}"
    )


def _figures_sentence(data: BriefingData, section: CampaignSection) -> str:
    parts = [
        f"{figure.label}{figure.text}（{figure.change_text}）"
        if figure.value is not None
        else f"{figure.label}暂无数据（尚未冻结央督基线）"
        for figure in section.figures
    ]
    return f"截至{day_text(data.as_of)}，全市{section.label}攻坚累计：{'，'.join(parts)}。"


def _overview(writer: _Writer, data: BriefingData, number: int) -> None:
    writer.heading(number, "总体进展情况")
    for sub, section in enumerate(data.campaigns, start=1):
        writer.subheading(sub, f"{section.label}攻坚")
        writer.paragraph(_figures_sentence(data, section))
        writer.chart(progress_chart(data, section.campaign))


def _names(rows: Sequence[TownRow]) -> str:
    return "、".join(row.town for row in rows)


def _rankings(writer: _Writer, data: BriefingData, number: int) -> None:
    writer.heading(number, "各镇街排名情况")
    for sub, section in enumerate(data.campaigns, start=1):
        writer.subheading(sub, f"{section.label}攻坚")
        rows = section.ranking
        writer.paragraph(
            f"按{data.year}年度承诺书目标完成情况、逾期项目等评分，{section.label}攻坚前三名为"
            f"{_names(rows[:3])}，后三名为{_names(rows[-3:])}"
            f"（表{writer.tables + 1}、图{writer.figures + 1}）。"
        )
        columns = section.columns
        indicator_width = (156 - 12 - 20 - 16) / len(columns)
        writer.table(
            f"{data.period_text}各镇街{section.label}攻坚得分排名",
            ["名次", "镇街", "得分", *(f"{c.label}\n完成率" for c in columns)],
            (
                [
                    str(row.rank),
                    row.town,
                    full(row.score, 2),
                    *(_progress_cell(row.progress_of(c.key), row) for c in columns),
                ]
                for row in rows
            ),
            [12, 20, 16, *([indicator_width] * len(columns))],
        )
        writer.paragraph(
            "注：完成率为年内完成量占年内目标的比例（封顶100%），“可完成”“有风险”“滞后”"
            "为按当前进度对年底的预计；“未签”为未签承诺书。",
        )
        writer.chart(town_chart(data, section))


def _behind(writer: _Writer, data: BriefingData) -> None:
    for number, section in enumerate(data.campaigns, start=1):
        if not section.behind:
            writer.item(
                number, f"{section.label}攻坚：各镇街承诺指标按当前进度均可完成或基本完成。"
            )
            continue
        writer.item(
            number,
            f"{section.label}攻坚：{len(section.behind)}个镇街有承诺指标按当前进度预计年底"
            "完成不到年内目标的90%（滞后）。",
        )
        for sub, town in enumerate(section.behind, start=1):
            reasons = "；".join(_behind_text(p) for p in town.behind)
            writer.subitem(sub, f"{town.town}（排名第{town.rank}）：{reasons}。")


def _severe(writer: _Writer, data: BriefingData) -> None:
    if not data.severe_rivers:
        writer.paragraph(f"截至{day_text(data.as_of)}，全市没有最新评定为重度黑臭的河涌。")
        return
    writer.paragraph(
        f"截至{day_text(data.as_of)}，最新评定为重度黑臭的河涌{len(data.severe_rivers)}条，"
        "按整治优先次序排列如下："
    )
    for number, river in enumerate(data.severe_rivers, start=1):
        writer.item(
            number, f"{river.name}（{river.code}，牵头镇街{river.town}，{river.grade_period}评定）"
        )


def _overdue(writer: _Writer, data: BriefingData) -> None:
    if not data.overdue:
        writer.paragraph(f"截至{day_text(data.as_of)}，没有逾期项目。")
        return
    reasons = Counter(item.reason for item in data.overdue)
    towns = Counter(item.town for item in data.overdue)
    by_reason = "、".join(f"{reason}{count}个" for reason, count in reasons.most_common())
    by_town = "、".join(f"{town}{count}个" for town, count in towns.most_common())
    writer.paragraph(
        f"截至{day_text(data.as_of)}，逾期项目{len(data.overdue)}个，其中{by_reason}。"
        f"按镇街：{by_town}。清单见附件。"
    )


def _problems(writer: _Writer, data: BriefingData, number: int) -> None:
    writer.heading(number, "存在问题")
    sub = 1
    writer.subheading(sub, "进度滞后的镇街")
    _behind(writer, data)
    if data.covers_water:
        sub += 1
        writer.subheading(sub, "重度黑臭河涌")
        _severe(writer, data)
    sub += 1
    writer.subheading(sub, "逾期项目")
    _overdue(writer, data)


def _commendation(writer: _Writer, data: BriefingData, number: int) -> None:
    writer.heading(number, "通报表扬")
    if not data.commended:
        writer.paragraph(f"{data.year}年度暂无符合通报表扬条件的镇街。")
        return
    writer.paragraph(f"根据{data.year}年度排名和承诺书目标完成情况，对以下镇街予以通报表扬：")
    for item, commended in enumerate(data.commended, start=1):
        writer.item(item, commended.citation)


def _requirements(writer: _Writer, data: BriefingData, number: int) -> None:
    writer.heading(number, "工作要求")
    rivers = "重度黑臭河涌要先急后缓、一河一策，" if data.covers_water else ""
    writer.paragraph(
        "各镇街要对照承诺书目标查找差距，对滞后指标和逾期项目逐项明确措施、责任人和完成时限，"
        f"{rivers}确保按期完成年度任务。"
    )


def _attachment(writer: _Writer, data: BriefingData) -> None:
    writer.page_break()
    writer.paragraph("附件", HEADING_1, indent_chars=0)
    writer.blank()
    writer.title("逾期项目清单")
    writer.paragraph(
        f"（截至{day_text(data.as_of)}）", indent_chars=0, align=WD_ALIGN_PARAGRAPH.CENTER
    )
    writer.table(
        f"{data.period_text}逾期项目",
        ["序号", "项目编号", "项目名称", "镇街", "逾期情况", "逾期天数"],
        (
            [str(n), item.code, item.name, item.town, item.reason, str(item.days)]
            for n, item in enumerate(data.overdue, start=1)
        ),
        [12, 24, 56, 20, 26, 18],
    )


def build_document(data: BriefingData) -> DocxDocument:
    """The briefing of ``data`` as a python-docx document."""
    writer = _Writer(_new_document())
    writer.title(data.title)
    if data.example:
        writer.paragraph(
            "（示例数据，仅供演示）", HEADING_2, indent_chars=0, align=WD_ALIGN_PARAGRAPH.CENTER
        )
    writer.blank()
    writer.paragraph(RECIPIENTS, indent_chars=0)
    if data.correction is not None:
        writer.paragraph(data.correction.text)
    writer.paragraph(
        f"现将{data.period_text}（截至{day_text(data.as_of)}）全市{data.scope_label}攻坚工作"
        f"进展情况通报如下。“较上期”指与{data.previous_period_text}末"
        f"（{day_text(data.previous_as_of)}）相比；排名和承诺书完成情况按{data.year}年度计。"
    )
    parts = [_overview, _rankings, _problems, _commendation]
    for number, part in enumerate(parts, start=1):
        part(writer, data, number)
    _requirements(writer, data, len(parts) + 1)
    writer.blank()
    if data.overdue:
        writer.paragraph("附件：逾期项目清单")
        writer.blank()
    signature = writer.paragraph(ISSUER, indent_chars=0, align=WD_ALIGN_PARAGRAPH.RIGHT)
    signature.paragraph_format.right_indent = Twips(CHAR_PITCH * 2)
    date = writer.paragraph(
        day_text(data.issued_on), indent_chars=0, align=WD_ALIGN_PARAGRAPH.RIGHT
    )
    date.paragraph_format.right_indent = Twips(CHAR_PITCH * 2)
    if data.overdue:
        _attachment(writer, data)
    return writer.document


def write_briefing(data: BriefingData, out: Path) -> Path:
    """Write the briefing of ``data`` to ``out`` (.docx) and return the path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    build_document(data).save(str(out))
    return out
