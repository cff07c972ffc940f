"""Routes of ingestion: monitoring stations and users post sample batches; task lists
(清单) are uploaded as files, and their templates and exports downloaded."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from gongjian.auth.actors import Actor
from gongjian.config import get_settings
from gongjian.errors import Invalid, Problem
from gongjian.geo.choices import InputCrs
from gongjian.imports.excel import MB, FileKind, TooLarge, Unsupported
from gongjian.imports.exports import export_list, write_template
from gongjian.imports.samples import SampleImporter, batch_to_duckdb
from gongjian.imports.schemas import ImportRead, RowChangeRead, SampleBatch, TaskListImportRead
from gongjian.imports.tasklists import LISTS, list_importer, list_kind
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["imports"])

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may carry beyond the file itself (boundaries, headers)."""
KindPath = Annotated[str, PathParam(description=f"清单种类：{'、'.join(LISTS)}")]


@router.post("/samples", response_model=ImportRead)
def post_samples(batch: SampleBatch, session: SessionDep, actor: ActorDep) -> ImportRead:
    """A batch of up to 10,000 samples. The whole batch is refused (422, listing every bad
    row by its position, the first being row 1) if any row is bad; samples already
    stored (same point and ``sampled_at``) are skipped. Stations authenticate with
    ``Authorization: Bearer <token>`` and may report only their token's points."""
    importer = SampleImporter(session, actor=actor)
    rows = [sample.model_dump(exclude_unset=True) for sample in batch.samples]
    sha256 = batch_to_duckdb(importer, rows)
    result = importer.run_loaded("request", sha256, dry_run=batch.dry_run)
    return ImportRead.model_validate(result, from_attributes=True)


def attachment(content: bytes, media_type: str, filename: str) -> Response:
    """A download named ``filename`` (UTF-8, RFC 6266)."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get(
    "/templates/{kind}.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "清单模板"}},
)
def get_template(kind: KindPath) -> Response:
    """The empty template of a task list: the data sheet (Chinese headers with units,
    frozen header row, drop-downs of towns, kinds and states) and the instructions sheet
    (说明). Open to anyone: it holds no records."""
    importer = list_kind(kind)
    buffer = io.BytesIO()
    write_template(kind, buffer)
    return attachment(buffer.getvalue(), XLSX_TYPE, f"{importer.label}清单模板.xlsx")


def _export(
    session: SessionDep, actor: Actor, kind: str, fmt: FileKind, town: str | None
) -> Response:
    importer = list_kind(kind)
    buffer = io.BytesIO()
    export_list(session, actor=actor, name=kind, target=buffer, kind=fmt, town=town)
    media_type = XLSX_TYPE if fmt is FileKind.xlsx else CSV_TYPE
    return attachment(buffer.getvalue(), media_type, f"{importer.label}清单.{fmt.value}")


TownQuery = Annotated[str | None, Query(description="镇街名称或代码；不填为全部")]


@router.get(
    "/exports/{kind}.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX_TYPE: {}}, "description": "清单（.xlsx）"}},
)
def get_export_xlsx(
    kind: KindPath, session: SessionDep, actor: ActorDep, town: TownQuery = None
) -> Response:
    """The stored records of a task list as .xlsx, in the template's layout, ready to be
    edited and imported again. Texts that begin with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return get a leading apostrophe (no formula injection)."""
    return _export(session, actor, kind, FileKind.xlsx, town)


@router.get(
    "/exports/{kind}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "清单（CSV，UTF-8 带 BOM）"}},
)
def get_export_csv(
    kind: KindPath, session: SessionDep, actor: ActorDep, town: TownQuery = None
) -> Response:
    """The stored records of a task list as CSV (UTF-8 with a BOM, the template's
    headers), formula characters neutralised as in the .xlsx export."""
    return _export(session, actor, kind, FileKind.csv, town)


def _too_large(size: int) -> TooLarge:
    limit = get_settings().upload_max_mb
    return TooLarge(
        "上传的文件过大",
        [Problem(f"请求 {size / MB:.2f} MB，文件上限 {limit} MB（upload_max_mb）", column="file")],
    )


async def uploaded_file(request: Request, field_name: str = "file") -> tuple[str, bytes]:
    """The file of field ``field_name`` in a ``multipart/form-data`` request: its name
    and bytes. Refused as too large (413) by its declared length before it is read, and
    while it is read; ``Unsupported`` (415) for a body that is not multipart;
    ``Invalid`` when the field holds no file."""
    limit = int(get_settings().upload_max_mb * MB)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise _too_large(int(declared))
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise Unsupported(
            "请以 multipart/form-data 上传文件",
            [Problem(f"字段 {field_name} 放文件（.xlsx 或 .csv）", column=field_name)],
        )
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=limit)
    except MultiPartException as exc:
        raise Unsupported("无法读取上传的表单", [Problem(exc.message, column=field_name)]) from None
    upload = form.get(field_name)
    if not isinstance(upload, UploadFile):
        raise Invalid(
            "请求中没有文件",
            [
                Problem(
                    f"multipart/form-data 的字段 {field_name} 应为 .xlsx 或 .csv 文件",
                    column=field_name,
                )
            ],
        )
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise _too_large(len(content))
    name = Path((upload.filename or "").replace("\\", "/")).name
    return name or "upload", content


def _import_upload(
    session: SessionDep,
    actor: Actor,
    kind: str,
    filename: str,
    content: bytes,
    dry_run: bool,
    crs: InputCrs | None,
) -> TaskListImportRead:
    importer = list_importer(kind, session, actor=actor, crs=crs)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(content)
        result = importer.run_file(path, dry_run=dry_run, name=filename)
    return TaskListImportRead(
        kind=result.kind,
        import_id=result.import_id,
        filename=result.filename,
        sha256=result.sha256,
        rows=result.rows,
        added=result.added,
        updated=result.updated,
        unchanged=result.unchanged,
        dry_run=result.dry_run,
        changes=[
            RowChangeRead(row=c.row, key=c.key, columns=list(c.columns)) for c in result.changes
        ],
    )


@router.post(
    "/imports/{kind}",
    response_model=TaskListImportRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def post_import(
    kind: KindPath,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    dry_run: Annotated[bool, Query(description="只校验：列出全部问题与将要的变化，不写入")] = False,
    crs: Annotated[
        InputCrs | None,
        Query(
            description="地块清单几何列的坐标系：wgs84（默认）、cgcs2000 或 gcj02；"
            "入库一律为 WGS84。只用于 parcels"
        ),
    ] = None,
) -> TaskListImportRead:
    """Upload a task list (field ``file``: .xlsx from the template or an export, or
    CSV), at most ``upload_max_mb`` (413 beyond; 415 for anything but a real .xlsx or
    CSV text, and for a zip bomb 413). Every bad cell is listed at once (422: sheet in
    ``file``, row, column header, value, reason) and nothing is written; a town user's
    file holding another town's rows is refused whole (403, naming the rows). Rows are
    matched on their natural key: new ones added, changed ones updated (audited with
    before and after), the same ones left alone, all in one transaction. ``crs`` names
    the coordinate system of the parcel list's geometry column (422 for any other
    list)."""
    list_kind(kind, crs=crs)
    filename, content = await uploaded_file(request)
    return await run_in_threadpool(
        _import_upload, session, actor, kind, filename, content, dry_run, crs
    )
