"""Generating the city-scale demo city on SQLite and PostgreSQL.

Baseline: the bare cost of writing the same number of sample rows with the fastest
path each database has (``executemany`` of ready integers into SQLite, ``COPY`` of
ready text into PostgreSQL), with no generation and no other records. The ratio says
how much the whole demo costs over writing its largest table alone.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from _common import drop_database, fresh_database, write_result
from gongjian.demo.common import REPORT_DAY
from gongjian.demo.generate import load_demo
from gongjian.kpi.services import kpis

SEED = 7


def _baseline_write(backend: str, engine: Engine, rows: int) -> float:
    """Seconds to write ``rows`` ready-made sample rows to one point, nothing else."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rivers (code, name, lead_town_id, length_m, remediation_state,"
                " relapsed, published, created_at, updated_at)"
                " SELECT 'B', 'b', min(id), 0, 'listed', false, false,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM towns"
            )
        )
        conn.execute(
            text(
                "INSERT INTO monitoring_points (code, river_id, chainage_m)"
                " SELECT 'B', id, 0 FROM rivers WHERE code = 'B'"
            )
        )
        point_id = conn.execute(text("SELECT id FROM monitoring_points WHERE code='B'")).scalar()
    started = time.perf_counter()
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if backend == "sqlite":
            cursor.execute("BEGIN")
            cursor.executemany(
                "INSERT INTO samples (point_id, sampled_at, transparency_cm, do_mg_l, orp_mv,"
                " nh3n_mg_l, depth_cm) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        point_id,
                        f"2022-01-01 00:00:{i // 1_000_000:02d}.{i % 1_000_000:06d}",
                        3000,
                        2500,
                        5000,
                        1200,
                        8000,
                    )
                    for i in range(rows)
                ),
            )
        else:
            buffer = io.StringIO()
            for i in range(rows):
                buffer.write(
                    f"{point_id}\t2022-01-01 00:00:{i // 1_000_000:02d}.{i % 1_000_000:06d}+00"
                    "\t30.00\t2.500\t50.00\t1.200\t80.00\n"
                )
            with cursor.copy(
                "COPY samples (point_id, sampled_at, transparency_cm, do_mg_l, orp_mv,"
                " nh3n_mg_l, depth_cm) FROM STDIN"
            ) as copy:
                copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def main() -> None:
    figures: dict[str, Any] = {"seed": SEED, "scale": "city"}
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("sqlite", "postgresql"):
            engine, name = fresh_database(backend, Path(folder))
            started = time.perf_counter()
            counts = load_demo(engine, seed=SEED, scale="city")
            demo_s = time.perf_counter() - started
            with Session(engine) as session:
                headline = kpis(session, as_of=REPORT_DAY)
            drop_database(backend, engine, name)
            engine, name = fresh_database(backend, Path(folder))
            baseline_s = _baseline_write(backend, engine, counts["samples"])
            drop_database(backend, engine, name)
            figures[backend] = {
                "demo_seconds": round(demo_s, 2),
                "baseline_write_samples_seconds": round(baseline_s, 2),
                "ratio_demo_to_baseline": round(demo_s / baseline_s, 2),
                "samples": counts["samples"],
                "monitoring_points": counts["monitoring_points"],
                "rows_total": sum(counts.values()),
                "kpi_on_report_day": headline,
            }
            print(backend, figures[backend], flush=True)
    print("wrote", write_result("demo", figures))


if __name__ == "__main__":
    main()
