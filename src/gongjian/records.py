"""Listing, reading and changing records by their natural key, the same way in every
domain: the permission check first, then the read or write, then the audit entry with
before and after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import RESOURCE_LABELS, authorize, authorize_some, restrict
from gongjian.db import Base
from gongjian.db_errors import explain
from gongjian.errors import NotFound, Problem, StaleVersion

ModelT = TypeVar("ModelT", bound=Base)


@dataclass(frozen=True)
class RecordKind(Generic[ModelT]):
    """How one kind of record is named, found by ``code`` and tied to a town."""

    model: type[ModelT]
    resource: str
    town_attr: str

    @property
    def label(self) -> str:
        return RESOURCE_LABELS.get(self.resource, self.resource)

    def town_of(self, obj: ModelT) -> int | None:
        """The town that answers for ``obj`` (a river's lead town)."""
        town_id: int | None = getattr(obj, self.town_attr)
        return town_id

    def select(self) -> Select[Any]:
        return select(self.model).order_by(self.model.code)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Narrowed(RecordKind[ModelT]):
    """A kind of record whose listing is narrowed by ``criteria`` (filters of a list),
    so that ``list_records`` pages, counts and restricts it like any other."""

    criteria: tuple[ColumnElement[bool], ...] = ()

    def select(self) -> Select[Any]:
        return super().select().where(*self.criteria)


def narrowed(kind: RecordKind[ModelT], *criteria: ColumnElement[bool]) -> Narrowed[ModelT]:
    """``kind`` listed with ``criteria`` only."""
    return Narrowed(kind.model, kind.resource, kind.town_attr, tuple(criteria))


@dataclass(frozen=True)
class CityWideKind(RecordKind[ModelT]):
    """A kind of record that belongs to no town (the city writes it for the whole city)."""

    def town_of(self, obj: ModelT) -> int | None:
        return None


def list_records(
    session: Session,
    kind: RecordKind[ModelT],
    *,
    actor: Actor,
    town_id: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[ModelT]]:
    """A page of ``kind``'s records that ``actor`` may see, optionally of one town."""
    stmt = kind.select()
    if town_id is not None:
        stmt = stmt.where(getattr(kind.model, kind.town_attr) == town_id)
    stmt = restrict(session, actor, stmt, kind.resource)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return total or 0, list(session.scalars(stmt.limit(limit).offset(offset)))


def read_record(session: Session, kind: RecordKind[ModelT], *, actor: Actor, code: str) -> ModelT:
    """The record whose ``code`` is ``code``, if ``actor`` may see it (else 403 or 404)."""
    stmt = restrict(session, actor, kind.select(), kind.resource)
    found = session.scalars(stmt.where(kind.model.code == code)).first()  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(f"没有编号为“{code}”的{kind.label}")
    return found


def referenced(
    session: Session,
    kind: RecordKind[ModelT],
    code: str,
    problems: list[Problem],
    *,
    column: str,
) -> ModelT | None:
    """The record of ``kind`` that field ``column`` names by ``code``; ``None``, with the
    problem added to ``problems``, when there is none."""
    found = session.scalars(
        select(kind.model).where(kind.model.code == code.strip())  # type: ignore[attr-defined]
    ).first()
    if found is None:
        problems.append(Problem(f"没有编号为“{code}”的{kind.label}", column=column, value=code))
    return found


def names_by_id(session: Session, key: Any, column: Any, ids: set[int]) -> dict[int, str]:
    """``column`` of the rows whose ``key`` is in ``ids`` (a code or a name by id), in one
    query; none when ``ids`` is empty."""
    if not ids:
        return {}
    return dict(session.execute(select(key, column).where(key.in_(ids))).tuples().all())


def stale_version(obj: Base, *, resource: str, code: str, sent: int | None) -> StaleVersion:
    """The refusal of a change to ``obj`` (a ``Versioned`` record of ``resource`` named
    by ``code``) based on its version ``sent``: both versions and the record as it is."""
    return StaleVersion(
        resource=resource,
        label=RESOURCE_LABELS.get(resource, resource),
        code=code,
        sent=sent,
        current=obj.version,  # type: ignore[attr-defined]
        record=snapshot(obj),
    )


def check_version(obj: Base, *, resource: str, code: str, sent: int | None) -> None:
    """Refuse (``StaleVersion``, 409) a change based on version ``sent`` of ``obj`` when
    it is at another version now. ``None`` checks nothing here: the ORM still checks
    that the row is at the version this session read when it writes."""
    if sent is not None and sent != obj.version:  # type: ignore[attr-defined]
        raise stale_version(obj, resource=resource, code=code, sent=sent)


def flush_versioned(
    session: Session, obj: Base, *, resource: str, code: str, sent: int | None
) -> None:
    """Flush the change of ``obj``; when another transaction changed its row since this
    one read it (``StaleDataError``), refuse with both versions and the row as stored
    (the failed flush leaves the transaction to be rolled back: it is, and the row is
    read in the next one, on the same connection)."""
    try:
        _flush(session)
    except StaleDataError as exc:
        identity = inspect(obj).identity
        session.rollback()
        now = session.get(type(obj), identity, populate_existing=True)
        if now is None:
            raise NotFound(
                f"没有编号为“{code}”的{RESOURCE_LABELS.get(resource, resource)}"
            ) from exc
        raise stale_version(now, resource=resource, code=code, sent=sent) from exc


def _flush(session: Session, *new: Base) -> None:
    """Flush ``session``, adding ``new`` first, in a savepoint: a broken constraint is
    refused with the rule in words (``Conflict`` or ``Invalid``) and nothing is written."""
    try:
        with session.begin_nested():
            session.add_all(new)
            session.flush()
    except IntegrityError as exc:
        raise explain(exc) from exc


def add_record(
    session: Session,
    kind: RecordKind[ModelT],
    *,
    actor: Actor,
    obj: ModelT,
    detail: str | None = None,
    record_id: str | None = None,
) -> ModelT:
    """Add ``obj`` if ``actor`` may write in its town, auditing what was written under
    ``record_id`` (default: its ``code``; a record without one names what it is about).

    A duplicate ``code`` or a broken constraint is refused with the rule in words
    (``Conflict`` or ``Invalid``) and nothing is written.
    """
    code = getattr(obj, "code", None) if record_id is None else record_id
    authorize(session, actor, Action.add, kind.resource, town_id=kind.town_of(obj), record_id=code)
    _flush(session, obj)
    record(
        session,
        actor=actor,
        action=Action.add.value,
        resource=kind.resource,
        record_id=code,
        town_id=kind.town_of(obj),
        after=snapshot(obj),
        detail=detail,
    )
    return obj


def write_added(
    session: Session,
    obj: ModelT,
    *,
    actor: Actor,
    resource: str,
    town_id: int | None,
    detail: str,
    record_id: str | None = None,
) -> ModelT:
    """Add ``obj``, which the caller has already authorized and checked, and audit it
    as added under ``resource`` and ``record_id`` (default: the id it is given)."""
    session.add(obj)
    session.flush()
    if record_id is None:
        identity = inspect(obj).identity
        record_id = None if identity is None else str(identity[0])
    record(
        session,
        actor=actor,
        action=Action.add.value,
        resource=resource,
        record_id=record_id,
        town_id=town_id,
        after=snapshot(obj),
        detail=detail,
    )
    return obj


def change_record(
    session: Session,
    kind: RecordKind[ModelT],
    *,
    actor: Actor,
    code: str,
    changes: dict[str, Any],
    version: int | None = None,
) -> ModelT:
    """Apply ``changes`` to the record ``code`` if ``actor`` may, auditing before and after.

    The record's town decides whether a town user may write it; moving a record to
    another town needs the right to write in that town too. ``version`` is the version
    the change is based on (what the client read): another version now is refused with
    ``StaleVersion`` (409) and nothing is written. Those who may change no record of
    ``kind`` (the public, the auditor) are refused before the record is looked up.
    """
    authorize_some(session, actor, Action.change, kind.resource, record_id=code)
    obj = read_record(session, kind, actor=actor, code=code)
    town_id = kind.town_of(obj)
    authorize(session, actor, Action.change, kind.resource, town_id=town_id, record_id=code)
    new_town_id = changes.get(kind.town_attr, town_id)
    if new_town_id != town_id:
        authorize(session, actor, Action.change, kind.resource, town_id=new_town_id, record_id=code)
    check_version(obj, resource=kind.resource, code=code, sent=version)
    before = snapshot(obj)
    for name, value in changes.items():
        setattr(obj, name, value)
    flush_versioned(session, obj, resource=kind.resource, code=code, sent=version)
    after = snapshot(obj)
    changed = [name for name in after if before[name] != after[name]]
    record(
        session,
        actor=actor,
        action=Action.change.value,
        resource=kind.resource,
        record_id=code,
        town_id=town_id,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    return obj
