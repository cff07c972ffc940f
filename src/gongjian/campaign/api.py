"""Routes of projects."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from gongjian.campaign import batches, commitments, dispatch, projects, scoring
from gongjian.campaign.batches import BatchSummary
from gongjian.campaign.choices import BatchKind, Campaign, ProjectKind, ProjectState
from gongjian.campaign.models import Commendation
from gongjian.campaign.rules import rounded
from gongjian.campaign.schemas import (
    AuditInvolvementUpdate,
    BatchCreate,
    BatchDetailRead,
    BatchFiguresRead,
    BatchProjectsChange,
    BatchRead,
    BatchTotalsRead,
    CommendationCandidateRead,
    CommendationRead,
    CommendCreate,
    CommendResult,
    CommitmentCreate,
    CommitmentProgressRead,
    CommitmentRead,
    CommitmentSign,
    CommitmentTargetsUpdate,
    DispatchCreate,
    DispatchRead,
    DispatchRecommendationRead,
    ForecastRead,
    NominationCreate,
    OverdueList,
    OverdueRead,
    PressureTermRead,
    ProjectCreate,
    ProjectDetailRead,
    ProjectHistoryRead,
    ProjectRead,
    ProjectStateChangeCreate,
    ProjectStateChangeRead,
    ProjectUpdate,
    RankingRead,
    ScoreAdjustmentCreate,
    ScoreAdjustmentRead,
    TownDispatchRead,
    TownScoreRead,
)
from gongjian.periods import parse_as_of
from gongjian.schemas import Page
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.web.deps import ActorDep, PagingDep, SessionDep
from gongjian.web.records_api import changes_of, tag_version

router = APIRouter(tags=["campaign"])

# --- Projects and batches (issue 5) ------------------------------------------------------
# ``/projects/overdue`` is declared before ``/projects/{code}`` so that it is not read as
# a project's code.

TownQuery = Annotated[str | None, Query(description="镇街名称或代码；不填为全市")]
AsOfQuery = Annotated[
    str | None, Query(description="截至日期 2023-01-31 或时段 2023-01（取其最后一天）；默认今天")
]


def _detail(found: projects.ProjectDetail) -> ProjectDetailRead:
    return ProjectDetailRead.model_validate(
        {
            **ProjectRead.model_validate(found.project).model_dump(),
            "town": found.town,
            "next_states": list(found.allowed_next),
            "changes": [ProjectStateChangeRead.model_validate(c) for c in found.changes],
            "rivers": found.rivers,
            "parcels": found.parcels,
            "batches": found.batches,
        }
    )


@router.get("/projects", response_model=Page[ProjectRead], summary="项目列表")
def list_projects(
    session: SessionDep,
    actor: ActorDep,
    paging: PagingDep,
    town: TownQuery = None,
    campaign: Annotated[Campaign | None, Query(description="renewal 或 water")] = None,
    kind: Annotated[ProjectKind | None, Query(description="项目类型")] = None,
    state: Annotated[ProjectState | None, Query(description="当前状态")] = None,
    overdue: Annotated[
        bool | None, Query(description="true 只列截至 as_of 逾期的项目，false 只列未逾期的")
    ] = None,
    as_of: AsOfQuery = None,
) -> Page[ProjectRead]:
    """Projects by code, filtered by town, campaign, kind, current state, and whether
    they are overdue as of a day (``overdue`` with ``as_of``, default today)."""
    total, rows = projects.list_projects(
        session,
        actor=actor,
        town=town,
        campaign=campaign,
        kind=kind,
        state=state,
        overdue_as_of=parse_as_of(as_of) if overdue is not None else None,
        is_overdue=overdue is not False,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page.of(ProjectRead, paging, total, rows)


@router.get("/projects/overdue", response_model=OverdueList, summary="逾期项目")
def overdue_projects(
    session: SessionDep,
    actor: ActorDep,
    as_of: AsOfQuery = None,
    town: TownQuery = None,
    campaign: Annotated[Campaign | None, Query(description="renewal 或 water")] = None,
) -> OverdueList:
    """Projects overdue at the end of a day: planned end passed and not completed
    (``end``), or planned start passed and not started (``start``), with the days late;
    most overdue first."""
    day = parse_as_of(as_of)
    town_id = find_town(session, town).id if town else None
    found = projects.overdue_projects(
        session, actor=actor, as_of=day, town_id=town_id, campaign=campaign
    )
    return OverdueList(
        as_of=day,
        total=len(found),
        items=[OverdueRead.of(row) for row in found],
    )


@router.post("/projects", response_model=ProjectDetailRead, status_code=201)
def add_project(body: ProjectCreate, session: SessionDep, actor: ActorDep) -> ProjectDetailRead:
    """Add a project as 计划 (planned); 422 naming every wrong field (a quantity its kind
    does not report, rivers for a renewal project, parcels of another town...)."""
    project = projects.add_project(session, actor=actor, **body.model_dump())
    return _detail(projects.get_project(session, actor=actor, code=project.code))


@router.get("/projects/{code}", response_model=ProjectDetailRead, summary="项目详情")
def get_project(
    code: str, session: SessionDep, actor: ActorDep, response: Response
) -> ProjectDetailRead:
    """A project with its history, the state it may move to, its rivers or parcels and
    its batches; its version is also the ``ETag``."""
    found = projects.get_project(session, actor=actor, code=code)
    tag_version(response, found.project.version)
    return _detail(found)


@router.patch("/projects/{code}", response_model=ProjectRead, summary="修改项目")
def update_project(
    code: str, body: ProjectUpdate, session: SessionDep, actor: ActorDep, response: Response
) -> ProjectRead:
    """Change the fields sent of a project (states change through ``/state``), based on
    the ``version`` read (409 with both versions when someone changed it since)."""
    changes, version = changes_of(body)
    project = projects.update_project(
        session, actor=actor, code=code, changes=changes, version=version
    )
    tag_version(response, project.version)
    return ProjectRead.model_validate(project)


@router.post("/projects/{code}/state", response_model=ProjectStateChangeRead, status_code=201)
def change_project_state(
    code: str, body: ProjectStateChangeCreate, session: SessionDep, actor: ActorDep
) -> ProjectStateChangeRead:
    """Move a project to its next state (409 naming it); 已验收 (accepted) by the city
    only (403, logged)."""
    change = projects.change_project_state(session, actor=actor, code=code, **body.model_dump())
    return ProjectStateChangeRead.model_validate(change)


@router.get("/projects/{code}/history", response_model=ProjectHistoryRead)
def project_history(code: str, session: SessionDep, actor: ActorDep) -> ProjectHistoryRead:
    """A project's state, the state it may move to, and every change, oldest first."""
    found = projects.project_history(session, actor=actor, code=code)
    return ProjectHistoryRead(
        code=found.project.code,
        state=found.project.state,
        next_states=list(found.allowed_next),
        actual_start_on=found.project.actual_start_on,
        actual_end_on=found.project.actual_end_on,
        changes=[ProjectStateChangeRead.model_validate(c) for c in found.changes],
    )


