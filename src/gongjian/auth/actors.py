"""Who acts: a signed-in user, the public, or the system."""

from __future__ import annotations

from dataclasses import dataclass

from gongjian.auth.choices import Role


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, the public, or the system itself."""

    username: str
    role: Role
    town_id: int | None = None
    user_id: int | None = None
    points: frozenset[int] = frozenset()
    """For a monitoring station: the points it may report samples for."""

    @classmethod
    def public(cls) -> Actor:
        """A citizen without an account."""
        return cls(username="public", role=Role.public)

    @classmethod
    def system(cls, username: str = "system") -> Actor:
        """The platform acting on an operator's command (``gongjian`` on the server)."""
        return cls(username=username, role=Role.admin)
