"""API schemas of the audit log."""

import datetime as dt

from pydantic import BaseModel

from gongjian.schemas import ReadModel


class AuditEntryRead(ReadModel):
    """One entry: who, when, what, before and after (canonical JSON texts)."""

    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    outcome: str
    resource: str
    record_id: str | None
    town_id: int | None
    before: str | None
    after: str | None
    detail: str | None
    hash_alg: str
    prev_hash: str
    hash: str


class VerificationRead(BaseModel):
    """The result of verifying the chain."""

    ok: bool
    entries: int
    problems: list[str]
