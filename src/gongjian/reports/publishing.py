"""Publishing briefings (通报) to the portal, frozen as they were printed.

Publishing is the city's act (``publish`` on ``briefing``; a refusal is logged). It
computes the briefing's ``BriefingData`` and stores it whole, serialised, in
``briefings.figures`` (``{"format": 1, "briefing": {...}}``) with the title, period,
campaign and ``published_at``, and writes an audit entry (who, when, what). Everything
shown or downloaded of a published briefing afterwards is rendered from that stored
data, never recomputed: later corrections to the records do not change it.

A mistake in a published briefing is put right by a correction: a new briefing with
``corrects_id`` whose text names the briefing it corrects and the reason
(``briefings.Correction``); the corrected one stays published as it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, restrict
from gongjian.campaign.choices import Campaign
from gongjian.campaign.models import Briefing
from gongjian.campaign.scoring import OVERALL
from gongjian.checks import text_problems
from gongjian.db import utcnow
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.periods import Period, city_zone
from gongjian.reports.briefings import BRIEFING, BriefingData, Correction, briefing_data

FORMAT = 1
"""The version of the stored form of ``BriefingData`` in ``briefings.figures``."""
REASON_MAX = 500
"""Longest reason of a correction, in characters."""


# --- BriefingData as JSON and back ---------------------------------------------------------


def to_json(value: Any) -> Any:
    """``value`` (a ``BriefingData`` or any of its parts) as JSON values: dataclasses as
    objects, tuples as arrays, decimals as strings (exact), dates in ISO 8601, choices
    as their identifiers."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def from_json(kind: Any, value: Any) -> Any:
    """``value`` (from ``to_json``) read back as ``kind``, a type of ``BriefingData``'s
    fields: the same dataclasses, decimals, dates and choices."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        arms = [arm for arm in typing.get_args(kind) if arm is not type(None)]
        return value if len(arms) > 1 else from_json(arms[0], value)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(from_json(item, element) for element in value)
    if origin is dict or kind is Any:
        return value
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(
            **{
                f.name: from_json(hints[f.name], value[f.name])
                for f in dataclasses.fields(kind)
                if f.init and f.name in value
            }
        )
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if kind is Decimal:
        return Decimal(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    return value


def stored_figures(data: BriefingData) -> dict[str, Any]:
    """What ``briefings.figures`` holds for ``data``: every figure it prints, and all
    else the document is rendered from."""
    return {"format": FORMAT, "briefing": to_json(data)}


def stored_briefing(briefing: Briefing) -> BriefingData:
    """The ``BriefingData`` a briefing was published with, as it was printed."""
    figures = briefing.figures
    if figures.get("format") != FORMAT:
        raise Invalid(f"通报第{briefing.id}号的存储格式无法识别", [])
    data: BriefingData = from_json(BriefingData, figures["briefing"])
    return data


# --- publishing ----------------------------------------------------------------------------


def campaign_key(campaigns: Sequence[Campaign]) -> str:
    """What ``briefings.campaign`` holds: ``renewal``, ``water`` or ``both``."""
    return OVERALL if len(set(campaigns)) > 1 else Campaign(campaigns[0]).value


def _city_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(city_zone()).date()


def _corrected(session: Session, briefing_id: int, reason: str | None) -> Correction:
    problems = text_problems(
        reason, column="reason", label="更正原因", max_length=REASON_MAX, required=True
    )
    if problems:
        raise Invalid("更正须说明原因", problems)
    assert reason is not None
    found = session.get(Briefing, briefing_id)
    if found is None or found.published_at is None:
        raise NotFound(f"没有已发布的第{briefing_id}号通报，无法更正")
    return Correction(found.id, found.title, _city_day(found.published_at), reason.strip())


def publish_briefing(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    campaigns: Sequence[Campaign] = tuple(Campaign),
    corrects_id: int | None = None,
    reason: str | None = None,
) -> Briefing:
    """Publish the briefing for ``period`` on ``campaigns`` (the city only; a refusal is
    logged): its ``BriefingData`` computed now and stored with it, frozen; audited. With
    ``corrects_id``, a correction of that published briefing, which names it and
    ``reason`` (required) in its text."""
    authorize(session, actor, Action.publish, BRIEFING, record_id=period.label)
    correction = None
    if corrects_id is not None:
        correction = _corrected(session, corrects_id, reason)
    elif reason and reason.strip():
        raise Invalid(
            "只有更正通报才填写更正原因",
            [Problem("请同时选择被更正的通报", column="corrects")],
        )
    data = briefing_data(session, actor=actor, period=period, campaigns=campaigns)
    data = dataclasses.replace(data, correction=correction)
    briefing = Briefing(
        period=period.label,
        campaign=campaign_key(campaigns),
        title=data.title,
        figures=stored_figures(data),
        published_at=utcnow(),
        corrects_id=corrects_id,
    )
    session.add(briefing)
    session.flush()
    record(
        session,
        actor=actor,
        action=Action.publish.value,
        resource=BRIEFING,
        record_id=str(briefing.id),
        after={
            "title": briefing.title,
            "period": briefing.period,
            "campaign": briefing.campaign,
            "corrects_id": corrects_id,
            "reason": correction.reason if correction else None,
            "figures": {
                figure.key: figure.value for section in data.campaigns for figure in section.figures
            },
        },
        detail=f"发布通报《{briefing.title}》"
        + (f"，更正第{corrects_id}号通报：{correction.reason}" if correction else ""),
    )
    return briefing


# --- reading what was published ------------------------------------------------------------


@dataclass(frozen=True)
class PublishedBriefing:
    """A published briefing as lists show it, and the briefing it corrects."""

    id: int
    title: str
    period: str
    campaign: str
    published_on: dt.date
    corrects_id: int | None
    corrected_by: tuple[int, ...]


def _published(session: Session, actor: Actor) -> Any:
    return restrict(session, actor, select(Briefing), BRIEFING).where(
        Briefing.published_at.is_not(None)
    )


def _corrections(session: Session, ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if ids:
        for briefing_id, corrects_id in session.execute(
            select(Briefing.id, Briefing.corrects_id)
            .where(Briefing.corrects_id.in_(ids), Briefing.published_at.is_not(None))
            .order_by(Briefing.id)
        ).tuples():
            assert corrects_id is not None
            found.setdefault(corrects_id, []).append(briefing_id)
    return found


def _view(briefing: Briefing, corrected_by: Sequence[int]) -> PublishedBriefing:
    assert briefing.published_at is not None
    return PublishedBriefing(
        id=briefing.id,
        title=briefing.title,
        period=briefing.period,
        campaign=briefing.campaign,
        published_on=_city_day(briefing.published_at),
        corrects_id=briefing.corrects_id,
        corrected_by=tuple(corrected_by),
    )


def list_published(
    session: Session, *, actor: Actor, limit: int, offset: int = 0
) -> tuple[int, list[PublishedBriefing]]:
    """The published briefings, latest first, a page at a time, and how many there are
    (anyone who may read briefings: the public too), in three queries."""
    stmt = _published(session, actor)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(
        session.scalars(
            stmt.order_by(Briefing.published_at.desc(), Briefing.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    later = _corrections(session, [row.id for row in rows])
    return total, [_view(row, later.get(row.id, [])) for row in rows]


def published_briefing(
    session: Session, *, actor: Actor, briefing_id: int
) -> tuple[PublishedBriefing, BriefingData]:
    """A published briefing and the data it was published with (``NotFound`` for one
    that does not exist or is not published)."""
    found = session.scalars(_published(session, actor).where(Briefing.id == briefing_id)).first()
    if found is None:
        raise NotFound(f"没有已发布的第{briefing_id}号通报")
    later = _corrections(session, [found.id])
    return _view(found, later.get(found.id, [])), stored_briefing(found)


def docx_bytes(data: BriefingData) -> bytes:
    """The .docx of ``data`` (GB/T 9704-2012 layout, ``docx_layout``) as bytes."""
    from gongjian.reports.docx_layout import build_document

    buffer = io.BytesIO()
    build_document(data).save(buffer)
    return buffer.getvalue()
