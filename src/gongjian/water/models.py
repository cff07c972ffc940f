"""Rivers, their reaches and culverts, monitoring points, samples, grades, the baseline,
river plans and complaints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongjian.db import (
    Base,
    StateChangeColumns,
    Timestamped,
    Versioned,
    check_in,
    check_non_negative,
    check_range,
    checked_per_statement,
    utcnow,
)
from gongjian.db_types import Exact
from gongjian.imports.models import ImportedFrom
from gongjian.towns.models import Town
from gongjian.water.choices import (
    ComplaintCategory,
    Grade,
    MeasureKind,
    MeasureState,
    RemediationState,
)


class River(ImportedFrom, Timestamped, Versioned, Base):
    """A river or creek (河涌), a water body in grading terms.

    It runs through one or more towns (its reaches); its lead town (牵头镇街) answers
    for it in town figures.
    """

    __tablename__ = "rivers"
    __table_args__ = (
        check_in("remediation_state", RemediationState),
        *check_non_negative("length_m"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    lead_town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    length_m: Mapped[Decimal] = mapped_column(Exact(12, 1), comment="length along the channel, m")
    geometry: Mapped[dict[str, Any] | None] = mapped_column(
        comment="centre line as a GeoJSON LineString, EPSG:4326"
    )
    remediation_state: Mapped[RemediationState] = mapped_column(
        String(20), default=RemediationState.listed
    )
    relapsed: Mapped[bool] = mapped_column(
        default=False, comment="turned black again after evaluation (返黑返臭)"
    )
    published: Mapped[bool] = mapped_column(default=False, comment="shown on the public portal")

    lead_town: Mapped[Town] = relationship()
    reaches: Mapped[list[RiverReach]] = relationship(back_populates="river")


class RiverReach(Base):
    """The stretch of a river inside one town, with its river chief (河长)."""

    __tablename__ = "river_reaches"
    __table_args__ = (
        UniqueConstraint("river_id", "town_id"),
        *check_non_negative("start_chainage_m"),
        CheckConstraint("end_chainage_m > start_chainage_m", name="reach_forward"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id", ondelete="CASCADE"))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    river_chief: Mapped[str] = mapped_column(String(40), comment="河长 of this reach")
    start_chainage_m: Mapped[Decimal] = mapped_column(Exact(12, 1))
    end_chainage_m: Mapped[Decimal] = mapped_column(Exact(12, 1))

    river: Mapped[River] = relationship(back_populates="reaches")


class Culvert(Base):
    """A covered reach (暗渠); ``uncovered_on`` once it has been uncovered (揭盖复明)."""

    __tablename__ = "culverts"
    __table_args__ = (
        *check_non_negative("start_chainage_m"),
        CheckConstraint("end_chainage_m > start_chainage_m", name="culvert_forward"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id", ondelete="CASCADE"), index=True)
    start_chainage_m: Mapped[Decimal] = mapped_column(Exact(12, 1))
    end_chainage_m: Mapped[Decimal] = mapped_column(Exact(12, 1))
    uncovered_on: Mapped[dt.date | None]


class RiverStateChange(StateChangeColumns, Base):
    """One dated transition of a river's remediation state."""

    __tablename__ = "river_state_changes"
    __table_args__ = (
        check_in("to_state", RemediationState),
        Index("ix_river_state_changes_river_day", "river_id", "changed_on"),
    )

    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id", ondelete="CASCADE"))
    is_relapse: Mapped[bool] = mapped_column(default=False)


class MonitoringPoint(ImportedFrom, Versioned, Base):
    """A sampling point (检测点) on a river, ``chainage_m`` from its upstream end."""

    __tablename__ = "monitoring_points"
    __table_args__ = (*check_non_negative("chainage_m"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, comment="point_id in files")
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(80))
    chainage_m: Mapped[Decimal] = mapped_column(Exact(12, 1), comment="m from the upstream end")
    lon: Mapped[Decimal | None] = mapped_column(Exact(10, 6), comment="longitude, EPSG:4326")
    lat: Mapped[Decimal | None] = mapped_column(Exact(10, 6), comment="latitude, EPSG:4326")


