"""Pure rules of the renewal ledger: rents, subleases, medians and quarters, and the
checks of amounts, texts and dates every ledger input passes. No database, no I/O.

Rents are in 元 per m² per month, exact decimals; shares are compared exactly in
integers-times-100 (``child × 100 > parent × (100 + pct)``), never through a float or a
rounded percentage. A percentage shown to people is rounded *up* to two places, so a
markup just over a bound never shows as the bound itself (30.003% shows as 30.01%).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from gongjian.errors import Invalid, Problem

PCT_PLACES = Decimal("0.01")
FIRST_YEAR, LAST_YEAR = 1900, 2100
"""Years a quarter asked for may lie in."""
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def exceeds_by_more_than(value: Decimal, base: Decimal, pct: Decimal) -> bool:
    """Whether ``value`` exceeds ``base`` by more than ``pct`` percent, compared exactly:
    ``value × 100 > base × (100 + pct)``. At exactly ``pct`` it does not."""
    return value * 100 > base * (100 + pct)


def change_pct(value: Decimal, base: Decimal) -> Decimal:
    """How much ``value`` is above ``base``, in % of ``base`` (negative when below),
    rounded up to two places; ``base`` must be positive."""
    if base <= 0:
        raise ValueError("the base of a percentage must be positive")
    return ((value - base) * 100 / base).quantize(PCT_PLACES, rounding=ROUND_CEILING)


class ChainCycle(ValueError):
    """Parent links that loop back: ``ids`` is the loop, in the order walked."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"lease chain loops: {ids}")
        self.ids = ids


def chain_to_original(lease_id: int, parent_of: Mapping[int, int | None]) -> list[int]:
    """The lease ids from the original lease (the one with no parent) down to
    ``lease_id``, following ``parent_of``; raises ``ChainCycle`` when the links loop.

    A parent missing from ``parent_of`` is taken as an original lease.
    """
    walked = [lease_id]
    seen = {lease_id}
    current = parent_of.get(lease_id)
    while current is not None:
        if current in seen:
            raise ChainCycle([*walked[walked.index(current) :], current])
        walked.append(current)
        seen.add(current)
        current = parent_of.get(current)
    walked.reverse()
    return walked


def cycle_if_parent(
    lease_id: int, parent_id: int, parent_of: Mapping[int, int | None]
) -> list[int] | None:
    """The loop that giving ``lease_id`` the parent ``parent_id`` would close (the ids from
    ``lease_id`` round to itself), or ``None`` when it closes none."""
    trial = {**parent_of, lease_id: parent_id}
    try:
        chain_to_original(lease_id, trial)
    except ChainCycle as cycle:
        start = cycle.ids.index(lease_id) if lease_id in cycle.ids else 0
        loop = cycle.ids[start:-1]
        return [*loop, loop[0]]
    return None


def median(values: Iterable[Decimal]) -> Decimal | None:
    """The median, exact: the middle value of an odd count, the mean of the two middle
    values of an even count; ``None`` for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    if n % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, e.g. ``2023-Q1`` (January to March)."""

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def start(self) -> dt.date:
        """Its first day."""
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        """Its last day."""
        return self.following().start - dt.timedelta(days=1)

    def following(self) -> Quarter:
        """The next quarter."""
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        """The quarter before."""
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def year_before(self) -> Quarter:
        """The same quarter a year before."""
        return Quarter(self.year - 1, self.number)

    def __str__(self) -> str:
        return self.label


def quarter_of(day: dt.date) -> Quarter:
    """The quarter ``day`` falls in."""
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def parse_quarter(text: str, *, field: str = "quarter") -> Quarter:
    """``2023-Q1`` (or ``2023Q1``), or a date ``2023-02-15`` read as its quarter."""
    cleaned = text.strip()
    found: Quarter | None = None
    if match := _QUARTER.match(cleaned):
        found = Quarter(int(match[1]), int(match[2]))
    else:
        try:
            found = quarter_of(dt.date.fromisoformat(cleaned))
        except ValueError:
            found = None
    if found is None or not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise Invalid(
            f"无法识别的季度“{text}”",
            [
                Problem(
                    "季度应为 2023-Q1，或日期 2023-02-15（取其所在季度），"
                    f"年份在 {FIRST_YEAR}–{LAST_YEAR} 之间",
                    column=field,
                    value=text,
                )
            ],
        )
    return found


def quarters_between(first: Quarter, last: Quarter) -> list[Quarter]:
    """Every quarter from ``first`` to ``last``, both included (empty when reversed)."""
    found = []
    current = first
    while current <= last:
        found.append(current)
        current = current.following()
    return found


def in_force(start_on: dt.date, end_on: dt.date | None, first: dt.date, last: dt.date) -> bool:
    """Whether a lease from ``start_on`` to ``end_on`` (open-ended when ``None``, both days
    included) is in force on at least one day from ``first`` to ``last``."""
    return start_on <= last and (end_on is None or end_on >= first)


@dataclass(frozen=True)
class QuarterRent:
    """The rent index of one quarter: the median rent of the leases in force, and its
    change against the same quarter a year before."""

    quarter: Quarter
    leases: int
    median: Decimal | None
    """元/m²/month; ``None`` when no lease was in force."""
    year_before: Decimal | None
    """The median of the same quarter a year before; ``None`` when there was none."""
    rise_pct: Decimal | None
    """Change against ``year_before`` in %, rounded up to 2 places; ``None`` without both."""
    flagged: bool
    """Risen by more than the allowed share."""


def rent_index(
    rents: Mapping[Quarter, Sequence[Decimal]], quarters: Sequence[Quarter], rise_pct: Decimal
) -> list[QuarterRent]:
    """The index of each of ``quarters`` from the rents in force per quarter (``rents``
    must hold the quarters a year before too); a quarter is flagged when its median
    exceeds the same quarter's a year before by more than ``rise_pct`` %."""
    rows = []
    for quarter in quarters:
        found = rents.get(quarter, ())
        now = median(found)
        before = median(rents.get(quarter.year_before(), ()))
        rise, flagged = None, False
        if now is not None and before is not None and before > 0:
            rise = change_pct(now, before)
            flagged = exceeds_by_more_than(now, before, rise_pct)
        rows.append(
            QuarterRent(
                quarter=quarter,
                leases=len(found),
                median=now,
                year_before=before,
                rise_pct=rise,
                flagged=flagged,
            )
        )
    return rows
