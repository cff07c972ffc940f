"""Routes of the renewal campaign: parcels and their states, construction, yearly
figures, identification, before and after."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from gongjian.renewal import services
from gongjian.renewal.rules import Figures
from gongjian.renewal.schemas import (
    BeforeAfterRead,
    CandidateRead,
    ComparisonRead,
    FindingRead,
    IdentificationRead,
    MilestoneCreate,
    MilestoneRead,
    ParcelHistoryRead,
    ParcelRead,
    ParcelStateChangeCreate,
    ParcelStateChangeRead,
    ParcelUpdate,
    PerformanceCreate,
    PerformanceRead,
    TownComparisonRead,
)
from gongjian.towns.services import find_town
from gongjian.web.deps import ActorDep, SessionDep
from gongjian.web.records_api import record_routes

router = APIRouter(tags=["renewal"])
record_routes(router, services.PARCELS, "/parcels", ParcelRead, ParcelUpdate)

TownQuery = Annotated[str | None, Query(description="镇街名称或代码；不填为全市")]
Year = Annotated[int, Path(ge=1990, le=2100, description="年度")]


def _figures(figures: Figures | None) -> PerformanceCreate | None:
    if figures is None:
        return None
    return PerformanceCreate(
        output_per_mu=figures.output_per_mu,
        tax_per_mu=figures.tax_per_mu,
        floor_area_ratio=figures.floor_area_ratio,
    )


@router.get("/parcels/{code}/history", response_model=ParcelHistoryRead)
def parcel_history(code: str, session: SessionDep, actor: ActorDep) -> ParcelHistoryRead:
    """A parcel's renewal state, the states it may move to, every change and its
    construction milestones."""
    found = services.parcel_history(session, actor=actor, parcel_code=code)
    return ParcelHistoryRead(
        code=found.parcel.code,
        renewal_state=found.parcel.renewal_state,
        next_states=list(found.allowed_next),
        plan_comment_until=found.parcel.plan_comment_until,
        changes=[ParcelStateChangeRead.model_validate(c) for c in found.changes],
        milestones=[MilestoneRead.model_validate(m) for m in found.milestones],
    )


@router.post("/parcels/{code}/state", response_model=ParcelStateChangeRead, status_code=201)
def change_state(
    code: str, body: ParcelStateChangeCreate, session: SessionDep, actor: ActorDep
) -> ParcelStateChangeRead:
    """Move a parcel to a next renewal state (409 naming the allowed next states)."""
    change = services.change_state(session, actor=actor, parcel_code=code, **body.model_dump())
    return ParcelStateChangeRead.model_validate(change)


@router.post("/parcels/{code}/milestones", response_model=MilestoneRead, status_code=201)
def record_milestone(
    code: str, body: MilestoneCreate, session: SessionDep, actor: ActorDep
) -> MilestoneRead:
    """Record a construction step (规划报建, 施工许可, 竣工验收) with its floor area in m²."""
    milestone = services.record_milestone(
        session, actor=actor, parcel_code=code, **body.model_dump()
    )
    return MilestoneRead.model_validate(milestone)


@router.put("/parcels/{code}/performance/{year}", response_model=PerformanceRead)
def set_performance(
    code: str, year: Year, body: PerformanceCreate, session: SessionDep, actor: ActorDep
) -> PerformanceRead:
    """Record or correct a parcel's figures of a year (万元/亩; floor-area ratio)."""
    row = services.set_performance(
        session, actor=actor, parcel_code=code, year=year, figures=Figures(**body.model_dump())
    )
    return PerformanceRead.model_validate(row)


@router.get("/renewal/identification/{year}", response_model=IdentificationRead)
def identification(
    year: Year, session: SessionDep, actor: ActorDep, town: TownQuery = None
) -> IdentificationRead:
    """The year's low-efficiency list (低效认定) and the measure that put each parcel on it."""
    town_id = find_town(session, town).id if town else None
    bounds, candidates = services.identify(session, actor=actor, year=year, town_id=town_id)
    return IdentificationRead(
        year=year,
        bounds=_figures(bounds),  # type: ignore[arg-type]
        candidates=[
            CandidateRead(
                code=c.parcel.code,
                name=c.parcel.name,
                town=c.town.name,
                area_mu=c.parcel.area_mu,
                renewal_state=c.parcel.renewal_state,
                figures=_figures(c.figures),  # type: ignore[arg-type]
                findings=[
                    FindingRead(measure=f.measure, value=f.value, bound=f.bound) for f in c.findings
                ],
                explanation=c.explanation,
            )
            for c in candidates
        ],
    )


@router.get("/renewal/before-after", response_model=BeforeAfterRead)
def before_after(session: SessionDep, actor: ActorDep, town: TownQuery = None) -> BeforeAfterRead:
    """Per-mu output, tax and floor-area ratio before and after renewal, per parcel and
    per town (land-weighted over the parcels known both before and after)."""
    town_id = find_town(session, town).id if town else None
    parcels, towns = services.before_after(session, actor=actor, town_id=town_id)
    return BeforeAfterRead(
        parcels=[
            ComparisonRead(
                code=c.parcel.code,
                town_id=c.parcel.town_id,
                before_year=c.before_year,
                before=_figures(c.before),
                after_year=c.after_year,
                after=_figures(c.after),
            )
            for c in parcels
        ],
        towns=[
            TownComparisonRead(
                town=t.town.name,
                parcels=t.parcels,
                area_mu=t.area_mu,
                before=PerformanceCreate(**{n: t.mean("before", n) for n in MEASURES}),
                after=PerformanceCreate(**{n: t.mean("after", n) for n in MEASURES}),
            )
            for t in towns
        ],
    )


MEASURES = ("output_per_mu", "tax_per_mu", "floor_area_ratio")
