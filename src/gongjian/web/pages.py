"""The pages of the foundation: sign-in and sign-out, the language switch, the admin's
user page and the API documentation (the home page, ``/``, is the city overview of
``kpi/pages.py``). Routes are thin: they call the auth services and render templates.

Every route of a signed-in page takes ``PageActor`` (redirect to /login when signed out,
CSRF check on writes); a signed-out form takes ``anonymous_csrf``.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from gongjian.auth.services import (
    AccountDisabled,
    LockedOut,
    SignInFailed,
    end_session,
    end_sessions,
    list_users,
    open_session_counts,
    set_active,
    sign_in,
    start_session,
)
from gongjian.periods import city_zone
from gongjian.towns.models import Town
from gongjian.web.csrf import anonymous_csrf
from gongjian.web.deps import PageActor, SessionDep
from gongjian.web.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LANGUAGES, language_of, translate
from gongjian.web.sessions import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    current_session,
    is_https,
    now,
    set_session_cookie,
)
from gongjian.web.templating import render, safe_next

router = APIRouter(include_in_schema=False)

Username = Annotated[str, Form(min_length=1, max_length=200)]
UserVersion = Annotated[int | None, Form(ge=1)]


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    session: SessionDep,
    next: str = "/",
    expired: bool = False,
    signed_out: bool = False,
) -> Response:
    """The sign-in form (signed-in users go straight on to ``next``)."""
    if current_session(request, session) is not None:
        return _redirect(safe_next(next))
    lang = language_of(request)
    notice = (
        translate(lang, "login.expired")
        if expired
        else translate(lang, "login.signed_out")
        if signed_out
        else None
    )
    response = render(
        request, "login.html", next=safe_next(next), username="", error=None, notice=notice
    )
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookie(response, request)
    return response


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(anonymous_csrf)])
def login(
    request: Request,
    session: SessionDep,
    username: Username,
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials (with the lock-out) and start a session."""
    lang = language_of(request)
    moment = now(request)
    username = username.strip()

    def refused(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
        return render(
            request,
            "login.html",
            status_code=status,
            headers=headers,
            next=safe_next(next),
            username=username,
            error=error,
            notice=None,
        )

    try:
        user = sign_in(
            session,
            username=username,
            password=password,
            now=moment,
            remote_addr=client_address(request),
        )
    except LockedOut as exc:
        wait = max(1, math.ceil((exc.until - moment).total_seconds()))
        time = f"{exc.until.astimezone(city_zone()):%H:%M:%S}"
        message = translate(lang, "login.locked", time=time, minutes=math.ceil(wait / 60))
        return refused(message, 429, {"Retry-After": str(wait)})
    except AccountDisabled:
        return refused(translate(lang, "login.disabled"), 403)
    except SignInFailed:
        return refused(translate(lang, "login.failed"), 200)
    previous = current_session(request, session)
    if previous is not None:
        end_session(session, web_session=previous[0], user=previous[1], now=moment)
    token = start_session(session, user=user, now=moment, remote_addr=client_address(request))
    session.commit()
    response = _redirect(safe_next(next))
    set_session_cookie(response, request, token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, actor: PageActor) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared."""
    found = current_session(request, session)
    assert found is not None  # PageActor has signed the request in
    end_session(session, web_session=found[0], user=found[1], now=now(request))
    session.commit()
    response = _redirect("/login?signed_out=1")
    clear_session_cookie(response, request)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    """Switch the language (remembered in a cookie for a year) and go back to ``next``.
    A link, not a form: it changes only how pages read, nothing stored on the server."""
    response = _redirect(safe_next(next))
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=LANG_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=is_https(request),
            path="/",
        )
    return response


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, session: SessionDep) -> Response:
    """The API's documentation (Swagger UI from our own static files)."""
    current_session(request, session)
    return render(request, "api_docs.html")


# --- the admin's user page --------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(
    request: Request,
    session: SessionDep,
    actor: PageActor,
    done: str | None = None,
    user: str | None = None,
) -> Response:
    """Every account with its role, town, status and open sessions (admin only)."""
    users = list_users(session, actor=actor)
    sessions = open_session_counts(session, actor=actor, now=now(request))
    towns = dict(session.execute(select(Town.id, Town.name)).tuples().all())
    rows = [
        {
            "username": account.username,
            "display_name": account.display_name,
            "role": account.role,
            "town": towns.get(account.town_id) if account.town_id else None,
            "is_active": account.is_active,
            "version": account.version,
            "sessions": sessions.get(account.id, 0),
            "is_self": account.id == actor.user_id,
        }
        for account in users
    ]
    lang = language_of(request)
    notice = (
        translate(lang, f"admin.done.{done}", user=user)
        if done in ("disabled", "enabled", "ended") and user
        else None
    )
    return render(request, "admin/users.html", rows=rows, done=notice)


def _done(what: str, username: str) -> RedirectResponse:
    return _redirect(f"/admin/users?{urlencode({'done': what, 'user': username})}")


@router.post("/admin/users/disable")
def disable_user(
    session: SessionDep, actor: PageActor, username: Username, version: UserVersion = None
) -> Response:
    """Disable an account; its sessions end. Based on the account's version the page
    showed (the conflict page, 409, when it changed since)."""
    set_active(session, actor=actor, username=username, active=False, version=version)
    session.commit()
    return _done("disabled", username)


@router.post("/admin/users/enable")
def enable_user(
    session: SessionDep, actor: PageActor, username: Username, version: UserVersion = None
) -> Response:
    """Enable an account again, based on its version the page showed (as above)."""
    set_active(session, actor=actor, username=username, active=True, version=version)
    session.commit()
    return _done("enabled", username)


@router.post("/admin/users/end-sessions")
def end_user_sessions(
    request: Request, session: SessionDep, actor: PageActor, username: Username
) -> Response:
    """End every open session of an account: its user must sign in again."""
    end_sessions(session, actor=actor, username=username, now=now(request))
    session.commit()
    return _done("ended", username)
