"""What every benchmark shares: the machine's description and writing results."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.db import make_engine
from gongjian.migrate import upgrade
from gongjian.towns.services import ensure_towns

RESULTS = Path(__file__).resolve().parent / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on."""
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write ``bench/results/NAME.json`` with the figures, the machine and the date."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def fresh_database(backend: str, folder: Path) -> tuple[Engine, str]:
    """A new migrated database (``sqlite`` file in ``folder``, or ``postgresql``) with the
    23 towns; returns its engine and name."""
    name = f"gj_bench_{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{folder / name}.sqlite3")
    else:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    with Session(engine) as session:
        ensure_towns(session, actor=Actor.system("bench"))
        session.commit()
    return engine, name


def drop_database(backend: str, engine: Engine, name: str) -> None:
    """Dispose of ``engine`` and drop its database (a PostgreSQL one; SQLite files go
    with their folder)."""
    engine.dispose()
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
