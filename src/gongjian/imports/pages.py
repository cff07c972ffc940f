"""The import page: upload a task list, see the dry run's problems, confirm; templates
and exports.

``/imports`` (city, town, admin) takes a file of one kind, keeps it on the server as a
pending upload (``uploads``) and checks it without writing (the dry run): every problem
in a table (file, sheet, row, column, value, reason), or what it would write. Confirming
(``/imports/confirm``) checks it again against the records as they are then and writes
all of it or nothing. ``/exports/{kind}`` downloads a list as .xlsx (or ``?format=csv``)
with the filters of the list page it came from, limited to a town user's town.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gongjian.auth.actors import Actor
from gongjian.config import get_settings
from gongjian.errors import Forbidden, GongjianError, Invalid, NotFound, Problem
from gongjian.geo.choices import InputCrs
from gongjian.imports.api import (
    CSV_TYPE,
    XLSX_TYPE,
    attachment,
    uploaded_file,
)
from gongjian.imports.excel import FileKind
from gongjian.imports.exports import export_page
from gongjian.imports.tasklists import LISTS
from gongjian.imports.uploads import (
    SAMPLES,
    PendingUpload,
    UploadExpired,
    UploadOutcome,
    cancel_upload,
    claim_upload,
    discard_upload,
    finished_import,
    import_kinds,
    may_import,
    run_upload,
    store_upload,
    suffixes_of,
)
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.sessions import current_session, now
from gongjian.web.templating import render

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Form(max_length=200)]


def _web_session_id(request: Request, session: SessionDep) -> int:
    found = current_session(request, session)
    assert found is not None  # PageActor has signed the request in
    return found[0].id


def _user_id(actor: Actor) -> int:
    assert actor.user_id is not None  # a page's actor is a signed-in user
    return actor.user_id


def _unplaced(text: str, upload: PendingUpload | None) -> str:
    """``text`` without the server's folder of ``upload`` (importers name files by path)."""
    return text.replace(f"{upload.folder}/", "") if upload is not None else text


def _problem_rows(problems: list[Problem], upload: PendingUpload | None) -> list[dict[str, Any]]:
    """Problems as the table shows them: the file and the sheet apart (a workbook's
    problems name ``[file]sheet``), the server's folder never shown."""
    rows = []
    for problem in problems:
        where = _unplaced(problem.file or "", upload)
        sheet = None
        if where.startswith("[") and "]" in where:
            where, sheet = where[1:].split("]", 1)
        rows.append(
            {
                "file": where or None,
                "sheet": sheet,
                "row": problem.row,
                "column": problem.column,
                "value": problem.value,
                "reason": _unplaced(problem.reason, upload),
            }
        )
    return rows


def _page(
    request: Request,
    actor: Actor,
    *,
    status_code: int = 200,
    kind: str | None = None,
    crs: str | None = None,
    error: GongjianError | None = None,
    upload: PendingUpload | None = None,
    outcome: UploadOutcome | None = None,
    done: dict[str, Any] | None = None,
) -> Response:
    problems = list(error.problems) if isinstance(error, Invalid) else []
    if isinstance(error, Forbidden):
        problems = [Problem(error.message, file=upload.filename if upload else None)]
    kinds = import_kinds()
    settings = get_settings()
    return render(
        request,
        "imports/index.html",
        status_code=status_code,
        kinds=kinds,
        kind=kind if kind in kinds else None,
        crs=crs or InputCrs.wgs84.value,
        crs_choices=list(InputCrs),
        accept=",".join(dict.fromkeys(s for k in kinds for s in suffixes_of(k))),
        suffixes={k: "、".join(suffixes_of(k)) for k in kinds},
        lists={name: importer.label for name, importer in LISTS.items()},
        samples=SAMPLES,
        max_mb=settings.upload_max_mb,
        pending_minutes=settings.upload_pending_minutes,
        error=_unplaced(error.message, upload) if error else None,
        problems=_problem_rows(problems, upload),
        outcome=outcome,
        upload=upload if outcome is not None else None,
        town_user=actor.town_id is not None,
        done=done,
    )


def _chosen(kind: str, crs: str | None) -> InputCrs | None:
    """The coordinate system of a parcel file (``None`` for other kinds); ``Invalid``
    for a kind the page does not take or a system it does not know."""
    if kind not in import_kinds():
        raise Invalid(
            "请选择要导入的清单种类",
            [Problem(f"可选：{'、'.join(import_kinds().values())}", column="kind", value=kind)],
        )
    if kind != "parcels" or not crs:
        return None
    try:
        return InputCrs(crs)
    except ValueError:
        raise Invalid(
            "坐标系无效",
            [Problem(f"可选：{'、'.join(InputCrs.values())}", column="crs", value=crs)],
        ) from None


