"""Route of the headline KPIs."""

from fastapi import APIRouter, Query

from gongjian.kpi.schemas import KpiRead, KpiValues
from gongjian.kpi.services import headline
from gongjian.periods import parse_as_of
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["kpi"])


@router.get("/kpi", response_model=KpiRead)
def kpi(
    session: SessionDep,
    actor: ActorDep,
    town: str | None = Query(default=None, description="town name or code; empty: the city"),
    as_of: str | None = Query(
        default=None, description="2023-01-31, or a period 2023-01 / 2023-W05; default today"
    ),
) -> KpiRead:
    """The nine headline KPIs of SPEC, for the city or one town, as of a date."""
    report = headline(session, actor=actor, as_of=parse_as_of(as_of), town=town or None)
    return KpiRead(scope=report.scope, as_of=report.as_of, kpi=KpiValues.model_validate(report.kpi))
