"""User accounts, monitoring stations' tokens, web sessions and failed sign-ins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gongjian.auth.choices import ACCOUNT_ROLES, Role, SessionEnd
from gongjian.db import Base, Timestamped, Versioned, check_in, utcnow


class User(Timestamped, Versioned, Base):
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


class WebSession(Base):
    """A signed-in browser session (网页登录会话).

    The browser's cookie holds a random token; only its SHA-256 is stored, so a copy
    of this table signs nobody in. A session ends when its user signs out, after
    ``session_idle_minutes`` without a request, ``session_max_hours`` after sign-in,
    or when an admin disables the user or ends their sessions; ``ended_at`` and
    ``ended_reason`` say when and why, and the row stays as a record.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (check_in("ended_reason", SessionEnd),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, comment="SHA-256 of the cookie's token (hex)"
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, comment="sign-in")
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, comment="last request (updated at most once a minute)"
    )
    ended_at: Mapped[dt.datetime | None]
    ended_reason: Mapped[SessionEnd | None] = mapped_column(String(20))
    remote_addr: Mapped[str | None] = mapped_column(String(45), comment="client address at sign-in")


class SignInFailure(Base):
    """A failed web sign-in for a username (wrong password, or an unknown username).

    The lock-out reads these: ``login_max_failures`` failures within
    ``login_window_minutes`` lock the username out for ``login_lockout_seconds``,
    doubling with each further failure of the same run (``run_length``) up to
    ``login_lockout_max_seconds``. A successful sign-in clears the username's rows;
    the audit log keeps every failure.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), comment="as typed; need not exist")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    run_length: Mapped[int] = mapped_column(
        comment="failures in the run this one belongs to, itself included"
    )
    locked_until: Mapped[dt.datetime | None] = mapped_column(
        comment="when this failure locked the username out, the end of the back-off"
    )
    remote_addr: Mapped[str | None] = mapped_column(String(45))