@router.put("/projects/{code}/audit", response_model=ProjectRead)
def set_audit_involvement(
    code: str, body: AuditInvolvementUpdate, session: SessionDep, actor: ActorDep
) -> ProjectRead:
    """Record or replace the audit bureau's early involvement (提前介入审计)."""
    project = projects.set_audit_involvement(session, actor=actor, code=code, **body.model_dump())
    return ProjectRead.model_validate(project)


def _batch(found: BatchSummary) -> BatchRead:
    by_campaign = found.figures.by_campaign
    return BatchRead(
        code=found.batch.code,
        name=found.batch.name,
        kind=found.batch.kind,
        held_on=found.batch.held_on,
        figures=BatchFiguresRead(
            renewal=BatchTotalsRead.model_validate(by_campaign[Campaign.renewal]),
            water=BatchTotalsRead.model_validate(by_campaign[Campaign.water]),
            total=BatchTotalsRead.model_validate(found.figures.total),
        ),
    )


def _batch_detail(found: batches.BatchDetail) -> BatchDetailRead:
    return BatchDetailRead(
        **dict(_batch(found)),
        projects=[ProjectRead.model_validate(project) for project in found.projects],
    )


@router.get("/batches", response_model=Page[BatchRead], summary="集中开工/拆除批次列表")
def list_batches(
    session: SessionDep,
    actor: ActorDep,
    paging: PagingDep,
    kind: Annotated[
        BatchKind | None, Query(description="concentrated_start 或 concentrated_demolition")
    ] = None,
) -> Page[BatchRead]:
    """Batches by code, with the figures of their projects."""
    total, rows = batches.list_batches(
        session, actor=actor, kind=kind, limit=paging.limit, offset=paging.offset
    )
    return Page[BatchRead](
        total=total,
        limit=paging.limit,
        offset=paging.offset,
        items=[_batch(row) for row in rows],
    )


