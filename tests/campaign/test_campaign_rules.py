"""The pure rules of commitments, scoring and dispatch, against hand-computed cases:
indicator targets, the year-end outlook (exactly at the 90% bound and at 100%), the
completion share and deductions, ranking ties, the commendation picks, target pressure,
and the largest-remainder allocation with minimums, maximums and tied remainders."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from fractions import Fraction

import pytest

from gongjian.campaign.choices import Campaign
from gongjian.campaign.rules import (
    AT_RISK_SHARE,
    INDICATORS,
    AllocationError,
    Claim,
    Outlook,
    RankKey,
    capped_deduction,
    commendation_picks,
    completion,
    days_in_year,
    elapsed_days,
    forecast,
    indicator_points,
    largest_remainder,
    rank,
    rounded,
    target_pressure,
    target_problem,
)
from gongjian.kpi.services import KPI_KEYS

D = Decimal
DAY_100 = dt.date(2023, 4, 10)
"""The 100th day of 2023 (a year of 365 days)."""


def test_the_indicators_are_the_nine_kpi_keys_in_spec_order() -> None:
    assert tuple(INDICATORS) == KPI_KEYS
    for key, indicator in INDICATORS.items():
        assert key.startswith(f"{indicator.campaign.value}.")


@pytest.mark.parametrize(
    ("campaign", "key", "target", "needle"),
    [
        (Campaign.renewal, "water.sewer_km", "10", "不是工改的指标"),
        (Campaign.water, "water.no_such_thing", "10", "不是治水的指标"),
        (Campaign.water, "water.rivers_entered", "2.5", "整数"),
        (Campaign.water, "water.black_odor_reduction_pct", "100.01", "不能超过 100"),
        (Campaign.renewal, "renewal.cleared_mu", "-1", "非负数"),
        (Campaign.renewal, "renewal.cleared_mu", "1.005", "两位小数"),
        (Campaign.renewal, "renewal.cleared_mu", "NaN", "非负数"),
    ],
)
def test_a_wrong_target_is_refused_saying_why(
    campaign: Campaign, key: str, target: str, needle: str
) -> None:
    problem = target_problem(campaign, key, D(target))
    assert problem is not None
    assert needle in problem


@pytest.mark.parametrize(
    ("key", "target"),
    [
        ("water.black_odor_reduction_pct", "40.5"),
        ("water.black_odor_reduction_pct", "100"),
        ("water.rivers_entered", "12"),
        ("water.sewer_km", "12.75"),
        ("renewal.investment_yi", "0"),
    ],
)
def test_a_right_target_passes(key: str, target: str) -> None:
    campaign = INDICATORS[key].campaign
    assert target_problem(campaign, key, D(target)) is None


def test_days_of_the_year() -> None:
    assert days_in_year(2023) == 365
    assert days_in_year(2024) == 366
    assert elapsed_days(2023, dt.date(2023, 1, 1)) == 1
    assert elapsed_days(2023, DAY_100) == 100
    assert elapsed_days(2023, dt.date(2023, 12, 31)) == 365
    assert elapsed_days(2023, dt.date(2024, 3, 1)) == 365
    assert elapsed_days(2023, dt.date(2022, 12, 31)) == 0


@pytest.mark.parametrize(
    ("achieved", "outlook"),
    [
        ("100", Outlook.on_track),  # forecast 365 = the target: 100%
        ("100.01", Outlook.on_track),
        ("99.99", Outlook.at_risk),
        ("90", Outlook.at_risk),  # forecast 328.5 = 90% of 365 exactly: the bound
        ("89.99", Outlook.behind),
        ("0", Outlook.behind),
    ],
)
def test_the_outlook_at_and_around_its_bounds(achieved: str, outlook: Outlook) -> None:
    found = forecast(
        "water.sewer_km", start=D(0), achieved=D(achieved), target=D(365), year=2023, as_of=DAY_100
    )
    assert found.outlook is outlook
    assert (found.elapsed_days, found.year_days) == (100, 365)


def test_the_outlook_is_measured_from_the_start_of_the_year() -> None:
    # 50 km stood at the end of 2022; the 2023 target of 415 asks 365 more.
    at_bound = forecast(
        "water.sewer_km", start=D(50), achieved=D(140), target=D(415), year=2023, as_of=DAY_100
    )
    assert at_bound.achieved_in_year == D(90)
    assert at_bound.target_in_year == D(365)
    assert at_bound.forecast_in_year == D("328.50")
    assert at_bound.forecast == D("378.50")
    assert at_bound.at_risk_bound == AT_RISK_SHARE * 365 == D("328.5")
    assert at_bound.outlook is Outlook.at_risk
    assert at_bound.share_pct == D("33.73")  # 140 / 415, cumulative
    assert at_bound.in_year_share_pct == D("24.66")  # 90 / 365
    for number in ("90.00", "100", "328.50", "365.00", "有风险"):
        assert number in at_bound.explanation
    # Read cumulatively (140 × 365 / 100 = 511 ≥ 415) it would wrongly be on track.
    assert at_bound.outlook is not Outlook.on_track


def test_the_bound_is_compared_exactly_not_in_floats() -> None:
    # 0.9 × 13 is 11.700000000000001 in binary floats; exactly, 11.7 is at the bound.
    assert 0.9 * 13 > 11.7
    year_end = dt.date(2023, 12, 31)
    found = forecast(
        "water.sewer_km", start=D(0), achieved=D("11.7"), target=D(13), year=2023, as_of=year_end
    )
    assert found.outlook is Outlook.at_risk
    assert found.forecast_in_year == D("11.70")


def test_a_leap_year_has_366_days_of_pace() -> None:
    found = forecast(
        "renewal.cleared_mu",
        start=D(0),
        achieved=D(183),
        target=D(366),
        year=2024,
        as_of=dt.date(2024, 7, 1),  # day 183 of 366
    )
    assert (found.elapsed_days, found.year_days) == (183, 366)
    assert found.forecast_in_year == D("366.00")
    assert found.outlook is Outlook.on_track


def test_a_target_at_the_start_of_the_year_holds_while_the_figure_does() -> None:
    same = forecast(
        "renewal.attracted", start=D(4), achieved=D(4), target=D(4), year=2023, as_of=DAY_100
    )
    assert same.outlook is Outlook.on_track
    zero = forecast(
        "renewal.attracted", start=D(0), achieved=D(0), target=D(0), year=2023, as_of=DAY_100
    )
    assert zero.outlook is Outlook.on_track
    assert zero.share_pct is None
    fallen = forecast(
        "water.black_odor_reduction_pct",
        start=D(40),
        achieved=D(35),
        target=D(40),
        year=2023,
        as_of=DAY_100,
    )
    assert fallen.outlook is Outlook.behind


def test_a_day_outside_the_year_has_no_outlook() -> None:
    with pytest.raises(ValueError, match="2022"):
        forecast(
            "water.sewer_km",
            start=D(0),
            achieved=D(1),
            target=D(2),
            year=2023,
            as_of=dt.date(2022, 12, 31),
        )


def test_rounding_is_exact_and_half_away_from_zero() -> None:
    assert rounded(Fraction(1, 3)) == D("0.33")
    assert rounded(Fraction(2, 3)) == D("0.67")
    assert rounded(D("2.675")) == D("2.68")  # a float would make it 2.67
    assert rounded(Fraction(-5, 2), 0) == D(-3)
    assert str(rounded(D(0))) == "0.00"


@pytest.mark.parametrize(
    ("start", "achieved", "target", "share"),
    [
        ("0", "150", "100", Fraction(1)),  # capped: a met target is done in full
        ("0", "50", "100", Fraction(1, 2)),
        ("20", "60", "100", Fraction(1, 2)),  # from the start of the year
        ("0", "0", "0", Fraction(1)),  # a zero target is met
        ("30", "30", "20", Fraction(1)),  # a target below the start, still met
        ("30", "10", "20", Fraction(0)),  # ... and no longer met
        ("30", "25", "100", Fraction(0)),  # the figure fell: nothing earned
    ],
)
def test_completion_share(start: str, achieved: str, target: str, share: Fraction) -> None:
    assert completion(D(start), D(achieved), D(target)) == share


def test_indicator_points_and_capped_deductions() -> None:
    assert indicator_points(D(20), Fraction(1)) == D("20.00")
    assert indicator_points(D(20), Fraction(1, 3)) == D("6.67")
    assert capped_deduction(3, D(2), D(20)) == D("-6.00")
    assert capped_deduction(10, D(2), D(20)) == D("-20.00")
    assert capped_deduction(11, D(2), D(20)) == D("-20.00")
    assert capped_deduction(0, D(3), D(15)) == D("0.00")
    assert str(capped_deduction(0, D(3), D(15))) == "0.00"


def test_ranking_ties_go_to_completion_then_fewer_overdue_then_code() -> None:
    keys = [
        RankKey(D("18.00"), Fraction(9, 10), 0, "442000003"),
        RankKey(D("18.00"), Fraction(1), 1, "442000004"),  # same score, more done
        RankKey(D("20.00"), Fraction(1), 1, "442000005"),
        RankKey(D("20.00"), Fraction(1), 0, "442000006"),  # same score and share, fewer late
        RankKey(D("5.00"), Fraction(1, 4), 0, "442000002"),
        RankKey(D("5.00"), Fraction(1, 4), 0, "442000001"),  # all equal: the code decides
    ]
    assert [key.town_code[-1] for key in rank(keys)] == ["6", "5", "4", "3", "1", "2"]


def test_commendation_picks_are_the_top_n_and_every_town_that_met_all() -> None:
    ranked = ["A", "B", "C", "D", "E"]
    picks = commendation_picks(ranked, met_all=["B", "E"], top_n=2)
    assert picks == {"A": ["top"], "B": ["top", "met_all"], "E": ["met_all"]}
    assert list(picks) == ["A", "B", "E"]
    assert commendation_picks(ranked, met_all=[], top_n=0) == {}


def test_target_pressure_is_the_open_share_times_the_size_weight() -> None:
    # 100 km asked of the year out of the city's 400; 25 done, so 3/4 open.
    open_share, size = target_pressure(
        start=D(10), achieved=D(35), target=D(110), city_target_in_year=D(400)
    )
    assert (open_share, size) == (Fraction(3, 4), Fraction(1, 4))
    assert open_share * size == Fraction(3, 16)
    met, _ = target_pressure(start=D(0), achieved=D(120), target=D(110), city_target_in_year=D(400))
    assert met == 0
    assert target_pressure(
        start=D(50), achieved=D(50), target=D(40), city_target_in_year=D(400)
    ) == (Fraction(0), Fraction(0))


def seats(weights: dict[str, int], total: int, minimum: int = 0, maximum: int = 100) -> dict:
    claims = [Claim(key, Fraction(w), minimum, maximum) for key, w in weights.items()]
    return {a.key: a.seats for a in largest_remainder(claims, total)}


def test_largest_remainder_hand_computed() -> None:
    # Quotas 5, 3⅓, 1⅔: floors 5, 3, 1; the one seat left goes to C's ⅔.
    assert seats({"A": 3, "B": 2, "C": 1}, 10) == {"A": 5, "B": 3, "C": 2}
    # Minimum 1 each, 7 left: quotas 3½, 2⅓, 1⅙: floors 3, 2, 1; A's ½ is largest.
    assert seats({"A": 3, "B": 2, "C": 1}, 10, minimum=1) == {"A": 5, "B": 3, "C": 2}
    # 7 seats for 5, 4, 1 (sum 10): quotas 3.5, 2.8, 0.7: floors 3, 2, 0; B and C.
    assert seats({"A": 5, "B": 4, "C": 1}, 7) == {"A": 3, "B": 3, "C": 1}


def test_tied_remainders_go_to_the_larger_weight_then_the_smaller_key() -> None:
    # Quotas 1⅓ each: one seat left, three equal remainders and weights: A.
    assert seats({"A": 1, "B": 1, "C": 1}, 4) == {"A": 2, "B": 1, "C": 1}
    assert seats({"C": 1, "B": 1, "A": 1}, 4) == {"C": 1, "B": 1, "A": 2}
    # Quotas ½ and 1½: remainders tie at ½; B weighs more.
    assert seats({"A": 1, "B": 3}, 2) == {"A": 0, "B": 2}


def test_a_binding_maximum_is_given_and_the_rest_shared_again() -> None:
    # A's quota 8 exceeds its maximum 5: A gets 5, B and C share 5 (2½ each; tie: B).
    claims = [Claim(k, Fraction(w), 0, 5) for k, w in (("A", 8), ("B", 1), ("C", 1))]
    allotted = {a.key: a for a in largest_remainder(claims, 10)}
    assert {k: a.seats for k, a in allotted.items()} == {"A": 5, "B": 3, "C": 2}
    assert allotted["A"].capped
    assert allotted["A"].quota == 8
    assert allotted["B"].quota == Fraction(5, 2)
    assert (allotted["B"].floor, allotted["B"].remainder, allotted["B"].extra) == (
        2,
        Fraction(1, 2),
        1,
    )
    # Caps binding in two rounds: A (12½ > 8), then B (10 > 8); C takes the 4 left.
    assert seats({"A": 10, "B": 5, "C": 1}, 20, maximum=8) == {"A": 8, "B": 8, "C": 4}


def test_minimums_first_and_equal_shares_when_no_one_has_pressure() -> None:
    assert seats({"A": 0, "B": 0, "C": 0}, 5, minimum=1, maximum=3) == {"A": 2, "B": 2, "C": 1}
    assert seats({"A": 0, "B": 4}, 6, minimum=2, maximum=10) == {"A": 2, "B": 4}


@pytest.mark.parametrize(
    ("total", "needle"), [(5, "少于各方下限之和 6"), (31, "多于各方上限之和 30"), (-1, "非负")]
)
def test_impossible_totals_are_refused_saying_why(total: int, needle: str) -> None:
    claims = [Claim(k, Fraction(1), 2, 10) for k in "ABC"]
    with pytest.raises(AllocationError, match=needle):
        largest_remainder(claims, total)


def test_a_minimum_above_its_maximum_is_refused() -> None:
    with pytest.raises(AllocationError, match="下限"):
        largest_remainder([Claim("A", Fraction(1), 3, 2)], 2)


@pytest.mark.parametrize("seed", range(40))
def test_the_seats_always_add_up_and_respect_the_bounds(seed: int) -> None:
    rng = random.Random(seed)
    claims = [
        Claim(f"T{k:02d}", Fraction(rng.randint(0, 50), rng.randint(1, 7)), 1, rng.randint(1, 12))
        for k in range(rng.randint(1, 23))
    ]
    low, high = sum(c.minimum for c in claims), sum(c.maximum for c in claims)
    total = rng.randint(low, high)
    allotted = largest_remainder(claims, total)
    assert sum(a.seats for a in allotted) == total
    for claim, allotment in zip(claims, allotted, strict=True):
        assert allotment.key == claim.key
        assert claim.minimum <= allotment.seats <= claim.maximum
