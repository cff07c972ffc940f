"""The rules of campaign records, as pure functions: which project state may follow
which, which quantities each kind of project reports, when a project is overdue, and
which projects a batch may hold; the targets of commitments and their year-end outlook,
town scores and rankings, and the allocation of cadres to towns.

No database and no I/O here; ``projects.py``, ``batches.py``, ``commitments.py``,
``scoring.py`` and ``dispatch.py`` apply these to records.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from gongjian.campaign.choices import (
    PROJECT_CAMPAIGN,
    WWTP_KINDS,
    BatchKind,
    Campaign,
    Outlook,
    OverdueReason,
    ProjectKind,
    ProjectState,
)
from gongjian.states import refused_move

# --- Project states ---------------------------------------------------------------------

P = ProjectState

PROJECT_TRANSITIONS: dict[ProjectState, tuple[ProjectState, ...]] = {
    P.planned: (P.approved,),
    P.approved: (P.started,),
    P.started: (P.completed,),
    P.completed: (P.accepted,),
    P.accepted: (),
}
"""计划 → 已立项 → 已开工 → 已完工 → 已验收: one step forward at a time, never back."""

CITY_STATES = frozenset({P.accepted})
"""States only the city may give (验收 is an approval: ``Action.approve``)."""

STARTED_OR_LATER = (P.started, P.completed, P.accepted)
COMPLETED_OR_LATER = (P.completed, P.accepted)


def next_project_states(state: ProjectState) -> tuple[ProjectState, ...]:
    """The states a project in ``state`` may move to."""
    return PROJECT_TRANSITIONS[ProjectState(state)]


def project_refusal(code: str, current: ProjectState, to_state: ProjectState) -> str:
    """Why a project in ``current`` cannot move to ``to_state``, naming what it may do."""
    return f"项目“{code}”" + refused_move(current, to_state, next_project_states(current))


# --- Quantities each kind reports -------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A quantity a project reports: its field, label with unit, decimal places, the
    digits its column holds, and the kinds of project that report it."""

    field: str
    label: str
    places: int
    max_digits: int
    kinds: tuple[ProjectKind, ...]


QUANTITIES: tuple[Quantity, ...] = (
    Quantity("sewer_km", "新建污水管网长度（公里）", 3, 10, (ProjectKind.sewer,)),
    Quantity("capacity_kt_d", "处理规模（千吨/日）", 2, 10, WWTP_KINDS),
    Quantity(
        "area_mu",
        "用地面积（亩）",
        2,
        14,
        (ProjectKind.demolition, ProjectKind.renewal_construction),
    ),
    Quantity("culvert_uncovered_m", "揭盖长度（米）", 1, 10, (ProjectKind.culvert_uncovering,)),
)
"""Which quantity belongs to which kinds; a kind not listed under a quantity reports none."""


def quantities_of(kind: ProjectKind) -> tuple[Quantity, ...]:
    """The quantities a project of ``kind`` reports (none for, e.g., dredging)."""
    return tuple(quantity for quantity in QUANTITIES if kind in quantity.kinds)


def foreign_quantities(kind: ProjectKind, values: Mapping[str, object]) -> list[tuple[str, str]]:
    """``(field, reason)`` for each quantity given a value in ``values`` that a project of
    ``kind`` does not report (``None`` is no value)."""
    kind = ProjectKind(kind)
    found = []
    for quantity in QUANTITIES:
        if values.get(quantity.field) is None or kind in quantity.kinds:
            continue
        owners = "、".join(f"“{k.label}”" for k in quantity.kinds)
        own = "、".join(q.label for q in quantities_of(kind)) or "不报送工程量"
        found.append(
            (
                quantity.field,
                f"{quantity.label}只属于{owners}项目，“{kind.label}”项目不填此项"
                f"（“{kind.label}”项目报送：{own}）",
            )
        )
    return found


def serves_rivers(kind: ProjectKind) -> bool:
    """Whether a project of ``kind`` serves rivers (the water campaign's kinds)."""
    return PROJECT_CAMPAIGN[ProjectKind(kind)] is Campaign.water