@router.get("/batches/{code}", response_model=BatchDetailRead, summary="批次详情")
def get_batch(code: str, session: SessionDep, actor: ActorDep) -> BatchDetailRead:
    """A batch, its figures per campaign and in total, and its projects."""
    return _batch_detail(batches.get_batch(session, actor=actor, code=code))


@router.post("/batches", response_model=BatchDetailRead, status_code=201)
def add_batch(body: BatchCreate, session: SessionDep, actor: ActorDep) -> BatchDetailRead:
    """Add a batch (the city only); a concentrated demolition holds demolitions only
    (409 naming the others)."""
    return _batch_detail(batches.add_batch(session, actor=actor, **body.model_dump()))


@router.post("/batches/{code}/projects", response_model=BatchDetailRead)
def attach_projects(
    code: str, body: BatchProjectsChange, session: SessionDep, actor: ActorDep
) -> BatchDetailRead:
    """Add projects to a batch (the city only)."""
    found = batches.attach_projects(session, actor=actor, code=code, projects=body.projects)
    return _batch_detail(found)


@router.delete("/batches/{code}/projects/{project}", response_model=BatchDetailRead)
def detach_project(
    code: str, project: str, session: SessionDep, actor: ActorDep
) -> BatchDetailRead:
    """Remove a project from a batch (the city only)."""
    found = batches.detach_projects(session, actor=actor, code=code, projects=[project])
    return _batch_detail(found)


# --- Commitments, scores, commendation and cadre dispatch (issue 5, parts 3–5) ----------

CampaignPath = Annotated[Campaign, Path(description="renewal 或 water")]
YearPath = Annotated[int, Path(ge=1990, le=2100, description="年度")]
YearQuery = Annotated[int, Query(ge=1990, le=2100, description="年度")]
COMMITMENT = "/commitments/{town}/{year}/{campaign}"


def _as_of(text: str | None) -> dt.date | None:
    return parse_as_of(text) if text else None


@router.get("/commitments", response_model=list[CommitmentRead], summary="承诺书列表")
def commitment_list(
    session: SessionDep,
    actor: ActorDep,
    year: Annotated[int | None, Query(ge=1990, le=2100, description="年度")] = None,
    campaign: Annotated[Campaign | None, Query(description="renewal 或 water")] = None,
    town: TownQuery = None,
) -> list[CommitmentRead]:
    """Commitments with their targets, by year, campaign and town code."""
    town_id = find_town(session, town).id if town else None
    found = commitments.list_commitments(
        session, actor=actor, year=year, campaign=campaign, town_id=town_id
    )
    return [CommitmentRead.of(row) for row in found]


@router.post("/commitments", response_model=CommitmentRead, status_code=201)
def commitment_add(body: CommitmentCreate, session: SessionDep, actor: ActorDep) -> CommitmentRead:
    """Add a town's commitment for a year and campaign with its targets (a town its own,
    the city any); 409 when there is one already, 422 naming every wrong target."""
    return CommitmentRead.of(commitments.create_commitment(session, actor=actor, **dict(body)))


