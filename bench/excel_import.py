"""Importing a task list (清单) from Excel, against openpyxl reading the same file.

The data: a project list of 10,000 rows in the template's layout (23 columns: codes,
names, kinds and towns by their Chinese labels, dates, amounts in 万元, kilometres and
mu as numbers), written by the export code. Each run imports it into a fresh database
(SQLite, then PostgreSQL, with the 23 towns, made as ``bench/grading.py`` makes them):
the upload checks, reading in openpyxl's read-only mode with every cell's data type
(formulas are refused), parsing and checking every cell, planning every row against the
store, and writing the 10,000 projects, their state histories, the import run and
10,001 chained audit entries in one transaction. Then the same file is imported again
(every row unchanged: nothing written).

The baseline is openpyxl alone reading the same file in read-only mode, every row's
values (``values_only=True``), timed in the same process; the figure is the ratio of an
import to it (the aim: within 3×). The fastest of ``RUNS`` runs counts everywhere (the
machine is shared).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from _common import drop_database, fresh_database, peak_rss_mb, write_result
from gongjian.auth.actors import Actor
from gongjian.campaign.choices import ProjectKind, ProjectState
from gongjian.campaign.models import Project
from gongjian.imports.excel import write_xlsx
from gongjian.imports.tasklists import ProjectListImporter
from gongjian.towns.data import TOWNS

ROWS = 10_000
RUNS = 3
TARGET_RATIO = 3.0
ACTOR = Actor.system("bench")
KINDS = list(ProjectKind)
STATES = [ProjectState.planned, ProjectState.approved, ProjectState.started]


def _row(i: int) -> dict[str, Any]:
    kind = KINDS[i % len(KINDS)]
    start = dt.date(2022, 1, 1) + dt.timedelta(days=i % 300)
    return {
        "code": f"BP{i:06d}",
        "name": f"示例项目{i}（{kind.label}）",
        "kind": kind.label,
        "town": TOWNS[i % len(TOWNS)].name,
        "state": STATES[i % len(STATES)].label,
        "state_on": start,
        "owner": f"{TOWNS[i % len(TOWNS)].name}镇街建设办",
        "planned_start_on": start,
        "planned_end_on": start + dt.timedelta(days=180),
        "actual_start_on": start if i % 3 == 2 else None,
        "budget_wan": Decimal(1000 + i % 5000) + Decimal("0.25"),
        "spend_wan": Decimal(i % 800),
        "sewer_km": Decimal(i % 40) / 8 if kind is ProjectKind.sewer else None,
        "area_mu": Decimal(i % 300) / 4 if kind is ProjectKind.demolition else None,
        "audit_findings": "=示例" if i % 1000 == 0 else None,
    }


def _generate(path: Path) -> None:
    layout = ProjectListImporter.layout()
    fields = [c.field for c in ProjectListImporter.columns]
    rows = ([values.get(f) for f in fields] for values in map(_row, range(ROWS)))
    write_xlsx(path, layout, rows)


def _openpyxl_read(path: Path) -> float:
    """openpyxl alone: open read-only and read every row's values."""
    started = time.perf_counter()
    book = load_workbook(path, read_only=True)
    rows = sum(1 for _ in book[ProjectListImporter.sheet].iter_rows(values_only=True))
    book.close()
    assert rows == ROWS + 1
    return time.perf_counter() - started


def _import(backend: str, folder: Path, path: Path) -> dict[str, Any]:
    engine, name = fresh_database(backend, folder)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            result = ProjectListImporter(session, actor=ACTOR).run_file(path)
            session.commit()
            seconds = time.perf_counter() - started
            assert (result.added, result.rows) == (ROWS, ROWS)
            assert session.scalar(select(func.count()).select_from(Project)) == ROWS
        with Session(engine) as session:
            started = time.perf_counter()
            again = ProjectListImporter(session, actor=ACTOR).run_file(path)
            session.commit()
            unchanged_seconds = time.perf_counter() - started
            assert (again.unchanged, again.import_id) == (ROWS, None)
    finally:
        drop_database(backend, engine, name)
    return {"seconds": seconds, "unchanged_seconds": unchanged_seconds}


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        path = folder / "projects.xlsx"
        started = time.perf_counter()
        _generate(path)
        generate_seconds = time.perf_counter() - started
        figures: dict[str, Any] = {
            "rows": ROWS,
            "columns": len(ProjectListImporter.columns),
            "file_mb": round(path.stat().st_size / 1024 / 1024, 2),
            "generate_seconds": round(generate_seconds, 2),
            "runs": RUNS,
            "target_ratio": TARGET_RATIO,
        }
        for backend in ("sqlite", "postgresql"):
            imports, reads = [], []
            for _ in range(RUNS):
                reads.append(_openpyxl_read(path))
                imports.append(_import(backend, folder, path))
            best = min(imports, key=lambda r: r["seconds"])
            read = min(reads)
            figures[backend] = {
                "openpyxl_read_seconds": round(read, 2),
                "import_seconds": round(best["seconds"], 2),
                "import_seconds_all_runs": [round(r["seconds"], 2) for r in imports],
                "rows_per_second": round(ROWS / best["seconds"]),
                "ratio_to_openpyxl_read": round(best["seconds"] / read, 2),
                "reimport_unchanged_seconds": round(
                    min(r["unchanged_seconds"] for r in imports), 2
                ),
            }
            print(backend, figures[backend], flush=True)
        figures["peak_rss_mb"] = round(peak_rss_mb())
    print(write_result("excel_import", figures))


if __name__ == "__main__":
    main()
