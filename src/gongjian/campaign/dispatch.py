"""Cadres sent down to the towns (下派干部): how many each town should get, and the
dispatches the city records.

**Pressure.** A town's pressure for a year is the sum, over the targets of its
commitments of that year (both campaigns), of

    (share of the target still open) × (size weight)

times the town's ``pressure_weight`` (``rules.target_pressure``). The open share is
``(target − figure as of the day) ÷ (target − figure at the end of the previous
year)``, from 0 to 1; the size weight is the target's share of what all towns promised
on that indicator for the year (``target − start`` ÷ the towns' sum of it), so that a
target in mu, in km or in rivers weighs by its share of the city's task, not by its
unit. The product is the town's share of the city's open work on that indicator.

**Recommendation.** ``N`` cadres are shared out by the largest-remainder method with a
minimum and a maximum per town (``rules.largest_remainder``): minimums first, the rest
in proportion to pressure, maximums binding, remainders breaking the last seats (ties
to the higher pressure, then the smaller town code).

Recording a dispatch is the city's decision; everyone signed in may read them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, restrict
from gongjian.campaign.commitments import (
    YearFigures,
    indicator_order,
    indicator_value,
    list_commitments,
    year_problems,
)
from gongjian.campaign.models import Cadre, Dispatch
from gongjian.campaign.rules import (
    AllocationError,
    Allotment,
    Claim,
    largest_remainder,
    rounded,
    target_pressure,
)
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.kpi.services import Figures
from gongjian.periods import today
from gongjian.records import flush_versioned, write_added
from gongjian.towns.models import Town
from gongjian.towns.services import find_town

DISPATCH = "dispatch"
DEFAULT_MIN = 2
DEFAULT_MAX = 20
ROLE_MAX = 60
PRESSURE_PLACES = 6


@dataclass(frozen=True)
class PressureTerm:
    """One open target's part in a town's pressure."""

    indicator: str
    start: Decimal
    achieved: Decimal
    target: Decimal
    city_target_in_year: Decimal
    open_share: Fraction
    size_weight: Fraction

    @property
    def pressure(self) -> Fraction:
        return self.open_share * self.size_weight


@dataclass(frozen=True)
class TownPressure:
    """A town's pressure: its terms, their sum, and its weight."""

    town: Town
    terms: list[PressureTerm]

    @property
    def weight(self) -> Decimal:
        return self.town.pressure_weight

    @property
    def raw(self) -> Fraction:
        return sum((term.pressure for term in self.terms), Fraction(0))

    @property
    def pressure(self) -> Fraction:
        return self.raw * Fraction(self.weight)


@dataclass(frozen=True)
class TownRecommendation:
    """How many cadres a town should get, and why."""

    pressure: TownPressure
    allotment: Allotment

    @property
    def town(self) -> Town:
        return self.pressure.town

    @property
    def cadres(self) -> int:
        return self.allotment.seats

    @property
    def explanation(self) -> str:
        a = self.allotment
        shown = rounded(self.pressure.pressure, PRESSURE_PLACES)
        head = (
            f"压力 {shown}（{len(self.pressure.terms)} 项目标之和 "
            f"{rounded(self.pressure.raw, PRESSURE_PLACES)} × 镇街权重 {self.pressure.weight}）"
        )
        if a.maximum == a.minimum:
            return f"{head}；上限等于下限，{a.seats} 人"
        quota = rounded(a.quota, 4)
        if a.capped:
            return (
                f"{head}；下限 {a.minimum} 人，按压力应再分 {quota} 人，超过上限所余 "
                f"{a.maximum - a.minimum} 人，取上限 {a.maximum} 人"
            )
        extra = "，余数居前，多分 1 人" if a.extra else ""
        return (
            f"{head}；下限 {a.minimum} 人，按压力再分 {quota} 人：取整 {a.floor}，"
            f"余数 {rounded(a.remainder, 4)}{extra}；共 {a.seats} 人"
        )


@dataclass(frozen=True)
class Recommendation:
    """The recommended dispatch of ``cadres`` cadres for ``year``, as of a day."""

    year: int
    as_of: dt.date
    cadres: int
    minimum: int
    maximum: int
    towns: list[TownRecommendation]


