"""Dates and periods in the city's time zone: ``2023-01`` (a month), ``2023-W05`` (an ISO
week), ``2023-01-31`` (a day). A period is read as of its last day."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gongjian.config import get_settings
from gongjian.errors import Invalid, Problem

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def city_zone() -> ZoneInfo:
    """The city's time zone (setting ``timezone``)."""
    return ZoneInfo(get_settings().timezone)


def today() -> dt.date:
    """Today's date in the city."""
    return dt.datetime.now(city_zone()).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of ``day`` in the city, as an aware timestamp."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=city_zone())


@dataclass(frozen=True)
class Period:
    """A month or an ISO week: its label and its first and last days."""

    label: str
    start: dt.date
    end: dt.date

    @property
    def weekly(self) -> bool:
        """Whether this is an ISO week (else a month)."""
        return "W" in self.label

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return period_of(self.start - dt.timedelta(days=1), week=self.weekly)

    def following(self) -> Period:
        """The period of the same kind just after this one."""
        return period_of(self.end + dt.timedelta(days=1), week=self.weekly)


def period_of(day: dt.date, *, week: bool = False) -> Period:
    """The month (or ISO week) ``day`` falls in."""
    return parse_period(_label_of(day, week=week))


def _label_of(day: dt.date, *, week: bool) -> str:
    if week:
        year, number, _ = day.isocalendar()
        return f"{year}-W{number:02d}"
    return f"{day.year}-{day.month:02d}"


def parse_period(text: str, *, field: str = "period") -> Period:
    """``2023-01`` or ``2023-W05`` as a ``Period``; anything else is ``Invalid``."""
    text = text.strip()
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            last = calendar.monthrange(year, month)[1]
            return Period(text, dt.date(year, month, 1), dt.date(year, month, last))
    if match := _WEEK.match(text):
        year, week = int(match[1]), int(match[2])
        try:
            start = dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return Period(text, start, start + dt.timedelta(days=6))
    raise Invalid(
        f"无法识别的时段“{text}”",
        [Problem("时段应为 2023-01（月）或 2023-W05（ISO 周）", column=field, value=text)],
    )


def parse_instant(text: str | None, *, field: str) -> dt.datetime:
    """An instant given as ``2023-02-01 09:30`` or ``2023-02-01T09:30`` (city time) or
    with its zone; ``None`` or empty is now. ``Invalid`` naming ``field`` otherwise."""
    if text is None or not text.strip():
        return dt.datetime.now(dt.UTC)
    try:
        found = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            f"无法识别的时间“{text}”",
            [Problem("时间应为 2023-02-01 09:30 这样的时间", column=field, value=text)],
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=city_zone())


def parse_as_of(text: str | None, *, field: str = "as_of") -> dt.date:
    """A date (``2023-01-31``) or a period read as of its last day; ``None`` is today."""
    if text is None or not text.strip():
        return today()
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        return parse_period(text, field=field).end
    except Invalid:
        raise Invalid(
            f"无法识别的日期“{text}”",
            [Problem("日期应为 2023-01-31，或时段 2023-01 / 2023-W05", column=field, value=text)],
        ) from None
