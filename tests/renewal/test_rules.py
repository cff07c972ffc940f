"""The renewal rules as pure functions: transitions, identification, before and after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gongjian.renewal.choices import RenewalState
from gongjian.renewal.rules import (
    TRANSITIONS,
    Figures,
    Measure,
    before_and_after,
    low_efficiency,
    next_states,
    refusal,
)
from gongjian.states import move_detail, refused_move

S = RenewalState
BOUNDS = Figures(Decimal(100), Decimal(5), Decimal("0.6"))
LISTED = {
    (S.identified, S.plan_published),
    (S.plan_published, S.relocating),
    (S.relocating, S.demolishing),
    (S.demolishing, S.cleared),
    (S.cleared, S.reserved),
    (S.cleared, S.supplied),
    (S.reserved, S.supplied),
    (S.supplied, S.construction),
    (S.construction, S.producing),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_the_listed_transitions_are_allowed(current: S, target: S) -> None:
    assert (target in next_states(current)) == ((current, target) in LISTED)


def test_every_state_has_its_next_states_and_producing_is_last() -> None:
    assert set(TRANSITIONS) == set(S)
    assert next_states(S.producing) == ()
    assert next_states(S.cleared) == (S.reserved, S.supplied)


def test_a_refusal_names_the_allowed_next_states() -> None:
    message = refusal("P-1", S.cleared, S.producing)
    assert "“拆除整理完成”" in message
    assert "“收储”（reserved）" in message
    assert "“供地”（supplied）" in message
    assert "最后一个状态" in refusal("P-1", S.producing, S.identified)


def test_refusals_keep_their_wording() -> None:
    """The wording shared with projects and rivers (``gongjian.states``), to the letter."""
    assert refusal("P-1", S.cleared, S.producing) == (
        "地块“P-1”当前为“拆除整理完成”，不能改为“投产”；"
        "可改为：“收储”（reserved）、“供地”（supplied）"
    )
    assert refusal("P-1", S.producing, S.producing) == ("地块“P-1”已是“投产”；“投产”是最后一个状态")
    assert refused_move(S.cleared, S.identified, (S.reserved,), with_values=False) == (
        "当前为“拆除整理完成”，不能改为“低效认定”；可改为：“收储”"
    )
    assert refused_move(S.producing, S.cleared, (), at_end="，不能再前进") == (
        "当前为“投产”，不能改为“拆除整理完成”；“投产”是最后一个状态，不能再前进"
    )
    assert move_detail("更新状态", S.cleared, S.reserved, dt.date(2023, 1, 2), "理由") == (
        "更新状态：拆除整理完成 → 收储（2023-01-02）；理由"
    )


@pytest.mark.parametrize(
    ("figures", "measures"),
    [
        (Figures(Decimal("99.99"), Decimal(6), Decimal(1)), [Measure.output_per_mu]),
        (Figures(Decimal(100), Decimal(6), Decimal(1)), []),
        (Figures(Decimal(150), Decimal("4.99"), Decimal(1)), [Measure.tax_per_mu]),
        (Figures(Decimal(150), Decimal(5), Decimal(1)), []),
        (Figures(Decimal(150), Decimal(6), Decimal("0.59")), [Measure.floor_area_ratio]),
        (Figures(Decimal(150), Decimal(6), Decimal("0.60")), []),
        (Figures(Decimal(20), Decimal(1), Decimal("0.3")), list(Measure)),
        (Figures(None, None, None), []),
        (Figures(None, Decimal(2), None), [Measure.tax_per_mu]),
    ],
)
def test_identification_by_each_measure_strictly_under_its_bound(
    figures: Figures, measures: list[Measure]
) -> None:
    assert [f.measure for f in low_efficiency(figures, BOUNDS)] == measures


def test_a_finding_explains_itself_with_value_bound_and_unit() -> None:
    (finding,) = low_efficiency(Figures(Decimal("23.01"), None, None), BOUNDS)
    assert str(finding) == "亩均产值 23.01万元/亩 低于 100万元/亩"


@pytest.mark.parametrize(
    ("years", "identified", "producing", "expected"),
    [
        ([2020, 2021, 2023], 2021, 2023, (2021, 2023)),
        ([2019, 2020, 2024], 2021, 2023, (2020, 2024)),
        ([2020, 2021], 2021, None, (2021, None)),
        ([2022, 2023], 2021, 2023, (None, 2023)),
        ([2018, 2019], None, None, (2018, None)),
        ([], 2021, 2023, (None, None)),
        ([2020, 2021], 2020, 2022, (2020, None)),
    ],
)
def test_before_is_up_to_identification_and_after_is_from_production(
    years: list[int], identified: int | None, producing: int | None, expected: tuple
) -> None:
    assert before_and_after(years, identified, producing) == expected
