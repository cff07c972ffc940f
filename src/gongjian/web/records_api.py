"""The list, detail and edit routes that every kind of record has, made once.

(No ``from __future__ import annotations`` here: FastAPI reads the annotations of the
route functions made below, which refer to the schemas passed in.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from gongjian.records import RecordKind, change_record, list_records, read_record
from gongjian.schemas import Page, Paging, ReadModel
from gongjian.towns.services import find_town
from gongjian.web.deps import ActorDep, SessionDep


def tag_version(response: Response, version: int) -> None:
    """Send the record's version as the response's ``ETag`` (``"3"``): the number a
    change sends back as ``version``."""
    response.headers["ETag"] = f'"{version}"'


def changes_of(body: BaseModel) -> tuple[dict[str, Any], int]:
    """The fields an ``*Update`` body sets, and the version it is based on."""
    changes = body.model_dump(exclude_unset=True)
    return changes, changes.pop("version")


def record_routes(
    router: APIRouter,
    kind: RecordKind[Any],
    path: str,
    read_schema: type[ReadModel],
    update_schema: type[BaseModel],
) -> None:
    """Add ``GET path``, ``GET path/{code}`` and ``PATCH path/{code}`` for ``kind``.

    The detail and the change answer with the record's version as ``ETag``; a change
    sends the version it is based on as ``version`` (409 when the record is at another
    version now, with both versions and the record as it is).
    """
    label = kind.label

    @router.get(path, response_model=Page[read_schema], summary=f"{label}列表")  # type: ignore[valid-type]
    def list_route(
        session: SessionDep,
        actor: ActorDep,
        paging: Annotated[Paging, Depends()],
        town: str | None = None,
    ) -> Page[Any]:
        town_id = find_town(session, town).id if town else None
        total, rows = list_records(
            session, kind, actor=actor, town_id=town_id, limit=paging.limit, offset=paging.offset
        )
        return Page.of(read_schema, paging, total, rows)

    @router.get(f"{path}/{{code}}", response_model=read_schema, summary=f"{label}详情")
    def detail_route(code: str, session: SessionDep, actor: ActorDep, response: Response) -> Any:
        found = read_record(session, kind, actor=actor, code=code)
        tag_version(response, found.version)
        return read_schema.model_validate(found)

    @router.patch(f"{path}/{{code}}", response_model=read_schema, summary=f"修改{label}")
    def update_route(
        code: str,
        body: update_schema,  # type: ignore[valid-type]
        session: SessionDep,
        actor: ActorDep,
        response: Response,
    ) -> Any:
        changes, version = changes_of(body)
        changed = change_record(
            session, kind, actor=actor, code=code, changes=changes, version=version
        )
        tag_version(response, changed.version)
        return read_schema.model_validate(changed)