def serves_parcels(kind: ProjectKind) -> bool:
    """Whether a project of ``kind`` is on parcels (the renewal campaign's kinds)."""
    return PROJECT_CAMPAIGN[ProjectKind(kind)] is Campaign.renewal


# --- Overdue ----------------------------------------------------------------------------


def overdue(
    state: ProjectState,
    planned_start_on: dt.date | None,
    planned_end_on: dt.date | None,
    as_of: dt.date,
) -> tuple[OverdueReason, int] | None:
    """Whether a project in ``state`` at the end of ``as_of`` is overdue, for what and by
    how many days; ``None`` when it is not.

    - **end**: its planned end is before ``as_of`` and it is neither completed nor
      accepted; late by ``as_of − planned_end_on`` days;
    - **start**: otherwise, its planned start is before ``as_of`` and it has not started;
      late by ``as_of − planned_start_on`` days.

    On the planned day itself a project is not late (it has all that day). A project
    late for both is reported once, as late for its end: that is the deadline that
    counts, and its start is necessarily late too. A date not planned is never late.
    """
    state = ProjectState(state)
    if planned_end_on is not None and planned_end_on < as_of and state not in COMPLETED_OR_LATER:
        return OverdueReason.end, (as_of - planned_end_on).days
    if planned_start_on is not None and planned_start_on < as_of and state not in STARTED_OR_LATER:
        return OverdueReason.start, (as_of - planned_start_on).days
    return None


# --- Batches ----------------------------------------------------------------------------

BATCH_KINDS: dict[BatchKind, tuple[ProjectKind, ...]] = {
    BatchKind.concentrated_start: tuple(ProjectKind),
    BatchKind.concentrated_demolition: (ProjectKind.demolition,),
}
"""The kinds of project each kind of batch may hold: a concentrated start (集中开工)
groups projects of any kind, a concentrated demolition (集中拆除) demolitions only."""


def batch_refusal(
    batch_kind: BatchKind, project_code: str, project_kind: ProjectKind
) -> str | None:
    """Why a batch of ``batch_kind`` may not hold the project (``None`` when it may)."""
    batch_kind, project_kind = BatchKind(batch_kind), ProjectKind(project_kind)
    allowed = BATCH_KINDS[batch_kind]
    if project_kind in allowed:
        return None
    kinds = "、".join(f"“{kind.label}”" for kind in allowed)
    return (
        f"项目“{project_code}”是“{project_kind.label}”项目，"
        f"“{batch_kind.label}”批次只能包含{kinds}项目"
    )


class ProjectFigures(Protocol):
    """What a batch's figures read of each of its projects (a ``Project``, or a row of
    these columns)."""

    @property
    def campaign(self) -> str: ...
    @property
    def budget_wan(self) -> Decimal | None: ...
    @property
    def area_mu(self) -> Decimal | None: ...
    @property
    def sewer_km(self) -> Decimal | None: ...
    @property
    def capacity_kt_d(self) -> Decimal | None: ...


@dataclass
class BatchTotals:
    """What some of a batch's projects add up to: how many, their budgets (万元, exact)
    and the quantities they report (mu, km, thousand t/d); a figure not reported adds
    nothing."""

    projects: int = 0
    investment_wan: Decimal = Decimal("0.00")
    area_mu: Decimal = Decimal("0.00")
    sewer_km: Decimal = Decimal("0.000")
    capacity_kt_d: Decimal = Decimal("0.00")

    def add(self, project: ProjectFigures) -> None:
        """Count ``project`` in."""
        self.projects += 1
        self.investment_wan += project.budget_wan or 0
        self.area_mu += project.area_mu or 0
        self.sewer_km += project.sewer_km or 0
        self.capacity_kt_d += project.capacity_kt_d or 0


@dataclass(frozen=True)
class BatchFigures:
    """A batch's figures: per campaign (both campaigns always present) and in total."""

    by_campaign: dict[Campaign, BatchTotals]
    total: BatchTotals


