"""API schemas of projects."""

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from gongjian.campaign.choices import (
    BatchKind,
    Campaign,
    CommendationKind,
    Outlook,
    OverdueReason,
    ProjectKind,
    ProjectState,
)
from gongjian.campaign.rules import INDICATORS, rounded
from gongjian.schemas import ReadModel, UpdateModel, VersionedRead


class ProjectRead(VersionedRead):
    """A project as listed and shown."""

    code: str
    name: str
    campaign: Campaign
    kind: ProjectKind
    town_id: int
    state: ProjectState
    owner: str | None
    planned_start_on: dt.date | None
    planned_end_on: dt.date | None
    actual_start_on: dt.date | None
    actual_end_on: dt.date | None
    budget_wan: Decimal | None
    spend_wan: Decimal | None
    sewer_km: Decimal | None
    capacity_kt_d: Decimal | None
    area_mu: Decimal | None
    culvert_uncovered_m: Decimal | None = None
    audit_joined_on: dt.date | None = None
    audit_findings: str | None = None
    audit_saving_wan: Decimal | None = None


class ProjectUpdate(UpdateModel):
    """Fields of a project that may be edited directly (states change by transitions)."""

    name: str | None = Field(default=None, min_length=1, max_length=160)
    owner: str | None = Field(default=None, max_length=80)
    planned_start_on: dt.date | None = None
    planned_end_on: dt.date | None = None
    budget_wan: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=16)
    spend_wan: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=16)
    sewer_km: Decimal | None = Field(default=None, ge=0, decimal_places=3, max_digits=10)
    capacity_kt_d: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=10)
    area_mu: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    culvert_uncovered_m: Decimal | None = Field(default=None, ge=0, decimal_places=1, max_digits=10)


# --- Projects: creation, states, audit involvement, overdue (issue 5) -------------------


class ProjectCreate(BaseModel):
    """A new project: its kind decides its campaign and the quantities it reports; a water
    project may serve rivers, a renewal project lies on parcels of its town (codes)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=30)
    name: str = Field(min_length=1, max_length=160)
    kind: ProjectKind
    town: str = Field(description="镇街名称或代码")
    owner: str | None = Field(default=None, max_length=80, description="责任单位")
    planned_start_on: dt.date | None = None
    planned_end_on: dt.date | None = None
    budget_wan: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=16)
    spend_wan: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=16)
    sewer_km: Decimal | None = Field(default=None, description="污水管网项目：公里")
    capacity_kt_d: Decimal | None = Field(default=None, description="污水处理厂项目：千吨/日")
    area_mu: Decimal | None = Field(default=None, description="拆除、改造建设项目：亩")
    culvert_uncovered_m: Decimal | None = Field(default=None, description="揭盖复明项目：米")
    rivers: list[str] = Field(default_factory=list, description="服务的河涌编号（治水项目）")
    parcels: list[str] = Field(default_factory=list, description="所在地块编号（工改项目）")
    listed_on: dt.date | None = Field(default=None, description="列入计划日期；默认今天")


class ProjectStateChangeCreate(BaseModel):
    """Move a project to its next state on a day (city time)."""

    model_config = ConfigDict(extra="forbid")

    to_state: ProjectState
    on: dt.date
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = Field(
        default=None, ge=1, description="所依据的记录版本（可选）；填写时须为当前版本，否则 409"
    )


class ProjectStateChangeRead(ReadModel):
    """One dated change of a project's state."""

    from_state: ProjectState | None
    to_state: ProjectState
    changed_on: dt.date
    reason: str | None
    actor: str


class ProjectHistoryRead(BaseModel):
    """A project's state, the state it may move to, its actual dates and its history."""

    code: str
    state: ProjectState
    next_states: list[ProjectState]
    actual_start_on: dt.date | None
    actual_end_on: dt.date | None
    changes: list[ProjectStateChangeRead]