def town_pressures(
    session: Session, *, actor: Actor, year: int, as_of: dt.date
) -> list[TownPressure]:
    """Every town's pressure for ``year`` as of ``as_of`` (see the module), by town code."""
    figures = YearFigures.load(session, year, as_of)
    commitments = list_commitments(session, actor=actor, year=year)
    city: dict[str, Decimal] = defaultdict(Decimal)
    for commitment in commitments:
        start = figures.start.get(commitment.town_id, Figures())
        for target in commitment.targets:
            asked = target.target - indicator_value(start, target.indicator)
            city[target.indicator] += max(asked, Decimal(0))
    terms: dict[int, list[PressureTerm]] = defaultdict(list)
    for commitment in commitments:
        start = figures.start.get(commitment.town_id, Figures())
        now = figures.now.get(commitment.town_id, Figures())
        for target in sorted(commitment.targets, key=indicator_order):
            begun = indicator_value(start, target.indicator)
            achieved = indicator_value(now, target.indicator)
            open_share, size = target_pressure(
                start=begun,
                achieved=achieved,
                target=target.target,
                city_target_in_year=city[target.indicator],
            )
            if open_share and size:
                terms[commitment.town_id].append(
                    PressureTerm(
                        target.indicator,
                        begun,
                        achieved,
                        target.target,
                        city[target.indicator],
                        open_share,
                        size,
                    )
                )
    towns = session.scalars(select(Town).order_by(Town.code))
    return [TownPressure(town, terms.get(town.id, [])) for town in towns]


def recommend(
    session: Session,
    *,
    actor: Actor,
    cadres: int,
    minimum: int = DEFAULT_MIN,
    maximum: int = DEFAULT_MAX,
    year: int | None = None,
    as_of: dt.date | None = None,
) -> Recommendation:
    """How ``cadres`` cadres should be shared among the towns for ``year`` (default: the
    year of ``as_of``), by pressure as of ``as_of`` (default today; at most the year's
    last day), each town getting ``minimum`` to ``maximum``. ``Invalid`` (saying why)
    when that cannot be done: fewer cadres than the minimums add up to, or more than
    the maximums. Most cadres first, then by town code."""
    authorize(session, actor, Action.view, DISPATCH)
    day = today() if as_of is None else as_of
    year = day.year if year is None else year
    problems = year_problems(year)
    if cadres < 1:
        problems.append(Problem("人数须为正整数", column="cadres", value=str(cadres)))
    if minimum < 0 or maximum < minimum:
        problems.append(
            Problem(
                f"须 0 ≤ 下限 ≤ 上限（下限 {minimum}，上限 {maximum}）",
                column="min",
                value=str(minimum),
            )
        )
    if problems:
        raise Invalid("下派干部建议的参数有误", problems)
    day = min(day, dt.date(year, 12, 31))
    pressures = town_pressures(session, actor=actor, year=year, as_of=day)
    claims = [Claim(p.town.code, p.pressure, minimum, maximum) for p in pressures]
    try:
        allotted = largest_remainder(claims, cadres)
    except AllocationError as exc:
        towns = len(claims)
        raise Invalid(
            f"无法把 {cadres} 名干部分到 {towns} 个镇街",
            [
                Problem(
                    f"{exc}（{towns} 个镇街，每个 {minimum}–{maximum} 人）",
                    column="cadres",
                    value=str(cadres),
                )
            ],
        ) from None
    towns_ = [TownRecommendation(p, a) for p, a in zip(pressures, allotted, strict=True)]
    towns_.sort(key=lambda r: (-r.cadres, -r.pressure.pressure, r.town.code))
    return Recommendation(year, day, cadres, minimum, maximum, towns_)


# --- Dispatches -------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchView:
    """A dispatch as people read it: the cadre and the town by name."""

    id: int
    cadre: str
    cadre_name: str
    employer: str
    town: str
    town_code: str
    from_on: dt.date
    to_on: dt.date | None
    role: str


def _view(dispatch: Dispatch, cadre: Cadre, town: Town) -> DispatchView:
    return DispatchView(
        id=dispatch.id,
        cadre=cadre.code,
        cadre_name=cadre.name,
        employer=cadre.employer,
        town=town.name,
        town_code=town.code,
        from_on=dispatch.from_on,
        to_on=dispatch.to_on,
        role=dispatch.role,
    )


