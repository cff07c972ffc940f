"""User accounts: adding, listing, changing passwords, disabling, signing in, and the
web sessions and lock-out that signing in needs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from functools import cache, partial

from sqlalchemy import ColumnElement, Engine, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action, Role, SessionEnd
from gongjian.auth.models import SignInFailure, User, WebSession
from gongjian.auth.passwords import MIN_LENGTH, hash_password, verify_password
from gongjian.auth.permissions import authorize
from gongjian.config import get_settings
from gongjian.db import WRITING, after_scope, utcnow
from gongjian.errors import Conflict, GongjianError, Invalid, NotFound, Problem, StaleVersion
from gongjian.periods import city_zone
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


def set_active(
    session: Session, *, actor: Actor, username: str, active: bool, version: int | None = None
) -> User:
    """Enable or disable an account; disabling it ends its open web sessions. An admin
    may not disable their own account (nobody would be left to enable it). ``version``:
    the version of the account the decision is based on (``StaleVersion`` naming its
    public fields when it is at another now)."""
    authorize(session, actor, Action.change, "user", record_id=username)
    user = get_user(session, username)
    if version is not None and version != user.version:
        raise StaleVersion(
            resource="user",
            label="用户账号",
            code=username,
            sent=version,
            current=user.version,
            record=_public(user),
        )
    if not active and actor.user_id is not None and actor.user_id == user.id:
        raise Conflict("不能停用自己的账号")
    before = _public(user)
    user.is_active = active
    if not active:
        _end_sessions_of(session, user.id, SessionEnd.disabled, utcnow())
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


# --- signing in, with lock-out and back-off ---------------------------------------------


class SignInFailed(GongjianError):
    """Wrong username or password, or a disabled account (401)."""

    status = 401


class AccountDisabled(SignInFailed):
    """The password was right but the account is disabled."""


class LockedOut(GongjianError):
    """Too many failed sign-ins for this username: refused until ``until`` (429)."""

    status = 429

    def __init__(self, message: str, until: dt.datetime) -> None:
        super().__init__(message)
        self.until = until


@cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so that an unknown username
    takes as long to refuse as a wrong password."""
    return hash_password(secrets.token_hex(16))


def _latest_failure(session: Session, username: str) -> SignInFailure | None:
    return session.scalars(
        select(SignInFailure)
        .where(SignInFailure.username == username[:60])
        .order_by(SignInFailure.at.desc(), SignInFailure.id.desc())
        .limit(1)
    ).first()


def backoff_seconds(run_length: int) -> int | None:
    """The back-off after the ``run_length``-th failure of a run, in seconds: none below
    ``login_max_failures``; then ``login_lockout_seconds``, doubling with each further
    failure, capped at ``login_lockout_max_seconds``."""
    settings = get_settings()
    beyond = run_length - settings.login_max_failures
    if beyond < 0:
        return None
    return min(
        settings.login_lockout_max_seconds, settings.login_lockout_seconds << min(beyond, 40)
    )


def _record_failure(
    session: Session, username: str, now: dt.datetime, remote_addr: str | None
) -> SignInFailure:
    """Store a failed sign-in; it locks the username out when it completes a run.

    A run is ``login_max_failures`` failures within ``login_window_minutes``; once a run
    has locked the username out, each failure before the back-off has been over for
    ``login_window_minutes`` continues it (and doubles the back-off). Rows too old to
    matter are removed.
    """
    settings = get_settings()
    window = dt.timedelta(minutes=settings.login_window_minutes)
    name = username[:60]
    latest = _latest_failure(session, name)
    if (
        latest is not None
        and latest.locked_until is not None
        and now <= latest.locked_until + window
    ):
        run_length = latest.run_length + 1
    else:
        recent = session.scalar(
            select(func.count())
            .select_from(SignInFailure)
            .where(SignInFailure.username == name, SignInFailure.at > now - window)
        )
        run_length = (recent or 0) + 1
    seconds = backoff_seconds(run_length)
    failure = SignInFailure(
        username=name,
        at=now,
        run_length=run_length,
        locked_until=None if seconds is None else now + dt.timedelta(seconds=seconds),
        remote_addr=remote_addr,
    )
    session.add(failure)
    forgotten = now - 2 * window - dt.timedelta(seconds=settings.login_lockout_max_seconds)
    session.execute(
        delete(SignInFailure).where(SignInFailure.username == name, SignInFailure.at < forgotten)
    )
    session.flush()
    return failure


