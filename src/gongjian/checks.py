"""Checks that user input of any domain passes, each returning the problems it finds
named by field (``column``) in Chinese: amounts, texts, days; and amounts parsed from
text for the command line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from gongjian.errors import Invalid, Problem


def parse_amount(text: str, *, column: str, label: str) -> Decimal:
    """``text`` as an exact decimal (``12.50``), or ``Invalid`` naming ``column``."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except (ArithmeticError, ValueError):
        raise Invalid(
            f"{label}不是数值", [Problem(f"{label}应为数值，如 12.50", column=column, value=text)]
        ) from None
    if not value.is_finite():
        raise Invalid(
            f"{label}不是有限数值", [Problem(f"{label}应为有限数值", column=column, value=text)]
        )
    return value


def amount_problems(
    value: Decimal | None,
    *,
    column: str,
    label: str,
    places: int = 2,
    max_digits: int = 16,
    positive: bool = False,
) -> list[Problem]:
    """What is wrong with an amount: not finite, more than ``places`` decimal places, more
    integer digits than ``max_digits - places``, negative (or not positive when
    ``positive``). ``None`` passes (whether it may be missing is the caller's rule)."""
    if value is None:
        return []
    shown = str(value)
    if not value.is_finite():
        return [Problem(f"{label}应为有限数值", column=column, value=shown)]
    problems = []
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        problems.append(Problem(f"{label}最多 {places} 位小数", column=column, value=shown))
    if positive and value <= 0:
        problems.append(Problem(f"{label}必须大于 0", column=column, value=shown))
    elif value < 0:
        problems.append(Problem(f"{label}不能为负数", column=column, value=shown))
    if abs(value) >= Decimal(10) ** (max_digits - places):
        problems.append(
            Problem(
                f"{label}超出范围（整数部分最多 {max_digits - places} 位）",
                column=column,
                value=shown,
            )
        )
    return problems


def text_problems(
    value: str | None, *, column: str, label: str, max_length: int, required: bool
) -> list[Problem]:
    """What is wrong with a text: empty when ``required``, longer than ``max_length``."""
    text = (value or "").strip()
    if required and not text:
        return [Problem(f"{label}不能为空", column=column)]
    if len(text) > max_length:
        return [Problem(f"{label}最多 {max_length} 字（现为 {len(text)} 字）", column=column)]
    return []


def day_problems(day: dt.date | None, *, column: str, label: str, today: dt.date) -> list[Problem]:
    """A day of something already done may not lie after ``today``."""
    if day is not None and day > today:
        return [Problem(f"{label}不能晚于今天（{today}）", column=column, value=str(day))]
    return []


def cents(value: Decimal | None) -> Decimal | None:
    """An amount already checked to have at most two places, written with exactly two
    (``1`` → ``1.00``), as the database will give it back."""
    return None if value is None else value.quantize(Decimal("0.01"))
