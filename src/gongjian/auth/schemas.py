"""API schemas of user accounts (never the password hash)."""

from gongjian.auth.choices import Role
from gongjian.schemas import ReadModel


class UserRead(ReadModel):
    """An account as the admin sees it."""

    username: str
    display_name: str
    role: Role
    town_id: int | None
    is_active: bool
