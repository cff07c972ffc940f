"""API schemas of the renewal campaign."""

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gongjian.geo.choices import InputCrs
from gongjian.renewal.choices import (
    EnterpriseKind,
    MilestoneKind,
    Ownership,
    RenewalState,
    ReserveEntryKind,
)
from gongjian.renewal.rules import Measure, next_states
from gongjian.schemas import ReadModel, UpdateModel, VersionedRead


class ParcelRead(VersionedRead):
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


class ParkRead(VersionedRead):
    """A low-efficiency industrial park (村镇低效工业园) and its outline."""

    code: str
    name: str
    town_id: int
    area_mu: Decimal
    geometry: dict[str, Any] | None


class ParkUpdate(UpdateModel):
    """Fields of a park that may be edited."""

    name: str | None = Field(default=None, min_length=1, max_length=80)


class ParcelCreate(BaseModel):
    """A new parcel: its geometry (GeoJSON Polygon or MultiPolygon, in ``crs``) gives its
    area; without one, ``area_mu`` is required."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=30)
    town: str = Field(description="镇街名称或代码")
    name: str | None = Field(default=None, max_length=120)
    geometry: dict[str, Any] | None = None
    crs: InputCrs = InputCrs.wgs84
    area_mu: Decimal | None = Field(default=None, gt=0, decimal_places=2)
    park: str | None = Field(default=None, description="工业园编号")
    theme_park: str | None = Field(default=None, description="主题产业园编号")
    ownership: Ownership = Ownership.collective
    owner_name: str | None = Field(default=None, max_length=80)
    identified_on: dt.date | None = Field(default=None, description="低效认定日期；默认今天")


class ParcelStateChangeCreate(BaseModel):
    """Move a parcel to a next renewal state on a day (city time); 方案公示 carries the
    last day of its comment period."""

    model_config = ConfigDict(extra="forbid")

    to_state: RenewalState
    on: dt.date
    comment_until: dt.date | None = None
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = Field(
        default=None, ge=1, description="所依据的记录版本（可选）；填写时须为当前版本，否则 409"
    )


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


class ClusterRead(BaseModel):
    """A contiguous cluster of parcels (连片改造)."""

    cluster_id: str
    area_mu: Decimal
    flagged: bool
    parcels: list[str]


class ClustersRead(BaseModel):
    """The clusters of the stored parcels, largest first."""

    gap_m: float
    min_mu: Decimal
    clusters: list[ClusterRead]
    without_geometry: int = Field(description="parcels left out: no geometry recorded")


class BeforeAfterRead(BaseModel):
    """Before and after renewal, per parcel and per town."""

    parcels: list[ComparisonRead]
    towns: list[TownComparisonRead]


# --- Theme parks, enterprises, the land-reserve ledger, leases and the rent index --------
# Bodies carry types only: the services check values and name each wrong field in
# Chinese (422). Money is in 万元, areas in mu or m², rents in 元/m²/month, all exact
# decimals (strings in JSON answers).


class ThemeParkRead(VersionedRead):
    """A theme industrial park (主题产业园)."""

    code: str
    name: str
    theme: str


class ThemeParkCreate(BaseModel):
    """A new theme park (the city only)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    theme: str


class ThemeParkUpdate(UpdateModel):
    """Fields of a theme park that may be changed."""

    name: str | None = None
    theme: str | None = None


class ThemeParkSummaryRead(ReadModel):
    """A theme park's parcels (count, mu), enterprises (signed by kind, unsigned) and
    the signed enterprises' agreed investment (万元)."""

    code: str
    name: str
    theme: str
    parcels: int
    area_mu: Decimal
    attracted: int
    expansions: int
    unsigned: int
    investment_wan: Decimal


class EnterpriseRead(VersionedRead):
    """An enterprise: its town by name, its parcel and theme park by code."""

    code: str
    name: str
    kind: EnterpriseKind
    town_id: int
    town: str
    parcel: str | None
    theme_park: str | None
    industry: str | None
    agreement_signed_on: dt.date | None
    signed: bool
    investment_wan: Decimal
    actual_investment_wan: Decimal | None
    jobs: int | None


