"""The portal integrity monitor (``gongjian portal check``) against the small demo city
served by uvicorn: clean when served as it is, and each kind of search-spam injection
caught when a tampering proxy sits in front of it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send
from typer.testing import CliRunner

import gongjian.db
from gongjian.cli import app
from gongjian.config import get_settings
from gongjian.models import River
from gongjian.portal.integrity import AGENTS, load_blocklist, term_pattern
from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory
from tests.serving import free_port, serving

SPAM = "http://spam.example/"
EVERY_AGENT = {agent.name for agent in AGENTS}
CRAWLERS = {"baiduspider", "googlebot"}
FIRST_RIVER = "first-river"
"""Stands for the first published river's page in the cases (its id is the database's)."""


@dataclass(frozen=True)
class Answer:
    """A response passing through the proxy: what the tampering may rewrite."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def html(self) -> bool:
        return any(k == "content-type" and "text/html" in v for k, v in self.headers)

    def edit(self, change: Callable[[str], str]) -> Answer:
        """The answer with its HTML rewritten by ``change`` (other answers as they are)."""
        if not self.html:
            return self
        return replace(self, body=change(self.body.decode("utf-8")).encode("utf-8"))


Tamper = Callable[[str, Headers, Answer], Answer]
"""Rewrites an answer, given the page's path with its query and the request's headers."""


class TamperingProxy:
    """An ASGI app forwarding every GET to the real portal and passing each answer
    through ``tamper`` (``None``: as it is), as an attacker in front of the site would."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.tamper: Tamper | None = None
        self.names: dict[str, str] = {}
        """Pages the cases name otherwise (``FIRST_RIVER`` for the first river's page)."""
        self.client: httpx.AsyncClient | None = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """One client to the portal for the proxy's life, made and closed on its loop."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(base_url=self.upstream)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self.client is not None
        headers = Headers(scope=scope)
        query = scope["query_string"].decode()
        target = scope["path"] + (f"?{query}" if query else "")
        forwarded = {
            name: headers[name]
            for name in ("user-agent", "referer", "accept", "accept-language", "cookie")
            if name in headers
        }
        upstream = await self.client.get(target, headers=forwarded)
        answer = Answer(
            upstream.status_code,
            [
                (name, value)
                for name, value in upstream.headers.multi_items()
                if name not in ("content-length", "content-encoding", "transfer-encoding")
            ],
            upstream.content,
        )
        if self.tamper is not None:
            answer = self.tamper(self.names.get(target, target), headers, answer)
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        raw.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})


@pytest.fixture(scope="module")
def portal_city(databases: DatabaseFactory) -> Iterator[Engine]:
    """The small demo city (seed 7) in a database of this module's own."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("portalcheck", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def portal_url(portal_city: Engine) -> Iterator[str]:
    """The portal served normally."""
    with serving(create_app(portal_city)) as url:
        yield url


@dataclass
class Proxy:
    app: TamperingProxy
    url: str


@pytest.fixture(scope="module")
def proxy(portal_url: str, portal_city: Engine) -> Iterator[Proxy]:
    """The tampering proxy in front of the portal (tampering with nothing until told)."""
    tampering = TamperingProxy(portal_url)
    tampering.names = {_pages(portal_city)[1]: FIRST_RIVER}
    with serving(tampering, lifespan="on") as url:
        yield Proxy(tampering, url)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    output: str
    report: dict[str, Any]

    def kinds(self) -> set[str]:
        return {finding["kind"] for finding in self.report["findings"]}

    def where(self, kind: str | None = None) -> set[tuple[str, str]]:
        """The (page, agent) of the findings (of ``kind``)."""
        return {
            (finding["page"], finding["agent"])
            for finding in self.report["findings"]
            if kind is None or finding["kind"] == kind
        }

    def details(self, kind: str) -> str:
        return " ".join(f["detail"] for f in self.report["findings"] if f["kind"] == kind)


@pytest.fixture
def check(portal_city: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Outcome]]:
    """Run ``gongjian portal check --json`` against a base URL, on the demo city's
    database."""
    monkeypatch.setenv("GONGJIAN_DATABASE_URL", portal_city.url.render_as_string(False))
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    monkeypatch.setattr(gongjian.db, "_engine", None)

    def run(base_url: str, *, as_json: bool = True) -> Outcome:
        arguments = ["portal", "check", "--base-url", base_url] + (["--json"] if as_json else [])
        result = CliRunner().invoke(app, arguments)
        if as_json and result.exit_code in (0, 1):
            assert result.stdout, f"exit {result.exit_code} without a report: {result.output}"
        report = json.loads(result.stdout) if as_json and result.exit_code in (0, 1) else {}
        return Outcome(result.exit_code, result.output, report)

    yield run
    if gongjian.db._engine is not None:
        gongjian.db._engine.dispose()
    get_settings.cache_clear()