DO_MG_L = Exact(8, 3)
ORP_MV = Exact(8, 2)


class Sample(Base):
    """One sampling (监测数据) of the four indicators at a point, known by the point and
    the instant; a missing value is an indicator not measured. Samples are never changed
    or removed once stored."""

    __tablename__ = "samples"
    __table_args__ = (
        checked_per_statement(ForeignKeyConstraint(["point_id"], ["monitoring_points.id"])),
        checked_per_statement(ForeignKeyConstraint(["import_id"], ["imports.id"])),
        *check_non_negative("transparency_cm", "do_mg_l", "nh3n_mg_l", "depth_cm"),
        check_range("do_mg_l", DO_MG_L, high="50"),
        check_range("orp_mv", ORP_MV, low="-1000", high="1000"),
        CheckConstraint(
            "transparency_cm IS NOT NULL OR do_mg_l IS NOT NULL OR orp_mv IS NOT NULL"
            " OR nh3n_mg_l IS NOT NULL",
            name="measures_something",
        ),
    )

    point_id: Mapped[int] = mapped_column(primary_key=True)
    sampled_at: Mapped[dt.datetime] = mapped_column(primary_key=True)
    transparency_cm: Mapped[Decimal | None] = mapped_column(Exact(8, 2), comment="cm")
    do_mg_l: Mapped[Decimal | None] = mapped_column(DO_MG_L, comment="dissolved oxygen, mg/L")
    orp_mv: Mapped[Decimal | None] = mapped_column(ORP_MV, comment="redox potential, mV")
    nh3n_mg_l: Mapped[Decimal | None] = mapped_column(Exact(8, 3), comment="ammonia N, mg/L")
    depth_cm: Mapped[Decimal | None] = mapped_column(Exact(8, 2), comment="water depth, cm")
    import_id: Mapped[int | None] = mapped_column(comment="the import that brought it")


class Baseline(Base):
    """The frozen list (央督基线) of black-odorous water bodies at a date; immutable."""

    __tablename__ = "baselines"

    id: Mapped[int] = mapped_column(primary_key=True)
    frozen_on: Mapped[dt.date] = mapped_column(unique=True, comment="the inspection date")
    source_period: Mapped[str] = mapped_column(String(10), comment="period whose grades made it")
    frozen_at: Mapped[dt.datetime]
    frozen_by: Mapped[str] = mapped_column(String(60))
    members: Mapped[list[BaselineMember]] = relationship(back_populates="baseline")


class BaselineMember(Base):
    """A water body on a baseline list, with the grade that put it there."""

    __tablename__ = "baseline_members"
    __table_args__ = (check_in("grade", Grade),)

    baseline_id: Mapped[int] = mapped_column(
        ForeignKey("baselines.id", ondelete="CASCADE"), primary_key=True
    )
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), primary_key=True)
    grade: Mapped[Grade] = mapped_column(String(12))
    baseline: Mapped[Baseline] = relationship(back_populates="members")


class Assessment(Base):
    """One grading of one period (``gongjian assess``): which samples it saw, the rules
    it used and the sampling-rule warnings it found. A later assessment of the same
    period, made because samples arrived late or the rules changed, supersedes it."""

    __tablename__ = "assessments"
    __table_args__ = (
        *check_non_negative("samples"),
        Index("ix_assessments_period", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10), comment="2023-01 or 2023-W05")
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    samples: Mapped[int] = mapped_column(comment="samples of the period it graded")
    rules_hash: Mapped[str] = mapped_column(String(64))
    warnings: Mapped[dict[str, Any]] = mapped_column(
        comment='{"warnings": [{"river": code, "rule": ..., "message": ...}]}'
    )
    assessed_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(60))
    superseded_at: Mapped[dt.datetime | None]