class ProjectDetailRead(ProjectRead):
    """A project as shown: its town by name, the state it may move to, its history, and
    the rivers or parcels it serves and the batches that hold it (codes)."""

    town: str
    next_states: list[ProjectState]
    changes: list[ProjectStateChangeRead]
    rivers: list[str]
    parcels: list[str]
    batches: list[str]


class AuditInvolvementUpdate(BaseModel):
    """The audit bureau's early involvement (提前介入审计); all empty clears it."""

    model_config = ConfigDict(extra="forbid")

    joined_on: dt.date | None = Field(description="审计介入日期")
    findings: str | None = Field(default=None, max_length=2000, description="审计意见")
    saving_wan: Decimal | None = Field(
        default=None, ge=0, decimal_places=2, max_digits=16, description="审计核减（万元）"
    )


class OverdueRead(BaseModel):
    """A project overdue as of a day: for its end or its start, by how many days, and
    the state it was in at the end of that day."""

    code: str
    name: str
    campaign: Campaign
    kind: ProjectKind
    town_id: int
    town: str
    state: ProjectState
    planned_start_on: dt.date | None
    planned_end_on: dt.date | None
    reason: OverdueReason
    days: int

    @classmethod
    def of(cls, row: Any) -> "OverdueRead":
        """From a ``projects.OverdueProject``."""
        return cls(
            code=row.project.code,
            name=row.project.name,
            campaign=row.project.campaign,
            kind=row.project.kind,
            town_id=row.project.town_id,
            town=row.town,
            state=row.state,
            planned_start_on=row.project.planned_start_on,
            planned_end_on=row.project.planned_end_on,
            reason=row.reason,
            days=row.days,
        )


class OverdueList(BaseModel):
    """The projects overdue as of a day, most overdue first."""

    as_of: dt.date
    total: int
    items: list[OverdueRead]


# --- Batches (集中开工 / 集中拆除) ----------------------------------------------------------


class BatchTotalsRead(BaseModel):
    """What some of a batch's projects add up to."""

    model_config = ConfigDict(from_attributes=True)

    projects: int
    investment_wan: Decimal = Field(description="总投资之和（万元）")
    area_mu: Decimal = Field(description="亩")
    sewer_km: Decimal = Field(description="公里")
    capacity_kt_d: Decimal = Field(description="千吨/日")


class BatchFiguresRead(BaseModel):
    """A batch's figures per campaign and in total."""

    renewal: BatchTotalsRead
    water: BatchTotalsRead
    total: BatchTotalsRead


class BatchRead(BaseModel):
    """A batch and its figures."""

    code: str
    name: str
    kind: BatchKind
    held_on: dt.date
    figures: BatchFiguresRead


class BatchDetailRead(BatchRead):
    """A batch, its figures and its projects."""

    projects: list[ProjectRead]


