"""Routes of the renewal campaign: parcels and their states, construction, yearly
figures, identification, before and after."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gongjian.config import get_settings
from gongjian.periods import parse_as_of
from gongjian.renewal import enterprises, leases, reserve, services
from gongjian.renewal.choices import EnterpriseKind, ReserveEntryKind
from gongjian.renewal.rent_rules import parse_quarter
from gongjian.renewal.rules import Figures
from gongjian.renewal.schemas import (
    BeforeAfterRead,
    CandidateRead,
    ClusterRead,
    ClustersRead,
    ComparisonRead,
    EnterpriseCreate,
    EnterpriseRead,
    EnterpriseUpdate,
    FindingRead,
    IdentificationRead,
    LeaseCreate,
    LeaseDetailRead,
    LeaseRead,
    LeaseUpdate,
    MilestoneCreate,
    MilestoneRead,
    ParcelCreate,
    ParcelHistoryRead,
    ParcelRead,
    ParcelStateChangeCreate,
    ParcelStateChangeRead,
    ParcelUpdate,
    ParkRead,
    ParkUpdate,
    PerformanceCreate,
    PerformanceRead,
    ReleaseCreate,
    RentIndexRead,
    ReserveBalanceRead,
    ReserveCreate,
    ReserveEntryRead,
    SubleaseFlagRead,
    ThemeParkCreate,
    ThemeParkRead,
    ThemeParkSummaryRead,
    ThemeParkUpdate,
    TownComparisonRead,
)
from gongjian.schemas import Page
from gongjian.towns.services import find_town
from gongjian.web.deps import ActorDep, PagingDep, SessionDep
from gongjian.web.records_api import changes_of, record_routes, tag_version

router = APIRouter(tags=["renewal"])
record_routes(router, services.PARCELS, "/parcels", ParcelRead, ParcelUpdate)
record_routes(router, services.PARKS, "/parks", ParkRead, ParkUpdate)

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


@router.post("/parcels", response_model=ParcelRead, status_code=201)
def add_parcel(body: ParcelCreate, session: SessionDep, actor: ActorDep) -> ParcelRead:
    """Add a parcel as 低效认定; its geometry is checked (422 naming the reason: invalid or
    self-intersecting and where, empty, outside China, latitude and longitude swapped)
    and stored in WGS84, and gives its area on the ellipsoid in mu."""
    values = body.model_dump(exclude={"crs"})
    parcel = services.add_parcel(session, actor=actor, values=values, crs=body.crs)
    return ParcelRead.model_validate(parcel)


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


@router.get("/renewal/clusters", response_model=ClustersRead)
def clusters(
    session: SessionDep,
    actor: ActorDep,
    town: TownQuery = None,
    gap_m: Annotated[float, Query(ge=0, le=10_000, description="间距（米）")] = 0,
    min_mu: Annotated[Decimal | None, Query(ge=0, description="连片面积下限（亩）")] = None,
) -> ClustersRead:
    """Contiguous clusters (连片改造) of the stored parcels: parcels that touch or lie
    within ``gap_m`` metres, transitively; those of at least ``min_mu`` (default: the
    setting ``cluster_min_mu``) are flagged."""
    town_id = find_town(session, town).id if town else None
    found, without = services.parcel_clusters(
        session, actor=actor, gap_m=gap_m, min_mu=min_mu, town_id=town_id
    )
    return ClustersRead(
        gap_m=gap_m,
        min_mu=get_settings().cluster_min_mu if min_mu is None else min_mu,
        clusters=[ClusterRead(**vars(cluster)) for cluster in found],
        without_geometry=without,
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


# --- Theme parks, enterprises, the land-reserve ledger, leases and the rent index --------


ParcelQuery = Annotated[str | None, Query(description="地块编号")]
AsOfQuery = Annotated[
    str | None, Query(description="截至日期 2023-01-31 或时段 2023-01（取其最后一天）；默认今天")
]


@router.get("/theme-parks", response_model=Page[ThemeParkRead], summary="主题产业园列表")
def list_theme_parks(
    session: SessionDep, actor: ActorDep, paging: PagingDep
) -> Page[ThemeParkRead]:
    """The theme industrial parks (主题产业园), by code."""
    total, rows = enterprises.list_theme_parks(
        session, actor=actor, limit=paging.limit, offset=paging.offset
    )
    return Page.of(ThemeParkRead, paging, total, rows)


@router.get("/theme-parks/summary", response_model=list[ThemeParkSummaryRead])
def theme_park_summary(session: SessionDep, actor: ActorDep) -> list[ThemeParkSummaryRead]:
    """Per theme park: parcels assigned (count, mu), enterprises (signed ones by kind,
    unsigned ones) and the signed enterprises' agreed investment (万元)."""
    found = enterprises.theme_park_summary(session, actor=actor)
    return [ThemeParkSummaryRead.model_validate(row) for row in found]


