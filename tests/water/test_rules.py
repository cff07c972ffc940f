"""The rules file: the packaged one says what SPEC.md says, and a bad one is refused
with the file and the field named."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from gongjian.errors import Invalid
from gongjian.water.rules import Worse, load_rules, rules_hash

PACKAGED = Path(__file__).parents[2] / "src" / "gongjian" / "water" / "rules.toml"


def test_packaged_rules_are_the_guideline_table() -> None:
    rules = load_rules()
    table = {
        field: (rule.worse, rule.severe_bound, rule.none_bound)
        for field, rule in rules.indicators.by_field().items()
    }
    assert table == {
        "transparency_cm": (Worse.lower_values, Decimal("10"), Decimal("25")),
        "do_mg_l": (Worse.lower_values, Decimal("0.2"), Decimal("2.0")),
        "orp_mv": (Worse.lower_values, Decimal("-200"), Decimal("50")),
        "nh3n_mg_l": (Worse.higher_values, Decimal("15"), Decimal("8.0")),
    }
    assert rules.shallow_water is True
    assert rules.shallow.depth_below_cm == Decimal("25")
    assert rules.shallow.factor.fraction == Fraction(2, 5)
    assert rules.point.min_samples == 3
    assert rules.point.one_indicator_share.fraction == Fraction(3, 5)
    assert rules.point.two_indicators_share.fraction == Fraction(3, 10)
    assert rules.water_body.min_graded_points == 3
    assert rules.water_body.severe_share.fraction == Fraction(3, 5)
    assert rules.water_body.severe_segment_min_points == 3
    sampling = rules.sampling
    assert (sampling.point_spacing_min_m, sampling.point_spacing_max_m) == (200, 600)
    assert (sampling.min_points, sampling.min_samplings) == (3, 3)
    assert (sampling.interval_min_days, sampling.interval_max_days) == (1, 7)


def test_hash_is_the_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    raw = PACKAGED.read_bytes()
    assert rules_hash(raw) == hashlib.sha256(raw).hexdigest()
    assert load_rules().hash == rules_hash(raw)
    copy = tmp_path / "rules.toml"
    copy.write_bytes(raw)
    assert load_rules(copy).hash == load_rules().hash
    copy.write_bytes(raw.replace(b"shallow_water = true", b"shallow_water = false"))
    changed = load_rules(copy)
    assert changed.shallow_water is False
    assert changed.hash != load_rules().hash


def _problems_of(tmp_path: Path, text: str) -> list[tuple[str | None, str | None]]:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Invalid) as caught:
        load_rules(path)
    assert all(problem.file == str(path) for problem in caught.value.problems)
    return [(problem.column, problem.value) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'severe_bound = "0.2"',
            "severe_bound = 0.2",
            [("indicators.do_mg_l.severe_bound", "0.2")],
        ),
        (
            'severe_bound = "0.2"',
            'severe_bound = "NaN"',
            [("indicators.do_mg_l.severe_bound", "NaN")],
        ),
        ('severe_bound = "0.2"', 'severe_bound = "2.5"', [("indicators.do_mg_l", None)]),
        ("min_samples = 3", "min_samples = 0", [("point.min_samples", "0")]),
        (
            "min_samples = 3",
            "min_sample = 3",
            [("point.min_samples", None), ("point.min_sample", "3")],
        ),
        (
            "severe_share = { numerator = 3, denominator = 5 }",
            "severe_share = { numerator = 6, denominator = 5 }",
            [("water_body.severe_share", None)],
        ),
        (
            'worse = "higher"\nsevere',
            'worse = "up"\nsevere',
            [("indicators.nh3n_mg_l.worse", "up")],
        ),
    ],
)
def test_bad_rules_name_the_field(
    tmp_path: Path, old: str, new: str, expected: list[tuple[str, str | None]]
) -> None:
    text = PACKAGED.read_text(encoding="utf-8")
    assert old in text
    assert _problems_of(tmp_path, text.replace(old, new, 1)) == expected


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert _problems_of(tmp_path, "shallow_water = \n") == [(None, None)]
    with pytest.raises(Invalid) as caught:
        load_rules(tmp_path / "absent.toml")
    assert caught.value.problems[0].file == str(tmp_path / "absent.toml")
