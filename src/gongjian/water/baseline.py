"""The baseline (央督基线): the list of black-odorous water bodies frozen at the date of the
central environmental inspection. ``water.black_odor_reduction_pct`` is measured
against it. A baseline is never changed once frozen: there is no service to edit or
delete one, and freezing the same date again is refused.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.db import utcnow
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.periods import city_zone
from gongjian.water.choices import Grade
from gongjian.water.models import Baseline, BaselineMember, River, WaterBodyGrade

MONTH = re.compile(r"^\d{4}-\d{2}$")
BLACK = (Grade.mild.value, Grade.severe.value)


def _source_period(session: Session, as_of: dt.date) -> str:
    """The latest month graded (current grades) that ended on or before ``as_of``."""
    periods = session.scalars(
        select(WaterBodyGrade.period)
        .where(WaterBodyGrade.period_end <= as_of, WaterBodyGrade.superseded_at.is_(None))
        .group_by(WaterBodyGrade.period)
        .order_by(WaterBodyGrade.period.desc())
    )
    period = next((p for p in periods if MONTH.match(p)), None)
    if period is None:
        raise Invalid(
            f"{as_of} 之前还没有按月的黑臭评价结果，无法冻结基线",
            [Problem("请先运行 gongjian assess", column="as_of", value=str(as_of))],
        )
    return period


def freeze_baseline(
    session: Session, *, actor: Actor, as_of: dt.date, period: str | None = None
) -> Baseline:
    """Freeze the water bodies graded mild or severe in ``period`` (default: the latest
    month graded by ``as_of``) as the baseline of ``as_of``."""
    authorize(session, actor, Action.add, "baseline", record_id=str(as_of))
    existing = session.scalars(select(Baseline).where(Baseline.frozen_on == as_of)).first()
    if existing is not None:
        raise Conflict(
            f"{as_of} 的基线已于 {existing.frozen_at.astimezone(city_zone()):%Y-%m-%d %H:%M}"
            f" 由 {existing.frozen_by} 冻结，"
            "不能修改或重新冻结"
        )
    source = period or _source_period(session, as_of)
    rows = session.execute(
        select(WaterBodyGrade.river_id, WaterBodyGrade.grade, River.code)
        .join(River, River.id == WaterBodyGrade.river_id)
        .where(
            WaterBodyGrade.period == source,
            WaterBodyGrade.superseded_at.is_(None),
            WaterBodyGrade.grade.in_(BLACK),
        )
        .order_by(River.code)
    ).all()
    baseline = Baseline(
        frozen_on=as_of, source_period=source, frozen_at=utcnow(), frozen_by=actor.username
    )
    baseline.members = [
        BaselineMember(river_id=river_id, grade=grade) for river_id, grade, _code in rows
    ]
    session.add(baseline)
    session.flush()
    record(
        session,
        actor=actor,
        action="freeze",
        resource="baseline",
        record_id=str(as_of),
        after={
            "frozen_on": as_of,
            "source_period": source,
            "rivers": [code for _id, _grade, code in rows],
        },
        detail=f"冻结央督基线：{source} 黑臭水体 {len(rows)} 条",
    )
    return baseline


def latest_baseline(session: Session, *, actor: Actor) -> Baseline:
    """The most recently frozen baseline, with its members."""
    authorize(session, actor, Action.view, "baseline")
    baseline = session.scalars(
        select(Baseline)
        .order_by(Baseline.frozen_on.desc())
        .options(selectinload(Baseline.members))
        .limit(1)
    ).first()
    if baseline is None:
        raise NotFound("还没有冻结央督基线")
    return baseline