@router.get("/theme-parks/{code}", response_model=ThemeParkRead, summary="主题产业园详情")
def get_theme_park(
    code: str, session: SessionDep, actor: ActorDep, response: Response
) -> ThemeParkRead:
    """One theme park; its version is also the ``ETag``."""
    found = enterprises.get_theme_park(session, actor=actor, code=code)
    tag_version(response, found.version)
    return ThemeParkRead.model_validate(found)


@router.post("/theme-parks", response_model=ThemeParkRead, status_code=201)
def add_theme_park(body: ThemeParkCreate, session: SessionDep, actor: ActorDep) -> ThemeParkRead:
    """Add a theme park (the city only)."""
    park = enterprises.add_theme_park(session, actor=actor, **body.model_dump())
    return ThemeParkRead.model_validate(park)


@router.patch("/theme-parks/{code}", response_model=ThemeParkRead)
def update_theme_park(
    code: str, body: ThemeParkUpdate, session: SessionDep, actor: ActorDep, response: Response
) -> ThemeParkRead:
    """Change a theme park's name or theme (the city only), based on the ``version``
    read (409 with both versions when someone changed it since)."""
    changes, version = changes_of(body)
    park = enterprises.update_theme_park(
        session, actor=actor, code=code, changes=changes, version=version
    )
    tag_version(response, park.version)
    return ThemeParkRead.model_validate(park)


