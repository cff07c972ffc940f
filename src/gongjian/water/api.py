"""Routes of rivers, their grades and remediation, the baseline, plans, priorities and
complaints."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.db import utcnow
from gongjian.periods import parse_as_of, parse_period
from gongjian.records import read_record
from gongjian.schemas import Page
from gongjian.water import assessment, baseline, plans, priorities, remediation, services
from gongjian.water.choices import ComplaintCategory
from gongjian.water.models import Baseline, Complaint, River
from gongjian.water.schemas import (
    AssessmentRead,
    AssessmentRequest,
    AssessmentResultRead,
    BaselineCreate,
    BaselineRead,
    ComplaintClose,
    ComplaintContact,
    ComplaintCountRead,
    ComplaintCreate,
    ComplaintRead,
    OverdueMeasureRead,
    PlanMeasureRead,
    PlanMeasureUpdate,
    PointGradeRead,
    RiverGradeRead,
    RiverHistoryRead,
    RiverPlanRead,
    RiverPriorityRead,
    RiverPublish,
    RiverRead,
    RiverStateChangeCreate,
    RiverStateChangeRead,
    RiverStateCorrection,
    RiverSurveyCreate,
    RiverSurveyRead,
    RiverUpdate,
)
from gongjian.web.deps import ActorDep, PagingDep, SessionDep
from gongjian.web.records_api import record_routes, tag_version

router = APIRouter(tags=["water"])

AsOf = Annotated[
    str | None, Query(description="截至日期 2023-01-31 或时段 2023-01（取其最后一天）；默认今天")
]
TownQuery = Annotated[str | None, Query(description="镇街名称或代码；不填为全市")]


record_routes(router, services.RIVERS, "/rivers", RiverRead, RiverUpdate)


@router.put("/rivers/{code}/published", response_model=RiverRead)
def publish_river(code: str, body: RiverPublish, session: SessionDep, actor: ActorDep) -> RiverRead:
    """Show the river on the public portal, or stop showing it (the city only: 403 and
    logged for anyone else, before the river is looked up); audited with the flag before
    and after."""
    authorize(session, actor, Action.publish, services.RIVERS.resource, record_id=code)
    river = read_record(session, services.RIVERS, actor=actor, code=code)
    changed = services.set_published(
        session, actor=actor, river_id=river.id, published=body.published
    )
    return RiverRead.model_validate(changed)


@router.get("/rivers/{code}/history", response_model=RiverHistoryRead)
def river_history(code: str, session: SessionDep, actor: ActorDep) -> RiverHistoryRead:
    """A river's remediation state and every change of it, corrections included."""
    found = remediation.river_history(session, actor=actor, river_code=code)
    return RiverHistoryRead.model_validate(found)


@router.post("/rivers/{code}/state", response_model=RiverStateChangeRead, status_code=201)
def change_state(
    code: str, body: RiverStateChangeCreate, session: SessionDep, actor: ActorDep
) -> RiverStateChangeRead:
    """Move a river one state forward (409 with the allowed next state, or the unmet
    evaluation conditions)."""
    change = remediation.change_state(session, actor=actor, river_code=code, **body.model_dump())
    return RiverStateChangeRead.model_validate(change)


@router.post("/rivers/{code}/corrections", response_model=RiverStateChangeRead, status_code=201)
def correct_state(
    code: str, body: RiverStateCorrection, session: SessionDep, actor: ActorDep
) -> RiverStateChangeRead:
    """Correct a river's mistaken state (city and admin only); the mistake stays in the
    history."""
    change = remediation.correct_state(session, actor=actor, river_code=code, **body.model_dump())
    return RiverStateChangeRead.model_validate(change)


@router.post("/rivers/{code}/surveys", response_model=RiverSurveyRead, status_code=201)
def record_survey(
    code: str, body: RiverSurveyCreate, session: SessionDep, actor: ActorDep
) -> RiverSurveyRead:
    """Record a public satisfaction survey of a river."""
    survey = remediation.record_survey(session, actor=actor, river_code=code, **body.model_dump())
    return RiverSurveyRead.model_validate(survey)


@router.get("/rivers/{code}/plan", response_model=RiverPlanRead)
def river_plan(
    code: str, session: SessionDep, actor: ActorDep, as_of: AsOf = None
) -> RiverPlanRead:
    """The river's plan (一河一策), each measure flagged when overdue as of ``as_of``."""
    plan = plans.get_plan(session, actor=actor, river_code=code, as_of=parse_as_of(as_of))
    return RiverPlanRead.model_validate(plan)


