"""API schema of the headline KPIs: the nine dotted keys of SPEC."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class KpiValues(BaseModel):
    """The flat KPI object, keys spelled as in SPEC (dotted)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    cleared_mu: float = Field(alias="renewal.cleared_mu", description="亩")
    attracted: int = Field(alias="renewal.attracted", description="家")
    expansions: int = Field(alias="renewal.expansions", description="家")
    investment_yi: float = Field(alias="renewal.investment_yi", description="亿元")
    rivers_entered: int = Field(alias="water.rivers_entered", description="条")
    rivers_completed: int = Field(alias="water.rivers_completed", description="条")
    sewer_km: float = Field(alias="water.sewer_km", description="公里")
    wwtp_started: int = Field(alias="water.wwtp_started", description="座")
    black_odor_reduction_pct: float | None = Field(
        alias="water.black_odor_reduction_pct", description="%; null without a baseline"
    )


class KpiRead(BaseModel):
    """The KPIs of a scope (``city`` or a town's name) as of a date."""

    scope: str
    as_of: dt.date
    kpi: KpiValues
