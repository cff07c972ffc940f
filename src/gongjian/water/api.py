"""Routes of rivers and complaints."""

from fastapi import APIRouter

from gongjian.water import services
from gongjian.water.schemas import ComplaintContact, ComplaintRead, RiverRead, RiverUpdate
from gongjian.web.deps import ActorDep, SessionDep
from gongjian.web.records_api import record_routes

router = APIRouter(tags=["water"])


record_routes(router, services.RIVERS, "/rivers", RiverRead, RiverUpdate)


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
