"""The rules of the renewal campaign, as pure functions: which state may follow which,
which construction step may follow which, and what makes a parcel low-efficiency.

No database and no I/O here; ``services.py`` applies these to records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gongjian.choices import LabeledChoice
from gongjian.renewal.choices import MilestoneKind, RenewalState
from gongjian.states import refused_move

S = RenewalState

TRANSITIONS: dict[RenewalState, tuple[RenewalState, ...]] = {
    S.identified: (S.plan_published,),
    S.plan_published: (S.relocating,),
    S.relocating: (S.demolishing,),
    S.demolishing: (S.cleared,),
    S.cleared: (S.reserved, S.supplied),
    S.reserved: (S.supplied,),
    S.supplied: (S.construction,),
    S.construction: (S.producing,),
    S.producing: (),
}
"""低效认定 → 方案公示 → 腾挪安置 → 拆除 → 拆除整理完成 → (收储 →) 供地 → 建设 → 投产."""


def next_states(state: RenewalState) -> tuple[RenewalState, ...]:
    """The states a parcel in ``state`` may move to."""
    return TRANSITIONS[state]


def refusal(code: str, current: RenewalState, to_state: RenewalState) -> str:
    """Why a parcel in ``current`` cannot move to ``to_state``, naming what it may do."""
    return f"地块“{code}”" + refused_move(current, to_state, next_states(current))


MILESTONE_STATES: dict[MilestoneKind, tuple[RenewalState, ...]] = {
    MilestoneKind.planning_application: (S.supplied, S.construction),
    MilestoneKind.construction_permit: (S.supplied, S.construction),
    MilestoneKind.completion_acceptance: (S.construction,),
}
"""The renewal states in which each construction step may be recorded."""

MILESTONE_NEEDS: dict[MilestoneKind, MilestoneKind | None] = {
    MilestoneKind.planning_application: None,
    MilestoneKind.construction_permit: MilestoneKind.planning_application,
    MilestoneKind.completion_acceptance: MilestoneKind.construction_permit,
}
"""The step that must have been recorded before each one."""


class Measure(LabeledChoice):
    """A measure that can put a parcel on the low-efficiency list."""

    output_per_mu = ("output_per_mu", "亩均产值")
    tax_per_mu = ("tax_per_mu", "亩均税收")
    floor_area_ratio = ("floor_area_ratio", "容积率")


UNITS = {
    Measure.output_per_mu: "万元/亩",
    Measure.tax_per_mu: "万元/亩",
    Measure.floor_area_ratio: "",
}


@dataclass(frozen=True)
class Figures:
    """A parcel's figures for one year; ``None`` where not reported."""

    output_per_mu: Decimal | None
    tax_per_mu: Decimal | None
    floor_area_ratio: Decimal | None

    def of(self, measure: Measure) -> Decimal | None:
        value: Decimal | None = getattr(self, measure.value)
        return value


@dataclass(frozen=True)
class Finding:
    """One measure under its bound: the value, the bound, and the sentence for people."""

    measure: Measure
    value: Decimal
    bound: Decimal

    def __str__(self) -> str:
        unit = UNITS[self.measure]
        return f"{self.measure.label} {self.value}{unit} 低于 {self.bound}{unit}"


def low_efficiency(figures: Figures, bounds: Figures) -> list[Finding]:
    """The measures that make a parcel low-efficiency: each reported figure strictly
    under its bound (``<``: a parcel exactly at a bound is not under it). An unreported
    figure puts nothing on the list."""
    findings = []
    for measure in Measure:
        value, bound = figures.of(measure), bounds.of(measure)
        if value is not None and bound is not None and value < bound:
            findings.append(Finding(measure, value, bound))
    return findings


def before_and_after(
    years: Sequence[int], identified_year: int | None, producing_year: int | None
) -> tuple[int | None, int | None]:
    """Which of a parcel's reported ``years`` show it before and after renewal.

    Before: the latest year up to the year it was identified (低效认定), or its earliest
    year when it has no identification on record. After: the latest year from the year
    it started producing (投产); none while it is not producing.
    """
    ordered = sorted(years)
    if not ordered:
        return None, None
    if identified_year is None:
        before: int | None = ordered[0]
    else:
        before = max((y for y in ordered if y <= identified_year), default=None)
    after = None
    if producing_year is not None:
        after = max((y for y in ordered if y >= producing_year), default=None)
    return before, after
