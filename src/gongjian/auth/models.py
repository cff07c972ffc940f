"""User accounts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongjian.auth.choices import ACCOUNT_ROLES, Role
from gongjian.db import Base, Timestamped, check_in, utcnow


class User(Timestamped, Base):
    """A person who signs in. A ``town`` user belongs to exactly one town."""

    __tablename__ = "users"
    __table_args__ = (
        check_in("role", ACCOUNT_ROLES),
        CheckConstraint("role <> 'public'", name="no_public_accounts"),
        CheckConstraint("(role = 'town') = (town_id IS NOT NULL)", name="town_role_has_town"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200), comment="argon2id")
    role: Mapped[Role] = mapped_column(String(10))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    is_active: Mapped[bool] = mapped_column(default=True)


class StationToken(Base):
    """An API token a monitoring station posts samples with (监测站令牌).

    Created by the city, scoped to the points the station may report, revocable. Only
    the SHA-256 of the secret is kept; ``prefix`` lets people tell tokens apart.
    """

    __tablename__ = "station_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, comment="the station's name")
    prefix: Mapped[str] = mapped_column(String(12), comment="first characters of the token")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of it")
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    points: Mapped[list[StationTokenPoint]] = relationship(
        back_populates="token", cascade="all, delete-orphan"
    )


class StationTokenPoint(Base):
    """A monitoring point a station's token may report samples for."""

    __tablename__ = "station_token_points"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("station_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    point_id: Mapped[int] = mapped_column(ForeignKey("monitoring_points.id"), primary_key=True)
    token: Mapped[StationToken] = relationship(back_populates="points")
