"""API schemas of rivers and complaints."""

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gongjian.schemas import ReadModel, UpdateModel, VersionedRead
from gongjian.water.choices import (
    ComplaintCategory,
    Grade,
    MeasureKind,
    MeasureState,
    RemediationState,
)


class RiverRead(VersionedRead):
    """A river as listed and shown."""

    code: str
    name: str
    lead_town_id: int
    length_m: Decimal
    remediation_state: RemediationState
    relapsed: bool
    published: bool


class RiverUpdate(UpdateModel):
    """Fields of a river that may be edited directly (states change by transitions)."""

    name: str | None = Field(default=None, min_length=1, max_length=80)
    length_m: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=1)


class RiverPublish(BaseModel):
    """Whether the river is shown on the public portal (the city's decision)."""

    published: bool


class ComplaintRead(ReadModel):
    """A complaint; the complainant's personal data only for those who may see it."""

    receipt_no: str
    river_id: int
    town_id: int
    category: ComplaintCategory
    description: str
    received_at: dt.datetime
    closed_at: dt.datetime | None
    complainant_name: str | None = None
    complainant_phone: str | None = None


class ComplaintContact(ReadModel):
    """The personal data of a complaint (city and the town concerned only)."""

    receipt_no: str
    complainant_name: str | None
    complainant_phone: str | None


class ComplaintCreate(BaseModel):
    """A complaint taken by the city or a town (a hotline call, a letter, a visit); the
    public's come through the portal."""

    model_config = ConfigDict(extra="forbid")

    river: str = Field(description="河涌编号", examples=["HY-001"])
    category: ComplaintCategory = Field(description="投诉类别")
    description: str = Field(description="问题描述")
    received_at: AwareDatetime | None = Field(
        default=None, description="受理时间（须带时区，如 2023-02-01T10:00:00+08:00）；不填为现在"
    )
    complainant_name: str | None = Field(default=None, description="投诉人姓名（个人信息）")
    complainant_phone: str | None = Field(default=None, description="投诉人电话（个人信息）")


class ComplaintClose(BaseModel):
    """Mark a complaint handled (办结)."""

    model_config = ConfigDict(extra="forbid")

    closed_at: AwareDatetime | None = Field(
        default=None, description="办结时间（须带时区，如 2023-02-01T10:00:00+08:00）；不填为现在"
    )
    note: str | None = Field(default=None, max_length=500, description="办结说明（记入审计日志）")


class RiverStateChangeRead(ReadModel):
    """One dated change of a river's remediation state, as its history shows it."""

    id: int
    from_state: RemediationState | None
    to_state: RemediationState
    changed_on: dt.date
    reason: str | None
    is_correction: bool
    is_relapse: bool
    actor: str
    recorded_at: dt.datetime


class RiverHistoryRead(ReadModel):
    """A river's remediation state and every change of it, oldest first."""

    code: str
    name: str
    lead_town_id: int
    remediation_state: RemediationState
    relapsed: bool
    changes: list[RiverStateChangeRead]


class RiverStateChangeCreate(BaseModel):
    """Move a river one state forward on a day (city time)."""

    model_config = ConfigDict(extra="forbid")

    to_state: RemediationState
    on: dt.date
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = Field(
        default=None, ge=1, description="所依据的记录版本（可选）；填写时须为当前版本，否则 409"
    )


class RiverStateCorrection(BaseModel):
    """Correct a river's mistaken state (city only); the reason is required."""

    model_config = ConfigDict(extra="forbid")

    to_state: RemediationState
    on: dt.date
    reason: str = Field(min_length=1, max_length=500)
    version: int | None = Field(
        default=None, ge=1, description="所依据的记录版本（可选）；填写时须为当前版本，否则 409"
    )


class RiverSurveyCreate(BaseModel):
    """A public satisfaction survey of a river: questionnaires (份) valid and satisfied."""

    model_config = ConfigDict(extra="forbid")

    surveyed_on: dt.date
    valid_questionnaires: int = Field(ge=1)
    satisfied: int = Field(ge=0)


