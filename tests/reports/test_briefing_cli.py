"""``gongjian report briefing``: the command writes the .docx, and ``gongjian --help``
does not load python-docx or matplotlib."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import Engine
from typer.testing import CliRunner

import gongjian.db
from gongjian.cli import app
from gongjian.config import get_settings


@pytest.fixture
def on_demo(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line pointed at the demo database."""
    monkeypatch.setenv("GONGJIAN_DATABASE_URL", demo_engine.url.render_as_string(False))
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    monkeypatch.setattr(gongjian.db, "_engine", None)
    yield
    if gongjian.db._engine is not None:
        gongjian.db._engine.dispose()
    get_settings.cache_clear()


@pytest.mark.usefixtures("on_demo")
def test_the_command_writes_the_briefing(tmp_path: Path) -> None:
    out = tmp_path / "renewal.docx"
    done = CliRunner().invoke(
        app,
        ["report", "briefing", "--period", "2023-01", "--campaign", "renewal", "--out", str(out)],
    )
    assert done.exit_code == 0, done.output
    assert "已生成通报（示例数据）" in done.output
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "关于2023年1月工改攻坚工作进展情况的通报" in text
    assert "（二）治水攻坚" not in text
    assert "黑臭" not in text

    wrong = CliRunner().invoke(
        app, ["report", "briefing", "--period", "2023-01", "--campaign", "x", "--out", str(out)]
    )
    assert wrong.exit_code == 2
    assert "无法识别的攻坚类别" in wrong.output


def test_help_does_not_load_the_document_libraries() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, gongjian.cli; print(sorted({'docx', 'matplotlib'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"
