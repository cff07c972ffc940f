"""Looking up towns and putting the 23 towns in place."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.errors import NotFound
from gongjian.towns.data import TOWNS
from gongjian.towns.models import Town


def ensure_towns(session: Session, *, actor: Actor) -> int:
    """Add whichever of the city's 23 towns are missing; returns how many were added."""
    existing = set(session.scalars(select(Town.code)))
    missing = [seed for seed in TOWNS if seed.code not in existing]
    for seed in missing:
        session.add(Town(**seed._asdict()))
    if missing:
        session.flush()
        record(
            session,
            actor=actor,
            action="add",
            resource="town",
            detail=f"写入镇街 {len(missing)} 个：{'、'.join(seed.name for seed in missing)}",
        )
    return len(missing)


def find_town(session: Session, name_or_code: str) -> Town:
    """The town whose name or code is ``name_or_code``."""
    text = name_or_code.strip()
    town = session.scalars(select(Town).where(or_(Town.name == text, Town.code == text))).first()
    if town is None:
        raise NotFound(f"没有名称或代码为“{text}”的镇街")
    return town


def list_towns(session: Session) -> list[Town]:
    """All towns, streets first, in code order."""
    return list(session.scalars(select(Town).order_by(Town.kind, Town.code)))
