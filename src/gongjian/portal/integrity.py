"""The portal integrity monitor: is the public portal, as the world fetches it, what the
platform renders?

Government portals are a favourite target of search-spam injection: a title rewritten,
links hidden in the page, or other content served only to search crawlers (cloaking).
``check_portal`` fetches every published portal page over HTTP as a browser, as
Baiduspider, as Googlebot and as a browser coming from a Baidu search, and compares each
answer with what the platform itself renders for the same page at the same moment, in
process, over the same database (so content changed legitimately is on both sides). It
flags any difference of status, ``<title>``, meta tags, visible text, links or inline
scripts; content hidden in the fetched page that the platform does not hide; redirects
to another site; and any term of the blocklist of gambling and pornography keywords.

Hidden content is decided from the page's inline styles, its ``<style>`` elements and
its same-site stylesheets (each side reads its own): ``display:none``,
``visibility:hidden``, zero opacity, zero or one-pixel size, ``font-size:0``, clipping,
positions or indents far off-screen, and text in the colour of its background where
both colours are known. The CSS reading is deliberately simple (no specificity beyond
the selector's own, sibling combinators read as "anywhere"); it errs towards calling
content hidden, and it reads both sides alike, so the platform's own skip link and
visually hidden labels compare equal.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import lxml.html
from anyio.from_thread import start_blocking_portal
from lxml import etree
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.choices import LabeledChoice
from gongjian.errors import GongjianError, Invalid, Problem
from gongjian.periods import today
from gongjian.portal import services

logger = logging.getLogger("gongjian.portal")

PACKAGED_BLOCKLIST = "blocklist.txt"
"""The blocklist shipped with the package, beside this module."""

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
BAIDUSPIDER_UA = (
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
)
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BAIDU_REFERER = "https://www.baidu.com/s?wd=" + quote("中山 河涌 黑臭水体 治理")
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

PER_REQUEST_PARAMS = frozenset({"csrf_token"})
"""Query parameters whose value changes with every request (dropped from links)."""
PER_REQUEST_META = frozenset({"name:csrf-token"})
"""Meta tags whose content changes with every request (not compared)."""
OFF_SCREEN_PX = -500
"""A position, margin or text indent at or beyond this many pixels is off-screen."""
TINY_PX = 1
"""A width or height at or under this many pixels hides what is inside."""
SHOWN = 3
"""Items quoted in a finding's detail; the rest are counted."""
QUOTE_CHARS = 60
"""Longest quotation of text in a finding's detail."""
NOT_RENDERED = frozenset({"script", "style", "template", "head", "title", "meta", "link"})
"""Elements whose content is never visible text."""


class FindingKind(LabeledChoice):
    """What the integrity monitor found wrong with a fetched portal page."""

    status = ("status", "状态码不同")
    title_tag = ("title", "标题不同")
    """The ``<title>`` differs (member named so as not to hide ``str.title``)."""
    meta = ("meta", "元标签不同")
    text = ("text", "正文不同")
    links = ("links", "链接不同")
    hidden = ("hidden", "隐藏内容")
    redirect = ("redirect", "跳转到其他网站")
    blocklist = ("blocklist", "违禁词")


@dataclass(frozen=True)
class Agent:
    """Who the monitor fetches a page as: the request headers that tell them apart."""

    name: str
    label: str
    headers: dict[str, str]


AGENTS: tuple[Agent, ...] = (
    Agent("browser", "浏览器", {"User-Agent": CHROME_UA, "Accept": HTML_ACCEPT}),
    Agent("baiduspider", "百度蜘蛛", {"User-Agent": BAIDUSPIDER_UA, "Accept": "*/*"}),
    Agent("googlebot", "Googlebot", {"User-Agent": GOOGLEBOT_UA, "Accept": "*/*"}),
    Agent(
        "baidu-referrer",
        "从百度搜索点入",
        {"User-Agent": CHROME_UA, "Accept": HTML_ACCEPT, "Referer": BAIDU_REFERER},
    ),
)
"""A current desktop browser, Baiduspider, Googlebot, and the browser arriving from a
Baidu search (cloaking often keys on the referrer)."""


@dataclass(frozen=True)
class Finding:
    """One difference or suspicious thing on one page, fetched as one agent."""

    page: str
    agent: str
    """The ``Agent.name`` it was fetched as."""
    kind: FindingKind
    detail: str
    """What differs, in a few words and quotations (a short diff)."""


