"""How figures, dates and periods are written for people: one set of functions for the
pages, the portal, the briefings and the exports, so a tile, a table and a briefing never
disagree (DESIGN.md, "Numbers and words").

- ``headline(14236, "亩")`` → ``1.42万亩``: 万 from ten thousand, 亿 from a hundred
  million, three significant figures; below ten thousand, three significant figures
  without rounding away integer digits (``975.3`` → ``975``, ``1234`` → ``1234``).
  Money is held in 万元 (``headline_wan_yuan(6512345)`` → ``651亿元``).
- ``full(14236.5)`` → ``14,236.5``: the exact figure with thousands separators, for tables.
- ``change(12, "条", base="上期")`` → ``较上期 +12条``, with a true minus sign for a fall.
- ``day_text`` and ``period_text``: 2023年1月31日 and 2023年1月 (or 2023-01-31 and
  2023-01 in English), 2023年第5周 for an ISO week.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from gongjian.periods import Period, city_zone

MINUS = "\u2212"
_SCALES = ((Decimal(100_000_000), "亿"), (Decimal(10_000), "万"))
_SIGNIFICANT = 3


def _decimal(value: float | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _significant(value: Decimal) -> str:
    """``value`` (not negative) to at most three significant figures, integer digits kept
    and trailing zeros dropped: ``1.4236`` → ``1.42``, ``1.40`` → ``1.4``, ``1234`` → ``1234``."""
    if value == 0:
        return "0"
    places = max(_SIGNIFICANT - (value.adjusted() + 1), 0)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def headline_number(value: float | int | Decimal) -> str:
    """``value`` as a headline writes it: ``1.42万``, ``651亿``, ``975``, ``2.35``."""
    number = _decimal(value)
    sign = MINUS if number < 0 else ""
    number = abs(number)
    suffix = ""
    for scale, name in _SCALES:
        if number >= scale or _significant(number) == str(scale):
            number, suffix = number / scale, name
            break
    if suffix == "万" and Decimal(_significant(number)) >= 10_000:
        number, suffix = number / 10_000, "亿"
    return f"{sign}{_significant(number)}{suffix}"


def headline(value: float | int | Decimal | None, unit: str = "") -> str:
    """``value`` with its unit as a headline writes it; ``—`` when there is no value."""
    if value is None:
        return "—"
    return f"{headline_number(value)}{unit}"


def headline_wan_yuan(amount: float | int | Decimal | None) -> str:
    """An amount held in 万元 as a headline writes it: ``500万元``, ``1.20亿元``."""
    if amount is None:
        return "—"
    return f"{headline_number(_decimal(amount) * 10_000)}元"


def full(value: float | int | Decimal | None, places: int | None = None) -> str:
    """The exact figure with thousands separators (``places`` fixes the decimals)."""
    if value is None:
        return "—"
    number = _decimal(value)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{abs(number):,f}"
    return f"{MINUS if number < 0 else ''}{text}"


def change(value: float | int | Decimal | None, unit: str = "", *, base: str = "上期") -> str:
    """A change with its sign and its base: ``较上期 +12条``, ``较基线 −43.5%``."""
    if value is None:
        return f"较{base} —"
    number = _decimal(value)
    sign = "+" if number > 0 else MINUS if number < 0 else "±"
    return f"较{base} {sign}{headline_number(abs(number))}{unit}"


def day_text(day: dt.date, lang: str = "zh-CN") -> str:
    """``2023年1月31日`` in Chinese, ``2023-01-31`` otherwise."""
    if lang == "zh-CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def moment_text(moment: dt.datetime, lang: str = "zh-CN") -> str:
    """An instant as the city reads it: ``2023年1月5日 08:15`` in Chinese,
    ``2023-01-05 08:15`` otherwise (city time)."""
    local = moment.astimezone(city_zone())
    return f"{day_text(local.date(), lang)} {local:%H:%M}"


def period_text(period: Period, lang: str = "zh-CN") -> str:
    """``2023年1月`` or ``2023年第5周`` in Chinese, the label (``2023-01``) otherwise."""
    if lang != "zh-CN":
        return period.label
    if period.weekly:
        year, week = period.label.split("-W")
        return f"{year}年第{int(week)}周"
    return f"{period.start.year}年{period.start.month}月"