def batch_figures(projects: Iterable[ProjectFigures]) -> BatchFigures:
    """The figures of a batch holding ``projects``: count, investment (sum of
    ``budget_wan``), ``area_mu``, ``sewer_km`` and ``capacity_kt_d``, by campaign and in
    total. Sums are exact decimals."""
    by_campaign = {campaign: BatchTotals() for campaign in Campaign}
    total = BatchTotals()
    for project in projects:
        by_campaign[Campaign(project.campaign)].add(project)
        total.add(project)
    return BatchFigures(by_campaign, total)


# --- Commitments: indicators and the year-end forecast ----------------------------------


@dataclass(frozen=True)
class Indicator:
    """A KPI a commitment may set a target on: its key (SPEC's dotted KPI key), campaign,
    label and unit, and whether its figure is a count (targets in whole numbers) or a
    percentage (targets at most 100)."""

    key: str
    campaign: Campaign
    label: str
    unit: str
    count: bool = False
    percentage: bool = False


INDICATORS: dict[str, Indicator] = {
    indicator.key: indicator
    for indicator in (
        Indicator("renewal.cleared_mu", Campaign.renewal, "拆除整理", "亩"),
        Indicator("renewal.attracted", Campaign.renewal, "新招引企业", "家", count=True),
        Indicator("renewal.expansions", Campaign.renewal, "增资扩产", "家", count=True),
        Indicator("renewal.investment_yi", Campaign.renewal, "新增投资", "亿元"),
        Indicator("water.rivers_entered", Campaign.water, "进场整治河涌", "条", count=True),
        Indicator("water.rivers_completed", Campaign.water, "完工河涌", "条", count=True),
        Indicator("water.sewer_km", Campaign.water, "新建污水管网", "公里"),
        Indicator(
            "water.wwtp_started", Campaign.water, "污水处理厂（新建、扩建）", "座", count=True
        ),
        Indicator(
            "water.black_odor_reduction_pct",
            Campaign.water,
            "黑臭水体较基线减少",
            "%",
            percentage=True,
        ),
    )
}
"""The nine headline KPIs of SPEC, in its order; a commitment of a campaign sets targets
on that campaign's keys only (``renewal.*`` or ``water.*``)."""

TARGET_PLACES = 2
TARGET_MAX = Decimal("999999999999.99")
"""The largest target ``commitment_targets.target`` (``Exact(14, 2)``) holds."""


def target_problem(campaign: Campaign, key: str, target: Decimal) -> str | None:
    """Why ``target`` cannot be ``campaign``'s target on indicator ``key`` (``None`` when
    it can): the key must be one of the campaign's KPI keys; the target a finite,
    non-negative number of at most two places, whole for a count, at most 100 for a
    percentage."""
    indicator = INDICATORS.get(key)
    if indicator is None or indicator.campaign is not Campaign(campaign):
        own = "、".join(k for k, i in INDICATORS.items() if i.campaign is Campaign(campaign))
        return f"“{key}”不是{Campaign(campaign).label}的指标；可填：{own}"
    if not target.is_finite() or target < 0 or target > TARGET_MAX:
        return f"{indicator.label}的目标须为不超过 {TARGET_MAX} 的非负数"
    if target != target.quantize(Decimal(1).scaleb(-TARGET_PLACES)):
        return f"{indicator.label}的目标最多两位小数"
    if indicator.count and target != target.to_integral_value():
        return f"{indicator.label}是个数（{indicator.unit}），目标须为整数"
    if indicator.percentage and target > 100:
        return f"{indicator.label}是百分比，目标不能超过 100"
    return None


AT_RISK_SHARE = Decimal("0.9")
"""A forecast below the year's target but at or above this share of it is ``at_risk``;
below this share it is ``behind``."""

PLACES = 2


