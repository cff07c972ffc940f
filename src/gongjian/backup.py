"""Backups and restores of the whole database, with a manifest that proves them.

A backup is a folder holding one file of the database and ``manifest.json``:

- SQLite: ``gongjian.sqlite3``, made with SQLite's online backup API (a consistent copy
  while the platform keeps writing);
- PostgreSQL: ``gongjian.dump``, ``pg_dump``'s custom format, taken from a snapshot
  exported by a repeatable-read transaction (``pg_export_snapshot``), so the counts and
  the audit chain's head in the manifest are read from exactly what was dumped.

The manifest names the backend, the schema revision, the file with its size and SHA-256,
the rows of every table and the audit chain's head (its entry count and last hash). It
is written last: a folder without one is not a backup.

``restore`` checks the file against the manifest, loads it into an empty database (no
tables at all), then checks the restored database against the manifest (rows of every
table, the chain's head, the whole chain verified) before it appends its own audit
entry, ``restore``. A restore that does not match says what differs and fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from gongjian import __version__
from gongjian.audit.chain import record, verify
from gongjian.audit.models import AuditHead
from gongjian.auth.actors import Actor
from gongjian.db import make_engine, utcnow
from gongjian.errors import Conflict, Invalid, Problem

MANIFEST = "manifest.json"
FORMAT = "gongjian-backup/1"
_FILES = {"sqlite": "gongjian.sqlite3", "postgresql": "gongjian.dump"}
_CHUNK = 1 << 20

Report = Callable[[str], None]


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, to check it and its restore against."""

    format: str
    created_at: str
    backend: str
    gongjian_version: str
    schema_revision: str | None
    file: str
    bytes: int
    sha256: str
    rows: dict[str, int]
    audit_entries: int
    audit_last_hash: str

    def write(self, folder: Path) -> None:
        content = json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"
        (folder / MANIFEST).write_text(content, encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise Invalid(
                "不是备份目录",
                [Problem(f"{path} 不存在：备份不完整或目录有误", column="DIR")],
            )
        try:
            found = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise Invalid("备份清单无法读取", [Problem(str(exc), file=str(path))]) from exc
        if found.format != FORMAT:
            raise Invalid(
                "备份格式不受支持",
                [Problem(f"应为 {FORMAT}", file=str(path), column="format", value=found.format)],
            )
        return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _table_rows(connection: Connection) -> dict[str, int]:
    names = sorted(inspect(connection).get_table_names())
    return {
        name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
        for name in names
    }


def _state(connection: Connection) -> tuple[dict[str, int], str | None, int, str]:
    """Rows per table, schema revision and the audit chain's head, as ``connection`` sees
    them."""
    rows = _table_rows(connection)
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    entries, last_hash = connection.execute(select(AuditHead.count, AuditHead.last_hash)).one()
    return rows, revision, int(entries), str(last_hash)


def _prepare(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Conflict(f"备份目录 {out} 已存在且不为空：请指定新的目录")
    out.mkdir(parents=True, exist_ok=True)


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise Invalid("无法备份内存数据库", [Problem("需要 SQLite 文件数据库", column="database")])
    return Path(database)


def _pg_env(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options for ``pg_dump``/``pg_restore`` and the environment (password)."""
    options = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        options += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return options, env


def _run(command: list[str], env: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise Invalid(
            f"找不到 {command[0]}",
            [Problem("请安装 PostgreSQL 客户端（Debian：postgresql-client）", column=command[0])],
        )
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Invalid(
            f"{command[0]} 失败",
            [Problem(done.stderr.strip() or f"退出码 {done.returncode}", column=command[0])],
        )


def backup(engine: Engine, out: Path, *, actor: Actor, report: Report | None = None) -> Manifest:
    """Back up the database of ``engine`` into the new folder ``out``; audited."""
    say = report or (lambda _message: None)
    _prepare(out)
    backend = engine.dialect.name
    file = out / _FILES[backend]
    if backend == "sqlite":
        say("复制数据库（SQLite 在线备份）")
        source = sqlite3.connect(_sqlite_path(engine))
        target = sqlite3.connect(file)
        try:
            source.backup(target, pages=4096)
        finally:
            target.close()
            source.close()
        copy = make_engine(f"sqlite:///{file}")
        try:
            with copy.connect() as connection:
                rows, revision, entries, last_hash = _state(connection)
        finally:
            copy.dispose()
    else:
        options, env = _pg_env(engine.url)
        with engine.connect() as connection:
            connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            rows, revision, entries, last_hash = _state(connection)
            say("导出数据库（pg_dump，自定义格式）")
            _run(
                [
                    "pg_dump",
                    *options,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={file}",
                    str(engine.url.database),
                ],
                env,
            )
            connection.exec_driver_sql("COMMIT")
    say("计算校验和")
    manifest = Manifest(
        format=FORMAT,
        created_at=utcnow().isoformat(timespec="seconds"),
        backend=backend,
        gongjian_version=__version__,
        schema_revision=revision,
        file=file.name,
        bytes=file.stat().st_size,
        sha256=_sha256(file),
        rows=rows,
        audit_entries=entries,
        audit_last_hash=last_hash,
    )
    manifest.write(out)
    with Session(engine) as session, session.begin():
        record(
            session,
            actor=actor,
            action="backup",
            resource="database",
            detail=f"备份到 {out}：{file.name}，sha256={manifest.sha256}，"
            f"审计链 {entries} 条，共 {sum(rows.values())} 行",
        )
    return manifest


def check_files(source: Path) -> Manifest:
    """The manifest of the backup in ``source``, after checking its file's size and hash."""
    manifest = Manifest.read(source)
    file = source / manifest.file
    if not file.is_file():
        raise Invalid("备份文件缺失", [Problem(f"{file} 不存在", file=str(file))])
    if file.stat().st_size != manifest.bytes or _sha256(file) != manifest.sha256:
        raise Invalid(
            "备份文件已损坏或被改动",
            [Problem("大小或 SHA-256 与清单不符", file=str(file), column="sha256")],
        )
    return manifest


def _differences(manifest: Manifest, connection: Connection) -> list[Problem]:
    rows, revision, entries, last_hash = _state(connection)
    problems = [
        Problem(f"表 {table}：清单 {count} 行，恢复后 {rows.get(table)} 行", column=table)
        for table, count in manifest.rows.items()
        if rows.get(table) != count
    ]
    problems += [
        Problem(f"恢复后多出表 {table}", column=table) for table in rows.keys() - manifest.rows
    ]
    if revision != manifest.schema_revision:
        problems.append(Problem(f"结构版本 {revision}，清单为 {manifest.schema_revision}"))
    if (entries, last_hash) != (manifest.audit_entries, manifest.audit_last_hash):
        problems.append(Problem("审计链头与清单不符", column="audit_head"))
    return problems


def restore(
    engine: Engine, source: Path, *, actor: Actor, report: Report | None = None
) -> Manifest:
    """Restore the backup in ``source`` into the empty database of ``engine``; check it
    against the manifest and the audit chain, then audit the restore."""
    say = report or (lambda _message: None)
    say("校验备份文件")
    manifest = check_files(source)
    backend = engine.dialect.name
    if backend != manifest.backend:
        raise Invalid(
            "备份与目标数据库类型不同",
            [Problem(f"备份为 {manifest.backend}，目标为 {backend}", column="backend")],
        )
    with engine.connect() as connection:
        if inspect(connection).get_table_names():
            raise Conflict("目标数据库不是空的：恢复只能写入没有任何表的新数据库")
    file = source / manifest.file
    say("载入数据库")
    if backend == "sqlite":
        engine.dispose()
        backup_file = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        target = sqlite3.connect(_sqlite_path(engine))
        try:
            backup_file.backup(target)
        finally:
            target.close()
            backup_file.close()
    else:
        options, env = _pg_env(engine.url)
        _run(
            [
                "pg_restore",
                *options,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={engine.url.database}",
                str(file),
            ],
            env,
        )
    say("核对行数、审计链")
    with engine.connect() as connection:
        problems = _differences(manifest, connection)
    with Session(engine) as session, session.begin():
        chain = verify(session)
        problems += [Problem(problem, column="audit") for problem in chain.problems]
        if problems:
            raise Invalid("恢复后的数据库与备份清单不符", problems)
        record(
            session,
            actor=actor,
            action="restore",
            resource="database",
            detail=f"从 {source} 恢复：{manifest.file}，sha256={manifest.sha256}，"
            f"备份于 {manifest.created_at}，审计链 {manifest.audit_entries} 条",
        )
    return manifest
