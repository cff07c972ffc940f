"""The demo city's rivers: reaches, culverts, monitoring points, remediation histories,
one plan per river, complaints, and the monitoring samples behind the grades.

The water is drawn so that grading it tells the report's story: about 170 rivers are
black and odorous in December 2021 (the baseline), the urgent ones enter remediation
first, and about half of the baseline rivers are clean by January 2023.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from gongjian.demo.common import (
    CAMPAIGN_START,
    CITY_ZONE,
    MONITORING_START,
    REPORT_DAY,
    Demo,
    DemoTown,
    at_ten,
    history,
    offset,
    places,
)
from gongjian.demo.names import RIVER_STEMS, RIVER_SUFFIXES, UNITS
from gongjian.water.choices import ComplaintCategory, MeasureKind, MeasureState, RemediationState

RIVERS = 520
ENTERED = 495
COMPLETED = 214
BASELINE_BLACK = 170
BASELINE_CLEAN_SHARE = 0.53
COMPLAINTS = 800
NUMERALS = "二三四五六七八九"

NONE, MILD, SEVERE = 0, 1, 2
NEVER = 10**6
"""A day index after every sampling day: the change it marks does not happen."""


@dataclass
class PointWater:
    """How the water at one point behaves over the monitoring days (day indices)."""

    level: int
    improve_day: int = NEVER
    clean_day: int = NEVER
    season: tuple[int, int] = (NEVER, NEVER)
    first_day: int = 0
    depth_cm: int = 100
    offset: int = 0
    minute: int = 0
    """Minutes after 09:00 city time the point is sampled at, the same every time."""


@dataclass
class DemoRiver:
    """A river as the other parts of the generator need it."""

    id: int
    code: str
    name: str
    town: DemoTown
    length_m: float
    points: list[int] = field(default_factory=list)
    black: int = NONE
    """Its level in December 2021: NONE, MILD or SEVERE (on the baseline when not NONE)."""
    entered_on: dt.date | None = None
    completed_on: dt.date | None = None
    evaluated_on: dt.date | None = None
    culverts: list[tuple[int, float, dt.date | None]] = field(default_factory=list)
    """(culvert id, length in m, day uncovered)."""
    line: list[tuple[float, float]] = field(default_factory=list)
    chainages: list[float] = field(default_factory=list)
    waters: list[PointWater] = field(default_factory=list)
    """How the water behaves at each of ``points``, in the same order."""
    measures: list[tuple[int, MeasureKind]] = field(default_factory=list)


def _day_index(day: dt.date) -> int:
    return (day - MONITORING_START).days


def build(demo: Demo) -> list[DemoRiver]:
    """Rivers, their points, histories, plans and complaints (``samples`` draws the
    samples afterwards)."""
    counts = demo.spread(demo.scale.of(RIVERS), minimum=2)
    rivers: list[DemoRiver] = []
    for town in demo.towns:
        for n in range(1, counts[town.id] + 1):
            rivers.append(_river(demo, town, n))
    _choose_states(demo, rivers)
    for river in rivers:
        _points(demo, river)
        _river_history(demo, river)
        if river.entered_on is not None:
            _plan(demo, river)
    _complaints(demo, rivers)
    return rivers


def _river_name(demo: Demo) -> str:
    stem, suffix = demo.rng.choice(RIVER_STEMS), demo.rng.choice(RIVER_SUFFIXES)
    numeral = demo.rng.choice(("", "", "", *NUMERALS))
    return f"{stem}{numeral}{suffix}"


def _river(demo: Demo, town: DemoTown, n: int) -> DemoRiver:
    rng = demo.rng
    low, high = demo.scale.points_per_river
    chainages = [float(rng.randrange(100, 310, 10))]
    for _ in range(rng.randint(low, high) - 1):
        chainages.append(chainages[-1] + rng.randrange(200, 610, 10))
    length = chainages[-1] + rng.randrange(100, 410, 10)
    code = f"HY{town.code[-3:]}-{n:02d}"
    name = demo.unique(lambda: _river_name(demo))
    line = _centre_line(demo, town, length)
    river_id = demo.add(
        "rivers",
        code=code,
        name=name,
        lead_town_id=town.id,
        length_m=places(length, 1),
        geometry={"type": "LineString", "coordinates": [list(p) for p in line]},
        remediation_state=RemediationState.listed.value,
        relapsed=False,
        published=False,
    )
    river = DemoRiver(river_id, code, name, town, length, line=line, chainages=chainages)
    _reaches(demo, river)
    _culverts(demo, river)
    return river


def _centre_line(demo: Demo, town: DemoTown, length: float) -> list[tuple[float, float]]:
    """A meandering line of ``length`` metres near the town's centre, a vertex every 250 m."""
    rng = demo.rng
    lon, lat = offset(town.lon, town.lat, rng.uniform(-2500, 2500), rng.uniform(-2500, 2500))
    heading = rng.uniform(0, 2 * math.pi)
    line = [(round(lon, 6), round(lat, 6))]
    steps = max(2, math.ceil(length / 250))
    for _ in range(steps):
        heading += rng.uniform(-0.35, 0.35)
        lon, lat = offset(
            lon, lat, length / steps * math.cos(heading), length / steps * math.sin(heading)
        )
        line.append((round(lon, 6), round(lat, 6)))
    return line


