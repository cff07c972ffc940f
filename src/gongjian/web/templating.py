"""Jinja2 rendering of pages: autoescaped, translated, with the CSRF token at hand.

Every page gets ``lang``, ``t`` (the catalogue of ``lang``), ``csrf_token()`` (the
token its forms send back), ``user`` (the signed-in user or ``None``), ``role_label``,
``languages`` and ``here`` (the page's path and query, for the language switch and
the return after signing in), and the formatting of ``gongjian.display`` (``headline``,
``headline_wan_yuan``, ``full``, ``change``, ``day_text``, ``period_text``), and
``demo_data``: whether the database holds the demo city (its pages say 示例数据). Pages are
never cached (``Cache-Control: no-store``), so the back button shows nothing after
signing out.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse

from gongjian import __version__, display
from gongjian.audit.services import holds_demo
from gongjian.db import session_scope
from gongjian.web import csrf
from gongjian.web.i18n import LANGUAGES, language_of, translate

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


#: The main navigation: (path, catalogue key, the roles that see it; empty for all).
NAV_ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/", "nav.home", ()),
    ("/rivers", "nav.rivers", ()),
    ("/complaints", "nav.complaints", ()),
    ("/parcels", "nav.parcels", ()),
    ("/projects", "nav.projects", ()),
    ("/batches", "nav.batches", ()),
    ("/ranking", "nav.ranking", ()),
    ("/briefings", "nav.briefings", ()),
    ("/dispatch", "nav.dispatch", ("admin", "city", "auditor")),
    ("/imports", "nav.imports", ("admin", "city", "town")),
    ("/audit", "nav.audit", ("admin", "auditor")),
    ("/admin/users", "nav.admin_users", ("admin",)),
    ("/portal", "nav.portal", ()),
    ("/docs", "nav.api_docs", ()),
)


def _nav_current(request: Request, href: str) -> bool:
    path = request.url.path
    return path == href if href == "/" else path == href or path.startswith(href + "/")


def here(request: Request) -> str:
    """The request's path and query: where to come back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirects)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return "/"
    return target


def note_demo_data(request: Request, session: Session) -> None:
    """Ask, through the request's own ``session``, whether the app's database holds the
    demo city, unless the app knows already (``demo_data``)."""
    state = request.app.state
    if not hasattr(state, "demo_data"):
        state.demo_data = holds_demo(session)


def demo_data(request: Request) -> bool:
    """Whether the app's database holds the demo city: noted by the first request that
    takes a database session (``note_demo_data``), then kept. A page rendered before
    any (an error page) asks in a session of its own; a database that cannot answer
    (not reachable, not yet created) is asked again by the next page."""
    state = request.app.state
    if not hasattr(state, "demo_data"):
        try:
            with session_scope(state.engine) as session:
                note_demo_data(request, session)
        except SQLAlchemyError:
            return False
    found: bool = state.demo_data
    return found


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``name`` rendered for ``request``."""
    page = environment.get_template(name).render(**page_context(request), **context)
    response = HTMLResponse(page, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    csrf.set_cookie_if_new(response, request)
    return response


def render_fragment(request: Request, name: str, **context: Any) -> Markup:
    """The template ``name`` rendered for ``request`` as a piece of a page, to keep (a
    page may cache it) and put into a page as it is."""
    return Markup(environment.get_template(name).render(**page_context(request), **context))


def page_context(request: Request) -> dict[str, Any]:
    """What every template is given for ``request`` (see the module's docstring)."""
    lang = language_of(request)
    t = partial(translate, lang)
    user = getattr(request.state, "web_user", None)
    return dict(
        request=request,
        lang=lang,
        t=t,
        languages=LANGUAGES,
        csrf_token=partial(csrf.token_for, request),
        csrf_field=csrf.CSRF_FIELD,
        user=user,
        role_label=(lambda role: t(f"role.{role}")),
        here=here(request),
        quote=partial(quote, safe=""),
        version=__version__,
        nav_items=NAV_ITEMS,
        nav_current=partial(_nav_current, request),
        headline=display.headline,
        headline_wan_yuan=display.headline_wan_yuan,
        full=display.full,
        change=display.change,
        day_text=partial(display.day_text, lang=lang),
        moment_text=partial(display.moment_text, lang=lang),
        period_text=partial(display.period_text, lang=lang),
        demo_data=demo_data(request),
    )
