"""API schemas of rivers and complaints."""

import datetime as dt
from decimal import Decimal

from pydantic import Field

from gongjian.schemas import ReadModel, UpdateModel
from gongjian.water.choices import ComplaintCategory, RemediationState


class RiverRead(ReadModel):
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
    published: bool | None = None


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
