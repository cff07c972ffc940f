"""What the renewal tests share: towns by name, their operators, and parcels written
straight to the database (no service, no audit entry)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.renewal.choices import RenewalState
from gongjian.renewal.models import Parcel, ThemePark
from gongjian.towns.models import Town


def town_of(session: Session, name: str) -> Town:
    """The town called ``name``."""
    return session.scalars(select(Town).where(Town.name == name)).one()


def town_actor(town: Town) -> Actor:
    """An operator of ``town``."""
    return Actor(username=f"town-{town.name_en}", role=Role.town, town_id=town.id)


def make_parcel(
    session: Session,
    code: str,
    *,
    town: str,
    area_mu: str = "20",
    state: RenewalState = RenewalState.identified,
    park: str | None = None,
) -> Parcel:
    """A parcel of ``town`` in ``state``, in theme park ``park`` (a code) when given, as
    the parcel service would assign it."""
    park_id = (
        session.scalars(select(ThemePark.id).where(ThemePark.code == park)).one() if park else None
    )
    parcel = Parcel(
        code=code,
        town_id=town_of(session, town).id,
        area_mu=Decimal(area_mu),
        renewal_state=state,
        theme_park_id=park_id,
    )
    session.add(parcel)
    session.flush()
    return parcel