class EnterpriseCreate(BaseModel):
    """A new enterprise: in ``town`` (name or code), or on ``parcel`` (code; the town
    and the theme park follow the parcel)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    kind: EnterpriseKind
    investment_wan: Decimal
    town: str | None = None
    parcel: str | None = None
    theme_park: str | None = None
    industry: str | None = None
    agreement_signed_on: dt.date | None = None
    actual_investment_wan: Decimal | None = None
    jobs: int | None = None


class EnterpriseUpdate(UpdateModel):
    """Fields of an enterprise that may be changed; only those sent are changed
    (``parcel``, ``theme_park``, ``agreement_signed_on`` may be set to null)."""

    name: str | None = None
    kind: EnterpriseKind | None = None
    town: str | None = None
    parcel: str | None = None
    theme_park: str | None = None
    industry: str | None = None
    agreement_signed_on: dt.date | None = None
    investment_wan: Decimal | None = None
    actual_investment_wan: Decimal | None = None
    jobs: int | None = None


class ReserveEntryRead(ReadModel):
    """An entry of the land-reserve ledger."""

    id: int
    parcel: str
    town_id: int
    town: str
    kind: ReserveEntryKind
    area_mu: Decimal
    valuation_wan: Decimal
    entry_on: dt.date
    funding_source: str | None


class ReserveCreate(BaseModel):
    """Land taken into the reserve on account (挂账收储)."""

    model_config = ConfigDict(extra="forbid")

    parcel: str
    area_mu: Decimal
    valuation_wan: Decimal
    entry_on: dt.date
    funding_source: str | None = None


class ReleaseCreate(BaseModel):
    """Land released from the reserve when supplied (供地出库); its book value follows
    the area released."""

    model_config = ConfigDict(extra="forbid")

    parcel: str
    area_mu: Decimal
    entry_on: dt.date
    funding_source: str | None = None


class BalanceFigures(ReadModel):
    """Reserved, released and the balance, in mu and 万元."""

    reserved_mu: Decimal
    released_mu: Decimal
    area_mu: Decimal
    reserved_wan: Decimal
    released_wan: Decimal
    valuation_wan: Decimal


class ParcelBalanceRead(BalanceFigures):
    """One parcel's balance."""

    parcel: str
    town: str


class TownBalanceRead(BalanceFigures):
    """One town's balance (its parcels')."""

    town: str
    parcels: int


class ReserveBalanceRead(BalanceFigures):
    """The ledger's balance as of a day: the scope's total, its towns, its parcels."""

    as_of: dt.date
    scope: str
    towns: list[TownBalanceRead]
    parcels: list[ParcelBalanceRead]


class LeaseRead(VersionedRead):
    """A lease; ``parent`` is the lease it sublets from."""

    code: str
    town_id: int
    town: str
    parcel: str
    parent: str | None
    lessor: str
    lessee: str
    building: str | None
    area_m2: Decimal
    rent_yuan_m2_month: Decimal
    start_on: dt.date
    end_on: dt.date | None


class ChainLinkRead(ReadModel):
    """One lease of a chain with its markup (%) over the lease above it."""

    code: str
    lessor: str
    lessee: str
    rent_yuan_m2_month: Decimal
    markup_pct: Decimal | None


class LeaseDetailRead(LeaseRead):
    """A lease with its chain from the original lease and its subleases."""

    chain: list[ChainLinkRead]
    original: str
    original_rent: Decimal
    total_markup_pct: Decimal
    subleases: list[str]


class LeaseCreate(BaseModel):
    """A new lease on ``parcel``, or a sublease of ``parent`` (the parcel then defaults
    to the parent's)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    lessor: str
    lessee: str
    area_m2: Decimal
    rent_yuan_m2_month: Decimal
    start_on: dt.date
    end_on: dt.date | None = None
    parcel: str | None = None
    parent: str | None = None
    building: str | None = None


class LeaseUpdate(UpdateModel):
    """Fields of a lease that may be changed; ``parent`` null makes it an original."""

    parcel: str | None = None
    parent: str | None = None
    lessor: str | None = None
    lessee: str | None = None
    building: str | None = None
    area_m2: Decimal | None = None
    rent_yuan_m2_month: Decimal | None = None
    start_on: dt.date | None = None
    end_on: dt.date | None = None


class SubleaseFlagRead(ReadModel):
    """A sublease marked up over its parent (or its chain's original) beyond the limit."""

    code: str
    town: str
    parcel: str
    lessor: str
    lessee: str
    parent: str
    parent_rent: Decimal
    rent_yuan_m2_month: Decimal
    markup_pct: Decimal
    over_parent: bool
    chain: list[str]
    original: str
    original_rent: Decimal
    total_markup_pct: Decimal
    over_original: bool


class RentIndexRead(ReadModel):
    """A town's median rent in a quarter and its rise over the same quarter a year
    before."""

    town: str
    quarter: str
    leases: int
    median_rent: Decimal | None
    year_before: Decimal | None
    rise_pct: Decimal | None
    flagged: bool