@router.get("/plans/overdue", response_model=list[OverdueMeasureRead])
def overdue_measures(
    session: SessionDep, actor: ActorDep, as_of: AsOf = None, town: TownQuery = None
) -> list[OverdueMeasureRead]:
    """Plan measures overdue as of ``as_of``, the longest overdue first."""
    found = plans.list_overdue_measures(session, actor=actor, as_of=parse_as_of(as_of), town=town)
    return [OverdueMeasureRead.model_validate(measure) for measure in found]


@router.patch("/measures/{measure_id}", response_model=PlanMeasureRead)
def update_measure(
    measure_id: int,
    body: PlanMeasureUpdate,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
) -> PlanMeasureRead:
    """Record a plan measure's progress (state, and the day it was done), based on the
    ``version`` read (409 with both versions when someone changed it since)."""
    measure = plans.update_measure(
        session,
        actor=actor,
        measure_id=measure_id,
        state=body.state,
        done_on=body.done_on,
        version=body.version,
    )
    tag_version(response, measure.version)
    return PlanMeasureRead.model_validate(measure)


@router.get("/priorities", response_model=list[RiverPriorityRead])
def river_priorities(
    session: SessionDep,
    actor: ActorDep,
    as_of: AsOf = None,
    top: Annotated[int, Query(ge=1, le=1000, description="列出前几条河涌")] = 20,
    town: TownQuery = None,
) -> list[RiverPriorityRead]:
    """Rivers in order of priority (先急后缓), each score with the terms that make it."""
    found = priorities.priorities(
        session, actor=actor, as_of=parse_as_of(as_of), top=top, town=town
    )
    return [RiverPriorityRead.model_validate(river) for river in found]


@router.get("/complaints/counts", response_model=list[ComplaintCountRead])
def complaint_counts(
    session: SessionDep,
    actor: ActorDep,
    period: Annotated[str, Query(description="时段：2023-01（月）或 2023-W05（周）")],
    town: TownQuery = None,
) -> list[ComplaintCountRead]:
    """Complaints received in a period, per river (most first)."""
    found = priorities.complaint_counts(
        session, actor=actor, period=parse_period(period), town=town
    )
    return [ComplaintCountRead.model_validate(count) for count in found]


def _without_contact(complaint: Complaint) -> ComplaintRead:
    read = ComplaintRead.model_validate(complaint)
    return read.model_copy(update={"complainant_name": None, "complainant_phone": None})