def _position(river: DemoRiver, chainage: float) -> tuple[float, float]:
    """The point at ``chainage`` metres along the river's line (vertices evenly spaced)."""
    line = river.line
    fraction = min(1.0, chainage / river.length_m) * (len(line) - 1)
    i = min(int(fraction), len(line) - 2)
    t = fraction - i
    (x0, y0), (x1, y1) = line[i], line[i + 1]
    return round(x0 + (x1 - x0) * t, 6), round(y0 + (y1 - y0) * t, 6)


def _reaches(demo: Demo, river: DemoRiver) -> None:
    rng = demo.rng
    towns = [river.town]
    if rng.random() < 0.2:
        others = sorted(
            (t for t in demo.towns if t.id != river.town.id),
            key=lambda t: (t.lon - river.town.lon) ** 2 + (t.lat - river.town.lat) ** 2,
        )
        towns.append(others[0])
    cuts = [
        0.0,
        *([round(river.length_m * rng.uniform(0.4, 0.7))] if len(towns) == 2 else []),
        river.length_m,
    ]
    for town, start, end in zip(towns, cuts, cuts[1:], strict=False):
        demo.add(
            "river_reaches",
            river_id=river.id,
            town_id=town.id,
            river_chief=f"{town.name}{demo.person()}",
            start_chainage_m=places(start, 1),
            end_chainage_m=places(end, 1),
        )


def _culverts(demo: Demo, river: DemoRiver) -> None:
    rng = demo.rng
    if rng.random() >= 0.1:
        return
    start = rng.randrange(0, max(1, int(river.length_m) - 400), 10)
    length = rng.randrange(100, 410, 10)
    uncovered = demo.day_between(dt.date(2022, 3, 1), REPORT_DAY) if rng.random() < 0.5 else None
    culvert_id = demo.add(
        "culverts",
        river_id=river.id,
        start_chainage_m=places(start, 1),
        end_chainage_m=places(start + length, 1),
        uncovered_on=uncovered,
    )
    river.culverts.append((culvert_id, float(length), uncovered))


def _choose_states(demo: Demo, rivers: list[DemoRiver]) -> None:
    """Pick the baseline rivers and each river's remediation dates."""
    rng, scale = demo.rng, demo.scale
    order = rivers[:]
    rng.shuffle(order)
    n_black = scale.of(BASELINE_BLACK)
    black, others = order[:n_black], order[n_black:]
    n_clean = round(n_black * BASELINE_CLEAN_SHARE)
    n_entered = min(len(rivers), scale.of(ENTERED))
    n_other_completed = max(0, scale.of(COMPLETED) - n_clean)
    for i, river in enumerate(black):
        river.black = SEVERE if rng.random() < 0.4 else MILD
        river.entered_on = demo.day_between(dt.date(2022, 1, 5), dt.date(2022, 4, 30))
        if i < n_clean:
            earliest = river.entered_on + dt.timedelta(days=120)
            river.completed_on = demo.day_between(earliest, dt.date(2022, 12, 20))
    for i, river in enumerate(others[: max(0, n_entered - n_black)]):
        if i < n_other_completed:
            river.entered_on = demo.day_between(dt.date(2022, 1, 10), dt.date(2022, 7, 31))
            earliest = river.entered_on + dt.timedelta(days=90)
            river.completed_on = demo.day_between(earliest, REPORT_DAY)
        else:
            river.entered_on = demo.day_between(dt.date(2022, 2, 1), dt.date(2022, 12, 31))
    for river in rivers:
        if river.completed_on is not None and rng.random() < 0.35:
            evaluated = river.completed_on + dt.timedelta(days=rng.randint(60, 120))
            river.evaluated_on = evaluated if evaluated <= REPORT_DAY else None


