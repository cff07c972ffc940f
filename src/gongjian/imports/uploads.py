"""Uploads waiting for confirmation on the import page, and the imports they run.

The import page checks a file first (a dry run) and writes it only when the user
confirms. Between the two the file waits on the server, never in the browser:

- in a folder of its own under the setting ``upload_pending_dir`` (made readable by the
  server's user only), named after the SHA-256 of a random 256-bit token; the folder
  holds the file under the name the user gave it, and ``pending.json`` (the list kind,
  the coordinate system, the file's checksum, who uploaded it in which web session,
  and when it expires);
- bound to that user and web session: a token confirmed by another user, or in another
  session of the same user, is refused (403, written to the audit log);
- for ``upload_pending_minutes`` (60): after that it is refused politely (410) and its
  folder deleted; every new upload sweeps away the expired ones;
- claimed once: confirming moves the folder aside atomically (a second click finds
  nothing) and deletes it whatever the outcome. The confirmation checks the file again
  against the records as they are now, and writes all of it or nothing.

``run_upload`` runs the importer of a kind on a file: the task lists of
``tasklists.LISTS`` (.xlsx or CSV), parcels also as GeoJSON (``parcels.ParcelImporter``),
and monitoring samples (``samples.SampleImporter``, .xlsx or CSV).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize_some, refuse
from gongjian.config import get_settings
from gongjian.errors import GongjianError, Invalid, NotFound, Problem
from gongjian.geo.choices import InputCrs
from gongjian.imports.base import ImportResult
from gongjian.imports.excel import check_upload
from gongjian.imports.models import ImportRun
from gongjian.imports.tasklists import LISTS, RowChange, TaskListResult, list_importer

SAMPLES = "samples"
"""The kind of monitoring data (not a task list: no template, no export)."""
LIST_SUFFIXES = (".xlsx", ".csv")
GEOJSON_SUFFIXES = (".geojson", ".json")
META = "pending.json"
CLAIMED = ".claimed"
TOKEN_MAX = 100


class UploadExpired(GongjianError):
    """A pending upload that is gone: expired, confirmed, cancelled or never made (410)."""

    status = 410


def import_kinds() -> dict[str, str]:
    """Every kind the import page takes, by name, with its Chinese label."""
    from gongjian.imports.samples import SampleImporter

    return {kind: f"{importer.label}清单" for kind, importer in LISTS.items()} | {
        SAMPLES: SampleImporter.label
    }


def suffixes_of(kind: str) -> tuple[str, ...]:
    """The file name endings a kind's upload may have."""
    if kind == "parcels":
        return LIST_SUFFIXES + GEOJSON_SUFFIXES
    return LIST_SUFFIXES


def may_import(session: Session, *, actor: Actor) -> None:
    """Raise ``Forbidden`` (logged) unless ``actor`` may import at all: the city, a town
    (its own town's records), the admin; never an auditor or the public."""
    authorize_some(session, actor, Action.add, "import", record_id="imports")


# --- pending uploads -------------------------------------------------------------------


@dataclass(frozen=True)
class PendingUpload:
    """A checked file waiting for its user's confirmation."""

    token: str
    kind: str
    filename: str
    crs: InputCrs | None
    sha256: str
    size: int
    user_id: int
    web_session_id: int
    expires_at: dt.datetime
    folder: Path

    @property
    def path(self) -> Path:
        """The file, under the name its user gave it."""
        return self.folder / self.filename