@dataclass(frozen=True)
class Report:
    """The result of one check of the portal."""

    base_url: str
    checked_at: dt.datetime
    pages: list[str]
    agents: list[str]
    findings: list[Finding]

    @property
    def clean(self) -> bool:
        """Whether nothing was found."""
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "base_url": self.base_url,
            "checked_at": self.checked_at.isoformat(),
            "pages": self.pages,
            "agents": self.agents,
            "clean": self.clean,
            "findings": [
                {
                    "page": finding.page,
                    "agent": finding.agent,
                    "kind": finding.kind.value,
                    "detail": finding.detail,
                }
                for finding in self.findings
            ],
        }


class SiteUnreachable(GongjianError):
    """The portal did not answer over HTTP (refused, timed out, broken connection)."""

    status = 502


# --- the pages and the blocklist ----------------------------------------------------------


def published_pages(session: Session) -> list[str]:
    """Every published portal page, as the public sees the database: the list's pages of
    cards, each published river's page, the complaint form and the receipt lookup."""
    actor = Actor.public()
    first = services.list_rivers(session, actor=actor, as_of=today(), page=1)
    pages = ["/portal"] + [f"/portal?page={n}" for n in range(2, first.pages + 1)]
    pages += [
        f"/portal/rivers/{river.id}" for river in services.river_choices(session, actor=actor)
    ]
    return [*pages, "/portal/complaints/new", "/portal/receipts"]


def load_blocklist(path: Path | None = None, extra: Iterable[str] = ()) -> list[str]:
    """The blocklist's terms: those of ``path`` (``None``: the packaged list), one a line,
    ``#`` starting a comment line, then ``extra``; blanks and repeats dropped."""
    if path is None:
        raw = resources.files("gongjian.portal").joinpath(PACKAGED_BLOCKLIST).read_text("utf-8")
    else:
        try:
            raw = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid(
                "无法读取违禁词表",
                [Problem(f"{exc}", column="portal_blocklist_file", value=str(path))],
            ) from None
    lines = [line.strip() for line in raw.splitlines()]
    terms = [line for line in lines if line and not line.startswith("#")]
    return list(dict.fromkeys([*terms, *(term.strip() for term in extra if term.strip())]))


def term_pattern(term: str) -> re.Pattern[str]:
    """Latin terms as whole words ignoring case (``AV`` is not in ``average``); others
    anywhere."""
    escaped = re.escape(term.lower())
    if term.isascii():
        return re.compile(rf"(?<![0-9a-z]){escaped}(?![0-9a-z])")
    return re.compile(escaped)


# --- CSS: just enough to tell hidden content ---------------------------------------------

STATE_PSEUDOS = re.compile(
    r"::?(hover|focus|focus-visible|focus-within|active|visited|target|checked|invalid|"
    r"before|after|placeholder|marker|selection|backdrop|first-line|first-letter|"
    r"file-selector-button|-webkit-[\w-]+|-moz-[\w-]+)\b"
)
"""Pseudo-classes and elements that do not style the element at rest: such rules are
skipped."""
FUNCTIONAL_PSEUDO = re.compile(r":[\w-]+\([^()]*\)")
SIMPLE_PSEUDO = re.compile(r":[\w-]+")
COMPOUND_PART = re.compile(
    r"(?P<tag>^[a-zA-Z][\w-]*|^\*)|#(?P<id>[\w-]+)|\.(?P<cls>[\w-]+)|\[(?P<attr>[^\]]+)\]"
)
ATTRIBUTE = re.compile(r"^\s*([\w-]+)\s*(?:([~|^$*]?=)\s*[\"']?([^\"']*)[\"']?\s*(?:i)?)?\s*$")
LENGTH = re.compile(r"^(-?\d*\.?\d+)(px|em|rem|pt|pc|in|cm|mm|vw|vh|%)?$")
PX_PER_UNIT = {
    "": 1.0,
    "px": 1.0,
    "em": 16.0,
    "rem": 16.0,
    "pt": 4 / 3,
    "pc": 16.0,
    "in": 96.0,
    "cm": 96 / 2.54,
    "mm": 96 / 25.4,
    "vw": 19.2,
    "vh": 10.8,
    "%": 10.0,
}
"""Pixels per unit, for telling "far off-screen" or "zero-size" (a 1920×1080 screen, 16 px
text; a percentage read as of a 1000 px box)."""
NAMED_COLOURS = {
    "white": "#ffffff",
    "black": "#000000",
    "red": "#ff0000",
    "green": "#008000",
    "blue": "#0000ff",
    "yellow": "#ffff00",
    "gray": "#808080",
    "grey": "#808080",
    "silver": "#c0c0c0",
}
UNKNOWN = "?"
"""A colour the reading could not resolve (a gradient, an image, a variable not known)."""


