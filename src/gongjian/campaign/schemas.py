"""API schemas of projects."""

import datetime as dt
from decimal import Decimal

from pydantic import Field

from gongjian.campaign.choices import Campaign, ProjectKind, ProjectState
from gongjian.schemas import ReadModel, UpdateModel


class ProjectRead(ReadModel):
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