@router.get(COMMITMENT, response_model=CommitmentRead, summary="承诺书详情")
def commitment_detail(
    town: str, year: YearPath, campaign: CampaignPath, session: SessionDep, actor: ActorDep
) -> CommitmentRead:
    """A commitment and its targets; ``locked`` once the city has signed it off."""
    found = commitments.get_commitment(
        session, actor=actor, town=town, year=year, campaign=campaign
    )
    return CommitmentRead.of(found)


@router.put(f"{COMMITMENT}/targets", response_model=CommitmentRead)
def commitment_targets(
    town: str,
    year: YearPath,
    campaign: CampaignPath,
    body: CommitmentTargetsUpdate,
    session: SessionDep,
    actor: ActorDep,
) -> CommitmentRead:
    """Set targets (``null`` takes one off); 409 once signed off, naming by whom and when."""
    found = commitments.set_targets(
        session, actor=actor, town=town, year=year, campaign=campaign, targets=body.targets
    )
    return CommitmentRead.of(found)


@router.post(f"{COMMITMENT}/sign", response_model=CommitmentRead)
def commitment_sign(
    town: str,
    year: YearPath,
    campaign: CampaignPath,
    body: CommitmentSign,
    session: SessionDep,
    actor: ActorDep,
) -> CommitmentRead:
    """Record the day the town signed (409 once signed off)."""
    found = commitments.sign(
        session, actor=actor, town=town, year=year, campaign=campaign, signed_on=body.signed_on
    )
    return CommitmentRead.of(found)


@router.post(f"{COMMITMENT}/approve", response_model=CommitmentRead)
def commitment_approve(
    town: str, year: YearPath, campaign: CampaignPath, session: SessionDep, actor: ActorDep
) -> CommitmentRead:
    """The city signs the commitment off, which locks it (403, logged, for anyone else;
    409 when not signed by the town, or already signed off)."""
    found = commitments.approve(session, actor=actor, town=town, year=year, campaign=campaign)
    return CommitmentRead.of(found)


@router.get(f"{COMMITMENT}/progress", response_model=CommitmentProgressRead)
def commitment_progress(
    town: str,
    year: YearPath,
    campaign: CampaignPath,
    session: SessionDep,
    actor: ActorDep,
    as_of: AsOfQuery = None,
) -> CommitmentProgressRead:
    """Each target's figure as of a day (at most the year's last day), its share, and
    the year-end outlook (on_track, at_risk, behind) with the numbers that decided it."""
    found = commitments.progress(
        session, actor=actor, town=town, year=year, campaign=campaign, as_of=_as_of(as_of)
    )
    return CommitmentProgressRead(
        commitment=CommitmentRead.of(found.commitment),
        as_of=found.as_of,
        indicators=[ForecastRead.model_validate(row) for row in found.forecasts],
    )


@router.get("/ranking", response_model=RankingRead, summary="镇街排名")
def town_ranking(
    year: YearQuery,
    session: SessionDep,
    actor: ActorDep,
    campaign: Annotated[
        Campaign | None, Query(description="renewal 或 water；不填为综合（两项之和）")
    ] = None,
    as_of: AsOfQuery = None,
) -> RankingRead:
    """Every town's score for the year, best first, each explained item by item."""
    found = scoring.ranking(session, actor=actor, year=year, campaign=campaign, as_of=_as_of(as_of))
    return RankingRead(
        year=found.year,
        campaign=found.campaign,
        as_of=found.as_of,
        rows=[TownScoreRead.of(row) for row in found.rows],
    )


@router.get("/scores/{town}", response_model=TownScoreRead, summary="镇街得分明细")
def town_score(
    town: str,
    year: YearQuery,
    session: SessionDep,
    actor: ActorDep,
    campaign: Annotated[
        Campaign | None, Query(description="renewal 或 water；不填为综合（两项之和）")
    ] = None,
    as_of: AsOfQuery = None,
) -> TownScoreRead:
    """One town's rank and score, item by item."""
    found = scoring.town_score(
        session, actor=actor, town=town, year=year, campaign=campaign, as_of=_as_of(as_of)
    )
    return TownScoreRead.of(found)