@router.get("/complaints", response_model=Page[ComplaintRead], summary="群众投诉列表")
def list_complaints(
    session: SessionDep,
    actor: ActorDep,
    paging: PagingDep,
    town: TownQuery = None,
    river: Annotated[str | None, Query(description="河涌编号")] = None,
    category: Annotated[ComplaintCategory | None, Query(description="投诉类别")] = None,
    open_only: Annotated[
        bool | None, Query(alias="open", description="true 只列未办结，false 只列已办结")
    ] = None,
) -> Page[ComplaintRead]:
    """Complaints, the latest received first; the complainants' personal data is not
    listed (``/complaints/{receipt_no}/contact`` for those who may see it)."""
    total, rows = services.list_complaints(
        session,
        actor=actor,
        town=town,
        river=river,
        category=category,
        open_only=open_only,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Page.of(ComplaintRead, paging, total, [_without_contact(row) for row in rows])


@router.post("/complaints", response_model=ComplaintRead, status_code=201, summary="登记群众投诉")
def add_complaint(body: ComplaintCreate, session: SessionDep, actor: ActorDep) -> ComplaintRead:
    """Record a complaint taken by telephone, letter or visit (the city, or the town
    the river's lead town is): it gets a receipt number and concerns that town. 422
    lists every problem (an unknown river, an empty description, a time still to
    come)."""
    found = services.add_complaint(
        session,
        actor=actor,
        river_id=services.river_id(session, body.river),
        category=body.category,
        description=body.description,
        complainant_name=body.complainant_name,
        complainant_phone=body.complainant_phone,
        received_at=body.received_at or utcnow(),
        intake=True,
    )
    return ComplaintRead.model_validate(found)


@router.post("/complaints/{receipt_no}/close", response_model=ComplaintRead)
def close_complaint(
    receipt_no: str, body: ComplaintClose, session: SessionDep, actor: ActorDep
) -> ComplaintRead:
    """Mark a complaint handled (the city, or the town it concerns); 409 when it is
    closed already, 422 for a time before it was received or still to come."""
    found = services.close_complaint(
        session,
        actor=actor,
        receipt_no=receipt_no,
        closed_at=body.closed_at or utcnow(),
        note=body.note,
    )
    return _without_contact(found)


@router.get("/complaints/{receipt_no}", response_model=ComplaintRead)
def complaint(receipt_no: str, session: SessionDep, actor: ActorDep) -> ComplaintRead:
    """A complaint; personal data only for the city and the town concerned."""
    found, with_contact = services.get_complaint(session, actor=actor, receipt_no=receipt_no)
    return ComplaintRead.model_validate(found) if with_contact else _without_contact(found)


@router.get("/complaints/{receipt_no}/contact", response_model=ComplaintContact)
def complaint_contact(receipt_no: str, session: SessionDep, actor: ActorDep) -> ComplaintContact:
    """The complainant's personal data (403 and logged for anyone else)."""
    found = services.complaint_contact(session, actor=actor, receipt_no=receipt_no)
    return ComplaintContact.model_validate(found)


@router.post("/assessments", response_model=list[AssessmentResultRead])
def assess(
    body: AssessmentRequest, session: SessionDep, actor: ActorDep
) -> list[AssessmentResultRead]:
    """Grade periods (city and admin): new or changed periods are graded, the grades
    they replace kept as superseded; unchanged ones are skipped unless ``force``."""
    periods = assessment.periods_to_assess(
        session,
        period=body.period,
        first=body.from_period,
        last=body.to_period,
        names=("period", "from_period", "to_period"),
    )
    results = assessment.assess_periods(session, actor=actor, periods=periods, force=body.force)
    return [
        AssessmentResultRead(
            period=r.period,
            status=r.status,
            samples=r.samples,
            points=dict(r.points),
            water_bodies=dict(r.water_bodies),
            warnings=r.warnings,
            assessment_id=r.assessment_id,
            relapsed=r.relapsed,
        )
        for r in results
    ]


@router.get("/assessments", response_model=list[AssessmentRead])
def assessments(
    session: SessionDep, actor: ActorDep, period: Annotated[str | None, Query()] = None
) -> list[AssessmentRead]:
    """Every grading, superseded ones included, latest period first."""
    chosen = parse_period(period) if period else None
    found = assessment.list_assessments(session, actor=actor, period=chosen)
    return [AssessmentRead.model_validate(a) for a in found]


@router.get("/rivers/{code}/grades", response_model=list[RiverGradeRead])
def river_grades(
    code: str, session: SessionDep, actor: ActorDep, period: Annotated[str | None, Query()] = None
) -> list[RiverGradeRead]:
    """A river's current grades (every period, latest first, or one ``period``), each
    with its points' grades along the chainage and the reasons in words."""
    chosen = parse_period(period) if period else None
    return [
        RiverGradeRead(
            river=found.river_code,
            period=found.water_body.period,
            grade=found.water_body.grade,
            points_graded=found.water_body.points_graded,
            points_severe=found.water_body.points_severe,
            severe_segments=found.water_body.severe_segments["segments"],
            decided_by=found.water_body.decided_by,
            rules_hash=found.water_body.rules_hash,
            assessed_at=found.water_body.assessed_at,
            points=[
                PointGradeRead(
                    point_id=point_code,
                    grade=grade.grade,
                    samples=grade.samples,
                    evidence=grade.evidence,
                    decided_by=grade.decided_by,
                )
                for point_code, grade in found.points
            ],
        )
        for found in assessment.river_grades(session, actor=actor, river_code=code, period=chosen)
    ]


def _baseline(session: Session, frozen: Baseline) -> BaselineRead:
    codes = {river_id: code for river_id, code in session.execute(select(River.id, River.code))}
    return BaselineRead(
        frozen_on=frozen.frozen_on,
        source_period=frozen.source_period,
        frozen_at=frozen.frozen_at,
        frozen_by=frozen.frozen_by,
        rivers=sorted(codes[m.river_id] for m in frozen.members),
    )


@router.post("/baselines", response_model=BaselineRead, status_code=201)
def freeze(body: BaselineCreate, session: SessionDep, actor: ActorDep) -> BaselineRead:
    """Freeze the baseline (央督基线) of a date, once (city and admin)."""
    chosen = parse_period(body.period).label if body.period else None
    frozen = baseline.freeze_baseline(session, actor=actor, as_of=body.as_of, period=chosen)
    return _baseline(session, frozen)


@router.get("/baselines/latest", response_model=BaselineRead)
def latest(session: SessionDep, actor: ActorDep) -> BaselineRead:
    """The most recently frozen baseline and its water bodies."""
    return _baseline(session, baseline.latest_baseline(session, actor=actor))