def _refuse_sign_in(
    session: Session, username: str, detail: str, *, action: str = "sign_in"
) -> None:
    record(
        session,
        actor=Actor.public(),
        action=action,
        resource="user",
        record_id=username[:60],
        outcome="refused",
        detail=detail,
    )


def _at(moment: dt.datetime) -> str:
    return f"{moment.astimezone(city_zone()):%Y-%m-%d %H:%M:%S}"


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    now: dt.datetime | None = None,
    remote_addr: str | None = None,
    via: str = "web",
) -> User:
    """The active user whose credentials these are, or an error: ``LockedOut`` while the
    username is locked out (the password is not even checked), ``AccountDisabled``,
    ``SignInFailed``.

    Every refusal and every lock-out is written to the audit log (resource ``user``,
    outcome ``refused``) and committed before the error is raised, so a caller that
    rolls back keeps them. ``via`` (``web``, ``api``) is named in those entries.
    """
    now = now or utcnow()
    where = f"{via}，来自 {remote_addr}" if remote_addr else via
    latest = _latest_failure(session, username)
    until = latest.locked_until if latest is not None else None
    if until is not None and until > now:
        _refuse_sign_in(
            session, username, f"登录被拒：账号锁定中，{_at(until)} 后可再试（{where}）"
        )
        session.commit()
        raise LockedOut(f"登录失败次数过多，请于 {_at(until)} 后再试", until)
    user = session.scalars(select(User).where(User.username == username)).first()
    valid = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not valid:
        failure = _record_failure(session, username, now, remote_addr)
        reason = "用户名不存在" if user is None else "密码错误"
        _refuse_sign_in(
            session,
            username,
            f"登录失败：{reason}（本轮第 {failure.run_length} 次，{where}）",
        )
        if failure.locked_until is not None:
            seconds = int((failure.locked_until - now).total_seconds())
            _refuse_sign_in(
                session,
                username,
                f"账号锁定 {seconds} 秒，至 {_at(failure.locked_until)}"
                f"（连续失败 {failure.run_length} 次，{where}）",
                action="lock_out",
            )
        session.commit()
        if failure.locked_until is not None:
            raise LockedOut(
                f"登录失败次数过多，请于 {_at(failure.locked_until)} 后再试", failure.locked_until
            )
        raise SignInFailed("用户名或密码错误")
    if not user.is_active:
        _refuse_sign_in(session, username, f"登录被拒：账号已停用（{where}）")
        session.commit()
        raise AccountDisabled("账号已停用，请联系平台管理员")
    if latest is not None:
        session.execute(delete(SignInFailure).where(SignInFailure.username == username))
    return user


# --- web sessions ----------------------------------------------------------------------

#: ``last_seen_at`` is written at most this often, so that reading pages does not write
#: on every request; the inactivity timeout is exact to within this much.
LAST_SEEN_EVERY = dt.timedelta(seconds=60)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) of a session token: what the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token: str) -> str:
    """The CSRF token of the session whose cookie holds ``token``: an HMAC of a fixed
    label keyed by the session's secret, so it needs no storage, changes with every
    sign-in, and does not reveal the session token."""
    return hmac.new(token.encode(), b"gongjian-csrf", hashlib.sha256).hexdigest()


def _limits() -> tuple[dt.timedelta, dt.timedelta]:
    settings = get_settings()
    return (
        dt.timedelta(minutes=settings.session_idle_minutes),
        dt.timedelta(hours=settings.session_max_hours),
    )


def _live(now: dt.datetime) -> ColumnElement[bool]:
    idle, max_age = _limits()
    return and_(
        WebSession.ended_at.is_(None),
        WebSession.last_seen_at > now - idle,
        WebSession.created_at > now - max_age,
    )