def _river_history(demo: Demo, river: DemoRiver) -> None:
    listed = demo.day_between(dt.date(2021, 11, 1), dt.date(2021, 12, 31))
    steps = [(RemediationState.listed.value, listed)]
    for state, day in (
        (RemediationState.entered, river.entered_on),
        (RemediationState.completed, river.completed_on),
        (RemediationState.evaluated, river.evaluated_on),
    ):
        if day is not None:
            steps.append((state.value, day))
    history(demo, "river_state_changes", "river_id", river.id, steps)
    if river.evaluated_on is not None:
        valid = demo.rng.randint(100, 300)
        demo.add(
            "river_surveys",
            river_id=river.id,
            surveyed_on=river.evaluated_on - dt.timedelta(days=demo.rng.randint(7, 30)),
            valid_questionnaires=valid,
            satisfied=round(valid * demo.rng.uniform(0.9, 0.99)),
            recorded_by="demo",
            recorded_at=at_ten(river.evaluated_on),
        )
    row = demo.rows["rivers"][river.id - 1]
    row["remediation_state"] = steps[-1][0]
    row["published"] = river.completed_on is not None and demo.rng.random() < 0.45


def _points(demo: Demo, river: DemoRiver) -> None:
    rng = demo.rng
    chainages = river.chainages
    clean_day = _day_index(river.completed_on) if river.completed_on is not None else NEVER
    improve_day = NEVER
    if river.black == SEVERE and river.completed_on is None and river.entered_on is not None:
        improve_day = _day_index(river.entered_on) + rng.randint(150, 250)
    season = (NEVER, NEVER)
    if river.black == NONE and rng.random() < 0.03:
        season = (_day_index(dt.date(2022, 6, 1)), _day_index(dt.date(2022, 9, 30)))
    for k, chainage in enumerate(chainages, start=1):
        lon, lat = _position(river, chainage)
        point_id = demo.add(
            "monitoring_points",
            code=f"{river.code}-P{k:02d}",
            river_id=river.id,
            name=f"{river.name}{k}号检测点",
            chainage_m=places(chainage, 1),
            lon=places(lon, 6),
            lat=places(lat, 6),
        )
        river.points.append(point_id)
        level = river.black
        if level == SEVERE and k == 1 and rng.random() < 0.5:
            level = MILD
        shallow = river.black == NONE and rng.random() < 0.08
        late = river.black == NONE and len(chainages) >= 4 and rng.random() < 0.04
        river.waters.append(
            PointWater(
                level=level,
                improve_day=improve_day,
                clean_day=clean_day,
                season=season,
                first_day=_day_index(dt.date(2022, 3, 1)) if late else 0,
                depth_cm=rng.randint(12, 20) if shallow else rng.randint(40, 250),
                offset=rng.randrange(21),
                minute=rng.randrange(240),
            )
        )