class RiverSurveyRead(ReadModel):
    """A recorded satisfaction survey."""

    id: int
    river_id: int
    surveyed_on: dt.date
    valid_questionnaires: int
    satisfied: int
    recorded_by: str


class PlanMeasureRead(VersionedRead):
    """A measure of a river plan as of a day, flagged when overdue."""

    id: int
    kind: MeasureKind
    description: str
    owner: str
    deadline: dt.date
    state: MeasureState
    done_on: dt.date | None
    overdue: bool
    projects: list[str] = Field(description="codes of the linked projects")


class RiverPlanRead(ReadModel):
    """One river, one plan (一河一策), its measures as of ``as_of``."""

    river_code: str
    river_name: str
    title: str
    approved_on: dt.date | None
    as_of: dt.date
    overdue: int = Field(description="measures overdue as of as_of")
    measures: list[PlanMeasureRead]


class OverdueMeasureRead(ReadModel):
    """A measure past its deadline and not done, with its river and lead town."""

    id: int
    river_code: str
    river_name: str
    town: str
    kind: MeasureKind
    description: str
    owner: str
    deadline: dt.date
    state: MeasureState
    days_overdue: int


class PlanMeasureUpdate(UpdateModel):
    """A measure's progress: its state and, once done, the day it was done."""

    state: MeasureState | None = None
    done_on: dt.date | None = None


class PriorityTermRead(ReadModel):
    """One term of a priority score: ``points = raw × weight``."""

    name: str
    label: str
    raw: Decimal
    weight: Decimal
    points: Decimal


class RiverPriorityRead(ReadModel):
    """A river's priority (先急后缓) with the terms that make its score."""

    rank: int
    river_code: str
    river_name: str
    town: str
    remediation_state: RemediationState
    grade: Grade | None
    grade_period: str | None
    score: Decimal
    terms: list[PriorityTermRead]


class ComplaintCountRead(ReadModel):
    """How many complaints a river received in a period."""

    river_code: str
    river_name: str
    town: str
    complaints: int


class AssessmentRequest(BaseModel):
    """Periods to grade: one ``period``, or ``from_period``..``to_period``; neither grades
    every month with samples. Unchanged periods are skipped unless ``force``."""

    period: str | None = Field(default=None, examples=["2023-01"])
    from_period: str | None = Field(default=None, examples=["2022-01"])
    to_period: str | None = Field(default=None, examples=["2023-01"])
    force: bool = False


class AssessmentResultRead(BaseModel):
    """What grading one period did."""

    period: str
    status: str
    samples: int
    points: dict[str, int]
    water_bodies: dict[str, int]
    warnings: int
    assessment_id: int | None
    relapsed: list[str]


class AssessmentRead(ReadModel):
    """One grading of one period, with the sampling-rule warnings it found."""

    id: int
    period: str
    period_start: dt.date
    period_end: dt.date
    samples: int
    rules_hash: str
    warnings: dict[str, Any]
    assessed_at: dt.datetime
    actor: str
    superseded_at: dt.datetime | None


class PointGradeRead(BaseModel):
    """A point's grade, its evidence and the sentence that explains it."""

    point_id: str
    grade: Grade
    samples: int
    evidence: dict[str, Any]
    decided_by: str


class RiverGradeRead(BaseModel):
    """A river's grade for a period, its severe segments, and its points' grades."""

    river: str
    period: str
    grade: Grade
    points_graded: int
    points_severe: int
    severe_segments: list[list[float]]
    decided_by: str
    rules_hash: str
    assessed_at: dt.datetime
    points: list[PointGradeRead]


class BaselineCreate(BaseModel):
    """Freeze the baseline of ``as_of`` from the latest month graded by then (or
    ``period``)."""

    as_of: dt.date
    period: str | None = None


class BaselineRead(BaseModel):
    """A frozen baseline and its water bodies."""

    frozen_on: dt.date
    source_period: str
    frozen_at: dt.datetime
    frozen_by: str
    rivers: list[str]
