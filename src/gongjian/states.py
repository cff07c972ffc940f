"""What the dated state machines of rivers, parcels and projects share: the message that
refuses a move and names the states allowed next, the check that a change is dated
neither in the future nor before the record's previous change, and the writing of a
change with its audit entry.

Each domain keeps its own transitions (in ``rules.py``) and its own history table (a
``StateChangeColumns`` model); these helpers take them as arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.choices import LabeledChoice
from gongjian.db import Base, StateChangeColumns
from gongjian.errors import Problem
from gongjian.periods import today

Change = TypeVar("Change", bound=StateChangeColumns)
Row = TypeVar("Row", bound=Base)


def refused_move(
    current: LabeledChoice,
    to_state: LabeledChoice,
    allowed: Sequence[LabeledChoice],
    *,
    with_values: bool = True,
    at_end: str = "",
) -> str:
    """Why a record in ``current`` cannot move to ``to_state``, naming the ``allowed``
    next states (with their identifiers when ``with_values``); ``at_end`` follows the
    words that ``current`` is the last state."""
    why = (
        f"已是“{current.label}”"
        if to_state is current
        else f"当前为“{current.label}”，不能改为“{to_state.label}”"
    )
    if not allowed:
        return f"{why}；“{current.label}”是最后一个状态{at_end}"
    shown = (
        f"“{state.label}”（{state.value}）" if with_values else f"“{state.label}”"
        for state in allowed
    )
    return f"{why}；可改为：" + "、".join(shown)


def last_change(session: Session, model: type[Change], of: ColumnElement[bool]) -> Change | None:
    """The latest row of the history ``model`` that ``of`` selects (one record's)."""
    return session.scalars(
        select(model).where(of).order_by(model.changed_on.desc(), model.id.desc()).limit(1)
    ).first()


def day_problems(
    session: Session,
    model: type[Change],
    of: ColumnElement[bool],
    states: type[LabeledChoice],
    on: dt.date,
) -> list[Problem]:
    """A change dated ``on`` is neither in the future nor before the record's previous
    change (its history is the rows of ``model`` that ``of`` selects, in ``states``)."""
    problems = []
    if on > today():
        problems.append(Problem(f"日期不能晚于今天（{today()}）", column="on", value=str(on)))
    last = last_change(session, model, of)
    if last is not None and on < last.changed_on:
        problems.append(
            Problem(
                f"日期不能早于上一次状态变更（{last.changed_on} 改为"
                f"“{states(last.to_state).label}”）",
                column="on",
                value=str(on),
            )
        )
    return problems


def move_detail(
    kind: str,
    from_state: LabeledChoice,
    to_state: LabeledChoice,
    on: dt.date,
    reason: str | None = None,
) -> str:
    """The audit detail of a move: ``kind：from → to（on）``, then ``；reason`` if any."""
    return f"{kind}：{from_state.label} → {to_state.label}（{on}）" + (
        f"；{reason}" if reason else ""
    )


def write_change(
    session: Session,
    change: Row,
    *,
    actor: Actor,
    action: str,
    resource: str,
    record_id: str,
    town_id: int | None,
    before: dict[str, Any],
    also: Mapping[str, Any],
    detail: str,
) -> Row:
    """Add ``change`` to its record's history (the record's state already set) and
    audit it: after is the change as written, with ``also`` (the record's other fields
    the move set)."""
    session.add(change)
    session.flush()
    record(
        session,
        actor=actor,
        action=action,
        resource=resource,
        record_id=record_id,
        town_id=town_id,
        before=before,
        after={**snapshot(change), **also},
        detail=detail,
    )
    return change