@dataclass(frozen=True)
class Compound:
    """One compound selector: tag, ids, classes and attribute tests together."""

    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attributes: tuple[tuple[str, str, str], ...]
    """``(name, operator, value)``; operator ``""`` tests presence only."""

    def matches(self, element: Any) -> bool:
        """Whether ``element`` (an lxml element) is selected by this compound."""
        if self.tag and self.tag != "*" and element.tag != self.tag:
            return False
        if self.ids and element.get("id") not in self.ids:
            return False
        if self.classes and not set(self.classes) <= set(element.get("class", "").split()):
            return False
        return all(_attribute_matches(element, *test) for test in self.attributes)


def _attribute_matches(element: Any, name: str, operator: str, value: str) -> bool:
    found = element.get(name)
    if found is None:
        return False
    tests: dict[str, Callable[[], bool]] = {
        "": lambda: True,
        "=": lambda: found == value,
        "~=": lambda: value in found.split(),
        "|=": lambda: found == value or found.startswith(value + "-"),
        "^=": lambda: found.startswith(value),
        "$=": lambda: found.endswith(value),
        "*=": lambda: value in found,
    }
    return tests.get(operator, lambda: True)()


@dataclass(frozen=True)
class Rule:
    """A style rule with one selector: its compounds from the outermost ancestor to the
    element (descendant and child combinators both read as descendant)."""

    chain: tuple[Compound, ...]
    specificity: tuple[int, int, int]
    order: int
    declarations: tuple[tuple[str, str], ...]

    def key(self) -> str:
        """The bucket of the rule's index: its element's first id, class or tag."""
        last = self.chain[-1]
        if last.ids:
            return "#" + last.ids[0]
        if last.classes:
            return "." + last.classes[0]
        return last.tag if last.tag and last.tag != "*" else "*"

    def matches(self, element: Any) -> bool:
        """Whether the rule applies to ``element``."""
        if not self.chain[-1].matches(element):
            return False
        node = element.getparent()
        for compound in reversed(self.chain[:-1]):
            while node is not None and not compound.matches(node):
                node = node.getparent()
            if node is None:
                return False
            node = node.getparent()
        return True


def declarations(text: str) -> tuple[tuple[str, str], ...]:
    """The ``property: value`` pairs of a declaration block, lower case (names only for
    custom properties), ``!important`` dropped."""
    pairs = []
    for item in text.split(";"):
        name, colon, value = item.partition(":")
        name = name.strip()
        if not colon or not name:
            continue
        value = value.replace("!important", "").strip()
        if not name.startswith("--"):
            name, value = name.lower(), value.lower()
        pairs.append((name, value))
    return tuple(pairs)


def _selector(text: str) -> tuple[tuple[Compound, ...], tuple[int, int, int]] | None:
    """A selector's compounds and specificity; ``None`` when it never styles an element
    at rest or cannot be read."""
    if STATE_PSEUDOS.search(text):
        return None
    text = text.replace(":root", "html")
    text = SIMPLE_PSEUDO.sub("", FUNCTIONAL_PSEUDO.sub("", text)).strip()
    parts = re.split(r"\s*[+~]\s*", text)[-1]
    compounds = []
    ids = classes = tags = 0
    for raw in re.split(r"\s*>\s*|\s+", parts.strip()):
        if not raw:
            continue
        tag, found_ids, found_classes, attributes = None, [], [], []
        position = 0
        for match in COMPOUND_PART.finditer(raw):
            if match.start() != position:
                return None
            position = match.end()
            if match["tag"]:
                tag = match["tag"].lower()
            elif match["id"]:
                found_ids.append(match["id"])
            elif match["cls"]:
                found_classes.append(match["cls"])
            elif test := ATTRIBUTE.match(match["attr"]):
                attributes.append((test[1].lower(), test[2] or "", test[3] or ""))
            else:
                return None
        if position != len(raw):
            return None
        ids += len(found_ids)
        classes += len(found_classes) + len(attributes)
        tags += 1 if tag and tag != "*" else 0
        compounds.append(Compound(tag, tuple(found_ids), tuple(found_classes), tuple(attributes)))
    return (tuple(compounds), (ids, classes, tags)) if compounds else None


