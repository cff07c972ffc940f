"""The black-odour grading engine: SPEC.md's grading rules written once, as Ibis expressions.

The same expressions run unchanged on DuckDB (``grade-file``), SQLite and PostgreSQL (the
platform's database). Values are compared exactly: a bound ``p/q`` (an exact fraction of
a decimal threshold) is tested on a value stored as an integer or decimal ``v`` scaled by
``s`` as ``v·q < p·s``, never through floats, and a share is tested as
``count·denominator ≥ total·numerator``. So no rounding can move a bound, whether the
values are held as scaled integers (SQLite) or as exact NUMERIC (PostgreSQL).

Inputs (column names; ids of any type, compared only for equality and order):

- samples: ``point_id, transparency_cm, do_mg_l, orp_mv, nh3n_mg_l, depth_cm`` — one row
  per sample of the period, a null value being an indicator not measured;
- points: ``point_id, water_body_id, chainage_m``.

``point_grades`` gives one row per point with its counts, ``grade`` and the ``rule``
that decided; ``water_body_grades`` and ``severe_segments`` build on it.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from functools import reduce
from itertools import pairwise
from typing import Any

import ibis
import ibis.expr.types as ir

from gongjian.water.choices import Grade
from gongjian.water.rules import INDICATORS, IndicatorRule, Rules, Worse

Compare = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Scales:
    """The factor each stored value was multiplied by: 100 where transparency is held in
    hundredths of a cm, 1 where it is held as an exact decimal."""

    transparency_cm: int = 1
    do_mg_l: int = 1
    orp_mv: int = 1
    nh3n_mg_l: int = 1
    depth_cm: int = 1

    def of(self, field: str) -> int:
        """The scale of ``field``."""
        scale: int = getattr(self, field)
        return scale


DECIMAL_SCALES = Scales()
"""Values stored as exact decimals (PostgreSQL NUMERIC, DuckDB DECIMAL)."""

SQLITE_SCALES = Scales(transparency_cm=100, do_mg_l=1000, orp_mv=100, nh3n_mg_l=1000, depth_cm=100)
"""Values stored as integers in the samples table on SQLite: hundredths of a cm, thousandths
of a mg/L, hundredths of a mV."""


class DecidingRule(StrEnum):
    """Which counting rule decided a point's grade."""

    too_few_samples = "too_few_samples"
    one_indicator = "one_indicator"
    two_indicators = "two_indicators"
    no_indicator = "no_indicator"


SEVERE = "severe"
MILD_OR_WORSE = "mild_or_worse"
MEASURED = "measured"
SHALLOW = "shallow"


def count_column(field: str, kind: str) -> str:
    """The name of a per-point count, e.g. ``do_mg_l_severe``."""
    return f"{field}_{kind}"


def _compare(value: ir.NumericValue, op: Compare, bound: Fraction, scale: int) -> ir.BooleanValue:
    """``value / scale  op  bound``, exactly: ``value·q  op  p·scale`` for ``bound = p/q``."""
    left = value if bound.denominator == 1 else value * bound.denominator
    result: ir.BooleanValue = op(left, bound.numerator * scale)
    return result


def _table_levels(
    value: ir.NumericValue, rule: IndicatorRule, scale: int
) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(severe, mild or worse) of one indicator by the guideline's table."""
    severe_bound, none_bound = Fraction(rule.severe_bound), Fraction(rule.none_bound)
    if rule.worse is Worse.lower_values:
        return (
            _compare(value, operator.lt, severe_bound, scale),
            _compare(value, operator.le, none_bound, scale),
        )
    return (
        _compare(value, operator.gt, severe_bound, scale),
        _compare(value, operator.ge, none_bound, scale),
    )


