"""User accounts: adding, listing, changing passwords, disabling, signing in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action, Role
from gongjian.auth.models import User
from gongjian.auth.passwords import MIN_LENGTH, hash_password, verify_password
from gongjian.auth.permissions import authorize
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.towns.services import find_town

_HIDDEN = {"password_hash"}


def _public(user: User) -> dict[str, object]:
    return {k: v for k, v in snapshot(user).items() if k not in _HIDDEN}


def _check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(
            "密码太短",
            [Problem(f"密码至少 {MIN_LENGTH} 个字符", column="password")],
        )


def add_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    role: Role,
    town: str | None = None,
    display_name: str | None = None,
) -> User:
    """Create an account; a ``town`` user names its town (name or code)."""
    authorize(session, actor, Action.add, "user")
    if role is Role.public:
        raise Invalid("公众无需账号", [Problem("角色不能是 public", column="role")])
    if (role is Role.town) != (town is not None):
        raise Invalid(
            "镇街用户必须指定所属镇街，其他角色不能指定",
            [Problem("role 与 town 不匹配", column="town", value=town)],
        )
    _check_password(password)
    town_id = find_town(session, town).id if town is not None else None
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"用户名“{username}”已存在")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        town_id=town_id,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"用户名“{username}”已存在") from exc
    record(
        session,
        actor=actor,
        action="add",
        resource="user",
        record_id=username,
        town_id=town_id,
        after=_public(user),
    )
    return user


def get_user(session: Session, username: str) -> User:
    """The account named ``username``."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"没有用户“{username}”")
    return user


def list_users(session: Session, *, actor: Actor) -> list[User]:
    """Every account (admin only)."""
    authorize(session, actor, Action.view, "user")
    return list(session.scalars(select(User).order_by(User.username)))


def set_password(session: Session, *, actor: Actor, username: str, password: str) -> None:
    """Change an account's password."""
    authorize(session, actor, Action.change, "user", record_id=username)
    _check_password(password)
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    record(
        session,
        actor=actor,
        action="change",
        resource="user",
        record_id=username,
        detail="修改密码",
    )


def set_active(session: Session, *, actor: Actor, username: str, active: bool) -> User:
    """Enable or disable an account."""
    authorize(session, actor, Action.change, "user", record_id=username)
    user = get_user(session, username)
    before = _public(user)
    user.is_active = active
    session.flush()
    record(
        session,
        actor=actor,
        action="change",
        resource="user",
        record_id=username,
        before=before,
        after=_public(user),
        detail="启用账号" if active else "停用账号",
    )
    return user


def authenticate(session: Session, username: str, password: str) -> Actor | None:
    """The actor for valid, active credentials; ``None`` otherwise."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        return None
    return actor_for(user)


def actor_for(user: User) -> Actor:
    """The actor a signed-in ``user`` acts as."""
    return Actor(
        username=user.username, role=Role(user.role), town_id=user.town_id, user_id=user.id
    )