@lru_cache(maxsize=64)
def stylesheet_rules(css: str) -> tuple[Rule, ...]:
    """The style rules of a stylesheet, in order; rules inside ``@media`` and other
    conditional blocks are taken as applying (the reading errs towards "hidden")."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: list[Rule] = []
    stack: list[tuple[str, int]] = []
    prelude_start = 0
    for brace in re.finditer(r"[{}]", css):
        if brace.group() == "{":
            stack.append((css[prelude_start : brace.start()].strip(), brace.end()))
        elif stack:
            prelude, start = stack.pop()
            body = css[start : brace.start()]
            if not prelude.startswith("@") and "{" not in body:
                pairs = declarations(body)
                for text in prelude.split(","):
                    if parsed := _selector(text):
                        rules.append(Rule(parsed[0], parsed[1], len(rules), pairs))
        prelude_start = brace.end()
    return tuple(rules)


class StyleIndex:
    """The rules of a page's stylesheets, indexed by the id, class or tag they end on."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.buckets: dict[str, list[Rule]] = {}
        for rule in rules:
            self.buckets.setdefault(rule.key(), []).append(rule)

    def style(self, element: Any) -> dict[str, str]:
        """The declared style of ``element``: matching rules by specificity and order,
        then its inline ``style``."""
        keys = ["*", element.tag, *("." + name for name in element.get("class", "").split())]
        if element.get("id"):
            keys.append("#" + element.get("id"))
        candidates = {id(rule): rule for key in keys for rule in self.buckets.get(key, ())}
        matched = sorted(
            (rule for rule in candidates.values() if rule.matches(element)),
            key=lambda rule: (rule.specificity, rule.order),
        )
        style: dict[str, str] = {}
        for rule in matched:
            style.update(rule.declarations)
        style.update(declarations(element.get("style", "")))
        return style


def _px(value: str | None) -> float | None:
    """A CSS length in pixels, or ``None`` when it is not a plain length."""
    if not value:
        return None
    match = LENGTH.match(value.strip())
    if not match:
        return None
    return float(match[1]) * PX_PER_UNIT[match[2] or ""]


def _resolve(value: str, variables: dict[str, str]) -> str:
    """``value`` with its ``var(--name, fallback)`` replaced from ``variables``."""
    for _ in range(5):
        match = re.search(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*))?\)", value)
        if not match:
            return value
        found = variables.get(match[1], match[2] if match[2] is not None else UNKNOWN)
        value = value[: match.start()] + found.strip() + value[match.end() :]
    return UNKNOWN


def _colour(value: str) -> str | None:
    """A colour as ``#rrggbb`` (``UNKNOWN`` when it cannot be told, ``None`` when it is
    transparent). A ``background`` shorthand gives its colour when it has one."""
    value = value.strip().lower()
    if value in ("transparent", "none", "inherit", "initial", "unset", ""):
        return None
    if "url(" in value or "gradient" in value or UNKNOWN in value:
        return UNKNOWN
    if hexa := re.search(r"#([0-9a-f]{3,8})\b", value):
        digits = hexa[1]
        if len(digits) in (3, 4):
            digits = "".join(2 * c for c in digits[:3])
        return "#" + digits[:6]
    if rgb := re.search(r"rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)\s*(?:[,/]\s*([\d.]+%?))?", value):
        if rgb[4] is not None and float(rgb[4].rstrip("%")) == 0:
            return None
        return "#" + "".join(f"{min(int(rgb[i]), 255):02x}" for i in (1, 2, 3))
    for word in value.split():
        if word in NAMED_COLOURS:
            return NAMED_COLOURS[word]
    return UNKNOWN


