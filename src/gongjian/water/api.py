"""Routes of rivers, their remediation, plans, priorities and complaints."""

from typing import Annotated

from fastapi import APIRouter, Query

from gongjian.periods import parse_as_of, parse_period
from gongjian.water import plans, priorities, remediation, services
from gongjian.water.schemas import (
    ComplaintContact,
    ComplaintCountRead,
    ComplaintRead,
    OverdueMeasureRead,
    PlanMeasureRead,
    PlanMeasureUpdate,
    RiverHistoryRead,
    RiverPlanRead,
    RiverPriorityRead,
    RiverRead,
    RiverStateChangeCreate,
    RiverStateChangeRead,
    RiverStateCorrection,
    RiverSurveyCreate,
    RiverSurveyRead,
    RiverUpdate,
)
from gongjian.web.deps import ActorDep, SessionDep
from gongjian.web.records_api import record_routes

router = APIRouter(tags=["water"])

AsOf = Annotated[
    str | None, Query(description="截至日期 2023-01-31 或时段 2023-01（取其最后一天）；默认今天")
]
TownQuery = Annotated[str | None, Query(description="镇街名称或代码；不填为全市")]


record_routes(router, services.RIVERS, "/rivers", RiverRead, RiverUpdate)


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
    change = remediation.change_state(
        session,
        actor=actor,
        river_code=code,
        to_state=body.to_state,
        on=body.on,
        reason=body.reason,
    )
    return RiverStateChangeRead.model_validate(change)


@router.post("/rivers/{code}/corrections", response_model=RiverStateChangeRead, status_code=201)
def correct_state(
    code: str, body: RiverStateCorrection, session: SessionDep, actor: ActorDep
) -> RiverStateChangeRead:
    """Correct a river's mistaken state (city and admin only); the mistake stays in the
    history."""
    change = remediation.correct_state(
        session,
        actor=actor,
        river_code=code,
        to_state=body.to_state,
        on=body.on,
        reason=body.reason,
    )
    return RiverStateChangeRead.model_validate(change)


@router.post("/rivers/{code}/surveys", response_model=RiverSurveyRead, status_code=201)
def record_survey(
    code: str, body: RiverSurveyCreate, session: SessionDep, actor: ActorDep
) -> RiverSurveyRead:
    """Record a public satisfaction survey of a river."""
    survey = remediation.record_survey(
        session,
        actor=actor,
        river_code=code,
        surveyed_on=body.surveyed_on,
        valid_questionnaires=body.valid_questionnaires,
        satisfied=body.satisfied,
    )
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
    measure_id: int, body: PlanMeasureUpdate, session: SessionDep, actor: ActorDep
) -> PlanMeasureRead:
    """Record a plan measure's progress (state, and the day it was done)."""
    measure = plans.update_measure(
        session, actor=actor, measure_id=measure_id, state=body.state, done_on=body.done_on
    )
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


@router.get("/complaints/{receipt_no}", response_model=ComplaintRead)
def complaint(receipt_no: str, session: SessionDep, actor: ActorDep) -> ComplaintRead:
    """A complaint; personal data only for the city and the town concerned."""
    found, with_contact = services.get_complaint(session, actor=actor, receipt_no=receipt_no)
    read = ComplaintRead.model_validate(found)
    if not with_contact:
        read = read.model_copy(update={"complainant_name": None, "complainant_phone": None})
    return read


@router.get("/complaints/{receipt_no}/contact", response_model=ComplaintContact)
def complaint_contact(receipt_no: str, session: SessionDep, actor: ActorDep) -> ComplaintContact:
    """The complainant's personal data (403 and logged for anyone else)."""
    found = services.complaint_contact(session, actor=actor, receipt_no=receipt_no)
    return ComplaintContact.model_validate(found)