def _plan(demo: Demo, river: DemoRiver) -> None:
    rng = demo.rng
    assert river.entered_on is not None
    plan_id = demo.add(
        "river_plans",
        river_id=river.id,
        title=f"{river.name}一河一策实施方案",
        approved_on=river.entered_on - dt.timedelta(days=rng.randint(5, 30)),
    )
    kinds = list(MeasureKind)
    if not river.culverts:
        kinds.remove(MeasureKind.culvert_uncovering)
    for kind in rng.sample(kinds, rng.randint(3, 6)):
        deadline = river.entered_on + dt.timedelta(days=rng.randint(60, 400))
        finished_by = river.completed_on or REPORT_DAY
        if river.completed_on is not None and deadline > river.completed_on:
            deadline = river.completed_on
        done = deadline <= finished_by and rng.random() < 0.85
        state = MeasureState.done if done else MeasureState.in_progress
        if not done and deadline > REPORT_DAY and rng.random() < 0.3:
            state = MeasureState.planned
        done_on = None
        if done:
            done_on = min(deadline - dt.timedelta(days=rng.randint(0, 20)), REPORT_DAY)
            done_on = max(done_on, river.entered_on)
        measure_id = demo.add(
            "plan_measures",
            plan_id=plan_id,
            kind=kind.value,
            description=f"{river.name}{kind.label}",
            owner=f"{river.town.name}{rng.choice(UNITS).removeprefix('镇街')}",
            deadline=deadline,
            state=state.value,
            done_on=done_on,
        )
        river.measures.append((measure_id, kind))


COMPLAINT_TEXT = {
    ComplaintCategory.black: "河水发黑，看不到底",
    ComplaintCategory.odour: "河边臭味很重，夏天尤其明显",
    ComplaintCategory.floating_waste: "水面有大量漂浮垃圾无人清理",
    ComplaintCategory.sewage_outfall: "有排污口直接向河里排放污水",
    ComplaintCategory.other: "河岸护栏损坏，存在安全隐患",
}


def _complaints(demo: Demo, rivers: list[DemoRiver]) -> None:
    """Complaints from the public, mostly about black rivers while they are black."""
    rng = demo.rng
    weights = [8.0 if r.black else 1.0 for r in rivers]
    categories = list(ComplaintCategory)
    for n in range(1, demo.scale.of(COMPLAINTS) + 1):
        river = rng.choices(rivers, weights=weights)[0]
        last = river.completed_on or REPORT_DAY
        day = demo.day_between(CAMPAIGN_START, last)
        received = dt.datetime.combine(
            day, dt.time(rng.randint(7, 21), rng.randrange(60)), CITY_ZONE
        )
        closed = None
        if received.date() + dt.timedelta(days=20) <= REPORT_DAY or rng.random() < 0.7:
            closed = received + dt.timedelta(days=rng.randint(1, 20), hours=rng.randint(1, 8))
        point_index = rng.randrange(len(river.points))
        lon, lat = _position(river, river.chainages[point_index])
        category = rng.choices(categories, weights=(4, 4, 2, 3, 1))[0]
        demo.add(
            "complaints",
            receipt_no=f"TS{day:%Y%m%d}{n:05d}",
            river_id=river.id,
            town_id=river.town.id,
            point_id=river.points[point_index],
            category=category.value,
            description=f"{river.name}：{COMPLAINT_TEXT[category]}",
            lon=places(lon, 6),
            lat=places(lat, 6),
            received_at=received,
            closed_at=closed,
            complainant_name=demo.person(),
            complainant_phone=demo.phone(),
        )


@dataclass
class Samples:
    """The demo's monitoring samples as columns (values as integers in small units)."""

    point_id: np.ndarray
    day: np.ndarray
    minute: np.ndarray
    transparency_tenth_cm: np.ndarray
    do_hundredth_mg_l: np.ndarray
    orp_mv: np.ndarray
    nh3n_hundredth_mg_l: np.ndarray
    depth_cm: np.ndarray
    missing: np.ndarray
    """(rows, 4) booleans: the indicator was not measured."""

    def __len__(self) -> int:
        return len(self.point_id)

    def sampled_at(self, row: int) -> dt.datetime:
        """The instant of sample ``row`` (sampled between 09:00 and 13:00 city time)."""
        day = MONITORING_START + dt.timedelta(days=int(self.day[row]))
        start = dt.datetime.combine(day, dt.time(9), CITY_ZONE)
        return start + dt.timedelta(minutes=int(self.minute[row]))


