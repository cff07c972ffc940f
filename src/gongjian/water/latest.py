"""What stood as of a date: each river's latest current grade, the latest baseline.

The KPIs, the priorities and the pages all ask these two questions; they are asked here
once, as subqueries to build on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Subquery, func, select

from gongjian.water.models import Baseline, WaterBodyGrade


def latest_grades(as_of: dt.date) -> Subquery:
    """``(id, river_id, grade)``: each river's current (not superseded) grade of the
    period that ended last on or before ``as_of`` (a month over a week ending the same
    day)."""
    rank = (
        func.row_number()
        .over(
            partition_by=WaterBodyGrade.river_id,
            order_by=(
                WaterBodyGrade.period_end.desc(),
                WaterBodyGrade.period_start.asc(),
                WaterBodyGrade.id.desc(),
            ),
        )
        .label("rank")
    )
    ranked = (
        select(WaterBodyGrade.id, WaterBodyGrade.river_id, WaterBodyGrade.grade, rank)
        .where(WaterBodyGrade.period_end <= as_of, WaterBodyGrade.superseded_at.is_(None))
        .subquery()
    )
    return (
        select(ranked.c.id, ranked.c.river_id, ranked.c.grade)
        .where(ranked.c.rank == 1)
        .subquery("latest_grades")
    )


def latest_baseline_id(as_of: dt.date) -> Any:
    """The id of the latest baseline frozen on or before ``as_of`` (a scalar subquery;
    NULL when there is none)."""
    return (
        select(Baseline.id)
        .where(Baseline.frozen_on <= as_of)
        .order_by(Baseline.frozen_on.desc())
        .limit(1)
        .scalar_subquery()
    )