@router.get("/score-adjustments", response_model=list[ScoreAdjustmentRead], summary="加减分")
def adjustment_list(
    session: SessionDep,
    actor: ActorDep,
    year: Annotated[int | None, Query(ge=1990, le=2100, description="年度")] = None,
    campaign: Annotated[Campaign | None, Query(description="renewal 或 water")] = None,
    town: TownQuery = None,
) -> list[ScoreAdjustmentRead]:
    """The bonuses and deductions the city entered, oldest first."""
    town_id = find_town(session, town).id if town else None
    found = scoring.list_adjustments(
        session, actor=actor, year=year, campaign=campaign, town_id=town_id
    )
    return [
        ScoreAdjustmentRead(
            id=row.id,
            town=town_row.name,
            year=row.year,
            campaign=row.campaign,
            points=row.points,
            reason=row.reason,
            entered_on=row.entered_on,
            entered_by=row.entered_by,
        )
        for row, town_row in found
    ]


@router.post("/score-adjustments", response_model=ScoreAdjustmentRead, status_code=201)
def adjustment_add(
    body: ScoreAdjustmentCreate, session: SessionDep, actor: ActorDep
) -> ScoreAdjustmentRead:
    """The city enters a bonus or deduction with its reason (403, logged, for anyone
    else)."""
    row = scoring.add_adjustment(session, actor=actor, **dict(body))
    return ScoreAdjustmentRead(
        id=row.id,
        town=find_town(session, body.town).name,
        year=row.year,
        campaign=row.campaign,
        points=row.points,
        reason=row.reason,
        entered_on=row.entered_on,
        entered_by=row.entered_by,
    )


def _candidate(row: scoring.Candidate) -> CommendationCandidateRead:
    return CommendationCandidateRead(
        town=row.town.name,
        town_code=row.town.code,
        campaign=row.campaign,
        rank=row.rank,
        score=row.score,
        reasons=row.reasons,
        citation=row.citation,
    )


def _town_name(session: Session, town_id: int | None) -> str | None:
    town = session.get(Town, town_id) if town_id is not None else None
    return town.name if town else None


def _commendation(row: Commendation, town: str | None) -> CommendationRead:
    return CommendationRead(
        id=row.id,
        kind=row.kind,
        year=row.year,
        campaign=row.campaign,
        town=town,
        person_name=row.person_name,
        citation=row.citation,
    )


@router.get(
    "/commendations/candidates",
    response_model=list[CommendationCandidateRead],
    summary="通报表扬名单（建议）",
)
def commendation_candidates(
    year: YearQuery,
    session: SessionDep,
    actor: ActorDep,
    campaign: Annotated[
        Campaign | None, Query(description="renewal 或 water；不填为三项排名（工改、治水、综合）")
    ] = None,
) -> list[CommendationCandidateRead]:
    """The best ``commend_top_n`` towns of each ranking and every town that met all its
    targets, with the citation."""
    found = scoring.commendation_list(session, actor=actor, year=year, campaign=campaign)
    return [_candidate(row) for row in found]


@router.get("/commendations", response_model=list[CommendationRead], summary="通报表扬")
def commendation_list(
    session: SessionDep,
    actor: ActorDep,
    year: Annotated[int | None, Query(ge=1990, le=2100, description="年度")] = None,
) -> list[CommendationRead]:
    """The commendations written: towns first, then individuals."""
    found = scoring.list_commendations(session, actor=actor, year=year)
    return [_commendation(row, town.name if town else None) for row, town in found]


@router.post("/commendations", response_model=CommendResult, status_code=201)
def commend_towns(body: CommendCreate, session: SessionDep, actor: ActorDep) -> CommendResult:
    """Write the commendation list as town commendations (the city only); towns already
    commended for the year and ranking are left as they stand."""
    written, kept = scoring.commend(session, actor=actor, year=body.year, campaign=body.campaign)
    return CommendResult(
        written=[_commendation(row, _town_name(session, row.town_id)) for row in written],
        already=[_candidate(row) for row in kept],
    )


