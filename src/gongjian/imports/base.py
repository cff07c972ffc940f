"""The shape every importer has: read a source into DuckDB, validate every row there,
write what is good in one transaction, and leave one audit entry for the whole import.

A source with any bad row writes nothing at all; the problems name the file, the row and
the column. Each run is an ``ImportRun`` row (file name, SHA-256, row count) that the
written rows point back to.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import duckdb
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize_some
from gongjian.imports.files import load
from gongjian.imports.models import ImportRun

Progress = Callable[[str, int, int], None]
RAW = "raw_rows"


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, rows added, rows already there (skipped)."""

    import_id: int | None
    filename: str
    sha256: str
    rows: int
    added: int
    skipped: int
    dry_run: bool


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class BaseImporter(ABC):
    """One kind of import. Subclasses say how to ``validate`` the rows read into DuckDB
    table ``raw_rows`` and how to ``write`` them."""

    kind: ClassVar[str]
    resource: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, session: Session, *, actor: Actor, progress: Progress | None = None):
        self.session = session
        self.actor = actor
        self.progress = progress or (lambda _step, _done, _total: None)
        self.duck = duckdb.connect()
        self.step = f"导入{self.label}（读取、校验、写入）"

    @abstractmethod
    def validate(self, source: str) -> int:
        """Check every row of ``raw_rows``; raise ``Invalid`` naming the bad ones, or
        return how many rows there are."""

    @abstractmethod
    def write(self, import_id: int) -> int:
        """Write the validated rows; return how many were added (the rest were already
        there)."""

    def run_file(self, path: Path, *, dry_run: bool = False) -> ImportResult:
        """Import a CSV, Parquet or Excel file."""
        authorize_some(self.session, self.actor, Action.add, self.resource, record_id=path.name)
        self.progress(self.step, 0, 3)
        load(self.duck, path, RAW)
        return self._run(str(path), path.name, file_sha256(path), dry_run=dry_run)

    def run_loaded(self, source: str, sha256: str, *, dry_run: bool = False) -> ImportResult:
        """Import rows already put in ``raw_rows`` (an API batch); ``source`` names them
        in messages."""
        authorize_some(self.session, self.actor, Action.add, self.resource, record_id=source)
        return self._run(source, source, sha256, dry_run=dry_run)

    def _run(self, source: str, filename: str, sha256: str, *, dry_run: bool) -> ImportResult:
        self.progress(self.step, 1, 3)
        rows = self.validate(source)
        if dry_run:
            self.progress(self.step, 3, 3)
            return ImportResult(None, filename, sha256, rows, 0, 0, dry_run=True)
        run = ImportRun(
            kind=self.kind, filename=filename, sha256=sha256, rows=rows, actor=self.actor.username
        )
        self.session.add(run)
        self.session.flush()
        self.progress(self.step, 2, 3)
        added = self.write(run.id)
        record(
            self.session,
            actor=self.actor,
            action="import",
            resource=self.resource,
            record_id=str(run.id),
            after={"filename": filename, "sha256": sha256, "rows": rows, "added": added},
            detail=f"导入{self.label}：{filename}（sha256 {sha256[:12]}…），{rows} 行，"
            f"新增 {added}，已有 {rows - added}",
        )
        self.progress(self.step, 3, 3)
        return ImportResult(run.id, filename, sha256, rows, added, rows - added, dry_run=False)