def _transparency_levels(
    samples: ir.Table, rules: Rules, scales: Scales
) -> tuple[ir.BooleanValue, ir.BooleanValue, ir.BooleanValue]:
    """(severe, mild or worse, shallow) of transparency, judged against the depth in
    shallow water when the rules switch that on."""
    value = samples.transparency_cm
    severe, mild_or_worse = _table_levels(
        value, rules.indicators.transparency_cm, scales.transparency_cm
    )
    depth = samples.depth_cm
    v_scale, d_scale = scales.transparency_cm, scales.depth_cm
    factor = rules.shallow.factor.fraction
    # Switched off, the condition is a constant false: one expression either way.
    shallow = (
        ibis.literal(rules.shallow_water)
        & depth.notnull()
        & _compare(depth, operator.lt, Fraction(rules.shallow.depth_below_cm), d_scale)
    )
    # v < factor·depth and v < depth, with both sides brought to the same scale.
    shallow_severe = value * (factor.denominator * d_scale) < depth * (factor.numerator * v_scale)
    shallow_mild_or_worse = value * d_scale < depth * v_scale
    return (
        shallow.ifelse(shallow_severe, severe),
        shallow.ifelse(shallow_mild_or_worse, mild_or_worse),
        value.notnull() & shallow,
    )


@ibis.udf.agg.builtin(name="count_if")
def _count_if(condition: bool) -> int:  # type: ignore[empty-body]  # never run: SQL only
    """SQL's ``count_if``: written as such for DuckDB (its fastest conditional count),
    and by sqlglot as ``SUM(CASE WHEN c THEN 1 ELSE 0 END)`` for PostgreSQL and
    ``SUM(IIF(c, 1, 0))`` for SQLite."""


