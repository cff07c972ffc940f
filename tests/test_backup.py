"""Backups and restores: a drill on the small demo city while writes go on, and the
refusals that keep a restore from mixing or losing data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import gongjian.db
from gongjian.audit.chain import record, verify
from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.backup import MANIFEST, Manifest, backup, restore
from gongjian.cli import app
from gongjian.config import get_settings
from gongjian.db import make_engine
from gongjian.demo.common import REPORT_DAY
from gongjian.errors import Conflict, Invalid
from gongjian.kpi.services import kpis
from tests.conftest import DatabaseFactory

ACTOR = Actor.system("test-backup")


@pytest.fixture(scope="module")
def city(databases: DatabaseFactory) -> Iterator[Engine]:
    """The small demo city in a database of this module's own (backups write to it)."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("backup", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


def _empty(databases: DatabaseFactory, tmp_path: Path, label: str) -> Engine:
    """A database with no tables at all (where a restore may write)."""
    if databases.backend == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / label}.sqlite3")
    return make_engine(databases.url(label))


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in inspect(connection).get_table_names()
        }


def _hashes(engine: Engine, up_to: int) -> list[str]:
    with Session(engine) as session:
        stmt = select(AuditEntry.hash).where(AuditEntry.seq <= up_to).order_by(AuditEntry.seq)
        return list(session.scalars(stmt))


def test_a_backup_taken_while_writes_go_on_restores_whole(
    city: Engine, databases: DatabaseFactory, tmp_path: Path
) -> None:
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        while not stop.is_set():
            with Session(city) as session, session.begin():
                entry = record(session, actor=ACTOR, action="note", resource="drill")
                written.append(entry.seq)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 3:
            stop.wait(0.01)
        manifest = backup(city, tmp_path / "backup", actor=ACTOR)
        after = len(written)
        while len(written) < after + 3:  # and the writes go on after it
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()

    assert (tmp_path / "backup" / MANIFEST).is_file()
    assert manifest.backend == databases.backend
    assert manifest.audit_entries >= 3
    assert manifest.rows["samples"] > 0
    assert manifest.rows["rivers"] > 0

    target = _empty(databases, tmp_path, "restored")
    try:
        restored = restore(target, tmp_path / "backup", actor=ACTOR)
        assert restored == manifest
        rows = _rows(target)
        # every table as the manifest says, but for the restore's own audit entry
        assert rows["audit_entries"] == manifest.rows["audit_entries"] + 1
        assert {k: v for k, v in rows.items() if k != "audit_entries"} == {
            k: v for k, v in manifest.rows.items() if k != "audit_entries"
        }
        # the chain is the source's own up to the backup, and verifies
        assert _hashes(target, manifest.audit_entries) == _hashes(city, manifest.audit_entries)
        assert _hashes(target, manifest.audit_entries)[-1] == manifest.audit_last_hash
        with Session(target) as session, Session(city) as source:
            assert verify(session).ok
            last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
            assert last is not None
            assert last.action == "restore"
            assert kpis(session, as_of=REPORT_DAY) == kpis(source, as_of=REPORT_DAY)
    finally:
        target.dispose()


def test_a_restore_goes_only_into_an_empty_database(
    city: Engine, databases: DatabaseFactory, tmp_path: Path
) -> None:
    backup(city, tmp_path / "b", actor=ACTOR)
    with pytest.raises(Conflict, match="不是空的"):
        restore(city, tmp_path / "b", actor=ACTOR)


def test_a_changed_backup_file_is_refused_and_nothing_is_written(
    city: Engine, databases: DatabaseFactory, tmp_path: Path
) -> None:
    manifest = backup(city, tmp_path / "b", actor=ACTOR)
    file = tmp_path / "b" / manifest.file
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    target = _empty(databases, tmp_path, "never")
    try:
        with pytest.raises(Invalid) as refused:
            restore(target, tmp_path / "b", actor=ACTOR)
        assert "sha256" in str(refused.value.problems)
        with target.connect() as connection:
            assert inspect(connection).get_table_names() == []
    finally:
        target.dispose()


def test_a_backup_needs_a_new_folder_and_a_restore_a_manifest(city: Engine, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("x")
    with pytest.raises(Conflict, match="不为空"):
        backup(city, tmp_path / "used", actor=ACTOR)
    assert (tmp_path / "used" / "keep.txt").read_text() == "x"
    with pytest.raises(Invalid, match="不是备份目录"):
        Manifest.read(tmp_path / "used")


def test_the_commands_back_up_and_restore(
    city: Engine,
    databases: DatabaseFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()

    def use(engine: Engine) -> None:
        monkeypatch.setenv("GONGJIAN_DATABASE_URL", engine.url.render_as_string(False))
        get_settings.cache_clear()
        if gongjian.db._engine is not None:
            gongjian.db._engine.dispose()
        monkeypatch.setattr(gongjian.db, "_engine", None)

    monkeypatch.setenv("COLUMNS", "250")
    use(city)
    made = runner.invoke(app, ["backup", "--out", str(tmp_path / "cli")])
    assert made.exit_code == 0, made.output
    assert "已备份到" in made.output
    assert "SHA-256" in made.output
    again = runner.invoke(app, ["backup", "--out", str(tmp_path / "cli")])
    assert again.exit_code == 1
    assert "不为空" in again.output
    target = _empty(databases, tmp_path, "cli_target")
    use(target)
    restored = runner.invoke(app, ["restore", str(tmp_path / "cli")])
    assert restored.exit_code == 0, restored.output
    assert "校验通过" in restored.output
    missing = runner.invoke(app, ["restore", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "不是备份目录" in missing.output
    if gongjian.db._engine is not None:
        gongjian.db._engine.dispose()
    get_settings.cache_clear()
    target.dispose()