def _hidden_reason(element: Any, style: dict[str, str]) -> str | None:
    """Why ``element`` is hidden by its own style or attributes, or ``None``."""
    if element.get("hidden") is not None:
        return "hidden 属性"
    if style.get("display") == "none":
        return "display:none"
    if style.get("visibility") in ("hidden", "collapse"):
        return "visibility:hidden"
    if style.get("opacity", "").strip() in ("0", "0.0", "0%"):
        return "opacity:0"
    font_size = _px(style.get("font-size"))
    if font_size is not None and font_size <= 0:
        return "font-size:0"
    for name in ("width", "height", "max-width", "max-height"):
        size = _px(style.get(name) or element.get(name))
        if size is not None and size <= TINY_PX:
            return f"{name}:{style.get(name) or element.get(name)}（零尺寸）"
    if re.search(r"rect\(\s*0", style.get("clip", "")) or re.search(
        r"inset\(\s*50%|circle\(\s*0", style.get("clip-path", "")
    ):
        return "clip（裁剪不见）"
    names = ("left", "top", "right", "bottom", "margin-left", "margin-top", "text-indent")
    for name in names:
        if name.startswith(("left", "top", "right", "bottom")) and style.get("position") not in (
            "absolute",
            "fixed",
            "relative",
        ):
            continue
        offset = _px(style.get(name))
        if offset is not None and offset <= OFF_SCREEN_PX:
            return f"{name}:{style.get(name)}（移出屏幕）"
    return None


@dataclass(frozen=True)
class HiddenItem:
    """Content a page hides: the outermost hidden element's text and links."""

    reason: str
    text: str
    links: tuple[str, ...]

    def key(self) -> tuple[str, tuple[str, ...]]:
        """What makes two hidden items the same, whatever hides them."""
        return self.text, self.links


@dataclass(frozen=True)
class Colours:
    """What an element inherits: its text colour, the background behind it, and the
    custom properties (CSS variables) in scope."""

    text: str | None = None
    background: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


# --- reading a page ---------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Rendering:
    """What a response shows, ready to compare: per-request values normalised away."""

    status: int
    content_type: str
    location: str | None = None
    titles: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    text: tuple[str, ...] = ()
    """The visible text, a chunk per text node, whitespace normalised."""
    links: frozenset[str] = frozenset()
    scripts: tuple[str, ...] = ()
    """Inline script bodies (the portal has none but its JSON data)."""
    hidden: tuple[HiddenItem, ...] = ()
    everything: str = ""
    """All the text, hidden included, titles, meta contents and links: for the blocklist."""

    @property
    def visible(self) -> str:
        """The visible text as one string."""
        return " ".join(self.text)


class Origin:
    """The site under check: makes links comparable (its own links as paths)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.scheme, self.host = parts.scheme, parts.netloc.lower()

    def own(self, url: str) -> bool:
        """Whether absolute ``url`` is on the site."""
        parts = urlsplit(url)
        return not parts.netloc or parts.netloc.lower() == self.host

    def link(self, page_url: str, value: str) -> str:
        """``value`` (an href or src of a page at ``page_url``) as compared: a path with
        its query (per-request parameters dropped) on the site, the absolute URL
        elsewhere."""
        absolute = urljoin(page_url, value.strip())
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or not self.own(absolute):
            return absolute
        query = urlencode(
            [
                (k, v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k not in PER_REQUEST_PARAMS
            ]
        )
        return urlunsplit(("", "", parts.path, query, parts.fragment))


LINK_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "poster")


def _links(element: Any, origin: Origin, page_url: str) -> Iterator[str]:
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        for name in LINK_ATTRIBUTES:
            value = node.get(name)
            if value is not None and not (node.tag == "input" and name == "src"):
                yield origin.link(page_url, value)


def _meta(document: Any) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for node in document.iter("meta"):
        for attribute in ("name", "property", "http-equiv", "itemprop"):
            if node.get(attribute):
                key = f"{attribute}:{node.get(attribute).strip().lower()}"
                if key not in PER_REQUEST_META:
                    found.setdefault(key, []).append(_normal(node.get("content", "")))
    return {key: " | ".join(values) for key, values in found.items()}


def stylesheet_links(document: Any, origin: Origin, page_url: str) -> list[str]:
    """The site's own stylesheets a page links to, as paths."""
    found = []
    for node in document.iter("link"):
        if "stylesheet" in node.get("rel", "").lower().split() and node.get("href"):
            link = origin.link(page_url, node.get("href"))
            if link.startswith("/"):
                found.append(link)
    return found