def start_session(
    session: Session, *, user: User, now: dt.datetime | None = None, remote_addr: str | None = None
) -> str:
    """A new web session for ``user`` (who has just signed in); returns the token for
    the cookie, which is not stored anywhere. The sign-in is audited."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            remote_addr=remote_addr,
        )
    )
    session.flush()
    record(
        session,
        actor=actor_for(user),
        action="sign_in",
        resource="user",
        record_id=user.username,
        town_id=user.town_id,
        detail=f"网页登录（来自 {remote_addr}）" if remote_addr else "网页登录",
    )
    return token


def resume_session(
    session: Session, *, token: str, now: dt.datetime | None = None
) -> tuple[WebSession, User] | None:
    """The open session whose cookie holds ``token`` and its user, or ``None``.

    A session found idle, too old, or whose user is disabled is ended here (the
    change is committed at once, so that a caller that rolls back keeps it)."""
    now = now or utcnow()
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_digest(token))
    ).first()
    if found is None:
        return None
    web_session, user = found
    if web_session.ended_at is not None:
        return None
    idle, max_age = _limits()
    reason = (
        SessionEnd.disabled
        if not user.is_active
        else SessionEnd.expired
        if now - web_session.created_at >= max_age
        else SessionEnd.idle
        if now - web_session.last_seen_at >= idle
        else None
    )
    if reason is not None:
        web_session.ended_at, web_session.ended_reason = now, reason
        session.commit()
        return None
    if now - web_session.last_seen_at >= LAST_SEEN_EVERY:
        _touch(session, web_session, now)
    return web_session, user


def _touch(session: Session, web_session: WebSession, now: dt.datetime) -> None:
    """Note that ``web_session`` was seen at ``now``.

    A request that writes notes it in its own transaction (which holds SQLite's write
    lock already). A reading request notes it after its transaction has ended and
    given its connection back (``after_scope``), in a short transaction of its own: the
    request's transaction stays read-only, so reading a page never holds SQLite's write
    lock while the page renders, and a request never holds two connections. Best
    effort: when the database is busy, the note waits for the next request (the idle
    timeout is exact to within ``LAST_SEEN_EVERY`` anyway)."""
    if session.get_bind().get_execution_options().get(WRITING):
        web_session.last_seen_at = now
        return
    set_committed_value(web_session, "last_seen_at", now)
    after_scope(session, partial(_note_seen, web_session.id, now))


def _note_seen(web_session_id: int, now: dt.datetime, engine: Engine) -> None:
    try:
        with Session(engine) as own, own.begin():
            own.execute(
                update(WebSession).where(WebSession.id == web_session_id).values(last_seen_at=now)
            )
    except OperationalError:
        return


def end_session(
    session: Session, *, web_session: WebSession, user: User, now: dt.datetime | None = None
) -> None:
    """Sign out: end ``web_session`` (audited)."""
    web_session.ended_at = now or utcnow()
    web_session.ended_reason = SessionEnd.signed_out
    session.flush()
    record(
        session,
        actor=actor_for(user),
        action="sign_out",
        resource="user",
        record_id=user.username,
        town_id=user.town_id,
        detail="网页退出登录",
    )


def _end_sessions_of(session: Session, user_id: int, reason: SessionEnd, now: dt.datetime) -> int:
    open_sessions = list(
        session.scalars(
            select(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        )
    )
    for web_session in open_sessions:
        web_session.ended_at, web_session.ended_reason = now, reason
    return len(open_sessions)


def end_sessions(
    session: Session, *, actor: Actor, username: str, now: dt.datetime | None = None
) -> int:
    """End every open web session of ``username`` (admin only; audited); returns how
    many were open."""
    authorize(session, actor, Action.change, "user", record_id=username)
    user = get_user(session, username)
    now = now or utcnow()
    live = session.scalar(
        select(func.count())
        .select_from(WebSession)
        .where(WebSession.user_id == user.id, _live(now))
    )
    _end_sessions_of(session, user.id, SessionEnd.ended_by_admin, now)
    session.flush()
    record(
        session,
        actor=actor,
        action="change",
        resource="user",
        record_id=username,
        town_id=user.town_id,
        detail=f"结束全部网页会话（{live or 0} 个）",
    )
    return live or 0


def open_session_counts(
    session: Session, *, actor: Actor, now: dt.datetime | None = None
) -> dict[int, int]:
    """How many open web sessions each user has, by user id (admin only)."""
    authorize(session, actor, Action.view, "user")
    rows = session.execute(
        select(WebSession.user_id, func.count())
        .where(_live(now or utcnow()))
        .group_by(WebSession.user_id)
    )
    return {user_id: count for user_id, count in rows.tuples()}
