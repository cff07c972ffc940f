"""Routes of the audit log (auditor and admin only)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from gongjian.audit.schemas import AuditEntryRead, VerificationRead
from gongjian.audit.services import list_entries, verify_log
from gongjian.schemas import Page, Paging
from gongjian.web.deps import ActorDep, SessionDep

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditEntryRead])
def audit_entries(
    session: SessionDep, actor: ActorDep, paging: Annotated[Paging, Depends()]
) -> Page[AuditEntryRead]:
    """The audit log, newest first."""
    total, rows = list_entries(session, actor=actor, limit=paging.limit, offset=paging.offset)
    return Page.of(AuditEntryRead, paging, total, rows)


@router.get("/audit/verify", response_model=VerificationRead)
def audit_verify(session: SessionDep, actor: ActorDep) -> VerificationRead:
    """Verify the hash chain and name any entry changed, inserted or deleted."""
    result = verify_log(session, actor=actor)
    return VerificationRead(ok=result.ok, entries=result.entries, problems=result.problems)
