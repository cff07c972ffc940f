"""Theme parks, parks, parcels, enterprises, leases and the land-reserve ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongjian.db import (
    Base,
    StateChangeColumns,
    Timestamped,
    Versioned,
    check_in,
    check_non_negative,
    utcnow,
)
from gongjian.db_types import Exact, Money
from gongjian.imports.models import ImportedFrom
from gongjian.renewal.choices import (
    EnterpriseKind,
    MilestoneKind,
    Ownership,
    RenewalState,
    ReserveEntryKind,
)
from gongjian.towns.models import Town


class ThemePark(Versioned, Base):
    """One of the city's modern theme industrial parks (主题产业园)."""

    __tablename__ = "theme_parks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    theme: Mapped[str] = mapped_column(String(80), comment="industry theme, e.g. 高端装备")


class Park(Timestamped, Versioned, Base):
    """A low-efficiency village or town industrial park (村镇低效工业园)."""

    __tablename__ = "parks"
    __table_args__ = (*check_non_negative("area_mu"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    area_mu: Mapped[Decimal] = mapped_column(Exact(14, 2), comment="area in mu (1 mu = 666.67 m²)")
    geometry: Mapped[dict[str, Any] | None] = mapped_column(comment="GeoJSON, EPSG:4326")


class Parcel(ImportedFrom, Timestamped, Versioned, Base):
    """A parcel (地块) of a park: its land, its performance and its renewal state."""

    __tablename__ = "parcels"
    __table_args__ = (
        check_in("renewal_state", RenewalState),
        check_in("ownership", Ownership),
        *check_non_negative("area_mu"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    theme_park_id: Mapped[int | None] = mapped_column(ForeignKey("theme_parks.id"))
    geometry: Mapped[dict[str, Any] | None] = mapped_column(comment="GeoJSON polygon, EPSG:4326")
    area_mu: Mapped[Decimal] = mapped_column(Exact(14, 2), comment="ellipsoidal area in mu")
    renewal_state: Mapped[RenewalState] = mapped_column(String(20), default=RenewalState.identified)
    plan_comment_until: Mapped[dt.date | None] = mapped_column(
        comment="last day of the published plan's comment period (公示期)"
    )
    ownership: Mapped[Ownership] = mapped_column(String(12), default=Ownership.collective)
    owner_name: Mapped[str | None] = mapped_column(String(80))

    town: Mapped[Town] = relationship()


class ParcelPerformance(Base):
    """A parcel's yearly figures (亩均论英雄): what identification and before/after use."""

    __tablename__ = "parcel_performance"
    __table_args__ = (
        UniqueConstraint("parcel_id", "year"),
        *check_non_negative("output_per_mu", "tax_per_mu", "floor_area_ratio"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"))
    year: Mapped[int]
    output_per_mu: Mapped[Decimal | None] = mapped_column(
        Exact(12, 2), comment="亩均产值, 万元 per mu in the year"
    )
    tax_per_mu: Mapped[Decimal | None] = mapped_column(
        Exact(12, 2), comment="亩均税收, 万元 per mu in the year"
    )
    floor_area_ratio: Mapped[Decimal | None] = mapped_column(
        Exact(6, 2), comment="容积率: floor area ÷ land area"
    )


class ConstructionMilestone(Base):
    """A construction step of a supplied parcel, recorded as it happens: planning
    application (规划报建), construction permit (施工许可), completion acceptance (竣工验收),
    each with the floor area it covers."""

    __tablename__ = "construction_milestones"
    __table_args__ = (check_in("kind", MilestoneKind), *check_non_negative("area_m2"))

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    kind: Mapped[MilestoneKind] = mapped_column(String(30))
    area_m2: Mapped[Decimal] = mapped_column(Exact(12, 2), comment="floor area covered, m²")
    happened_on: Mapped[dt.date]
    actor: Mapped[str] = mapped_column(String(60), comment="username that recorded it")
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ParcelStateChange(StateChangeColumns, Base):
    """One dated transition of a parcel's renewal state."""

    __tablename__ = "parcel_state_changes"
    __table_args__ = (
        check_in("to_state", RenewalState),
        Index("ix_parcel_state_changes_parcel_day", "parcel_id", "changed_on"),
    )

    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"))


class Enterprise(ImportedFrom, Timestamped, Versioned, Base):
    """An enterprise newly attracted (新招引) or expanding (增资扩产) on renewed land.

    It counts in the renewal KPIs from the day its agreement is signed.
    """

    __tablename__ = "enterprises"
    __table_args__ = (
        check_in("kind", EnterpriseKind),
        *check_non_negative("investment_wan", "actual_investment_wan", "jobs"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[EnterpriseKind] = mapped_column(String(12))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"))
    theme_park_id: Mapped[int | None] = mapped_column(ForeignKey("theme_parks.id"))
    industry: Mapped[str | None] = mapped_column(String(60))
    agreement_signed_on: Mapped[dt.date | None] = mapped_column(comment="None: not yet signed")
    investment_wan: Mapped[Decimal] = mapped_column(Money(), comment="agreed investment, 万元")
    actual_investment_wan: Mapped[Decimal | None] = mapped_column(
        Money(), comment="investment made so far, 万元"
    )
    jobs: Mapped[int | None]


class Lease(ImportedFrom, Timestamped, Versioned, Base):
    """A lease of land or building space; a sublease names its parent lease (二房东)."""

    __tablename__ = "leases"
    __table_args__ = (
        *check_non_negative("area_m2", "rent_yuan_m2_month"),
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="ends_after_start"),
        CheckConstraint("parent_lease_id IS NULL OR parent_lease_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    parent_lease_id: Mapped[int | None] = mapped_column(ForeignKey("leases.id"))
    lessor: Mapped[str] = mapped_column(String(120))
    lessee: Mapped[str] = mapped_column(String(120))
    building: Mapped[str | None] = mapped_column(String(80))
    area_m2: Mapped[Decimal] = mapped_column(Exact(12, 2), comment="leased floor area, m²")
    rent_yuan_m2_month: Mapped[Decimal] = mapped_column(Exact(10, 2), comment="元 per m² per month")
    start_on: Mapped[dt.date]
    end_on: Mapped[dt.date | None]


class ReserveEntry(Versioned, Base):
    """An entry of the land-reserve ledger: land reserved on account (挂账收储) or a
    release when the land is supplied."""

    __tablename__ = "reserve_entries"
    __table_args__ = (
        check_in("kind", ReserveEntryKind),
        *check_non_negative("area_mu", "valuation_wan"),
        Index(
            "uq_reserve_entries_reserved_once",
            "parcel_id",
            unique=True,
            sqlite_where=text("kind = 'reserve_on_account'"),
            postgresql_where=text("kind = 'reserve_on_account'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    kind: Mapped[ReserveEntryKind] = mapped_column(String(20))
    area_mu: Mapped[Decimal] = mapped_column(Exact(14, 2))
    valuation_wan: Mapped[Decimal] = mapped_column(Money(), comment="valuation, 万元")
    entry_on: Mapped[dt.date]
    funding_source: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