class _Reader:
    """One walk over a page's body: visible text chunks and hidden items."""

    def __init__(self, styles: StyleIndex, origin: Origin, page_url: str) -> None:
        self.styles, self.origin, self.page_url = styles, origin, page_url
        self.text: list[str] = []
        self.hidden: list[HiddenItem] = []

    def _chunk(self, text: str | None) -> None:
        if text and text.strip():
            self.text.append(_normal(text))

    def walk(self, element: Any, inherited: Colours) -> None:
        style = self.styles.style(element)
        variables = inherited.variables | {k: v for k, v in style.items() if k.startswith("--")}
        text_colour = inherited.text
        if "color" in style:
            text_colour = _colour(_resolve(style["color"], variables))
        background = inherited.background
        for name in ("background", "background-color"):
            if name in style and (colour := _colour(_resolve(style[name], variables))):
                background = colour
        reason = _hidden_reason(element, style)
        if (
            reason is None
            and text_colour not in (None, UNKNOWN)
            and text_colour == (background or "#ffffff")
            and _normal(element.text_content())
        ):
            reason = f"文字颜色与背景相同（{text_colour}）"
        if reason is not None:
            text = _normal(element.text_content()) if element.tag not in NOT_RENDERED else ""
            links = tuple(sorted(set(_links(element, self.origin, self.page_url))))
            if text or links:
                self.hidden.append(HiddenItem(reason, text, links))
            return
        if element.tag in NOT_RENDERED:
            return
        self._chunk(element.text)
        here = Colours(text_colour, background, variables)
        for child in element:
            if isinstance(child.tag, str):
                self.walk(child, here)
            self._chunk(child.tail)


def parse(response: httpx.Response) -> Any:
    """The HTML document of ``response`` (an lxml element), or ``None`` when it is a
    redirect, not HTML, empty or beyond reading."""
    content_type = response.headers.get("content-type", "").lower()
    if response.is_redirect or "html" not in content_type or not response.text.strip():
        return None
    try:
        return lxml.html.document_fromstring(response.text)
    except (etree.ParserError, ValueError):
        return None


def read_page(
    response: httpx.Response, document: Any, origin: Origin, stylesheets: dict[str, str]
) -> Rendering:
    """What ``response`` shows (``document``: its parsed HTML, ``None`` when it has none),
    its hidden content read with ``stylesheets`` (the CSS text of each of the site's
    stylesheets the page links to, by path)."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    page_url = str(response.url)
    location = response.headers.get("location")
    if location is not None:
        location = origin.link(page_url, location)
    if document is None:
        return Rendering(response.status_code, content_type, location, everything=response.text)
    css = [stylesheets.get(path, "") for path in stylesheet_links(document, origin, page_url)]
    css += [node.text_content() for node in document.iter("style")]
    rules = [rule for text in css for rule in stylesheet_rules(text)]
    reader = _Reader(StyleIndex(rules), origin, page_url)
    reader.walk(document, Colours())
    titles = " | ".join(_normal(node.text_content()) for node in document.iter("title"))
    meta = _meta(document)
    links = frozenset(_links(document, origin, page_url))
    scripts = tuple(
        _normal(node.text_content())
        for node in document.iter("script")
        if node.text_content().strip()
    )
    everything = " ".join(
        [titles, *meta.values(), _normal(document.text_content()), *sorted(links)]
    )
    return Rendering(
        status=response.status_code,
        content_type=content_type,
        location=location,
        titles=titles,
        meta=meta,
        text=tuple(reader.text),
        links=links,
        scripts=scripts,
        hidden=tuple(reader.hidden),
        everything=everything,
    )


# --- comparing --------------------------------------------------------------------------


def _quote(items: Sequence[str]) -> str:
    shown = [
        f"「{item[:QUOTE_CHARS]}{'…' if len(item) > QUOTE_CHARS else ''}」"
        for item in items[:SHOWN]
    ]
    more = f" 等 {len(items)} 处" if len(items) > SHOWN else ""
    return "、".join(shown) + more


def _added_removed(reference: Sequence[str], fetched: Sequence[str]) -> str:
    """A short diff: what the fetched sequence has more and less than the reference."""
    matcher = difflib.SequenceMatcher(a=reference, b=fetched, autojunk=False)
    added: list[str] = []
    removed: list[str] = []
    for operation, i1, i2, j1, j2 in matcher.get_opcodes():
        if operation in ("replace", "delete"):
            removed += reference[i1:i2]
        if operation in ("replace", "insert"):
            added += fetched[j1:j2]
    parts = []
    if added:
        parts.append("多出 " + _quote(added))
    if removed:
        parts.append("缺少 " + _quote(removed))
    return "；".join(parts)


def compare(
    page: str,
    agent: Agent,
    fetched: Rendering,
    reference: Rendering,
    origin: Origin,
    terms: Sequence[str],
) -> list[Finding]:
    """What differs between the page as fetched and as the platform renders it, what it
    hides that the platform does not, and the blocklist's terms in it."""
    findings: list[Finding] = []

    def found(kind: FindingKind, detail: str) -> None:
        findings.append(Finding(page, agent.name, kind, detail))

    if fetched.location and not fetched.location.startswith("/"):
        found(FindingKind.redirect, f"{fetched.status} 跳转到 {fetched.location}")
    elif (fetched.status, fetched.location) != (reference.status, reference.location):
        where = f"（跳转到 {fetched.location}）" if fetched.location else ""
        found(FindingKind.status, f"平台为 {reference.status}，站点返回 {fetched.status}{where}")
    elif fetched.content_type != reference.content_type:
        found(
            FindingKind.status,
            f"内容类型：平台为 {reference.content_type}，站点返回 {fetched.content_type}",
        )
    if fetched.location is None and reference.location is None:
        findings += _compare_content(page, agent, fetched, reference, origin)
    findings += _blocklisted(page, agent, fetched, reference, terms)
    return findings