def rounded(value: Fraction | Decimal, places: int = PLACES) -> Decimal:
    """``value`` to ``places`` decimal places, half away from zero, computed exactly (a
    ``Fraction`` is never passed through a float or a 28-digit division)."""
    exact = Fraction(value) * 10**places
    whole = (abs(exact.numerator) * 2 + exact.denominator) // (2 * exact.denominator)
    return Decimal(-whole if exact < 0 else whole).scaleb(-places)


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year."""
    return 366 if calendar.isleap(year) else 365


def elapsed_days(year: int, as_of: dt.date) -> int:
    """The days of ``year`` gone by at the end of ``as_of``: 1 on 1 January, the whole
    year from 31 December on, 0 before the year begins."""
    first = dt.date(year, 1, 1)
    return max(0, min((as_of - first).days + 1, days_in_year(year)))


@dataclass(frozen=True)
class Forecast:
    """One target's progress and year-end outlook, with the numbers that decided it.

    Targets are cumulative KPI values at the year's end; progress is measured from the
    figure at the end of the previous year (``start``): ``achieved_in_year = achieved −
    start`` and ``target_in_year = target − start``. The pace so far gives
    ``forecast_in_year = achieved_in_year × year_days ÷ elapsed_days``; the outlook
    compares it with ``target_in_year`` exactly (cross-multiplied, never through a
    rounded quotient), and the figures shown are rounded to 0.01.
    """

    indicator: str
    start: Decimal
    achieved: Decimal
    target: Decimal
    elapsed_days: int
    year_days: int
    outlook: Outlook
    forecast_in_year: Decimal
    """Rounded to 0.01, for people; the outlook was decided on the exact value."""

    @property
    def achieved_in_year(self) -> Decimal:
        return self.achieved - self.start

    @property
    def target_in_year(self) -> Decimal:
        return self.target - self.start

    @property
    def forecast(self) -> Decimal:
        """The forecast cumulative figure at the year's end (``start`` + the pace)."""
        return self.start + self.forecast_in_year

    @property
    def share_pct(self) -> Decimal | None:
        """``achieved ÷ target × 100`` (cumulative), to 0.01; ``None`` for a zero target."""
        return (
            rounded(Fraction(self.achieved) * 100 / Fraction(self.target)) if self.target else None
        )

    @property
    def in_year_share_pct(self) -> Decimal | None:
        """``achieved_in_year ÷ target_in_year × 100``, to 0.01; ``None`` unless the target
        lies above the start of the year."""
        if self.target_in_year <= 0:
            return None
        return rounded(Fraction(self.achieved_in_year) * 100 / Fraction(self.target_in_year))

    @property
    def at_risk_bound(self) -> Decimal:
        """``AT_RISK_SHARE × target_in_year``: the least forecast that is not ``behind``."""
        return AT_RISK_SHARE * self.target_in_year

    @property
    def explanation(self) -> str:
        """The numbers that decided the outlook, in a sentence (figures to 0.01)."""
        label = INDICATORS[self.indicator].label if self.indicator in INDICATORS else self.indicator
        return (
            f"{label}：年初 {rounded(self.start)}，截至第 {self.elapsed_days} 天"
            f"（全年 {self.year_days} 天）年内完成 {rounded(self.achieved_in_year)}，"
            f"按此进度全年预计完成 {self.forecast_in_year}；年内目标 "
            f"{rounded(self.target_in_year)}（其 {AT_RISK_SHARE:%} 为 "
            f"{rounded(self.at_risk_bound)}）：{self.outlook.label}"
        )


def forecast(
    indicator: str,
    *,
    start: Decimal,
    achieved: Decimal,
    target: Decimal,
    year: int,
    as_of: dt.date,
) -> Forecast:
    """The outlook of ``target`` (the cumulative figure promised for the end of ``year``)
    from the figure at the end of the previous year (``start``) and at the end of
    ``as_of`` (``achieved``), ``as_of`` falling in ``year`` (``ValueError`` otherwise):

    - ``on_track`` when ``forecast_in_year ≥ target_in_year``;
    - ``at_risk`` when ``forecast_in_year ≥ AT_RISK_SHARE × target_in_year``;
    - ``behind`` otherwise.

    A target at or below the start of the year (a zero target included) is on track
    while the pace does not take the figure below it.
    """
    if as_of.year != year:
        raise ValueError(f"{as_of} 不在 {year} 年内")
    elapsed, total = elapsed_days(year, as_of), days_in_year(year)
    done = Fraction(achieved - start) * total
    wanted = Fraction(target - start) * elapsed
    if done >= wanted:
        outlook = Outlook.on_track
    elif done >= wanted * Fraction(AT_RISK_SHARE):
        outlook = Outlook.at_risk
    else:
        outlook = Outlook.behind
    return Forecast(
        indicator=indicator,
        start=start,
        achieved=achieved,
        target=target,
        elapsed_days=elapsed,
        year_days=total,
        outlook=outlook,
        forecast_in_year=rounded(done / elapsed),
    )