@router.post("/commendations/individuals", response_model=CommendationRead, status_code=201)
def commend_individual(
    body: NominationCreate, session: SessionDep, actor: ActorDep
) -> CommendationRead:
    """Commend an individual (a cadre, a project lead) with a citation (the city only)."""
    row = scoring.nominate(session, actor=actor, **dict(body))
    return _commendation(row, _town_name(session, row.town_id))


@router.get(
    "/dispatch/recommendation", response_model=DispatchRecommendationRead, summary="下派干部建议"
)
def dispatch_recommendation(
    cadres: Annotated[int, Query(ge=1, le=100_000, description="下派干部总人数")],
    session: SessionDep,
    actor: ActorDep,
    minimum: Annotated[int, Query(alias="min", ge=0, description="每个镇街至少几人")] = (
        dispatch.DEFAULT_MIN
    ),
    maximum: Annotated[int, Query(alias="max", ge=0, description="每个镇街至多几人")] = (
        dispatch.DEFAULT_MAX
    ),
    year: Annotated[
        int | None, Query(ge=1990, le=2100, description="承诺书年度；默认截至日期所在年度")
    ] = None,
    as_of: AsOfQuery = None,
) -> DispatchRecommendationRead:
    """How many of ``cadres`` cadres each town should get, in proportion to its pressure
    (largest remainder, each town between ``min`` and ``max``), each number explained;
    422 saying why when ``cadres`` cannot be shared so."""
    found = dispatch.recommend(
        session,
        actor=actor,
        cadres=cadres,
        minimum=minimum,
        maximum=maximum,
        year=year,
        as_of=_as_of(as_of),
    )
    return DispatchRecommendationRead(
        year=found.year,
        as_of=found.as_of,
        cadres=found.cadres,
        minimum=found.minimum,
        maximum=found.maximum,
        towns=[
            TownDispatchRead(
                town=row.town.name,
                town_code=row.town.code,
                cadres=row.cadres,
                pressure=rounded(row.pressure.pressure, dispatch.PRESSURE_PLACES),
                pressure_weight=row.pressure.weight,
                quota=rounded(row.allotment.quota, 4),
                floor=row.allotment.floor,
                remainder=rounded(row.allotment.remainder, 4),
                extra=row.allotment.extra,
                minimum=row.allotment.minimum,
                maximum=row.allotment.maximum,
                capped=row.allotment.capped,
                explanation=row.explanation,
                terms=[
                    PressureTermRead(
                        indicator=term.indicator,
                        start=rounded(term.start),
                        achieved=rounded(term.achieved),
                        target=term.target,
                        city_target_in_year=term.city_target_in_year,
                        open_share=rounded(term.open_share, dispatch.PRESSURE_PLACES),
                        size_weight=rounded(term.size_weight, dispatch.PRESSURE_PLACES),
                        pressure=rounded(term.pressure, dispatch.PRESSURE_PLACES),
                    )
                    for term in row.pressure.terms
                ],
            )
            for row in found.towns
        ],
    )


@router.get("/dispatches", response_model=list[DispatchRead], summary="下派干部记录")
def dispatch_list(
    session: SessionDep,
    actor: ActorDep,
    town: TownQuery = None,
    active_on: Annotated[dt.date | None, Query(description="只列该日在岗的")] = None,
) -> list[DispatchRead]:
    """Dispatches by start day, of one town and those under way on a day when given."""
    town_id = find_town(session, town).id if town else None
    found = dispatch.list_dispatches(session, actor=actor, town_id=town_id, active_on=active_on)
    return [DispatchRead.model_validate(row) for row in found]


@router.post("/dispatches", response_model=DispatchRead, status_code=201)
def dispatch_add(body: DispatchCreate, session: SessionDep, actor: ActorDep) -> DispatchRead:
    """Record a cadre sent down to a town (the city only; 409 when the cadre is already
    sent down over some of those days)."""
    return DispatchRead.model_validate(dispatch.record_dispatch(session, actor=actor, **dict(body)))