def _pages(engine: Engine) -> list[str]:
    with Session(engine) as session:
        ids = session.scalars(select(River.id).where(River.published).order_by(River.id)).all()
    return [
        "/portal",
        *(f"/portal/rivers/{i}" for i in ids),
        "/portal/complaints/new",
        "/portal/receipts",
    ]


def test_the_check_runs_where_an_event_loop_is_already_running(
    check: Callable[..., Outcome], portal_url: str
) -> None:
    """As under Playwright's sync API, a notebook or an async job runner."""

    async def from_a_coroutine() -> Outcome:
        asyncio.get_running_loop()
        return check(portal_url)

    try:
        asyncio.get_running_loop()  # one runs already (the browser suite's, in this process)
        found = check(portal_url)
    except RuntimeError:
        found = asyncio.run(from_a_coroutine())
    assert found.exit_code == 0, found.output
    assert found.report["clean"] is True


def test_the_portal_served_as_it_is_is_clean(
    check: Callable[..., Outcome], portal_url: str, portal_city: Engine
) -> None:
    found = check(portal_url)
    assert found.exit_code == 0, found.output
    assert found.report["clean"] is True
    assert found.report["findings"] == []
    assert set(found.report["pages"]) == set(_pages(portal_city))
    assert set(found.report["agents"]) == EVERY_AGENT


def test_a_proxy_that_changes_nothing_is_clean(check: Callable[..., Outcome], proxy: Proxy) -> None:
    proxy.app.tamper = None
    found = check(proxy.url)
    assert found.exit_code == 0, found.output


def test_a_legitimate_change_in_the_database_is_no_alarm(
    check: Callable[..., Outcome], portal_url: str, portal_city: Engine
) -> None:
    with Session(portal_city) as session:
        river = session.scalars(select(River).where(River.published).order_by(River.id)).first()
        assert river is not None
        page, old_name = f"/portal/rivers/{river.id}", river.name
        river.name = "岐江新河（已更名）"
        session.commit()
        try:
            assert "岐江新河（已更名）" in httpx.get(portal_url + page).text
            found = check(portal_url)
            assert found.exit_code == 0, found.output
        finally:
            river.name = old_name
            session.commit()


def _inject_in_main(snippet: str) -> Callable[[str], str]:
    return lambda html: html.replace(
        '<main id="main" tabindex="-1">', f'<main id="main" tabindex="-1">{snippet}', 1
    )


def _on(
    page: str, change: Callable[[str], str], when: Callable[[Headers], bool] = lambda _h: True
) -> Tamper:
    """Rewrite ``page`` (path and query) with ``change`` for the requests ``when`` picks."""

    def tamper(target: str, headers: Headers, answer: Answer) -> Answer:
        return answer.edit(change) if target == page and when(headers) else answer

    return tamper


def _ua(word: str) -> Callable[[Headers], bool]:
    return lambda headers: word in headers.get("user-agent", "")


def _from_baidu(headers: Headers) -> bool:
    return "baidu.com" in headers.get("referer", "")


def _retitle(target: str, headers: Headers, answer: Answer) -> Answer:
    return answer.edit(
        lambda html: re.sub(
            r"<title>.*?</title>", "<title>优惠活动 · 注册就送</title>", html, count=1, flags=re.S
        )
    )


def _crawlers_elsewhere(target: str, headers: Headers, answer: Answer) -> Answer:
    if _ua("Baiduspider")(headers) or _ua("Googlebot")(headers):
        return Answer(302, [("location", SPAM), ("content-type", "text/html")], b"")
    return answer


HOME = "/portal"
FORM = "/portal/complaints/new"


@dataclass(frozen=True)
class Case:
    tamper: Tamper
    kind: str
    pages: set[str] | None
    """The pages the finding must be on; ``None``: every page."""
    agents: set[str]
    allowed: set[str]
    """The kinds of finding the injection may bring besides ``kind``."""
    mentions: str = ""