# --- Scoring and ranking ----------------------------------------------------------------


def met(achieved: Decimal, target: Decimal) -> bool:
    """Whether a target is met: the cumulative figure has reached it."""
    return achieved >= target


def completion(start: Decimal, achieved: Decimal, target: Decimal) -> Fraction:
    """The share of a target done in the year, from 0 to 1: ``achieved_in_year ÷
    target_in_year``, capped at 1 (a met target is done in full) and floored at 0 (a
    figure that fell earns nothing). A target at or below the start of the year (a zero
    target included) is done in full when met and not at all otherwise."""
    if met(achieved, target):
        return Fraction(1)
    if target <= start:
        return Fraction(0)
    return min(Fraction(1), max(Fraction(0), Fraction(achieved - start) / Fraction(target - start)))


def indicator_points(weight: Decimal, share: Fraction) -> Decimal:
    """``weight × share`` points, rounded to 0.01."""
    return rounded(Fraction(weight) * share)


def capped_deduction(count: int, each: Decimal, cap: Decimal) -> Decimal:
    """The points deducted for ``count`` findings at ``each`` apiece, at most ``cap``
    (returned as a negative number, or zero), to 0.01."""
    return rounded(-min(each * count, cap))


@dataclass(frozen=True)
class RankKey:
    """What orders a ranking: the score (higher first), then the completion share
    (higher first), then the overdue projects (fewer first), then the town code."""

    score: Decimal
    completion: Fraction
    overdue: int
    town_code: str

    def sort_key(self) -> tuple[Decimal, Fraction, int, str]:
        return (-self.score, -self.completion, self.overdue, self.town_code)


def rank(keys: Iterable[RankKey]) -> list[RankKey]:
    """``keys`` in ranking order (see ``RankKey``): the town code settles every tie left,
    so each town has a rank of its own."""
    return sorted(keys, key=RankKey.sort_key)


def commendation_picks(
    ranked: Sequence[str], met_all: Iterable[str], top_n: int
) -> dict[str, list[str]]:
    """The towns to commend from one ranking (town codes, best first): the first
    ``top_n``, and every town in ``met_all``; for each, why (``top`` and/or ``met_all``),
    in ranking order."""
    everything = set(met_all)
    picks: dict[str, list[str]] = {}
    for position, code in enumerate(ranked):
        reasons = (["top"] if position < top_n else []) + (
            ["met_all"] if code in everything else []
        )
        if reasons:
            picks[code] = reasons
    return picks


# --- Cadre dispatch ---------------------------------------------------------------------


def target_pressure(
    *, start: Decimal, achieved: Decimal, target: Decimal, city_target_in_year: Decimal
) -> tuple[Fraction, Fraction]:
    """The share of a target still open and its size weight, whose product is the
    target's pressure.

    - open share: ``(target − achieved) ÷ (target − start)``, from 0 to 1 (0 when the
      target lies at or below the start of the year: nothing was asked of the year);
    - size weight: ``(target − start) ÷ city_target_in_year``, the target's share of
      what all towns promised on that indicator for the year, so that mu, km, counts
      and percentages weigh alike.
    """
    asked = target - start
    if asked <= 0 or city_target_in_year <= 0:
        return Fraction(0), Fraction(0)
    still = Fraction(target - achieved) / Fraction(asked)
    return min(Fraction(1), max(Fraction(0), still)), Fraction(asked) / Fraction(
        city_target_in_year
    )


class AllocationError(ValueError):
    """The seats cannot be allocated as asked; the message says why."""


