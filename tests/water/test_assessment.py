"""Grading inside the database: stored grades with evidence, late samples graded again
with the old grades kept as superseded, the same grades as grade-file, the baseline."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.errors import Conflict, Forbidden
from gongjian.periods import city_zone, parse_period
from gongjian.water.assessment import assess
from gongjian.water.baseline import freeze_baseline
from gongjian.water.gradefile import grade_file
from gongjian.water.models import (
    Assessment,
    Baseline,
    BaselineMember,
    MonitoringPoint,
    PointGrade,
    River,
    Sample,
    WaterBodyGrade,
)

CITY = Actor.system("test")
JANUARY = parse_period("2023-01")


def _current(session: Session, model: type[PointGrade] | type[WaterBodyGrade], period: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.period == period, model.superseded_at.is_(None))
        )
        or 0
    )


def test_the_demo_is_graded_month_by_month_with_evidence(demo_session: Session) -> None:
    periods = demo_session.scalars(
        select(Assessment.period)
        .where(Assessment.superseded_at.is_(None))
        .order_by(Assessment.period)
    ).all()
    assert periods[0] == "2021-10"
    assert periods[-1] == "2023-01"
    assert len(periods) == len(set(periods)) == 16
    points = demo_session.scalar(select(func.count()).select_from(MonitoringPoint))
    rivers = demo_session.scalar(select(func.count()).select_from(River))
    assert _current(demo_session, PointGrade, "2023-01") == points
    assert _current(demo_session, WaterBodyGrade, "2023-01") == rivers
    severe = demo_session.scalars(
        select(WaterBodyGrade).where(WaterBodyGrade.grade == "severe").limit(1)
    ).first()
    assert severe is not None
    assert severe.decided_by.startswith("重度黑臭：已分级检测点")
    assert severe.points_severe * 5 >= severe.points_graded * 3
    point = demo_session.scalars(
        select(PointGrade).where(PointGrade.grade == "severe").limit(1)
    ).first()
    assert point is not None
    assert point.evidence["rule"] in ("one_indicator", "two_indicators")
    assert "样本" in point.decided_by


def test_grading_again_unchanged_writes_nothing(demo_session: Session) -> None:
    before = demo_session.scalar(select(func.count()).select_from(PointGrade))
    result = assess(demo_session, actor=CITY, period=JANUARY)
    assert result.status == "up_to_date"
    assert demo_session.scalar(select(func.count()).select_from(PointGrade)) == before


def test_late_samples_grade_the_period_again_and_keep_the_old(demo_session: Session) -> None:
    old = demo_session.scalars(
        select(Assessment).where(Assessment.period == "2023-01", Assessment.superseded_at.is_(None))
    ).one()
    clean = demo_session.scalars(
        select(PointGrade).where(
            PointGrade.period == "2023-01",
            PointGrade.superseded_at.is_(None),
            PointGrade.grade == "none",
            PointGrade.samples < 30,
        )
    ).first()
    assert clean is not None
    for day in range(1, 31):
        demo_session.add(
            Sample(
                point_id=clean.point_id,
                sampled_at=dt.datetime(2023, 1, day, 23, 59, tzinfo=city_zone()),
                do_mg_l=Decimal("0.050"),
                orp_mv=Decimal("-300.00"),
            )
        )
    demo_session.flush()
    result = assess(demo_session, actor=CITY, period=JANUARY)
    assert result.status == "regraded"
    demo_session.refresh(old)
    assert old.superseded_at is not None
    graded = demo_session.scalars(
        select(PointGrade).where(
            PointGrade.point_id == clean.point_id, PointGrade.period == "2023-01"
        )
    ).all()
    current = [g for g in graded if g.superseded_at is None]
    assert len(graded) == 2
    assert len(current) == 1
    assert current[0].grade == "severe"
    assert current[0].samples == clean.samples + 30
    assert _current(demo_session, PointGrade, "2023-01") == demo_session.scalar(
        select(func.count()).select_from(MonitoringPoint)
    )


def test_force_grades_again_even_when_unchanged(demo_session: Session) -> None:
    result = assess(demo_session, actor=CITY, period=JANUARY, force=True)
    assert result.status == "regraded"
    assert sum(result.water_bodies.values()) == _current(demo_session, WaterBodyGrade, "2023-01")


def test_only_the_city_grades(demo_session: Session) -> None:
    town = Actor(username="t", role=Role.town, town_id=1)
    with pytest.raises(Forbidden):
        assess(demo_session, actor=town, period=JANUARY, force=True)


def test_the_database_and_grade_file_agree(demo_session: Session, tmp_path: Path) -> None:
    start = dt.datetime(2023, 1, 1, tzinfo=city_zone())
    end = dt.datetime(2023, 2, 1, tzinfo=city_zone())
    codes = dict(demo_session.execute(select(MonitoringPoint.id, MonitoringPoint.code)).all())
    with (tmp_path / "points.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["point_id", "water_body_id", "chainage_m"])
        for point in demo_session.scalars(select(MonitoringPoint)):
            writer.writerow([point.code, point.river_id, point.chainage_m])
    fields = ("transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l", "depth_cm")
    with (tmp_path / "samples.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["point_id", "sampled_at", *fields])
        for sample in demo_session.scalars(
            select(Sample).where(Sample.sampled_at >= start, Sample.sampled_at < end)
        ):
            values = ["" if getattr(sample, f) is None else getattr(sample, f) for f in fields]
            writer.writerow([codes[sample.point_id], sample.sampled_at.isoformat(), *values])
    grade_file(tmp_path / "samples.csv", tmp_path / "points.csv", tmp_path / "out")
    with (tmp_path / "out" / "points.csv").open() as handle:
        from_file = {
            row["point_id"]: (row["grade"], int(row["samples"])) for row in csv.DictReader(handle)
        }
    stored = {
        codes[g.point_id]: (g.grade, g.samples)
        for g in demo_session.scalars(
            select(PointGrade).where(
                PointGrade.period == "2023-01", PointGrade.superseded_at.is_(None)
            )
        )
    }
    assert from_file == stored


def test_the_baseline_is_the_black_bodies_of_december_2021(demo_session: Session) -> None:
    baseline = demo_session.scalars(select(Baseline)).one()
    assert (baseline.frozen_on, baseline.source_period) == (dt.date(2022, 1, 1), "2021-12")
    black = set(
        demo_session.scalars(
            select(WaterBodyGrade.river_id).where(
                WaterBodyGrade.period == "2021-12",
                WaterBodyGrade.superseded_at.is_(None),
                WaterBodyGrade.grade.in_(("mild", "severe")),
            )
        )
    )
    members = set(demo_session.scalars(select(BaselineMember.river_id)))
    assert members == black
    assert len(members) == 17


def test_a_baseline_is_frozen_once(demo_session: Session) -> None:
    with pytest.raises(Conflict):
        freeze_baseline(demo_session, actor=CITY, as_of=dt.date(2022, 1, 1))
    town = Actor(username="t", role=Role.town, town_id=1)
    with pytest.raises(Forbidden):
        freeze_baseline(demo_session, actor=town, as_of=dt.date(2022, 7, 1))
    later = freeze_baseline(demo_session, actor=CITY, as_of=dt.date(2022, 7, 1))
    assert later.source_period == "2022-06"
