"""What the parts of the demo generator share: the scale, the towns, the rows built so far,
and small helpers for dates, decimals and positions."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import InitVar, dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from gongjian.demo.names import GIVEN, SURNAMES, TOWN_CENTRES

MONITORING_START = dt.date(2021, 10, 1)
CAMPAIGN_START = dt.date(2022, 1, 1)
REPORT_DAY = dt.date(2023, 1, 31)
"""The day of the report the demo city reproduces (published 2023-02-01)."""

DEMO_ACTOR = "demo"
CITY_ZONE = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class Scale:
    """How big the demo city is: ``factor`` scales the report's figures."""

    name: str
    factor: float
    points_per_river: tuple[int, int]
    sampling: str
    """``two_in_three``: a sampling on two days of every three; ``every_six_days``."""

    def of(self, figure: float, minimum: int = 1) -> int:
        """The report's ``figure`` at this scale, at least ``minimum``."""
        return max(minimum, round(figure * self.factor))


SCALES = {
    "city": Scale("city", 1.0, (3, 10), "two_in_three"),
    "small": Scale("small", 0.1, (3, 5), "every_six_days"),
}


@dataclass(frozen=True)
class DemoTown:
    """A town as the generator sees it: its id, names, centre and workload weight."""

    id: int
    code: str
    name: str
    lon: float
    lat: float
    weight: float


@dataclass
class Demo:
    """The state of one generation: random sources, towns and rows per table."""

    seed: int
    scale: Scale
    town_rows: InitVar[list[tuple[int, str, str]]]
    """The towns in the database: ``(id, code, name)``."""
    towns: list[DemoTown] = field(init=False)
    rng: random.Random = field(init=False)
    np_rng: np.random.Generator = field(init=False)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    _ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _taken: set[str] = field(default_factory=set)

    def __post_init__(self, town_rows: list[tuple[int, str, str]]) -> None:
        self.rng = random.Random(self.seed)
        self.np_rng = np.random.default_rng(self.seed)
        self.towns = [
            DemoTown(id_, code, name, *TOWN_CENTRES[code], weight=self.rng.uniform(0.5, 1.6))
            for id_, code, name in town_rows
        ]

    def add(self, table: str, **values: Any) -> int:
        """Append a row to ``table`` with the next id, and return that id."""
        self._ids[table] += 1
        self.rows[table].append({"id": self._ids[table], **values})
        return self._ids[table]

    def link(self, table: str, **values: Any) -> None:
        """Append a row to a table without an id of its own (an association)."""
        self.rows[table].append(values)

    def unique(self, make: Any) -> str:
        """A name from ``make()`` that no earlier call returned."""
        for _ in range(1000):
            name: str = make()
            if name not in self._taken:
                self._taken.add(name)
                return name
        raise RuntimeError("name pool exhausted")

    def person(self) -> str:
        """A synthetic Chinese personal name."""
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))
        return self.rng.choice(SURNAMES) + given

    def phone(self) -> str:
        """A synthetic mobile number."""
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}"

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        """A day from ``first`` to ``last`` inclusive (``first`` when ``last`` is earlier)."""
        span = (last - first).days
        return first + dt.timedelta(days=self.rng.randint(0, span)) if span > 0 else first

    def town_by_weight(self) -> DemoTown:
        """A town, drawn in proportion to its workload weight."""
        return self.rng.choices(self.towns, weights=[t.weight for t in self.towns])[0]

    def spread(self, total: int, minimum: int = 0) -> dict[int, int]:
        """``total`` shared among the towns by weight (largest remainder), each at least
        ``minimum``; keyed by town id."""
        base = {t.id: minimum for t in self.towns}
        rest = max(0, total - minimum * len(self.towns))
        weight_sum = sum(t.weight for t in self.towns)
        exact = {t.id: rest * t.weight / weight_sum for t in self.towns}
        for town_id, share in exact.items():
            base[town_id] += math.floor(share)
        left = total - sum(base.values())
        by_remainder = sorted(exact, key=lambda k: exact[k] - math.floor(exact[k]), reverse=True)
        for town_id in by_remainder[: max(0, left)]:
            base[town_id] += 1
        return base


def places(value: float, digits: int) -> Decimal:
    """``value`` as an exact decimal with ``digits`` places."""
    return Decimal(round(value * 10**digits)).scaleb(-digits)


def at_ten(day: dt.date) -> dt.datetime:
    """10:00 city time on ``day``: when the demo records what happened that day."""
    return dt.datetime.combine(day, dt.time(10), CITY_ZONE)


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The position ``east_m`` east and ``north_m`` north of ``(lon, lat)``."""
    lon_m = M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat))
    return lon + east_m / lon_m, lat + north_m / M_PER_DEG_LAT


def history(
    demo: Demo, table: str, key: str, record_id: int, steps: list[tuple[str, dt.date]]
) -> None:
    """Write a record's state history: each ``(state, day)`` a change from the one before."""
    previous: str | None = None
    for state, day in steps:
        demo.add(
            table,
            **{key: record_id},
            from_state=previous,
            to_state=state,
            changed_on=day,
            reason=None,
            is_correction=False,
            actor=DEMO_ACTOR,
            recorded_at=at_ten(day),
        )
        previous = state
