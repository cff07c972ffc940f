"""API schemas of parcels."""

from decimal import Decimal

from pydantic import Field

from gongjian.renewal.choices import Ownership, RenewalState
from gongjian.schemas import ReadModel, UpdateModel


class ParcelRead(ReadModel):
    """A parcel as listed and shown."""

    code: str
    town_id: int
    area_mu: Decimal
    output_per_mu: Decimal | None
    tax_per_mu: Decimal | None
    far_before: Decimal | None
    far_after: Decimal | None
    renewal_state: RenewalState
    ownership: Ownership
    owner_name: str | None


class ParcelUpdate(UpdateModel):
    """Fields of a parcel that may be edited directly (states change by transitions)."""

    output_per_mu: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    tax_per_mu: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    far_before: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    far_after: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    owner_name: str | None = Field(default=None, max_length=80)
