"""The briefing as PDF through LibreOffice and as page images through pdftoppm: Chinese
text in the PDF's text layer (not tofu), the stand-in fonts said and embedded, and the
first page saved to var/screenshots/ for people to look at. Without LibreOffice these
tests fail with the install hint; they are never skipped."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gongjian.errors import GongjianError
from gongjian.reports import pdf
from gongjian.reports.docx_layout import OFFICIAL_FONTS
from tests.reports.conftest import Generated

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} 未安装：请安装 Debian 软件包 poppler-utils"
    return found


def test_the_briefing_renders_to_pdf_with_its_chinese_text_and_a_first_page_image(
    briefing: Generated, tmp_path: Path, backend: str
) -> None:
    printed = pdf.convert_to_pdf(briefing.path, tmp_path)
    assert printed.read_bytes().startswith(b"%PDF")

    text = subprocess.run(
        [_tool("pdftotext"), "-l", "1", str(printed), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert briefing.data.title in re.sub(r"\s+", "", text)
    assert "示例数据" in text

    fonts = subprocess.run(
        [_tool("pdffonts"), str(printed)], capture_output=True, text=True, check=True
    ).stdout
    stand_ins = {s.used.replace(" ", "") for s in pdf.font_substitutions(OFFICIAL_FONTS)}
    embedded = {line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:]}
    for family in stand_ins:
        assert any(name.startswith(family.removesuffix("SC")) for name in embedded), fonts

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = SCREENSHOTS / f"briefing-2023-01-{backend}"
    pages = [str(printed), str(stem)]
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", *pages],
        check=True,
    )
    image = stem.with_suffix(".png")
    assert image.read_bytes().startswith(b"\x89PNG")
    assert image.stat().st_size > 20_000


def test_each_missing_official_font_has_an_installed_stand_in() -> None:
    found = {s.official: s for s in pdf.font_substitutions(OFFICIAL_FONTS)}
    for official, substitution in found.items():
        assert official in OFFICIAL_FONTS
        assert "CJK" in substitution.used, substitution
        assert Path(substitution.file).exists()
    if "黑体" in found:
        assert "Sans" in found["黑体"].used
    if "仿宋_GB2312" in found:
        assert "Serif" in found["仿宋_GB2312"].used


def test_without_libreoffice_the_message_names_the_package(
    briefing: Generated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf.shutil, "which", lambda _name: None)
    with pytest.raises(GongjianError, match="libreoffice-writer-nogui"):
        pdf.convert_to_pdf(briefing.path)
