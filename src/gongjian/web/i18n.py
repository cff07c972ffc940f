"""One translation catalogue per language, kept as one file per area of the site
(``locales/<lang>/<area>.json``, flat dotted keys, no key in two files), and the
language of a request: the ``gongjian_lang`` cookie, else the ``language`` setting
(zh-CN unless changed).

Templates call ``t("key", name=...)``; placeholders are ``{name}``. A key missing from a
catalogue falls back to Chinese, then to the key itself (a test keeps the catalogues'
keys identical and checks that every key a template uses exists).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from starlette.requests import Request

from gongjian.config import get_settings

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
#: The languages offered, in the order the switch shows them, with their own names.
LANGUAGES: dict[str, str] = {"zh-CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "gongjian_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of ``lang``, by key, from every area's file."""
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        with path.open(encoding="utf-8") as file:
            area: dict[str, str] = json.load(file)
        repeated = messages.keys() & area.keys()
        if repeated:
            raise ValueError(f"{path}: keys already in another file: {sorted(repeated)}")
        messages.update(area)
    return messages


def translate(lang: str, key: str, **params: object) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in."""
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**params) if params else text


def language_of(request: Request) -> str:
    """The language the request is answered in."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    configured = get_settings().language
    return configured if configured in LANGUAGES else DEFAULT_LANGUAGE