@router.get("/imports", response_class=HTMLResponse)
def imports_page(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    imported: int | None = None,
    unchanged: bool = False,
    cancelled: bool = False,
) -> Response:
    """The upload form, the templates and the exports (city, town and admin)."""
    may_import(session, actor=actor)
    done: dict[str, Any] | None = None
    if imported is not None:
        finished = finished_import(session, actor=actor, import_id=imported)
        done = {
            "kind": "imported",
            "label": import_kinds().get(finished.run.kind, finished.run.kind),
            "filename": finished.run.filename,
            "rows": finished.run.rows,
            "added": finished.added,
            "updated": finished.updated,
            "import_id": finished.run.id,
        }
    elif unchanged:
        done = {"kind": "unchanged"}
    elif cancelled:
        done = {"kind": "cancelled"}
    return _page(request, actor, done=done)


@router.post("/imports", response_class=HTMLResponse)
async def check_file(
    request: Request,
    session: SessionDep,
    actor: PageActor,
) -> Response:
    """Keep the uploaded file and check it without writing (the dry run): its problems,
    or what it would write and the button that confirms it."""
    await run_in_threadpool(may_import, session, actor=actor)
    form = await request.form()
    kind = str(form.get("kind") or "")
    crs_text = str(form.get("crs") or "") or None
    try:
        crs = _chosen(kind, crs_text)
        filename, content = await uploaded_file(request)
    except Invalid as exc:
        return _page(request, actor, status_code=exc.status, kind=kind, crs=crs_text, error=exc)
    upload = store_upload(
        kind=kind,
        filename=filename,
        content=content,
        crs=crs,
        user_id=_user_id(actor),
        web_session_id=_web_session_id(request, session),
        now=now(request),
    )
    try:
        outcome = await run_in_threadpool(
            run_upload, session, actor=actor, kind=kind, path=upload.path, crs=crs, dry_run=True
        )
    except (Invalid, Forbidden, NotFound) as exc:
        # The dry run was done (200): what it found is its answer, refusals included.
        discard_upload(upload)
        return _page(request, actor, kind=kind, crs=crs_text, error=exc, upload=upload)
    if outcome.counted and not (outcome.added or outcome.updated):
        discard_upload(upload)
    return _page(request, actor, kind=kind, crs=crs_text, upload=upload, outcome=outcome)


@router.post("/imports/confirm")
def confirm_file(request: Request, session: SessionDep, actor: PageActor, token: Token) -> Response:
    """Import the pending upload ``token`` (its own user, in the same sign-in, within
    its lifetime): checked again against the records as they are now, then written all
    or nothing; the page then says what was written."""
    may_import(session, actor=actor)
    try:
        upload = claim_upload(
            session,
            actor=actor,
            token=token,
            web_session_id=_web_session_id(request, session),
            now=now(request),
        )
    except UploadExpired as exc:
        return _page(request, actor, status_code=exc.status, error=exc)
    try:
        outcome = run_upload(
            session, actor=actor, kind=upload.kind, path=upload.path, crs=upload.crs, dry_run=False
        )
    except (Invalid, Forbidden) as exc:
        session.rollback()
        return _page(
            request,
            actor,
            status_code=exc.status,
            kind=upload.kind,
            crs=upload.crs.value if upload.crs else None,
            error=exc,
            upload=upload,
        )
    finally:
        discard_upload(upload)
    session.commit()
    if outcome.import_id is None:
        return RedirectResponse("/imports?unchanged=1", status_code=303)
    return RedirectResponse(f"/imports?imported={outcome.import_id}", status_code=303)


@router.post("/imports/cancel")
def cancel_file(request: Request, session: SessionDep, actor: PageActor, token: Token) -> Response:
    """Delete a pending upload without importing it (those who may import: the auditor
    is refused, 403, as for the confirm)."""
    may_import(session, actor=actor)
    cancel_upload(
        session,
        actor=actor,
        token=token,
        web_session_id=_web_session_id(request, session),
        now=now(request),
    )
    return RedirectResponse("/imports?cancelled=1", status_code=303)


@router.get("/exports/{kind}")
def export_page_list(
    request: Request, kind: str, session: SessionDep, actor: PageActor, format: str = "xlsx"
) -> Response:
    """A list as .xlsx (default) or CSV (``format=csv``), with the filters of the list
    page it came from (``exports.export_page``): the task lists, batches, the ranking,
    the audit log, clusters and complaints; a town user's export holds their own town's
    records only. Any other kind is 404."""
    try:
        file_kind = FileKind(format)
    except ValueError:
        raise Invalid(
            "导出格式无效", [Problem("可选：xlsx、csv", column="format", value=format)]
        ) from None
    buffer = io.BytesIO()
    name, _ = export_page(
        session,
        actor=actor,
        kind=kind,
        params=request.query_params.multi_items(),
        target=buffer,
        file_kind=file_kind,
    )
    media_type = XLSX_TYPE if file_kind is FileKind.xlsx else CSV_TYPE
    return attachment(buffer.getvalue(), media_type, f"{name}.{file_kind.value}")