@router.get("/enterprises", response_model=Page[EnterpriseRead], summary="企业列表")
def list_enterprises(
    session: SessionDep,
    actor: ActorDep,
    paging: PagingDep,
    town: TownQuery = None,
    kind: Annotated[EnterpriseKind | None, Query(description="attracted 或 expansion")] = None,
    signed: Annotated[bool | None, Query(description="是否已签订协议")] = None,
    theme_park: Annotated[str | None, Query(description="主题产业园编号")] = None,
) -> Page[EnterpriseRead]:
    """Enterprises attracted (新招引) or expanding (增资扩产), by code, filtered."""
    total, rows = enterprises.list_enterprises(
        session,
        actor=actor,
        town=town,
        kind=kind,
        signed=signed,
        theme_park=theme_park,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page.of(EnterpriseRead, paging, total, rows)


@router.get("/enterprises/{code}", response_model=EnterpriseRead, summary="企业详情")
def get_enterprise(
    code: str, session: SessionDep, actor: ActorDep, response: Response
) -> EnterpriseRead:
    """One enterprise; its version is also the ``ETag``."""
    found = enterprises.get_enterprise(session, actor=actor, code=code)
    tag_version(response, found.version)
    return EnterpriseRead.model_validate(found)


@router.post("/enterprises", response_model=EnterpriseRead, status_code=201)
def add_enterprise(body: EnterpriseCreate, session: SessionDep, actor: ActorDep) -> EnterpriseRead:
    """Add an enterprise (a town in its own town only)."""
    found = enterprises.add_enterprise(session, actor=actor, **body.model_dump())
    return EnterpriseRead.model_validate(found)


@router.patch("/enterprises/{code}", response_model=EnterpriseRead)
def update_enterprise(
    code: str, body: EnterpriseUpdate, session: SessionDep, actor: ActorDep, response: Response
) -> EnterpriseRead:
    """Change the fields sent of an enterprise, based on the ``version`` read (409 with
    both versions when someone changed it since)."""
    changes, version = changes_of(body)
    found = enterprises.update_enterprise(
        session, actor=actor, code=code, changes=changes, version=version
    )
    tag_version(response, found.version)
    return EnterpriseRead.model_validate(found)


@router.get("/reserve", response_model=Page[ReserveEntryRead], summary="收储台账")
def list_reserve_entries(
    session: SessionDep,
    actor: ActorDep,
    paging: PagingDep,
    town: TownQuery = None,
    parcel: ParcelQuery = None,
    kind: Annotated[
        ReserveEntryKind | None, Query(description="reserve_on_account 或 release")
    ] = None,
) -> Page[ReserveEntryRead]:
    """Entries of the land-reserve ledger, by date."""
    total, rows = reserve.list_entries(
        session,
        actor=actor,
        town=town,
        parcel=parcel,
        kind=kind,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page.of(ReserveEntryRead, paging, total, rows)


@router.post("/reserve", response_model=ReserveEntryRead, status_code=201)
def reserve_on_account(
    body: ReserveCreate, session: SessionDep, actor: ActorDep
) -> ReserveEntryRead:
    """Take a parcel into the reserve on account (挂账收储); 409 if it already is."""
    entry = reserve.reserve_on_account(session, actor=actor, **body.model_dump())
    return ReserveEntryRead.model_validate(entry)


@router.post("/reserve/release", response_model=ReserveEntryRead, status_code=201)
def release_from_reserve(
    body: ReleaseCreate, session: SessionDep, actor: ActorDep
) -> ReserveEntryRead:
    """Release land from the reserve when supplied (供地出库); 422 beyond what was
    reserved, with the figures."""
    entry = reserve.release(session, actor=actor, **body.model_dump())
    return ReserveEntryRead.model_validate(entry)


@router.get("/reserve/balance", response_model=ReserveBalanceRead)
def reserve_balance(
    session: SessionDep,
    actor: ActorDep,
    town: TownQuery = None,
    parcel: ParcelQuery = None,
    as_of: AsOfQuery = None,
) -> ReserveBalanceRead:
    """The reserve's balance (mu, 万元) as of a day: the city's or a town's total, per
    town and per parcel."""
    found = reserve.balance(
        session, actor=actor, as_of=parse_as_of(as_of), town=town, parcel=parcel
    )
    return ReserveBalanceRead.model_validate(found)


@router.get("/leases", response_model=Page[LeaseRead], summary="租赁列表")
def list_leases(
    session: SessionDep,
    actor: ActorDep,
    paging: PagingDep,
    town: TownQuery = None,
    parcel: ParcelQuery = None,
    subleases: Annotated[
        bool | None, Query(description="true 只列转租，false 只列原始租赁")
    ] = None,
) -> Page[LeaseRead]:
    """Leases and subleases, by code."""
    total, rows = leases.list_leases(
        session,
        actor=actor,
        town=town,
        parcel=parcel,
        subleases=subleases,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page.of(LeaseRead, paging, total, rows)


@router.get("/leases/flags", response_model=list[SubleaseFlagRead])
def sublease_flags(
    session: SessionDep, actor: ActorDep, town: TownQuery = None
) -> list[SubleaseFlagRead]:
    """Subleases marked up over their parent lease, or over the original lease of their
    chain, by more than the setting ``sublease_markup_pct`` (二房东)."""
    found = leases.sublease_flags(session, actor=actor, town=town)
    return [SubleaseFlagRead.model_validate(flag) for flag in found]


@router.get("/leases/{code}", response_model=LeaseDetailRead, summary="租赁详情")
def get_lease(
    code: str, session: SessionDep, actor: ActorDep, response: Response
) -> LeaseDetailRead:
    """A lease with its chain up to the original lease and its subleases; its version
    is also the ``ETag``."""
    found = leases.get_lease(session, actor=actor, code=code)
    tag_version(response, found.version)
    return LeaseDetailRead.model_validate(found)


@router.post("/leases", response_model=LeaseRead, status_code=201)
def add_lease(body: LeaseCreate, session: SessionDep, actor: ActorDep) -> LeaseRead:
    """Add a lease, or a sublease of a parent lease."""
    return LeaseRead.model_validate(leases.add_lease(session, actor=actor, **body.model_dump()))


@router.patch("/leases/{code}", response_model=LeaseRead)
def update_lease(
    code: str, body: LeaseUpdate, session: SessionDep, actor: ActorDep, response: Response
) -> LeaseRead:
    """Change the fields sent of a lease (a new parent may not close a loop), based on
    the ``version`` read (409 with both versions when someone changed it since)."""
    changes, version = changes_of(body)
    found = leases.update_lease(session, actor=actor, code=code, changes=changes, version=version)
    tag_version(response, found.version)
    return LeaseRead.model_validate(found)


@router.get("/rents/index", response_model=list[RentIndexRead])
def rent_index(
    session: SessionDep,
    actor: ActorDep,
    town: TownQuery = None,
    first: Annotated[
        str | None,
        Query(alias="from", description="起始季度 2022-Q1（或其中一天）；默认结束季度的上年同季"),
    ] = None,
    last: Annotated[
        str | None, Query(alias="to", description="结束季度 2023-Q1（或其中一天）；默认本季度")
    ] = None,
    subleases: Annotated[bool, Query(description="是否计入转租")] = True,
) -> list[RentIndexRead]:
    """The median rent (元/m²/month) per town and quarter of the leases in force in it,
    flagged when it rose more than the setting ``rent_rise_pct`` over a year."""
    found = leases.town_rent_index(
        session,
        actor=actor,
        town=town,
        first=parse_quarter(first, field="from") if first else None,
        last=parse_quarter(last, field="to") if last else None,
        subleases=subleases,
    )
    return [RentIndexRead.model_validate(row) for row in found]