#: Chance of each level of an indicator (severe, mild) in a sample, by the water's level.
LEVEL_CHANCES = {NONE: (0.0, 0.03), MILD: (0.08, 0.77), SEVERE: (0.72, 0.23)}
#: Value ranges (inclusive, in the sample columns' small units) by level: none, mild, severe.
RANGES = {
    "transparency": ((260, 800), (100, 250), (20, 99)),
    "do": ((210, 750), (20, 200), (2, 19)),
    "orp": ((51, 250), (-200, 50), (-400, -201)),
    "nh3n": ((50, 790), (800, 1500), (1501, 3000)),
}


def _sampling_days(demo: Demo, water: PointWater, last: int) -> np.ndarray:
    days = np.arange(water.first_day, last + 1)
    if demo.scale.sampling == "every_six_days":
        return days[(days + water.offset) % 6 == 0]
    return days[(days + water.offset) % 3 != 2]


def samples(demo: Demo, rivers: list[DemoRiver]) -> Samples:
    """Every sample of every point from 2021-10-01 to the report day."""
    last = _day_index(REPORT_DAY)
    point_parts, day_parts, level_parts, depth_parts, minute_parts = [], [], [], [], []
    for river in rivers:
        for point_id, water in zip(river.points, river.waters, strict=True):
            days = _sampling_days(demo, water, last)
            level = np.full(len(days), water.level, dtype=np.int8)
            level[days >= water.improve_day] = np.minimum(level[days >= water.improve_day], MILD)
            in_season = (days >= water.season[0]) & (days <= water.season[1])
            level[in_season] = np.maximum(level[in_season], MILD)
            level[days >= water.clean_day] = NONE
            point_parts.append(np.full(len(days), point_id, dtype=np.int64))
            day_parts.append(days)
            level_parts.append(level)
            depth_parts.append(np.full(len(days), water.depth_cm, dtype=np.int64))
            minute_parts.append(np.full(len(days), water.minute, dtype=np.int64))
    point = np.concatenate(point_parts)
    day = np.concatenate(day_parts)
    level = np.concatenate(level_parts)
    base_depth = np.concatenate(depth_parts)
    n = len(point)
    rng = demo.np_rng
    chance = rng.random((n, 4))
    draw = rng.random((n, 4))
    severe_p = np.choose(level, [LEVEL_CHANCES[v][0] for v in (NONE, MILD, SEVERE)])
    mild_p = np.choose(level, [LEVEL_CHANCES[v][1] for v in (NONE, MILD, SEVERE)])
    category = np.where(
        chance < severe_p[:, None],
        SEVERE,
        np.where(chance < (severe_p + mild_p)[:, None], MILD, NONE),
    )
    shallow = base_depth < 25
    depth = np.where(
        shallow,
        np.minimum(24, np.round(base_depth * rng.uniform(0.9, 1.1, n))),
        np.round(base_depth * rng.uniform(0.85, 1.15, n)),
    ).astype(np.int64)
    columns = {}
    for j, name in enumerate(RANGES):
        low = np.choose(category[:, j], [r[0] for r in RANGES[name]])
        high = np.choose(category[:, j], [r[1] for r in RANGES[name]])
        columns[name] = low + np.floor(draw[:, j] * (high - low + 1)).astype(np.int64)
    # Shallow water: clean transparency reaches the bottom; mild is 40%..<100% of the
    # depth, severe under 40% (SPEC's reading of the guideline's footnote).
    tenths = depth * 10
    shallow_t = np.choose(
        category[:, 0],
        [
            tenths,
            4 * depth + np.floor(draw[:, 0] * (6 * depth)).astype(np.int64),
            1 + np.floor(draw[:, 0] * (4 * depth - 1)).astype(np.int64),
        ],
    )
    columns["transparency"] = np.where(shallow, shallow_t, columns["transparency"])
    missing = np.zeros((n, 4), dtype=bool)
    gap = rng.random(n)
    missing[:, 2] = gap < 0.015
    missing[:, 0] = (gap >= 0.015) & (gap < 0.02)
    return Samples(
        point_id=point,
        day=day,
        minute=np.concatenate(minute_parts),
        transparency_tenth_cm=columns["transparency"],
        do_hundredth_mg_l=columns["do"],
        orp_mv=columns["orp"],
        nh3n_hundredth_mg_l=columns["nh3n"],
        depth_cm=depth,
        missing=missing,
    )