class RiverSurvey(Base):
    """A public satisfaction survey (公众满意度调查) of a river, for its effect evaluation."""

    __tablename__ = "river_surveys"
    __table_args__ = (
        *check_non_negative("satisfied"),
        CheckConstraint("satisfied <= valid_questionnaires", name="satisfied_within_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), index=True)
    surveyed_on: Mapped[dt.date]
    valid_questionnaires: Mapped[int]
    satisfied: Mapped[int]
    recorded_by: Mapped[str] = mapped_column(String(60))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GradeColumns:
    """What every stored grade records: its period, its evidence and the rules used."""

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    period: Mapped[str] = mapped_column(String(10), comment="2023-01 or 2023-W05")
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date] = mapped_column(comment="last day of the period")
    grade: Mapped[Grade] = mapped_column(String(12))
    evidence: Mapped[dict[str, Any]] = mapped_column(
        comment="per-indicator counts and shares and the rule that decided"
    )
    decided_by: Mapped[str] = mapped_column(Text, comment="the evidence in words")
    rules_hash: Mapped[str] = mapped_column(String(64), comment="hash of the rules file used")
    assessed_at: Mapped[dt.datetime]
    superseded_at: Mapped[dt.datetime | None] = mapped_column(
        comment="set when a later assessment of the same period replaced this grade"
    )


class PointGrade(GradeColumns, Base):
    """A monitoring point's grade for one period."""

    __tablename__ = "point_grades"
    __table_args__ = (
        check_in("grade", Grade),
        *check_non_negative("samples"),
        Index("ix_point_grades_point_period", "point_id", "period"),
    )

    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id"))
    samples: Mapped[int]


class WaterBodyGrade(GradeColumns, Base):
    """A river's grade for one period, with its severe segments."""

    __tablename__ = "water_body_grades"
    __table_args__ = (
        check_in("grade", Grade),
        *check_non_negative("points_graded", "points_severe"),
        Index("ix_water_body_grades_river_period", "river_id", "period"),
    )

    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"))
    points_graded: Mapped[int]
    points_severe: Mapped[int]
    severe_segments: Mapped[dict[str, Any]] = mapped_column(
        comment='{"segments": [[start_m, end_m], ...]} along the chainage'
    )


class RiverPlan(Timestamped, Versioned, Base):
    """One river, one plan (一河一策)."""

    __tablename__ = "river_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    approved_on: Mapped[dt.date | None]
    measures: Mapped[list[PlanMeasure]] = relationship(back_populates="plan")


class PlanMeasure(Timestamped, Versioned, Base):
    """A measure of a river plan, with its owner and deadline."""

    __tablename__ = "plan_measures"
    __table_args__ = (check_in("kind", MeasureKind), check_in("state", MeasureState))

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("river_plans.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[MeasureKind] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(80), comment="unit or person answerable")
    deadline: Mapped[dt.date]
    state: Mapped[MeasureState] = mapped_column(String(12), default=MeasureState.planned)
    done_on: Mapped[dt.date | None]
    plan: Mapped[RiverPlan] = relationship(back_populates="measures")


class Complaint(Timestamped, Base):
    """A complaint from the public (群众投诉) about a river.

    ``complainant_name`` and ``complainant_phone`` are personal data: only the city and
    the town the complaint concerns may read them.
    """

    __tablename__ = "complaints"
    __table_args__ = (
        check_in("category", ComplaintCategory),
        CheckConstraint("closed_at IS NULL OR closed_at >= received_at", name="closed_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(24), unique=True, comment="citizen's receipt")
    river_id: Mapped[int] = mapped_column(ForeignKey("rivers.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    point_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_points.id"))
    category: Mapped[ComplaintCategory] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[Decimal | None] = mapped_column(Exact(10, 6))
    lat: Mapped[Decimal | None] = mapped_column(Exact(10, 6))
    received_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    complainant_name: Mapped[str | None] = mapped_column(String(40), comment="personal data")
    complainant_phone: Mapped[str | None] = mapped_column(String(20), comment="personal data")
