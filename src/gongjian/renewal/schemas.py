"""API schemas of the renewal campaign."""

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gongjian.renewal.choices import MilestoneKind, Ownership, RenewalState
from gongjian.renewal.rules import Measure, next_states
from gongjian.schemas import ReadModel, UpdateModel


class ParcelRead(ReadModel):
    """A parcel as listed and shown, with the states it may move to next."""

    code: str
    name: str | None
    town_id: int
    park_id: int | None
    theme_park_id: int | None
    area_mu: Decimal
    renewal_state: RenewalState
    plan_comment_until: dt.date | None
    ownership: Ownership
    owner_name: str | None
    geometry: dict[str, Any] | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def renewal_state_label(self) -> str:
        return RenewalState(self.renewal_state).label

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_states(self) -> list[RenewalState]:
        return list(next_states(RenewalState(self.renewal_state)))


class ParcelUpdate(UpdateModel):
    """Fields of a parcel that may be edited directly (states change by transitions,
    the land by re-drawing it)."""

    name: str | None = Field(default=None, max_length=120)
    owner_name: str | None = Field(default=None, max_length=80)
    ownership: Ownership | None = None
    theme_park_id: int | None = None


class ParcelStateChangeCreate(BaseModel):
    """Move a parcel to a next renewal state on a day (city time); 方案公示 carries the
    last day of its comment period."""

    model_config = ConfigDict(extra="forbid")

    to_state: RenewalState
    on: dt.date
    comment_until: dt.date | None = None
    reason: str | None = Field(default=None, max_length=500)


class ParcelStateChangeRead(ReadModel):
    """One dated change of a parcel's renewal state."""

    from_state: RenewalState | None
    to_state: RenewalState
    changed_on: dt.date
    reason: str | None
    actor: str


class MilestoneCreate(BaseModel):
    """A construction step of a supplied parcel and the floor area it covers."""

    model_config = ConfigDict(extra="forbid")

    kind: MilestoneKind
    area_m2: Decimal = Field(gt=0, decimal_places=2)
    on: dt.date


class MilestoneRead(ReadModel):
    """A recorded construction step."""

    kind: MilestoneKind
    area_m2: Decimal
    happened_on: dt.date
    actor: str


class ParcelHistoryRead(BaseModel):
    """A parcel's state, the states it may move to, its history and construction."""

    code: str
    renewal_state: RenewalState
    next_states: list[RenewalState]
    plan_comment_until: dt.date | None
    changes: list[ParcelStateChangeRead]
    milestones: list[MilestoneRead]


class PerformanceCreate(BaseModel):
    """A parcel's figures of one year: 万元 per mu, and the floor-area ratio."""

    model_config = ConfigDict(extra="forbid")

    output_per_mu: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    tax_per_mu: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    floor_area_ratio: Decimal | None = Field(default=None, ge=0, decimal_places=2)


class PerformanceRead(PerformanceCreate):
    """A parcel's figures of one year."""

    model_config = ConfigDict(from_attributes=True)

    year: int


class FindingRead(BaseModel):
    """A measure under its bound."""

    measure: Measure
    value: Decimal
    bound: Decimal


class CandidateRead(BaseModel):
    """A parcel on a year's low-efficiency list, and why."""

    code: str
    name: str | None
    town: str
    area_mu: Decimal
    renewal_state: RenewalState
    figures: PerformanceCreate
    findings: list[FindingRead]
    explanation: str


class IdentificationRead(BaseModel):
    """A year's low-efficiency list with the bounds that made it."""

    year: int
    bounds: PerformanceCreate
    candidates: list[CandidateRead]


class ComparisonRead(BaseModel):
    """A parcel's figures before and after renewal."""

    code: str
    town_id: int
    before_year: int | None
    before: PerformanceCreate | None
    after_year: int | None
    after: PerformanceCreate | None


class TownComparisonRead(BaseModel):
    """A town's land-weighted figures before and after, over the parcels known both."""

    town: str
    parcels: int
    area_mu: Decimal
    before: PerformanceCreate
    after: PerformanceCreate


class BeforeAfterRead(BaseModel):
    """Before and after renewal, per parcel and per town."""

    parcels: list[ComparisonRead]
    towns: list[TownComparisonRead]