def _count(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows of the group meet ``condition`` (a null condition counts as not
    met); zero, never null, when none does."""
    counted: ir.IntegerScalar = _count_if(condition)
    return counted


def _reaches(count: ir.IntegerValue, measured: ir.IntegerValue, share: Fraction) -> Any:
    """``count / measured ≥ share``, exactly; never true of an indicator not measured."""
    return (measured > 0) & (count * share.denominator >= measured * share.numerator)


def _level_holds(table: ir.Table, kind: str, rules: Rules) -> tuple[Any, Any]:
    """(one indicator reaches the one-indicator share, two reach the two-indicator share)
    at level ``kind``."""
    one_share = rules.point.one_indicator_share.fraction
    two_share = rules.point.two_indicators_share.fraction
    ones, twos = [], []
    for field in INDICATORS:
        count = table[count_column(field, kind)]
        measured = table[count_column(field, MEASURED)]
        ones.append(_reaches(count, measured, one_share))
        twos.append(_reaches(count, measured, two_share).ifelse(1, 0))
    return reduce(operator.or_, ones), reduce(operator.add, twos) >= 2


def point_grades(
    samples: ir.Table, points: ir.Table, rules: Rules, scales: Scales = DECIMAL_SCALES
) -> ir.Table:
    """Each point's grade for the period the ``samples`` cover.

    One row per row of ``points`` (``point_id, water_body_id, chainage_m``, and any
    other column of ``points``, such as a point's code where ``point_id`` is a number
    given to it for grading), a point without samples included, with ``samples``, per
    indicator the ``<field>_measured``, ``<field>_severe`` and ``<field>_mild_or_worse``
    counts (and ``transparency_cm_shallow``, the samples judged against the depth), then
    ``grade`` (a ``Grade`` identifier) and ``rule`` (a ``DecidingRule`` identifier).
    """
    transparency = _transparency_levels(samples, rules, scales)
    counts: dict[str, Any] = {"samples": samples.count()}
    for field, rule in rules.indicators.by_field().items():
        value = samples[field]
        if field == "transparency_cm":
            severe, mild_or_worse, shallow = transparency
            counts[count_column(field, SHALLOW)] = _count(shallow)
        else:
            severe, mild_or_worse = _table_levels(value, rule, scales.of(field))
        counts[count_column(field, MEASURED)] = value.count()
        counts[count_column(field, SEVERE)] = _count(severe)
        counts[count_column(field, MILD_OR_WORSE)] = _count(mild_or_worse)
    per_point = samples.group_by("point_id").aggregate(**counts)
    joined = points.left_join(per_point, points.point_id == per_point.point_id)
    table = joined.select(
        *(points[column] for column in points.columns),
        **{name: joined[name].fill_null(0) for name in counts},
    )
    severe_one, severe_two = _level_holds(table, SEVERE, rules)
    mild_one, mild_two = _level_holds(table, MILD_OR_WORSE, rules)
    too_few = table.samples < rules.point.min_samples
    grade = ibis.cases(
        (too_few, Grade.insufficient.value),
        (severe_one | severe_two, Grade.severe.value),
        (mild_one | mild_two, Grade.mild.value),
        else_=Grade.none.value,
    )
    rule = ibis.cases(
        (too_few, DecidingRule.too_few_samples.value),
        (severe_one, DecidingRule.one_indicator.value),
        (severe_two, DecidingRule.two_indicators.value),
        (mild_one, DecidingRule.one_indicator.value),
        (mild_two, DecidingRule.two_indicators.value),
        else_=DecidingRule.no_indicator.value,
    )
    return table.mutate(grade=grade, rule=rule)


def water_body_grades(point_grades: ir.Table, rules: Rules) -> ir.Table:
    """Each water body's grade from its points' grades (the output of ``point_grades``).

    Columns ``water_body_id, points, points_graded, points_severe, grade``.
    """
    graded = point_grades.grade != Grade.insufficient.value
    severe = point_grades.grade == Grade.severe.value
    mild_or_worse = point_grades.grade.isin([Grade.mild.value, Grade.severe.value])
    bodies = point_grades.group_by("water_body_id").aggregate(
        points=point_grades.count(),
        points_graded=_count(graded),
        points_severe=_count(severe),
        points_mild_or_worse=_count(mild_or_worse),
    )
    share = rules.water_body.severe_share.fraction
    grade = ibis.cases(
        (bodies.points_graded < rules.water_body.min_graded_points, Grade.insufficient.value),
        (
            bodies.points_severe * share.denominator >= bodies.points_graded * share.numerator,
            Grade.severe.value,
        ),
        (bodies.points_mild_or_worse > 0, Grade.mild.value),
        else_=Grade.none.value,
    )
    return bodies.mutate(grade=grade).drop("points_mild_or_worse")


def severe_segments(point_grades: ir.Table, rules: Rules) -> ir.Table:
    """Runs of consecutive severe points along each water body (gaps and islands).

    Points are ordered by ``chainage_m`` then ``point_id``; any point not severe, an
    insufficient one included, ends a run. A run of at least the rules' minimum is a
    segment: ``water_body_id, start_m, end_m, points``, from the first to the last of its
    points' chainages.
    """
    order = [point_grades.chainage_m, point_grades.point_id]
    flagged = point_grades.select(
        "water_body_id",
        "chainage_m",
        "point_id",
        severe=(point_grades.grade == Grade.severe.value).ifelse(1, 0),
        position=ibis.row_number().over(group_by=point_grades.water_body_id, order_by=order),
    )
    # Within a run of severe points, the position among all points and the position among
    # severe points grow together, so their difference names the run.
    runs = flagged.mutate(
        run=flagged.position
        - ibis.row_number().over(
            group_by=[flagged.water_body_id, flagged.severe],
            order_by=[flagged.chainage_m, flagged.point_id],
        )
    )
    severe_runs = runs.filter(runs.severe == 1)
    segments = severe_runs.group_by(["water_body_id", "run"]).aggregate(
        points=severe_runs.count(),
        start_m=severe_runs.chainage_m.min(),
        end_m=severe_runs.chainage_m.max(),
    )
    return segments.filter(segments.points >= rules.water_body.severe_segment_min_points).select(
        "water_body_id", "start_m", "end_m", "points"
    )


@dataclass(frozen=True)
class IndicatorCounts:
    """One indicator's counts at a point: measured, severe, mild or worse, and how many
    of the measured were judged against the depth (shallow water)."""

    measured: int
    severe: int
    mild_or_worse: int
    shallow: int = 0


@dataclass(frozen=True)
class PointEvidence:
    """Why a point has its grade: the counts the engine counted and the rule that decided.

    ``as_dict`` is what a stored grade keeps as its evidence; ``decided_by`` says it in
    words.
    """

    grade: Grade
    rule: DecidingRule
    samples: int
    indicators: Mapping[str, IndicatorCounts]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PointEvidence:
        """The evidence in one row of ``point_grades``'s result."""
        return cls(
            grade=Grade(row["grade"]),
            rule=DecidingRule(row["rule"]),
            samples=int(row["samples"]),
            indicators={
                field: IndicatorCounts(
                    measured=int(row[count_column(field, MEASURED)]),
                    severe=int(row[count_column(field, SEVERE)]),
                    mild_or_worse=int(row[count_column(field, MILD_OR_WORSE)]),
                    shallow=int(row.get(count_column(field, SHALLOW), 0)),
                )
                for field in INDICATORS
            },
        )

    def as_dict(self) -> dict[str, Any]:
        """The evidence as plain JSON-ready data."""
        return {
            "grade": self.grade.value,
            "rule": self.rule.value,
            "samples": self.samples,
            "indicators": {
                field: {
                    "measured": counts.measured,
                    "severe": counts.severe,
                    "mild_or_worse": counts.mild_or_worse,
                    "shallow": counts.shallow,
                }
                for field, counts in self.indicators.items()
            },
        }


def _percent(share: Fraction) -> str:
    """A share as a percentage for people: whole, or to one place (``80%``, ``33.3%``)."""
    value = (Decimal(share.numerator * 100) / Decimal(share.denominator)).quantize(
        Decimal("0.1"), ROUND_HALF_UP
    )
    return f"{value.normalize():f}%"


def _condition(field: str, kind: str, rules: Rules, counts: IndicatorCounts) -> str:
    """What a sample of ``field`` at level ``kind`` means, e.g. ``溶解氧低于0.2 mg/L``."""
    rule = rules.indicators.by_field()[field]
    lower = rule.worse is Worse.lower_values
    if kind == SEVERE:
        words, bound = ("低于" if lower else "高于"), rule.severe_bound
    else:
        words, bound = ("不高于" if lower else "不低于"), rule.none_bound
    text = f"{rule.label}{words}{bound} {rule.unit}"
    if counts.shallow:
        depth = rules.shallow.depth_below_cm
        shallow = (
            f"低于水深的{_percent(rules.shallow.factor.fraction)}" if kind == SEVERE else "不见底"
        )
        text += f"（水深不足{depth} cm 时{shallow}）"
    return text


def decided_by(evidence: PointEvidence, rules: Rules) -> str:
    """The grade of a point and the indicator shares that decided it, in Chinese.

    For example ``重度黑臭：溶解氧低于0.2 mg/L的样本 4/5（80%）``.
    """
    label = evidence.grade.label
    one = rules.point.one_indicator_share.fraction
    two = rules.point.two_indicators_share.fraction
    if evidence.rule is DecidingRule.too_few_samples:
        have = f"只有 {evidence.samples} 个样本" if evidence.samples else "没有样本"
        return f"{label}：{have}，至少需要 {rules.point.min_samples} 个"
    if evidence.rule is DecidingRule.no_indicator:
        shares = "、".join(
            f"{rules.indicators.by_field()[field].label} {counts.mild_or_worse}/{counts.measured}"
            for field, counts in evidence.indicators.items()
            if counts.measured
        )
        return (
            f"{label}：轻度及以上样本占比（{shares}）"
            f"未达到一项{_percent(one)}或两项各{_percent(two)}"
        )
    kind = SEVERE if evidence.grade is Grade.severe else MILD_OR_WORSE
    share = one if evidence.rule is DecidingRule.one_indicator else two
    parts = []
    for field, counts in evidence.indicators.items():
        count = counts.severe if kind == SEVERE else counts.mild_or_worse
        if counts.measured and Fraction(count, counts.measured) >= share:
            parts.append(
                f"{_condition(field, kind, rules, counts)}的样本 {count}/{counts.measured}"
                f"（{_percent(Fraction(count, counts.measured))}）"
            )
    if evidence.rule is DecidingRule.two_indicators:
        return f"{label}：{'，'.join(parts)}，两项指标各达{_percent(share)}"
    return f"{label}：{'；'.join(parts)}"


@dataclass(frozen=True)
class SamplingWarning:
    """A place where the data break the guideline's sampling rules (the platform still
    grades, but says so): ``subject`` is the water body or point concerned."""

    subject: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "rule": self.rule, "message": self.message}


