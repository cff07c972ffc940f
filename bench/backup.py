"""The backup drill at city scale: ``gongjian backup`` and ``gongjian restore`` of the
city-scale demo city (seed 7), on SQLite and on PostgreSQL.

Each run backs the database up while nothing else writes, restores it into an empty
database (which checks every table's rows, the schema revision and the whole audit chain
against the manifest), and compares the KPIs as of the report day. The baseline is the
database's own tool alone in the same run: SQLite's backup API copying the file, or
``pg_dump`` and ``pg_restore`` of the same database without any check.

Results: ``bench/results/backup.json``.
"""

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from _common import PG_ADMIN, drop_database, fresh_database, write_result
from gongjian.auth.actors import Actor
from gongjian.backup import backup, restore
from gongjian.db import make_engine
from gongjian.demo.common import REPORT_DAY
from gongjian.kpi.services import kpis

ACTOR = Actor.system("bench")


def _empty(backend: str, folder: Path, label: str) -> tuple[Any, str]:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{folder / label}.sqlite3"), label
    from sqlalchemy import create_engine, text

    name = f"gj_bench_{label}_{int(time.time())}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"), name


def _baseline(backend: str, engine: Any, folder: Path) -> float:
    """The database's own tool alone: copy and load back, no checks."""
    started = time.perf_counter()
    if backend == "sqlite":
        import sqlite3

        source = sqlite3.connect(engine.url.database)
        target = sqlite3.connect(folder / "baseline.sqlite3")
        source.backup(target)
        target.close()
        source.close()
        return time.perf_counter() - started
    dump = folder / "baseline.dump"
    subprocess.run(
        [
            "pg_dump",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Fc",
            "-f",
            str(dump),
            engine.url.database,
        ],
        check=True,
    )
    target, name = _empty(backend, folder, "baseline")
    subprocess.run(
        ["pg_restore", "-h", "127.0.0.1", "-U", "postgres", "--no-owner", "-d", name, str(dump)],
        check=True,
    )
    seconds = time.perf_counter() - started
    drop_database(backend, target, name)
    return seconds


def _run(backend: str) -> dict[str, Any]:
    from gongjian.demo.generate import load_demo

    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        engine, name = fresh_database(backend, folder)
        try:
            load_demo(engine, seed=7, scale="city")
            started = time.perf_counter()
            manifest = backup(engine, folder / "backup", actor=ACTOR)
            backup_seconds = time.perf_counter() - started
            target, target_name = _empty(backend, folder, "restored")
            try:
                started = time.perf_counter()
                restore(target, folder / "backup", actor=ACTOR)
                restore_seconds = time.perf_counter() - started
                with Session(engine) as source, Session(target) as restored:
                    same_kpis = kpis(source, as_of=REPORT_DAY) == kpis(restored, as_of=REPORT_DAY)
            finally:
                drop_database(backend, target, target_name)
            baseline = _baseline(backend, engine, folder)
        finally:
            drop_database(backend, engine, name)
    figures = {
        "rows": sum(manifest.rows.values()),
        "samples": manifest.rows.get("samples"),
        "audit_entries": manifest.audit_entries,
        "file_mb": round(manifest.bytes / 1024 / 1024, 1),
        "backup_seconds": round(backup_seconds, 2),
        "restore_seconds": round(restore_seconds, 2),
        "baseline_tool_only_seconds": round(baseline, 2),
        "ratio_to_baseline": round((backup_seconds + restore_seconds) / baseline, 2),
        "kpis_equal": same_kpis,
    }
    print(backend, figures, flush=True)
    return figures


def main() -> None:
    write_result("backup", {backend: _run(backend) for backend in ("sqlite", "postgresql")})


if __name__ == "__main__":
    main()
