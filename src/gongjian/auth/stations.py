"""API tokens of monitoring stations: created by the city, scoped to points, revocable.

A station sends ``Authorization: Bearer <token>`` with its sample batches. The secret
is shown once, when the token is created; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action, Role
from gongjian.auth.models import StationToken, StationTokenPoint
from gongjian.auth.permissions import authorize
from gongjian.db import utcnow
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.water.models import MonitoringPoint

TOKEN_PREFIX = "gjst_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(session: Session, name: str) -> StationToken:
    token = session.scalars(
        select(StationToken)
        .where(StationToken.name == name)
        .options(selectinload(StationToken.points))
    ).first()
    if token is None:
        raise NotFound(f"没有名为“{name}”的监测站令牌")
    return token


def _described(token: StationToken, codes: list[str]) -> dict[str, object]:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "points": codes,
        "revoked_at": token.revoked_at,
    }


def create_token(
    session: Session, *, actor: Actor, name: str, point_codes: list[str]
) -> tuple[StationToken, str]:
    """A new token for station ``name`` reporting ``point_codes``; returns it and its
    secret, which is never shown again."""
    authorize(session, actor, Action.add, "station_token", record_id=name)
    codes = sorted(set(point_codes))
    if not codes:
        raise Invalid("令牌至少要指定一个检测点", [Problem("检测点为空", column="points")])
    found: dict[str, int] = {
        code: point_id
        for code, point_id in session.execute(
            select(MonitoringPoint.code, MonitoringPoint.id).where(MonitoringPoint.code.in_(codes))
        )
    }
    missing = [code for code in codes if code not in found]
    if missing:
        raise Invalid(
            "检测点不存在",
            [Problem("没有这个检测点", column="points", value=code) for code in missing],
        )
    if session.scalars(select(StationToken.id).where(StationToken.name == name)).first():
        raise Conflict(f"已有名为“{name}”的监测站令牌")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = StationToken(
        name=name,
        prefix=secret[:12],
        token_hash=_digest(secret),
        created_by=actor.username,
        points=[StationTokenPoint(point_id=found[code]) for code in codes],
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=actor,
        action="add",
        resource="station_token",
        record_id=name,
        after=_described(token, codes),
    )
    return token, secret


def revoke_token(session: Session, *, actor: Actor, name: str) -> StationToken:
    """Revoke station ``name``'s token: it is refused from now on."""
    authorize(session, actor, Action.change, "station_token", record_id=name)
    token = _token(session, name)
    if token.revoked_at is not None:
        raise Conflict(f"监测站令牌“{name}”已于 {token.revoked_at:%Y-%m-%d %H:%M} 吊销")
    codes = point_codes(session, token)
    before = _described(token, codes)
    token.revoked_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="change",
        resource="station_token",
        record_id=name,
        before=before,
        after=_described(token, codes),
        detail="吊销令牌",
    )
    return token


def list_tokens(session: Session, *, actor: Actor) -> list[StationToken]:
    """Every station token, revoked ones included."""
    authorize(session, actor, Action.view, "station_token")
    return list(
        session.scalars(
            select(StationToken)
            .order_by(StationToken.name)
            .options(selectinload(StationToken.points))
        )
    )


def point_codes(session: Session, token: StationToken) -> list[str]:
    """The codes of the points ``token`` may report."""
    ids = [link.point_id for link in token.points]
    return sorted(session.scalars(select(MonitoringPoint.code).where(MonitoringPoint.id.in_(ids))))


def actor_for_token(session: Session, secret: str) -> Actor | None:
    """The station acting with ``secret``; ``None`` when unknown or revoked."""
    token = session.scalars(
        select(StationToken)
        .where(StationToken.token_hash == _digest(secret))
        .options(selectinload(StationToken.points))
    ).first()
    if token is None or token.revoked_at is not None:
        return None
    token.last_used_at = utcnow()
    return Actor(
        username=f"station:{token.name}",
        role=Role.station,
        points=frozenset(link.point_id for link in token.points),
    )