def _metres(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class Samplings:
    """How a point was sampled in a period: how many samplings, and how many of the
    intervals between consecutive ones fall outside the guideline's 1–7 days."""

    count: int
    irregular: int


def samplings_of(instants: list[dt.datetime], rules: Rules) -> Samplings:
    """The ``Samplings`` of one point from the instants of its samples."""
    shortest = dt.timedelta(days=rules.sampling.interval_min_days)
    longest = dt.timedelta(days=rules.sampling.interval_max_days)
    taken = sorted(instants)
    irregular = sum(not shortest <= b - a <= longest for a, b in pairwise(taken))
    return Samplings(len(taken), irregular)


def sampling_warnings(
    bodies: Mapping[str, list[tuple[Decimal, str]]],
    samplings: Mapping[str, Samplings],
    rules: Rules,
) -> list[SamplingWarning]:
    """The sampling-rule warnings: ``bodies`` maps each water body to its points as
    ``(chainage_m, point_id)``; ``samplings`` each point to how it was sampled in the
    period. Checks the count and spacing of points per water body and the count and
    interval of samplings per point."""
    rule = rules.sampling
    warnings: list[SamplingWarning] = []
    for water_body_id, points in sorted(bodies.items()):
        along = sorted(points)
        if len(along) < rule.min_points:
            warnings.append(
                SamplingWarning(
                    water_body_id,
                    "min_points",
                    f"水体 {water_body_id} 只有 {len(along)} 个检测点，应至少 {rule.min_points} 个",
                )
            )
        for (first, first_id), (second, second_id) in pairwise(along):
            if not rule.point_spacing_min_m <= second - first <= rule.point_spacing_max_m:
                warnings.append(
                    SamplingWarning(
                        water_body_id,
                        "point_spacing",
                        f"水体 {water_body_id} 检测点 {first_id} 与 {second_id} 相距"
                        f" {_metres(second - first)} m，应在 {rule.point_spacing_min_m}–"
                        f"{rule.point_spacing_max_m} m 之间",
                    )
                )
    for point_id, sampled in sorted(samplings.items()):
        if sampled.count < rule.min_samplings:
            warnings.append(
                SamplingWarning(
                    point_id,
                    "min_samplings",
                    f"检测点 {point_id} 只采样 {sampled.count} 次，应至少 {rule.min_samplings} 次",
                )
            )
        if sampled.irregular:
            warnings.append(
                SamplingWarning(
                    point_id,
                    "sampling_interval",
                    f"检测点 {point_id} 有 {sampled.irregular} 次采样间隔不在"
                    f" {rule.interval_min_days}–{rule.interval_max_days} 天之内",
                )
            )
    return warnings


def water_body_decided_by(
    grade: Grade, rules: Rules, *, points: int, points_graded: int, points_severe: int
) -> str:
    """A water body's grade and the point counts that decided it, in Chinese.

    For example ``重度黑臭：已分级检测点 5 个，重度 4 个（80%），达到60%``.
    """
    label = grade.label
    least = rules.water_body.min_graded_points
    share = rules.water_body.severe_share.fraction
    if grade is Grade.insufficient:
        return f"{label}：检测点 {points} 个，已分级 {points_graded} 个，少于 {least} 个"
    severe = f"重度 {points_severe} 个（{_percent(Fraction(points_severe, points_graded))}）"
    if grade is Grade.severe:
        return f"{label}：已分级检测点 {points_graded} 个，{severe}，达到{_percent(share)}"
    if grade is Grade.mild:
        return (
            f"{label}：已分级检测点 {points_graded} 个，{severe}，未达{_percent(share)}；"
            "有检测点为轻度或重度黑臭"
        )
    return f"{label}：已分级检测点 {points_graded} 个，均不黑不臭"