class BatchCreate(BaseModel):
    """A new batch (the city only), with the projects it holds (codes) when given."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=30)
    name: str = Field(min_length=1, max_length=120)
    kind: BatchKind
    held_on: dt.date
    projects: list[str] = Field(default_factory=list)


class BatchProjectsChange(BaseModel):
    """Projects to add to a batch (codes)."""

    model_config = ConfigDict(extra="forbid")

    projects: list[str] = Field(min_length=1)


# --- Commitments, scores, commendation and cadre dispatch (issue 5, parts 3–5) ----------


class TargetRead(BaseModel):
    """One target of a commitment: a KPI key and the cumulative figure promised for the
    year's end, in the KPI's unit."""

    indicator: str
    label: str
    unit: str
    target: Decimal


class CommitmentRead(BaseModel):
    """A commitment letter (承诺书) with its targets; ``locked`` once signed off."""

    town: str
    town_code: str
    year: int
    campaign: Campaign
    signed_on: dt.date | None
    approved_by: str | None
    approved_at: dt.datetime | None
    locked: bool
    targets: list[TargetRead]

    @classmethod
    def of(cls, commitment: Any) -> "CommitmentRead":
        """From a ``Commitment`` with its town and targets loaded."""
        ordered = sorted(
            commitment.targets,
            key=lambda t: (
                list(INDICATORS).index(t.indicator)
                if t.indicator in INDICATORS
                else len(INDICATORS)
            ),
        )
        return cls(
            town=commitment.town.name,
            town_code=commitment.town.code,
            year=commitment.year,
            campaign=commitment.campaign,
            signed_on=commitment.signed_on,
            approved_by=commitment.approved_by,
            approved_at=commitment.approved_at,
            locked=commitment.approved_at is not None,
            targets=[
                TargetRead(
                    indicator=t.indicator,
                    label=INDICATORS[t.indicator].label if t.indicator in INDICATORS else "",
                    unit=INDICATORS[t.indicator].unit if t.indicator in INDICATORS else "",
                    target=t.target,
                )
                for t in ordered
            ],
        )


class CommitmentCreate(BaseModel):
    """A new commitment: the town (name or code), year, campaign and targets (KPI key of
    the campaign → cumulative figure promised for the year's end)."""

    model_config = ConfigDict(extra="forbid")

    town: str = Field(min_length=1, description="镇街名称或代码")
    year: int = Field(ge=1990, le=2100)
    campaign: Campaign
    targets: dict[str, Decimal] = Field(min_length=1)
    signed_on: dt.date | None = None


class CommitmentTargetsUpdate(BaseModel):
    """Targets to set (KPI key → figure); ``null`` takes an indicator off."""

    model_config = ConfigDict(extra="forbid")

    targets: dict[str, Decimal | None] = Field(min_length=1)


class CommitmentSign(BaseModel):
    """The day the town signed its commitment."""

    model_config = ConfigDict(extra="forbid")

    signed_on: dt.date


class ForecastRead(ReadModel):
    """A target's progress as of a day and its year-end outlook, with the numbers that
    decided it (see docs/campaign.md)."""

    indicator: str
    start: Decimal = Field(description="figure at the end of the previous year")
    achieved: Decimal = Field(description="figure as of the day (cumulative)")
    target: Decimal
    share_pct: Decimal | None = Field(description="achieved ÷ target × 100")
    achieved_in_year: Decimal
    target_in_year: Decimal
    in_year_share_pct: Decimal | None
    elapsed_days: int
    year_days: int
    forecast_in_year: Decimal
    forecast: Decimal = Field(description="forecast cumulative figure at the year's end")
    at_risk_bound: Decimal
    outlook: Outlook
    explanation: str

    @field_validator(
        "start", "achieved", "achieved_in_year", "target_in_year", "forecast", "at_risk_bound"
    )
    @classmethod
    def _to_cents(cls, value: Decimal) -> Decimal:
        """Shown to 0.01 (the outlook was decided on the exact figures)."""
        return rounded(value)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        return INDICATORS[self.indicator].label if self.indicator in INDICATORS else ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outlook_label(self) -> str:
        return Outlook(self.outlook).label


class CommitmentProgressRead(BaseModel):
    """A commitment's progress as of a day (at most the year's last day)."""

    commitment: CommitmentRead
    as_of: dt.date
    indicators: list[ForecastRead]


class ScoreItemRead(ReadModel):
    """One line of a town's score: what, the numbers it rests on, the points."""

    item: str
    title: str
    campaign: Campaign
    basis: dict[str, Any]
    points: Decimal
    explanation: str


class TownScoreRead(BaseModel):
    """A town's place in a ranking and its score, item by item."""

    rank: int
    town: str
    town_code: str
    campaign: str = Field(description="renewal, water, or both (overall)")
    score: Decimal
    completion_pct: Decimal = Field(description="mean completion of committed indicators, %")
    overdue_projects: int
    committed: bool
    met_all: bool
    items: list[ScoreItemRead]

    @classmethod
    def of(cls, row: Any) -> "TownScoreRead":
        """From a ``scoring.TownScore``."""
        return cls(
            rank=row.rank,
            town=row.town.name,
            town_code=row.town.code,
            campaign=row.campaign,
            score=row.score,
            completion_pct=row.completion_pct,
            overdue_projects=row.overdue_projects,
            committed=row.committed,
            met_all=row.met_all,
            items=[ScoreItemRead.model_validate(item) for item in row.items],
        )


class RankingRead(BaseModel):
    """A ranking for a year, best first."""

    year: int
    campaign: str = Field(description="renewal, water, or both (overall)")
    as_of: dt.date
    rows: list[TownScoreRead]


class ScoreAdjustmentCreate(BaseModel):
    """A bonus (positive) or deduction (negative) the city enters, with its reason."""

    model_config = ConfigDict(extra="forbid")

    town: str = Field(min_length=1, description="镇街名称或代码")
    year: int = Field(ge=1990, le=2100)
    campaign: Campaign
    points: Decimal
    reason: str = Field(min_length=1, max_length=500)
    entered_on: dt.date | None = None


class ScoreAdjustmentRead(BaseModel):
    """A bonus or deduction entered by the city."""

    id: int
    town: str
    year: int
    campaign: Campaign
    points: Decimal
    reason: str
    entered_on: dt.date
    entered_by: str


class CommendationCandidateRead(BaseModel):
    """A town on the commendation list, and why."""

    town: str
    town_code: str
    campaign: str = Field(description="the ranking: renewal, water, or both (overall)")
    rank: int
    score: Decimal
    reasons: list[str] = Field(description="top (among the best N), met_all (every target)")
    citation: str


class CommendCreate(BaseModel):
    """Commend the towns of the year's commendation list (one ranking, or all)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100)
    campaign: Campaign | None = None


class NominationCreate(BaseModel):
    """An individual (a cadre, a project lead) commended with a citation."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=1990, le=2100)
    campaign: Campaign | None = Field(default=None, description="不填为两项攻坚")
    person_name: str = Field(min_length=1, max_length=40)
    town: str | None = Field(default=None, description="镇街名称或代码")
    citation: str = Field(min_length=1, max_length=2000)


class CommendationRead(BaseModel):
    """A commendation written."""

    id: int
    kind: CommendationKind
    year: int
    campaign: str
    town: str | None
    person_name: str | None
    citation: str


class CommendResult(BaseModel):
    """What ``POST /commendations`` wrote, and the towns already commended."""

    written: list[CommendationRead]
    already: list[CommendationCandidateRead]


class PressureTermRead(BaseModel):
    """One open target's part in a town's pressure."""

    indicator: str
    start: Decimal
    achieved: Decimal
    target: Decimal
    city_target_in_year: Decimal
    open_share: Decimal
    size_weight: Decimal
    pressure: Decimal


class TownDispatchRead(BaseModel):
    """How many cadres a town should get, and why."""

    town: str
    town_code: str
    cadres: int
    pressure: Decimal
    pressure_weight: Decimal
    quota: Decimal = Field(description="proportional share of the seats above the minimum")
    floor: int
    remainder: Decimal
    extra: int
    minimum: int
    maximum: int
    capped: bool
    explanation: str
    terms: list[PressureTermRead]


class DispatchRecommendationRead(BaseModel):
    """The recommended dispatch of N cadres."""

    year: int
    as_of: dt.date
    cadres: int
    minimum: int
    maximum: int
    towns: list[TownDispatchRead]


class DispatchCreate(BaseModel):
    """A cadre sent down to a town, from a day (to a day), in a role."""

    model_config = ConfigDict(extra="forbid")

    cadre: str = Field(min_length=1, description="干部编号")
    town: str = Field(min_length=1, description="镇街名称或代码")
    from_on: dt.date
    to_on: dt.date | None = None
    role: str = Field(min_length=1, max_length=60)


class DispatchRead(ReadModel):
    """A dispatch recorded."""

    id: int
    cadre: str
    cadre_name: str
    employer: str
    town: str
    town_code: str
    from_on: dt.date
    to_on: dt.date | None
    role: str