CASES = {
    "title rewritten for all": Case(_retitle, "title", None, EVERY_AGENT, set()),
    "other content for Baiduspider only": Case(
        _on(HOME, _inject_in_main("<p>中山最新资讯，尽在某某网</p>"), _ua("Baiduspider")),
        "text",
        {HOME},
        {"baiduspider"},
        set(),
        "中山最新资讯",
    ),
    "other content for Googlebot only": Case(
        _on(FIRST_RIVER, _inject_in_main("<p>最新优惠，尽在某某网</p>"), _ua("Googlebot")),
        "text",
        {FIRST_RIVER},
        {"googlebot"},
        set(),
        "最新优惠",
    ),
    "other content with a Baidu referrer only": Case(
        _on(FORM, _inject_in_main("<p>点击领取红包</p>"), _from_baidu),
        "text",
        {FORM},
        {"baidu-referrer"},
        set(),
        "点击领取红包",
    ),
    "hidden link block (display:none)": Case(
        _on(
            HOME, _inject_in_main(f'<div style="display:none"><a href="{SPAM}">优惠活动</a></div>')
        ),
        "hidden",
        {HOME},
        EVERY_AGENT,
        {"links"},
        "spam.example",
    ),
    "zero-size link block": Case(
        _on(
            FIRST_RIVER,
            _inject_in_main(
                f'<div style="width:0;height:0;overflow:hidden"><a href="{SPAM}z">优惠</a></div>'
            ),
        ),
        "hidden",
        {FIRST_RIVER},
        EVERY_AGENT,
        {"links"},
        "spam.example/z",
    ),
    "off-screen link": Case(
        _on(
            HOME,
            _inject_in_main(f'<a href="{SPAM}o" style="position:absolute; left:-9999px">优惠</a>'),
        ),
        "hidden",
        {HOME},
        EVERY_AGENT,
        {"links"},
        "spam.example/o",
    ),
    "link hidden by a stylesheet rule": Case(
        _on(
            HOME,
            lambda html: _inject_in_main(f'<div class="seo-box"><a href="{SPAM}s">优惠</a></div>')(
                html.replace("</head>", "<style>main .seo-box { font-size: 0 }</style></head>")
            ),
        ),
        "hidden",
        {HOME},
        EVERY_AGENT,
        {"links"},
        "spam.example/s",
    ),
    "link in the colour of the background": Case(
        _on(
            FORM,
            _inject_in_main(
                f'<p style="color:#fff">领红包 <a href="{SPAM}c" style="color:white">点此</a></p>'
            ),
        ),
        "hidden",
        {FORM},
        EVERY_AGENT,
        {"links"},
        "spam.example/c",
    ),
    "blocklisted term in visible text": Case(
        _on(HOME, _inject_in_main("<p>澳门赌场，百家乐在线，注册就送</p>")),
        "blocklist",
        {HOME},
        EVERY_AGENT,
        {"text"},
        "百家乐",
    ),
    "off-site redirect for crawlers": Case(
        _crawlers_elsewhere, "redirect", None, CRAWLERS, set(), SPAM
    ),
    "injected meta keywords": Case(
        _on(
            HOME,
            lambda html: html.replace(
                "</head>", '<meta name="keywords" content="优惠,红包,注册就送"></head>'
            ),
        ),
        "meta",
        {HOME},
        EVERY_AGENT,
        set(),
        "name:keywords",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_kind_of_tampering_is_caught(
    name: str, check: Callable[..., Outcome], proxy: Proxy, portal_city: Engine
) -> None:
    case = CASES[name]
    first_river = _pages(portal_city)[1]
    pages = {
        first_river if page == FIRST_RIVER else page for page in case.pages or _pages(portal_city)
    }
    proxy.app.tamper = case.tamper
    try:
        found = check(proxy.url)
    finally:
        proxy.app.tamper = None
    assert found.exit_code == 1, found.output
    assert found.report["clean"] is False
    assert found.where(case.kind) == {(page, agent) for page in pages for agent in case.agents}
    assert found.where() <= {(page, agent) for page in pages for agent in case.agents}
    assert found.kinds() <= {case.kind, *case.allowed}
    assert case.mentions in found.details(case.kind)


def test_the_report_is_a_table_of_findings(check: Callable[..., Outcome], proxy: Proxy) -> None:
    proxy.app.tamper = _on(
        HOME, _inject_in_main(f'<div style="display:none"><a href="{SPAM}">优惠活动</a></div>')
    )
    try:
        found = check(proxy.url, as_json=False)
    finally:
        proxy.app.tamper = None
    assert found.exit_code == 1
    assert "发现" in found.output
    assert "隐藏内容" in found.output
    assert "百度蜘蛛" in found.output


def test_a_site_that_does_not_answer_exits_2(check: Callable[..., Outcome]) -> None:
    found = check(f"http://127.0.0.1:{free_port()}")
    assert found.exit_code == 2
    assert "无法访问" in found.output


def test_the_blocklist_is_the_packaged_file_or_the_cities_own_plus_extra_terms(
    tmp_path: Path,
) -> None:
    packaged = load_blocklist()
    assert {"博彩", "百家乐", "六合彩", "casino", "bet365", "色情", "AV"} <= set(packaged)
    assert not any(term.startswith("#") for term in packaged)
    own = tmp_path / "terms.txt"
    own.write_text("# ours\n某赌场\n\n某赌场\n", encoding="utf-8")
    assert load_blocklist(own, [" spam-brand ", ""]) == ["某赌场", "spam-brand"]


def test_latin_terms_match_whole_words_and_chinese_anywhere() -> None:
    assert term_pattern("AV").search("free av here")
    assert not term_pattern("AV").search("average flow")
    assert term_pattern("casino").search("www.casino-royal.example")
    assert term_pattern("百家乐").search("在线百家乐注册")
