"""Figures, dates and periods are written one way everywhere (DESIGN.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gongjian.display import change, day_text, full, headline, headline_wan_yuan, period_text
from gongjian.periods import parse_period


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (14236, "亩", "1.42万亩"),
        (975.3, "公里", "975公里"),
        (1234, "亩", "1234亩"),
        (13, "座", "13座"),
        (0, "条", "0条"),
        (2.345, "公里", "2.35公里"),
        (52.94, "%", "52.9%"),
        (14000, "亩", "1.4万亩"),
        (9999.6, "亩", "1万亩"),
        (99_995_000, "元", "1亿元"),
        (123_456_789, "元", "1.23亿元"),
        (-43.46, "%", "\u221243.5%"),
        (None, "亩", "—"),
    ],
)
def test_headline(value: float | None, unit: str, text: str) -> None:
    assert headline(value, unit) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("6512345"), "651亿元"), (500, "500万元"), (12000, "1.2亿元"), (None, "—")],
)
def test_money_held_in_wan_yuan(amount: Decimal | int | None, text: str) -> None:
    assert headline_wan_yuan(amount) == text


def test_full_figures_keep_every_digit() -> None:
    assert full(14236.54) == "14,236.54"
    assert full(Decimal("6512345.10")) == "6,512,345.10"
    assert full(982.0949, places=2) == "982.09"
    assert full(-1200) == "\u22121,200"
    assert full(None) == "—"


def test_change_has_its_sign_and_base() -> None:
    assert change(12, "条") == "较上期 +12条"
    assert change(-43.46, "%", base="基线") == "较基线 \u221243.5%"
    assert change(0, "条") == "较上期 ±0条"


def test_dates_and_periods() -> None:
    day = dt.date(2023, 1, 31)
    assert day_text(day) == "2023年1月31日"
    assert day_text(day, "en") == "2023-01-31"
    assert period_text(parse_period("2023-01")) == "2023年1月"
    assert period_text(parse_period("2023-W05")) == "2023年第5周"
    assert period_text(parse_period("2023-01"), "en") == "2023-01"