def _compare_content(
    page: str, agent: Agent, fetched: Rendering, reference: Rendering, origin: Origin
) -> list[Finding]:
    findings: list[Finding] = []

    def found(kind: FindingKind, detail: str) -> None:
        findings.append(Finding(page, agent.name, kind, detail))

    if fetched.titles != reference.titles:
        found(FindingKind.title_tag, f"平台为「{reference.titles}」，站点为「{fetched.titles}」")
    if fetched.meta != reference.meta:
        changes = []
        for key in sorted(fetched.meta.keys() | reference.meta.keys()):
            before, after = reference.meta.get(key), fetched.meta.get(key)
            if before != after:
                changes.append(f"{key}：{before or '（无）'} → {after or '（无）'}")
        found(FindingKind.meta, "；".join(changes))
    for key, content in fetched.meta.items():
        if key == "http-equiv:refresh" and "url=" in content.lower():
            target = content[content.lower().index("url=") + 4 :].strip(" '\"")
            if not origin.own(urljoin(origin.scheme + "://" + origin.host + page, target)):
                found(FindingKind.redirect, f"meta refresh 跳转到 {target}")
    if fetched.visible != reference.visible:
        found(FindingKind.text, _added_removed(reference.text, fetched.text))
    if fetched.scripts != reference.scripts:
        found(FindingKind.text, "内嵌脚本：" + _added_removed(reference.scripts, fetched.scripts))
    if fetched.links != reference.links:
        added = sorted(fetched.links - reference.links)
        removed = sorted(reference.links - fetched.links)
        parts = ([f"多出 {_quote(added)}"] if added else []) + (
            [f"缺少 {_quote(removed)}"] if removed else []
        )
        found(FindingKind.links, "；".join(parts))
    known = {item.key() for item in reference.hidden}
    for item in fetched.hidden:
        if item.key() not in known:
            links = f"，链接 {_quote(item.links)}" if item.links else ""
            text = _quote([item.text]) if item.text else "（无文字）"
            found(FindingKind.hidden, f"{item.reason}：{text}{links}")
    return findings


def _blocklisted(
    page: str, agent: Agent, fetched: Rendering, reference: Rendering, terms: Sequence[str]
) -> list[Finding]:
    text = fetched.everything.lower()
    found = []
    for term in terms:
        if match := term_pattern(term).search(text):
            start = max(0, match.start() - 15)
            found.append(f"「{term}」（…{fetched.everything[start : match.end() + 15]}…）")
    if not found:
        return []
    own = any(term_pattern(term).search(reference.everything.lower()) for term in terms)
    note = "；平台自己的页面也有，请核查数据" if own else ""
    return [Finding(page, agent.name, FindingKind.blocklist, "、".join(found) + note)]


