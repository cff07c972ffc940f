"""Projects of both campaigns, batches, commitments, cadres, briefings, commendations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongjian.campaign.choices import (
    BatchKind,
    Campaign,
    CommendationKind,
    ProjectKind,
    ProjectState,
)
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
from gongjian.towns.models import Town

project_rivers = Table(
    "project_rivers",
    Base.metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("river_id", ForeignKey("rivers.id"), primary_key=True),
)

project_parcels = Table(
    "project_parcels",
    Base.metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("parcel_id", ForeignKey("parcels.id"), primary_key=True),
)

batch_projects = Table(
    "batch_projects",
    Base.metadata,
    Column("batch_id", ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
)

plan_measure_projects = Table(
    "plan_measure_projects",
    Base.metadata,
    Column("measure_id", ForeignKey("plan_measures.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
)


class Project(ImportedFrom, Timestamped, Versioned, Base):
    """A project of either campaign, delivered by a town, with the quantities it reports."""

    __tablename__ = "projects"
    __table_args__ = (
        check_in("campaign", Campaign),
        check_in("kind", ProjectKind),
        check_in("state", ProjectState),
        *check_non_negative(
            "budget_wan",
            "spend_wan",
            "sewer_km",
            "capacity_kt_d",
            "area_mu",
            "culvert_uncovered_m",
            "audit_saving_wan",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    campaign: Mapped[Campaign] = mapped_column(String(10))
    kind: Mapped[ProjectKind] = mapped_column(String(24))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    state: Mapped[ProjectState] = mapped_column(String(12), default=ProjectState.planned)
    owner: Mapped[str | None] = mapped_column(String(80), comment="responsible unit or person")
    planned_start_on: Mapped[dt.date | None]
    planned_end_on: Mapped[dt.date | None]
    actual_start_on: Mapped[dt.date | None]
    actual_end_on: Mapped[dt.date | None]
    budget_wan: Mapped[Decimal | None] = mapped_column(Money(), comment="budget, 万元")
    spend_wan: Mapped[Decimal | None] = mapped_column(Money(), comment="spent so far, 万元")
    sewer_km: Mapped[Decimal | None] = mapped_column(Exact(10, 3), comment="new sewer, km")
    capacity_kt_d: Mapped[Decimal | None] = mapped_column(
        Exact(10, 2), comment="treatment capacity, thousand tonnes per day"
    )
    area_mu: Mapped[Decimal | None] = mapped_column(Exact(14, 2), comment="land area, mu")
    culvert_uncovered_m: Mapped[Decimal | None] = mapped_column(
        Exact(10, 1), comment="culvert length uncovered, m"
    )
    audit_joined_on: Mapped[dt.date | None] = mapped_column(comment="提前介入审计: audit joined")
    audit_findings: Mapped[str | None] = mapped_column(Text)
    audit_saving_wan: Mapped[Decimal | None] = mapped_column(Money(), comment="saving found, 万元")

    town: Mapped[Town] = relationship()


class ProjectStateChange(StateChangeColumns, Base):
    """One dated transition of a project's state."""

    __tablename__ = "project_state_changes"
    __table_args__ = (
        check_in("to_state", ProjectState),
        Index("ix_project_state_changes_project_day", "project_id", "changed_on"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))


class Batch(Timestamped, Versioned, Base):
    """A concentrated start or demolition event grouping projects (集中开工/集中拆除)."""

    __tablename__ = "batches"
    __table_args__ = (check_in("kind", BatchKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[BatchKind] = mapped_column(String(24))
    held_on: Mapped[dt.date]
    projects: Mapped[list[Project]] = relationship(secondary=batch_projects)


class Commitment(ImportedFrom, Timestamped, Versioned, Base):
    """A town's annual commitment letter (承诺书) for one campaign; locked once the city
    has signed it off."""

    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("town_id", "year", "campaign"),
        check_in("campaign", Campaign),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"))
    year: Mapped[int]
    campaign: Mapped[Campaign] = mapped_column(String(10))
    signed_on: Mapped[dt.date | None] = mapped_column(comment="day the town signed")
    approved_by: Mapped[str | None] = mapped_column(String(60), comment="city user who signed off")
    approved_at: Mapped[dt.datetime | None] = mapped_column(comment="set: locked")
    targets: Mapped[list[CommitmentTarget]] = relationship(back_populates="commitment")
    town: Mapped[Town] = relationship()


class CommitmentTarget(Base):
    """One indicator target of a commitment, keyed by a KPI key of SPEC."""

    __tablename__ = "commitment_targets"
    __table_args__ = (
        UniqueConstraint("commitment_id", "indicator"),
        *check_non_negative("target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"))
    indicator: Mapped[str] = mapped_column(String(40), comment="KPI key, e.g. water.sewer_km")
    target: Mapped[Decimal] = mapped_column(Exact(14, 2), comment="in the KPI's own unit")
    commitment: Mapped[Commitment] = relationship(back_populates="targets")


class Cadre(Versioned, Base):
    """A cadre (干部) who can be sent down to a town."""

    __tablename__ = "cadres"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    employer: Mapped[str] = mapped_column(String(80), comment="home unit")
    position: Mapped[str | None] = mapped_column(String(60))


class Dispatch(Base):
    """A cadre sent down (下派) to a town for a time, in a role."""

    __tablename__ = "dispatches"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    from_on: Mapped[dt.date]
    to_on: Mapped[dt.date | None]
    role: Mapped[str] = mapped_column(String(60))


class Briefing(Timestamped, Base):
    """A briefing (通报); once published its figures are frozen with it."""

    __tablename__ = "briefings"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10))
    campaign: Mapped[str] = mapped_column(String(10), comment="renewal, water or both")
    title: Mapped[str] = mapped_column(String(200))
    figures: Mapped[dict[str, Any]] = mapped_column(comment="the figures it printed")
    published_at: Mapped[dt.datetime | None]
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("briefings.id"))


class Commendation(Base):
    """A commendation (通报表扬) of a town or an individual, with its citation."""

    __tablename__ = "commendations"
    __table_args__ = (check_in("kind", CommendationKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CommendationKind] = mapped_column(String(12))
    year: Mapped[int]
    campaign: Mapped[str] = mapped_column(String(10))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    person_name: Mapped[str | None] = mapped_column(String(40))
    citation: Mapped[str] = mapped_column(Text)
    briefing_id: Mapped[int | None] = mapped_column(ForeignKey("briefings.id"))


class ScoreAdjustment(Base):
    """A bonus or deduction the city enters in a town's score for a year and campaign,
    with its reason (praise or criticism from higher levels)."""

    __tablename__ = "score_adjustments"
    __table_args__ = (check_in("campaign", Campaign),)

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    year: Mapped[int]
    campaign: Mapped[Campaign] = mapped_column(String(10))
    points: Mapped[Decimal] = mapped_column(
        Exact(6, 2), comment="added to the score; negative for a deduction"
    )
    reason: Mapped[str] = mapped_column(String(500))
    entered_on: Mapped[dt.date] = mapped_column(comment="day it was decided (city time)")
    entered_by: Mapped[str] = mapped_column(String(60), comment="username that entered it")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
