"""A briefing's .docx as PDF, through LibreOffice (``soffice --headless --convert-to pdf``).

The official fonts (方正小标宋简体, 仿宋_GB2312, 黑体, 楷体_GB2312, 宋体) are seldom
installed on a server. LibreOffice then asks fontconfig for a stand-in; left to itself
fontconfig answers with a Latin font (DejaVu Sans) and the Chinese text falls back glyph
by glyph. The conversion runs with this package's ``fontconfig.conf`` instead, which adds
to the system's configuration one stand-in for each official font (a serif CJK font for
小标宋, 仿宋, 楷体 and 宋体, a sans-serif one for 黑体) used only where the official font
is missing; ``font_substitutions`` reads, with ``fc-match`` under the same
configuration, which installed font stands in for each, so the command can say so.

LibreOffice lays a character grid (``w:docGrid w:type="linesAndChars"``) out unlike
Word: it gives each character whole grid cells, and spreads lines that mix Chinese with
figures. It converts a copy of the document with the line grid only (``w:type="lines"``):
the 22 lines of exact spacing stay, and the characters' condensed spacing
(``docx_layout.CONDENSED``) keeps 28 to the line. The .docx itself is not changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gongjian.errors import GongjianError

SOFFICE = "soffice"
SOFFICE_PACKAGE = "libreoffice-writer-nogui"
FC_MATCH = "fc-match"
FONTCONFIG_PACKAGE = "fontconfig"
FONTCONFIG_FILE = Path(__file__).resolve().parent / "fontconfig.conf"
CONVERT_TIMEOUT_S = 300
DOCUMENT_PART = "word/document.xml"
CHARACTER_GRID = b'w:type="linesAndChars"'
LINE_GRID = b'w:type="lines"'


@dataclass(frozen=True)
class Substitution:
    """An official font that is not installed and the installed font that stands in."""

    official: str
    used: str
    file: str


def _environment() -> dict[str, str]:
    return {**os.environ, "FONTCONFIG_FILE": str(FONTCONFIG_FILE)}


def soffice_path() -> str:
    """Where ``soffice`` is; an error naming the package to install when it is missing."""
    found = shutil.which(SOFFICE)
    if found is None:
        raise GongjianError(
            "未找到 LibreOffice（soffice），无法生成 PDF：请安装 Debian 软件包 "
            f"{SOFFICE_PACKAGE}（apt-get install {SOFFICE_PACKAGE}）；.docx 不受影响"
        )
    return found


def font_substitutions(fonts: tuple[str, ...]) -> list[Substitution]:
    """For each of ``fonts`` that is not installed, the font fontconfig gives in its place
    under the conversion's configuration (``fc-match``)."""
    fc_match = shutil.which(FC_MATCH)
    if fc_match is None:
        raise GongjianError(
            f"未找到 {FC_MATCH}，无法查明字体替代：请安装 Debian 软件包 {FONTCONFIG_PACKAGE}"
        )
    found = []
    for font in fonts:
        answer = subprocess.run(
            [fc_match, "--format=%{family[0]}\t%{file}", font],
            capture_output=True,
            text=True,
            check=True,
            env=_environment(),
        ).stdout
        family, _, file = answer.partition("\t")
        if family != font:
            found.append(Substitution(font, family, file))
    return found


def _line_grid_copy(docx: Path, folder: Path) -> Path:
    """A copy of ``docx`` in ``folder`` whose document grid is the line grid only."""
    copy = folder / docx.name
    with zipfile.ZipFile(docx) as source, zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == DOCUMENT_PART:
                data = data.replace(CHARACTER_GRID, LINE_GRID)
            out.writestr(item, data)
    return copy


def convert_to_pdf(docx: Path, out_dir: Path | None = None) -> Path:
    """Convert ``docx`` to a PDF beside it (or in ``out_dir``) with LibreOffice and return
    the PDF's path. LibreOffice runs with a profile of its own in a temporary folder, so
    conversions may run side by side."""
    soffice = soffice_path()
    target = out_dir or docx.parent
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gongjian-soffice-") as work:
        copy = _line_grid_copy(docx, Path(work))
        done = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={(Path(work) / 'profile').as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(target.resolve()),
                str(copy),
            ],
            capture_output=True,
            text=True,
            timeout=CONVERT_TIMEOUT_S,
            env=_environment(),
            check=False,
        )
    pdf = target / f"{docx.stem}.pdf"
    if done.returncode != 0 or not pdf.exists():
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise GongjianError(
            f"LibreOffice 未能把 {docx.name} 转为 PDF（退出码 {done.returncode}）"
            + (f"：{detail[-1]}" if detail else "")
        )
    return pdf