@dataclass(frozen=True)
class Claim:
    """A claimant to seats: its key, weight (≥ 0) and the least and most seats it may get."""

    key: str
    weight: Fraction
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Allotment:
    """Seats allotted to one claimant, and how: ``minimum`` first; then ``quota``, its
    proportional share of the seats left (of the round in which its cap bound, when
    ``capped``), whose ``floor`` it gets, with one ``extra`` seat when its
    ``remainder`` was among the largest."""

    key: str
    weight: Fraction
    minimum: int
    maximum: int
    quota: Fraction
    floor: int
    remainder: Fraction
    extra: int
    capped: bool

    @property
    def seats(self) -> int:
        return self.maximum if self.capped else self.minimum + self.floor + self.extra


def largest_remainder(claims: Sequence[Claim], total: int) -> list[Allotment]:
    """Allot exactly ``total`` seats to ``claims`` by the largest-remainder (Hamilton)
    method, honouring each claim's minimum and maximum; in the order of ``claims``.

    1. Every claim gets its minimum; the seats left are shared in proportion to the
       weights (among equal weights when every weight left is zero).
    2. A claim whose share exceeds what its maximum leaves room for gets its maximum
       and drops out; the seats still left are shared again among the others, until no
       share exceeds its room.
    3. Each claim gets the whole part of its share (``floor``); the seats still left go
       one each to the largest remainders. Equal remainders go to the larger weight,
       then to the smaller key.

    ``AllocationError`` when ``total`` is negative, a minimum exceeds its maximum, or
    ``total`` lies outside the sum of the minimums and the sum of the maximums.
    """
    if total < 0:
        raise AllocationError(f"人数须为非负整数，而不是 {total}")
    for claim in claims:
        if claim.minimum < 0 or claim.maximum < claim.minimum or claim.weight < 0:
            raise AllocationError(
                f"“{claim.key}”的下限 {claim.minimum}、上限 {claim.maximum} 或权重 "
                f"{claim.weight} 不合理（须 0 ≤ 下限 ≤ 上限，权重 ≥ 0）"
            )
    floor_sum = sum(claim.minimum for claim in claims)
    ceiling_sum = sum(claim.maximum for claim in claims)
    if total < floor_sum:
        raise AllocationError(f"{total} 人少于各方下限之和 {floor_sum} 人，无法分配")
    if total > ceiling_sum:
        raise AllocationError(f"{total} 人多于各方上限之和 {ceiling_sum} 人，无法分配")
    left = total - floor_sum
    open_claims = [claim for claim in claims if claim.maximum > claim.minimum]
    capped: dict[str, Fraction] = {}
    quotas: dict[str, Fraction] = {}
    while True:
        weights = {claim.key: claim.weight for claim in open_claims}
        if open_claims and not any(weights.values()):
            weights = {key: Fraction(1) for key in weights}
        weight_sum = sum(weights.values(), Fraction(0))
        quotas = {
            key: Fraction(left) * weight / weight_sum if weight_sum else Fraction(0)
            for key, weight in weights.items()
        }
        binding = [c for c in open_claims if quotas[c.key] > c.maximum - c.minimum]
        if not binding:
            break
        for claim in binding:
            capped[claim.key] = quotas[claim.key]
            left -= claim.maximum - claim.minimum
        open_claims = [claim for claim in open_claims if claim.key not in capped]
    floors = {key: quota.numerator // quota.denominator for key, quota in quotas.items()}
    remainders = {key: quota - floors[key] for key, quota in quotas.items()}
    by_key = {claim.key: claim for claim in claims}
    order = sorted(quotas, key=lambda key: (-remainders[key], -by_key[key].weight, key))
    extras = set(order[: left - sum(floors.values())])
    allotted = []
    for claim in claims:
        if claim.key in capped:
            quota = capped[claim.key]
            allotted.append(
                Allotment(
                    claim.key,
                    claim.weight,
                    claim.minimum,
                    claim.maximum,
                    quota,
                    claim.maximum - claim.minimum,
                    Fraction(0),
                    0,
                    capped=True,
                )
            )
            continue
        quota = quotas.get(claim.key, Fraction(0))
        allotted.append(
            Allotment(
                claim.key,
                claim.weight,
                claim.minimum,
                claim.maximum,
                quota,
                floors.get(claim.key, 0),
                remainders.get(claim.key, Fraction(0)),
                1 if claim.key in extras else 0,
                capped=False,
            )
        )
    return allotted
