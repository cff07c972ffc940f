"""User accounts."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gongjian.auth.choices import Role
from gongjian.db import Base, Timestamped, check_in


class User(Timestamped, Base):
    """A person who signs in. A ``town`` user belongs to exactly one town."""

    __tablename__ = "users"
    __table_args__ = (
        check_in("role", Role),
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