def record_dispatch(
    session: Session,
    *,
    actor: Actor,
    cadre: str,
    town: str,
    from_on: dt.date,
    role: str,
    to_on: dt.date | None = None,
) -> DispatchView:
    """Record that cadre ``cadre`` (code) is sent down to ``town`` (name or code) from
    ``from_on`` to ``to_on`` (open-ended when ``None``) in ``role``. City only; audited.
    409 when the cadre is already sent down somewhere over some of those days."""
    authorize(session, actor, Action.add, DISPATCH, record_id=cadre)
    found_town = find_town(session, town)
    found = session.scalars(select(Cadre).where(Cadre.code == cadre.strip())).first()
    if found is None:
        raise NotFound(f"没有编号为“{cadre}”的干部")
    text = role.strip()
    problems = []
    if not text or len(text) > ROLE_MAX:
        problems.append(Problem(f"须填写职务（角色），最多 {ROLE_MAX} 字", column="role"))
    if to_on is not None and to_on < from_on:
        problems.append(
            Problem(f"结束日期不能早于开始日期 {from_on}", column="to_on", value=str(to_on))
        )
    if problems:
        raise Invalid(f"干部“{found.code}”的下派有误，未录入", problems)
    for other, other_town in session.execute(
        select(Dispatch, Town)
        .join(Town, Town.id == Dispatch.town_id)
        .where(Dispatch.cadre_id == found.id)
        .order_by(Dispatch.from_on)
    ):
        if (other.to_on is None or other.to_on >= from_on) and (
            to_on is None or other.from_on <= to_on
        ):
            until = other.to_on or "今"
            raise Conflict(
                f"干部“{found.code}”（{found.name}）{other.from_on} 至 {until} 已下派到"
                f"{other_town.name}（{other.role}），时间重叠"
            )
    # Recording a dispatch moves the cadre's version: of two dispatches of one cadre
    # checked for overlap at the same time, the second is refused (409), not both kept.
    flag_modified(found, "code")
    flush_versioned(session, found, resource="cadre", code=found.code, sent=None)
    dispatch = Dispatch(
        cadre_id=found.id, town_id=found_town.id, from_on=from_on, to_on=to_on, role=text
    )
    write_added(
        session,
        dispatch,
        actor=actor,
        resource=DISPATCH,
        record_id=found.code,
        town_id=found_town.id,
        detail=f"下派干部 {found.code}（{found.name}）到{found_town.name}：{text}",
    )
    return _view(dispatch, found, found_town)


def _dispatches(town_id: int | None, active_on: dt.date | None) -> Any:
    """The dispatches (with cadre and town) of one town, under way on ``active_on``."""
    stmt = (
        select(Dispatch, Cadre, Town)
        .join(Cadre, Cadre.id == Dispatch.cadre_id)
        .join(Town, Town.id == Dispatch.town_id)
        .order_by(Dispatch.from_on, Cadre.code, Dispatch.id)
    )
    if town_id is not None:
        stmt = stmt.where(Dispatch.town_id == town_id)
    if active_on is not None:
        stmt = stmt.where(
            Dispatch.from_on <= active_on,
            (Dispatch.to_on.is_(None)) | (Dispatch.to_on >= active_on),
        )
    return stmt


def list_dispatches(
    session: Session,
    *,
    actor: Actor,
    town_id: int | None = None,
    active_on: dt.date | None = None,
) -> list[DispatchView]:
    """The dispatches recorded, of one town and those under way on ``active_on`` when
    given; by start day, then cadre code."""
    stmt = restrict(session, actor, _dispatches(town_id, active_on), DISPATCH)
    return [_view(d, c, t) for d, c, t in session.execute(stmt)]


def page_dispatches(
    session: Session,
    *,
    actor: Actor,
    active_on: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[DispatchView]]:
    """A page of the dispatches ``list_dispatches`` gives, and how many there are."""
    stmt = restrict(session, actor, _dispatches(None, active_on), DISPATCH)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.execute(stmt.limit(limit).offset(offset))
    return total or 0, [_view(d, c, t) for d, c, t in rows]


def list_cadres(session: Session, *, actor: Actor) -> list[Cadre]:
    """The cadres who can be sent down, by code."""
    stmt = restrict(session, actor, select(Cadre).order_by(Cadre.code), "cadre")
    return list(session.scalars(stmt))