def _root() -> Path:
    root = Path(get_settings().upload_pending_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def _folder_of(token: str) -> Path:
    """The folder of ``token``'s upload: named by the token's hash, so neither the name
    nor a listing of the folder gives the token away, and no token reaches a path."""
    return _root() / hashlib.sha256(token.encode("utf-8")).hexdigest()


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or name in (".", "..", META):
        return "upload"
    return name[:200]


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def store_upload(
    *,
    kind: str,
    filename: str,
    content: bytes,
    crs: InputCrs | None,
    user_id: int,
    web_session_id: int,
    now: dt.datetime,
) -> PendingUpload:
    """Keep ``content`` until its user confirms it (or it expires); return it with its
    new token. Expired uploads of anyone are swept away first."""
    sweep_uploads(now=now)
    token = secrets.token_urlsafe(32)
    folder = _folder_of(token)
    folder.mkdir(mode=0o700)
    name = _safe_name(filename)
    lifetime = dt.timedelta(minutes=get_settings().upload_pending_minutes)
    upload = PendingUpload(
        token=token,
        kind=kind,
        filename=name,
        crs=crs,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        user_id=user_id,
        web_session_id=web_session_id,
        expires_at=now + lifetime,
        folder=folder,
    )
    _write_private(upload.path, content)
    meta = {
        "kind": kind,
        "filename": name,
        "crs": crs.value if crs else None,
        "sha256": upload.sha256,
        "size": upload.size,
        "user_id": user_id,
        "web_session_id": web_session_id,
        "expires_at": upload.expires_at.isoformat(),
    }
    _write_private(folder / META, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
    return upload


def _read(folder: Path, token: str) -> PendingUpload:
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    return PendingUpload(
        token=token,
        kind=meta["kind"],
        filename=meta["filename"],
        crs=InputCrs(meta["crs"]) if meta["crs"] else None,
        sha256=meta["sha256"],
        size=meta["size"],
        user_id=meta["user_id"],
        web_session_id=meta["web_session_id"],
        expires_at=dt.datetime.fromisoformat(meta["expires_at"]),
        folder=folder,
    )


def _gone() -> UploadExpired:
    return UploadExpired(
        "这个待确认的上传已不存在：可能已确认、已取消或已超过保留时间。请重新上传文件。"
    )


def claim_upload(
    session: Session, *, actor: Actor, token: str, web_session_id: int, now: dt.datetime
) -> PendingUpload:
    """The pending upload of ``token``, taken out of waiting (a second claim finds
    nothing); the caller runs it and then calls ``discard_upload``. ``UploadExpired``
    when there is none or it has expired (then it is deleted); ``Forbidden`` (logged)
    when it belongs to another user or another web session."""
    if not token or len(token) > TOKEN_MAX:
        raise _gone()
    folder = _folder_of(token)
    try:
        upload = _read(folder, token)
    except (OSError, ValueError, KeyError):
        raise _gone() from None
    if upload.user_id != actor.user_id or upload.web_session_id != web_session_id:
        refuse(
            session,
            actor,
            Action.add,
            "import",
            "这个上传不属于当前登录会话：只能由上传它的用户在同一次登录中确认。请重新上传文件。",
            record_id="pending-upload",
        )
    claimed = folder.with_name(folder.name + CLAIMED)
    try:
        folder.rename(claimed)
    except OSError:
        raise _gone() from None
    upload = _read(claimed, token)
    if upload.expires_at <= now:
        discard_upload(upload)
        minutes = get_settings().upload_pending_minutes
        raise UploadExpired(
            f"上传已过期：文件在服务器上只保留 {minutes} 分钟等待确认。请重新上传文件。"
        )
    return upload


def discard_upload(upload: PendingUpload) -> None:
    """Delete a pending upload's folder and file."""
    shutil.rmtree(upload.folder, ignore_errors=True)


def cancel_upload(
    session: Session, *, actor: Actor, token: str, web_session_id: int, now: dt.datetime
) -> None:
    """Delete the pending upload of ``token`` without importing it (its own user and
    session only, as for ``claim_upload``); nothing happens when it is already gone."""
    try:
        upload = claim_upload(
            session, actor=actor, token=token, web_session_id=web_session_id, now=now
        )
    except UploadExpired:
        return
    discard_upload(upload)


def sweep_uploads(*, now: dt.datetime) -> int:
    """Delete every pending upload that has expired (and any folder left unreadable for
    longer than the lifetime); return how many folders went."""
    lifetime = dt.timedelta(minutes=get_settings().upload_pending_minutes)
    removed = 0
    for folder in _root().iterdir():
        if not folder.is_dir():
            continue
        try:
            expires = dt.datetime.fromisoformat(
                json.loads((folder / META).read_text(encoding="utf-8"))["expires_at"]
            )
            stale = expires <= now
        except (OSError, ValueError, KeyError):
            age = dt.datetime.now(dt.UTC).timestamp() - folder.stat().st_mtime
            stale = age > lifetime.total_seconds()
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


# --- running an import -----------------------------------------------------------------


@dataclass(frozen=True)
class UploadOutcome:
    """What an import of a file did or, in a dry run, would do. ``counted`` tells
    whether the dry run counted additions and updates (the task lists do); samples and
    GeoJSON parcels only check the rows (those already stored are skipped when written).
    """

    kind: str
    filename: str
    rows: int
    added: int
    updated: int
    unchanged: int
    changes: tuple[RowChange, ...]
    import_id: int | None
    dry_run: bool
    counted: bool


def _outcome(kind: str, result: ImportResult) -> UploadOutcome:
    if isinstance(result, TaskListResult):
        return UploadOutcome(
            kind,
            result.filename,
            result.rows,
            result.added,
            result.updated,
            result.unchanged,
            result.changes,
            result.import_id,
            result.dry_run,
            counted=True,
        )
    return UploadOutcome(
        kind,
        result.filename,
        result.rows,
        result.added,
        0,
        result.skipped,
        (),
        result.import_id,
        result.dry_run,
        counted=not result.dry_run,
    )


def run_upload(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    path: Path,
    crs: InputCrs | None = None,
    dry_run: bool,
) -> UploadOutcome:
    """Check (``dry_run``) or import the file at ``path`` (named as its user named it)
    as ``kind``. Raises the importer's ``Invalid`` (every problem, nothing written) or
    ``Forbidden`` (rows of another town, logged); ``Invalid`` too for a kind the page
    does not take or a file ending the kind does not read."""
    if kind not in import_kinds():
        raise NotFound(f"没有“{kind}”这种导入，可选：{'、'.join(import_kinds())}")
    suffix = path.suffix.lower()
    if suffix not in suffixes_of(kind):
        allowed = "、".join(suffixes_of(kind))
        raise Invalid(
            f"文件“{path.name}”未被接受",
            [Problem(f"{import_kinds()[kind]}只接受 {allowed} 文件", file=path.name)],
        )
    if kind == SAMPLES:
        from gongjian.imports.samples import SampleImporter

        check_upload(path, name=path.name)
        return _outcome(kind, SampleImporter(session, actor=actor).run_file(path, dry_run=dry_run))
    if kind == "parcels" and suffix in GEOJSON_SUFFIXES:
        from gongjian.imports.parcels import ParcelImporter

        importer = ParcelImporter(session, actor=actor, crs=crs or InputCrs.wgs84)
        return _outcome(kind, importer.run_file(path, dry_run=dry_run))
    lists = list_importer(kind, session, actor=actor, crs=crs if kind == "parcels" else None)
    return _outcome(kind, lists.run_file(path, dry_run=dry_run, name=path.name))


@dataclass(frozen=True)
class FinishedImport:
    """An import the signed-in user has just written: its record and its counts."""

    run: ImportRun
    added: int
    updated: int


def finished_import(session: Session, *, actor: Actor, import_id: int) -> FinishedImport:
    """The import ``import_id`` if ``actor`` made it (``NotFound`` otherwise), with the
    counts its audit entry recorded."""
    run = session.get(ImportRun, import_id)
    if run is None or run.actor != actor.username:
        raise NotFound(f"没有找到您的导入记录 #{import_id}")
    after = session.scalar(
        select(AuditEntry.after)
        .where(AuditEntry.action == "import", AuditEntry.record_id == str(import_id))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    counts = json.loads(after) if after else {}
    return FinishedImport(run, int(counts.get("added", 0)), int(counts.get("updated", 0)))
