"""API schemas of user accounts (never the password hash)."""

import datetime as dt

from pydantic import BaseModel, Field

from gongjian.auth.choices import Role
from gongjian.schemas import VersionedRead


class UserRead(VersionedRead):
    """An account as the admin sees it."""

    username: str
    display_name: str
    role: Role
    town_id: int | None
    is_active: bool


class StationCreate(BaseModel):
    """A new station token: the station's name and the points it may report."""

    name: str = Field(min_length=1, max_length=80)
    points: list[str] = Field(min_length=1, description="检测点编号")


class StationRead(BaseModel):
    """A station token as the city sees it (never the token itself)."""

    name: str
    prefix: str
    points: list[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class StationCreated(StationRead):
    """A new token: ``token`` is shown this once and never again."""

    token: str