# --- the check ----------------------------------------------------------------------------


class _Side:
    """One side of the comparison (the site over HTTP, or the app in process), with the
    stylesheets it has served, by agent and path, and the readings of the answers it has
    seen (``readings``, shared by both sides: the same answer is read once)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        origin: Origin,
        readings: dict[tuple[Any, ...], Rendering],
        *,
        remote: bool,
    ) -> None:
        self.client, self.origin, self.readings, self.remote = client, origin, readings, remote
        self.css: dict[tuple[str, str], str] = {}

    async def get(self, path: str, agent: Agent) -> httpx.Response:
        try:
            return await self.client.get(path, headers=agent.headers)
        except httpx.TransportError as exc:
            if not self.remote:
                raise
            raise SiteUnreachable(
                f"无法访问 {self.client.base_url}{path}：{exc.__class__.__name__} {exc}"
            ) from None

    async def read(self, path: str, agent: Agent) -> Rendering:
        """The page as this side serves it to ``agent``."""
        response = await self.get(path, agent)
        document = parse(response)
        sheets: dict[str, str] = {}
        if document is not None:
            for link in stylesheet_links(document, self.origin, str(response.url)):
                if (agent.name, link) not in self.css:
                    sheet = await self.get(link, agent)
                    self.css[agent.name, link] = sheet.text if sheet.status_code == 200 else ""
                sheets[link] = self.css[agent.name, link]
        key = (
            response.status_code,
            response.headers.get("content-type"),
            response.headers.get("location"),
            str(response.url),
            response.text,
            tuple(sorted(sheets.items())),
        )
        if key not in self.readings:
            self.readings[key] = read_page(response, document, self.origin, sheets)
        return self.readings[key]


def _base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(
            "门户地址无效",
            [Problem("应为 http:// 或 https:// 开头的网址", column="--base-url", value=base_url)],
        )
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


async def _check(
    engine: Engine,
    base_url: str,
    terms: Sequence[str],
    agents: Sequence[Agent],
    timeout: float,
) -> Report:
    from gongjian.web.app import create_app

    origin = Origin(base_url)
    with Session(engine) as session:
        pages = published_pages(session)
    findings: list[Finding] = []
    app = create_app(engine)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout, follow_redirects=False) as web,
        httpx.AsyncClient(
            base_url=base_url,
            transport=httpx.ASGITransport(app=app),
            follow_redirects=False,
        ) as local,
    ):
        readings: dict[tuple[Any, ...], Rendering] = {}
        site = _Side(web, origin, readings, remote=True)
        platform = _Side(local, origin, readings, remote=False)
        for page in pages:
            for agent in agents:
                fetched = await site.read(page, agent)
                reference = await platform.read(page, agent)
                findings += compare(page, agent, fetched, reference, origin, terms)
    return Report(
        base_url=base_url,
        checked_at=dt.datetime.now(dt.UTC),
        pages=pages,
        agents=[agent.name for agent in agents],
        findings=findings,
    )


def check_portal(
    engine: Engine,
    base_url: str,
    *,
    terms: Sequence[str],
    agents: Sequence[Agent] = AGENTS,
    timeout: float = 15.0,
) -> Report:
    """Check every published portal page of the site at ``base_url`` against the platform
    rendered in process over ``engine`` (the site's database), as each of ``agents``,
    with the blocklist ``terms``. Raises ``SiteUnreachable`` when the site does not
    answer, ``Invalid`` for a base URL that is not http(s)."""
    base_url = _base_url(base_url)
    logger.info("portal check of %s started", base_url)
    # A loop of its own in a thread of its own: the caller's thread may already run one.
    with start_blocking_portal() as portal:
        report = portal.call(_check, engine, base_url, terms, agents, timeout)
    for finding in report.findings:
        logger.info(
            "portal check: %s as %s: %s: %s",
            finding.page,
            finding.agent,
            finding.kind.value,
            finding.detail,
        )
    logger.log(
        logging.INFO if report.clean else logging.WARNING,
        "portal check of %s: %d pages × %d agents, %d findings",
        base_url,
        len(report.pages),
        len(report.agents),
        len(report.findings),
    )
    return report
