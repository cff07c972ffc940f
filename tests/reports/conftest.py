"""The demo city's briefing for 2023-01, generated once per backend for the tests that
read it (the demo database is only read: generating writes nothing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.periods import parse_period
from gongjian.reports.briefings import BriefingData, briefing_data
from gongjian.reports.docx_layout import write_briefing

ISSUED_ON = dt.date(2023, 2, 1)


@dataclass(frozen=True)
class Generated:
    """A briefing written to disk: its data, its file and the file read back."""

    data: BriefingData
    path: Path
    document: DocxDocument


@pytest.fixture(scope="session")
def briefing(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """The demo city's briefing of both campaigns for 2023-01, read back with python-docx."""
    with Session(demo_engine) as session:
        data = briefing_data(
            session,
            actor=Actor.system("test"),
            period=parse_period("2023-01"),
            issued_on=ISSUED_ON,
        )
    path = write_briefing(data, tmp_path_factory.mktemp("briefing") / "briefing-2023-01.docx")
    return Generated(data, path, Document(str(path)))
