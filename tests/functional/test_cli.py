"""The ``gongjian`` command line as an operator runs it: a separate process, the database
from ``GONGJIAN_DATABASE_URL``, errors as one line and a non-zero exit."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.kpi.services import KPI_KEYS, kpis
from gongjian.towns.models import Town
from tests.conftest import DatabaseFactory


def gongjian(
    engine: Engine, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``gongjian ARGS`` against ``engine``'s database."""
    env = {
        **os.environ,
        "GONGJIAN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "gongjian", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_every_verb(engine: Engine) -> None:
    result = gongjian(engine, "--help")
    assert result.returncode == 0
    for verb in ("init", "demo", "serve", "kpi", "users", "audit"):
        assert verb in result.stdout


def test_kpi_json_is_exactly_the_spec_object(demo_engine: Engine) -> None:
    result = gongjian(demo_engine, "kpi", "--json", "--as-of", "2023-01-31")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    printed = json.loads(lines[0])
    assert list(printed) == list(KPI_KEYS)
    with Session(demo_engine) as session:
        assert printed == kpis(session, as_of=dt.date(2023, 1, 31))
    for key in ("renewal.attracted", "water.rivers_entered", "water.wwtp_started"):
        assert isinstance(printed[key], int)


def test_kpi_json_for_a_town(demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        town = session.scalars(select(Town).where(Town.name == "坦洲")).one()
        expected = kpis(session, as_of=dt.date(2022, 12, 31), town_id=town.id)
    for key in ("坦洲", town.code):
        result = gongjian(demo_engine, "kpi", "--json", "--town", key, "--as-of", "2022-12-31")
        assert json.loads(result.stdout) == expected


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("kpi", "--json", "--town", "东升"), "东升"),
        (("kpi", "--json", "--as-of", "2023-02-30"), "2023-02-30"),
        (("users", "add", "x", "--role", "mayor", "--password", "longenough"), "mayor"),
    ],
)
def test_errors_are_one_clear_line(engine: Engine, args: tuple[str, ...], needle: str) -> None:
    result = gongjian(engine, *args)
    assert result.returncode != 0
    _no_traceback(result)
    assert result.stdout == ""
    assert needle in result.stderr


def test_unreachable_database_is_one_line() -> None:
    env = {**os.environ, "GONGJIAN_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = subprocess.run(
        [sys.executable, "-m", "gongjian", "kpi", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    _no_traceback(result)
    assert "数据库" in result.stderr


def test_users_lifecycle(databases: DatabaseFactory) -> None:
    engine = databases.new("users")
    added = gongjian(
        engine,
        "users",
        "add",
        "clerk",
        "--role",
        "town",
        "--town",
        "黄圃",
        "--password",
        "secret-123",
    )
    assert added.returncode == 0, added.stderr
    again = gongjian(engine, "users", "add", "clerk", "--role", "city", "--password", "secret-123")
    assert again.returncode == 1
    assert "已存在" in again.stderr
    short = gongjian(engine, "users", "passwd", "clerk", "--password", "short")
    assert short.returncode == 2
    assert gongjian(engine, "users", "passwd", "clerk", "--password", "longer-456").returncode == 0
    assert gongjian(engine, "users", "disable", "clerk").returncode == 0
    listing = gongjian(engine, "users", "list")
    assert "clerk" in listing.stdout
    assert "停用" in listing.stdout
    with Session(engine) as session:
        actions = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.resource == "user"))
        )
    assert "修改密码" in actions
    assert "停用账号" in actions
    engine.dispose()


def test_audit_verify_finds_edited_and_deleted_entries(databases: DatabaseFactory) -> None:
    engine = databases.new("audit")
    for name in ("a1", "a2", "a3", "a4"):
        assert (
            gongjian(
                engine, "users", "add", name, "--role", "city", "--password", "password-1"
            ).returncode
            == 0
        )
    clean = gongjian(engine, "audit", "verify")
    assert clean.returncode == 0, clean.stderr
    assert "完好" in clean.stdout

    with Session(engine) as session:
        seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        original = session.scalars(select(AuditEntry).where(AuditEntry.seq == seqs[2])).one()
        kept_detail = original.detail
        session.execute(update(AuditEntry).where(AuditEntry.seq == seqs[2]).values(detail="改过"))
        session.commit()
    edited = gongjian(engine, "audit", "verify")
    assert edited.returncode == 1
    _no_traceback(edited)
    assert f"#{seqs[2]} 的内容被修改" in edited.stdout

    with Session(engine) as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == seqs[2]).values(detail=kept_detail)
        )
        session.execute(delete(AuditEntry).where(AuditEntry.seq == seqs[1]))
        session.commit()
    deleted = gongjian(engine, "audit", "verify")
    assert deleted.returncode == 1
    assert f"#{seqs[1]} 缺失" in deleted.stdout
    engine.dispose()
