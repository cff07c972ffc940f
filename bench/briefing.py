"""The monthly briefing (通报) for 2023-01 of the city-scale demo: ``gongjian report
briefing --period 2023-01 --out FILE.docx`` end to end, target under 5 s.

The demo city (seed 7, scale ``city``) is loaded into a fresh SQLite database. Timed:

- the command, in a process of its own each time (so nothing is cached from the run
  before: Python's start, the imports, the data, four charts, the .docx), best of 3, in
  wall-clock and in CPU seconds (the machine is shared: the load average is recorded);
- within one process, the first (cold) generation split into gathering the data
  (``briefing_data``) and laying out the document with its charts (``write_briefing``).

Baseline, measured in the same run: a process that writes a .docx of the same
paragraphs and tables with python-docx's plain API (the texts read back from the
briefing), without gathering any data, drawing any chart or setting the official layout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docx import Document
from sqlalchemy.orm import Session

from _common import drop_database, fresh_database, peak_rss_mb, write_result
from gongjian.auth.actors import Actor
from gongjian.demo.generate import load_demo
from gongjian.periods import parse_period
from gongjian.reports.briefings import briefing_data
from gongjian.reports.docx_layout import write_briefing

PERIOD = "2023-01"
RUNS = 3
"""Timed runs; the fastest counts (the machine is shared)."""
TARGET_SECONDS = 5.0

BASELINE = """
import json, sys
from docx import Document
content = json.load(open(sys.argv[1], encoding="utf-8"))
document = Document()
for text in content["paragraphs"]:
    document.add_paragraph(text)
for rows in content["tables"]:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows):
        for cell, value in zip(row.cells, values):
            cell.text = value
document.save(sys.argv[2])
"""


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _best(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """The fastest of ``RUNS`` runs of ``command``: wall-clock and CPU seconds."""
    runs = []
    for _ in range(RUNS):
        cpu, started = _children_cpu(), time.perf_counter()
        subprocess.run(command, check=True, env=env, capture_output=True)
        runs.append((time.perf_counter() - started, _children_cpu() - cpu))
    return min(runs)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gj-bench-briefing-") as folder:
        work = Path(folder)
        engine, name = fresh_database("sqlite", work)
        try:
            started = time.perf_counter()
            load_demo(engine, seed=7, scale="city")
            load_seconds = time.perf_counter() - started

            started = time.perf_counter()
            with Session(engine) as session:
                data = briefing_data(
                    session, actor=Actor.system("bench"), period=parse_period(PERIOD)
                )
            data_seconds = time.perf_counter() - started
            started = time.perf_counter()
            docx = write_briefing(data, work / "in-process.docx")
            layout_seconds = time.perf_counter() - started

            written = Document(str(docx))
            content = work / "content.json"
            content.write_text(
                json.dumps(
                    {
                        "paragraphs": [p.text for p in written.paragraphs],
                        "tables": [
                            [[cell.text for cell in row.cells] for row in table.rows]
                            for table in written.tables
                        ],
                    },
                    ensure_ascii=False,
                ),
                encoding="utf-8",
            )
            env = {**os.environ, "GONGJIAN_DATABASE_URL": engine.url.render_as_string(False)}
            command = ["report", "briefing", "--period", PERIOD, "--out", str(work / "c.docx")]
            command_seconds, command_cpu = _best([sys.executable, "-m", "gongjian", *command], env)
            baseline_seconds, baseline_cpu = _best(
                [sys.executable, "-c", BASELINE, str(content), str(work / "baseline.docx")], env
            )
        finally:
            drop_database("sqlite", engine, name)

    figures = {
        "period": PERIOD,
        "seed": 7,
        "scale": "city",
        "backend": "sqlite",
        "runs": RUNS,
        "command_seconds": round(command_seconds, 2),
        "command_cpu_seconds": round(command_cpu, 2),
        "target_seconds": TARGET_SECONDS,
        "wall_under_target": command_seconds < TARGET_SECONDS,
        "cpu_under_target": command_cpu < TARGET_SECONDS,
        "in_process_first_run": {
            "data_seconds": round(data_seconds, 2),
            "layout_and_charts_seconds": round(layout_seconds, 2),
        },
        "baseline_plain_docx_seconds": round(baseline_seconds, 2),
        "baseline_plain_docx_cpu_seconds": round(baseline_cpu, 2),
        "ratio_command_to_baseline": round(command_seconds / baseline_seconds, 2),
        "paragraphs": len(written.paragraphs),
        "table_rows": sum(len(t.rows) for t in written.tables),
        "charts": len(written.inline_shapes),
        "demo_load_seconds": round(load_seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    path = write_result("briefing", figures)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
