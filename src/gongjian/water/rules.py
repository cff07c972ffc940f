"""The black-odour grading rules as data: one TOML file, loaded and checked once.

Every threshold, share and switch of SPEC.md's "Black-odorous water grading" lives in
``rules.toml`` beside this module (or in a file of the same shape that a city points to);
this module is the only place that reads it. Thresholds stay exact decimals and shares
exact fractions, so the engine in ``grading.py`` can compare them without rounding.
"""

from __future__ import annotations

import hashlib
import tomllib
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from gongjian.errors import Invalid, Problem

PACKAGED_RULES = "rules.toml"

INDICATORS = ("transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l")
"""The four indicators, as the fields of a sample are named."""


def _decimal_text(value: object) -> object:
    """Accept a threshold only as a quoted decimal string: a TOML float is already rounded."""
    if not isinstance(value, str):
        raise ValueError('阈值须写成带引号的十进制字符串，如 "0.2"')
    return value


DecimalText = Annotated[Decimal, BeforeValidator(_decimal_text), Field(allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Share(_Frozen):
    """An exact fraction such as 3/5 (60%), written as numerator and denominator."""

    numerator: int = Field(ge=0)
    denominator: int = Field(gt=0)

    @property
    def fraction(self) -> Fraction:
        """The share as an exact ``Fraction``."""
        return Fraction(self.numerator, self.denominator)

    @model_validator(mode="after")
    def _at_most_one(self) -> Self:
        if self.numerator > self.denominator:
            raise ValueError("比例不能超过 1（分子不能大于分母）")
        return self


class Worse(StrEnum):
    """Which direction of an indicator is worse: lower (transparency, DO, ORP) or higher
    (ammonia nitrogen)."""

    lower_values = "lower"
    higher_values = "higher"


class IndicatorRule(_Frozen):
    """The two bounds of one indicator; between them, both included, the level is mild."""

    label: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    worse: Worse
    severe_bound: DecimalText
    none_bound: DecimalText

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Self:
        if self.worse is Worse.lower_values and self.severe_bound > self.none_bound:
            raise ValueError('worse = "lower" 时 severe_bound 不能大于 none_bound')
        if self.worse is Worse.higher_values and self.severe_bound < self.none_bound:
            raise ValueError('worse = "higher" 时 severe_bound 不能小于 none_bound')
        return self


class ShallowRule(_Frozen):
    """Transparency in shallow water: judged against the depth under ``depth_below_cm``."""

    depth_below_cm: DecimalText = Field(gt=0)
    factor: Share


class Indicators(_Frozen):
    """The four indicators of the guideline's table 1."""

    transparency_cm: IndicatorRule
    do_mg_l: IndicatorRule
    orp_mv: IndicatorRule
    nh3n_mg_l: IndicatorRule

    def by_field(self) -> dict[str, IndicatorRule]:
        """Each indicator's rule keyed by its sample field, in ``INDICATORS`` order."""
        return {field: getattr(self, field) for field in INDICATORS}


class PointRule(_Frozen):
    """How a point's samples make its grade."""

    min_samples: int = Field(ge=1)
    one_indicator_share: Share
    two_indicators_share: Share


class WaterBodyRule(_Frozen):
    """How a water body's graded points make its grade and its severe segments."""

    min_graded_points: int = Field(ge=1)
    severe_share: Share
    severe_segment_min_points: int = Field(ge=1)


class SamplingRule(_Frozen):
    """The guideline's sampling rules, used for warnings only."""

    point_spacing_min_m: DecimalText = Field(ge=0)
    point_spacing_max_m: DecimalText = Field(gt=0)
    min_points: int = Field(ge=1)
    interval_min_days: int = Field(ge=0)
    interval_max_days: int = Field(ge=1)
    min_samplings: int = Field(ge=1)


class Rules(_Frozen):
    """The whole rules file, plus ``hash``: the sha256 of its bytes, stored with grades."""

    shallow_water: bool
    shallow: ShallowRule
    indicators: Indicators
    point: PointRule
    water_body: WaterBodyRule
    sampling: SamplingRule
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


def rules_hash(rules_bytes: bytes) -> str:
    """The sha256 hex digest of a rules file's bytes: which rules made a grade."""
    return hashlib.sha256(rules_bytes).hexdigest()


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


def _shown(error: ErrorDetails) -> str | None:
    """The offending value, when it is a single value worth showing."""
    value = error.get("input")
    if error["type"] == "missing" or isinstance(value, dict | list):
        return None
    return str(value)


def _reason(error: ErrorDetails) -> str:
    """Pydantic's complaint in the user's words: our own checks already speak Chinese."""
    if error["type"] == "missing":
        return "缺少此项"
    if error["type"] == "extra_forbidden":
        return "未知的项（拼写错误？）"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return f"取值无效：{error['msg']}"


def load_rules(path: Path | None = None) -> Rules:
    """Read and check a rules file; ``None`` reads the one shipped with the package.

    Raises ``Invalid`` naming the file and each bad field (as a dotted path such as
    ``indicators.do_mg_l.severe_bound``).
    """
    if path is None:
        source = resources.files("gongjian.water").joinpath(PACKAGED_RULES)
        name = f"gongjian/water/{PACKAGED_RULES}"
        raw = source.read_bytes()
    else:
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise Invalid(
                "无法读取规则文件", [Problem(f"无法读取：{exc.strerror}", file=name)]
            ) from None
    try:
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise Invalid(
            "规则文件无效", [Problem(f"不是 UTF-8 编码的 TOML：{exc}", file=name)]
        ) from None
    try:
        return Rules.model_validate({**data, "hash": rules_hash(raw)})
    except ValidationError as exc:
        problems = [
            Problem(
                _reason(error),
                file=name,
                column=_field_path(error["loc"]),
                value=_shown(error),
            )
            for error in exc.errors()
        ]
        raise Invalid("规则文件无效", problems) from None
