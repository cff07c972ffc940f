"""Killed in the middle: an Excel import, a sample ingestion and a grading run, each a
``gongjian`` process killed with SIGKILL while its transaction is open, on SQLite and on
PostgreSQL. Afterwards the database holds all of that operation or none of it, the audit
chain verifies, and the same command run again completes.

"While its transaction is open": on PostgreSQL, the command's connection has had a
transaction open for a moment (``pg_stat_activity.xact_start``); on SQLite, the command
has begun writing to the write-ahead log. If a command finishes before it can be killed,
the test fails (its input must then be made larger), so every run really kills mid-way.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gongjian.audit.chain import verify
from gongjian.campaign.choices import ProjectKind, ProjectState
from gongjian.campaign.models import Project
from gongjian.imports.excel import write_xlsx
from gongjian.imports.tasklists import ProjectListImporter
from gongjian.towns.data import TOWNS
from gongjian.water.models import Assessment, MonitoringPoint, Sample
from tests.conftest import DatabaseFactory

PROJECTS = 6_000
SAMPLES_PER_POINT = 400
KILL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def city(databases: DatabaseFactory) -> Iterator[Engine]:
    """The small demo city in a database of this module's own (the commands write to it)."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("crash", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


def _gongjian(engine: Engine, *args: str) -> subprocess.Popen[bytes]:
    url = engine.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [sys.executable, "-m", "gongjian", *args],
        env=os.environ | {"GONGJIAN_DATABASE_URL": url, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _writing(engine: Engine, pid_start: float) -> Callable[[], bool]:
    """Whether the command has its transaction open and writing, as far as one can see
    from outside."""
    if engine.dialect.name == "sqlite":
        wal = Path(f"{engine.url.database}-wal")
        return lambda: wal.exists() and wal.stat().st_size > 0
    database = engine.url.database

    def open_transaction() -> bool:
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :db"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    " AND xact_start IS NOT NULL"
                    " AND now() - xact_start > interval '300 milliseconds'"
                ),
                {"db": database},
            ).scalar_one()
        return bool(found)

    return open_transaction


def _quiet(engine: Engine) -> None:
    """Checkpoint SQLite's write-ahead log to empty, so new writes show in it."""
    engine.dispose()
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()


def _kill_mid_way(engine: Engine, *args: str) -> None:
    _quiet(engine)
    started = time.monotonic()
    process = _gongjian(engine, *args)
    writing = _writing(engine, started)
    while not writing():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(
                f"`gongjian {' '.join(args)}` ended ({process.returncode}) before it could be "
                f"killed mid-way; make its input larger.\n{out.decode()}\n{err.decode()}"
            )
        if time.monotonic() - started > KILL_TIMEOUT_S:
            process.kill()
            pytest.fail(f"`gongjian {' '.join(args)}` never began writing")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    engine.dispose()


def _run(engine: Engine, *args: str) -> str:
    process = _gongjian(engine, *args)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()
    return out.decode()


def _count(engine: Engine, model: type, *where: object) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _chain_holds(engine: Engine) -> int:
    with Session(engine) as session:
        result = verify(session)
        assert result.ok, result.problems
        return result.entries


def _projects_file(path: Path) -> Path:
    layout = ProjectListImporter.layout()
    fields = [column.field for column in ProjectListImporter.columns]
    kinds = list(ProjectKind)

    def row(i: int) -> list[object]:
        kind = kinds[i % len(kinds)]
        town = TOWNS[i % len(TOWNS)].name
        start = dt.date(2022, 3, 1) + dt.timedelta(days=i % 200)
        values: dict[str, object] = {
            "code": f"CRASH{i:05d}",
            "name": f"断电测试项目{i}",
            "kind": kind.label,
            "town": town,
            "state": ProjectState.planned.label,
            "state_on": start,
            "owner": f"{town}建设办",
            "planned_start_on": start,
            "planned_end_on": start + dt.timedelta(days=120),
            "budget_wan": Decimal(500 + i % 900),
            "sewer_km": Decimal(1) if kind is ProjectKind.sewer else None,
            "area_mu": Decimal(3) if kind is ProjectKind.demolition else None,
        }
        return [values.get(field) for field in fields]

    write_xlsx(path, layout, (row(i) for i in range(PROJECTS)))
    return path


def test_a_killed_excel_import_leaves_all_or_nothing(city: Engine, tmp_path: Path) -> None:
    file = _projects_file(tmp_path / "projects.xlsx")
    crash = Project.code.like("CRASH%")
    entries = _chain_holds(city)
    _kill_mid_way(city, "import", "projects", str(file))
    assert _count(city, Project, crash) in (0, PROJECTS)
    assert _chain_holds(city) in (entries, entries + 1)
    _run(city, "import", "projects", str(file))
    assert _count(city, Project, crash) == PROJECTS
    _chain_holds(city)


def test_a_killed_sample_ingestion_leaves_all_or_nothing(city: Engine, tmp_path: Path) -> None:
    with Session(city) as session:
        points = list(session.scalars(select(MonitoringPoint.code).order_by(MonitoringPoint.id)))
    file = tmp_path / "samples.csv"
    first = dt.datetime(2024, 3, 1, 9, 0)
    with file.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["point_id", "sampled_at", "transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l"]
        )
        for day in range(SAMPLES_PER_POINT):
            at = (first + dt.timedelta(days=day)).isoformat()
            for code in points:
                writer.writerow([code, at, "32.5", "3.10", "60", "1.20"])
    rows = len(points) * SAMPLES_PER_POINT
    new = Sample.sampled_at >= dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    before = _count(city, Sample, new)
    entries = _chain_holds(city)
    _kill_mid_way(city, "import", "samples", str(file))
    assert _count(city, Sample, new) in (before, before + rows)
    assert _chain_holds(city) in (entries, entries + 1)
    _run(city, "import", "samples", str(file))
    assert _count(city, Sample, new) == before + rows
    _chain_holds(city)


def test_a_killed_grading_run_leaves_all_or_nothing(city: Engine) -> None:
    def graded() -> tuple[int, int]:
        with Session(city) as session:
            rows = session.execute(
                select(func.count(), func.count(Assessment.superseded_at)).select_from(Assessment)
            ).one()
        return int(rows[0]), int(rows[1])

    before = graded()
    entries = _chain_holds(city)
    _kill_mid_way(city, "assess", "--force")
    assert graded() == before
    assert _chain_holds(city) == entries
    _run(city, "assess", "--force")
    after = graded()
    current_before = before[0] - before[1]
    assert after[1] - before[1] == current_before  # each current grade superseded once
    with Session(city) as session:
        per_period = session.execute(
            select(Assessment.period, func.count())
            .where(Assessment.superseded_at.is_(None))
            .group_by(Assessment.period)
        ).all()
    assert all(count == 1 for _, count in per_period)
    assert len(per_period) == after[0] - after[1] >= current_before
    _chain_holds(city)
