"""Commitment letters (承诺书): one per town, year and campaign, with a target on each of
the campaign's indicators (its KPI keys); signed by the town, then signed off by the
city, which locks it; and their progress as of a day with a year-end outlook.

A town writes its own town's letters and the city any; only the city signs them off
(``Action.approve``). Once signed off a letter is locked: any change, a second sign-off
included, is refused (409) naming who signed it off and when. Every write goes to the
audit log with before and after.

Progress reads the KPIs through ``kpi.services.figures_by_town``, as of the day asked
(at most the year's last day) and as of the last day of the previous year: targets are
cumulative figures at the year's end, and the year's work is measured from where the
town stood when the year began (``rules.forecast``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import (
    authorize,
    authorize_some,
    restrict,
)
from gongjian.campaign.choices import Campaign
from gongjian.campaign.models import Commitment, CommitmentTarget
from gongjian.campaign.rules import INDICATORS, Forecast, forecast, target_problem
from gongjian.db import utcnow
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.kpi.services import Figures, figures_by_town
from gongjian.periods import city_zone, today
from gongjian.towns.models import Town
from gongjian.towns.services import find_town

COMMITMENT = "commitment"
"""The resource name of commitments in permissions and the audit log."""
YEAR_MIN, YEAR_MAX = 1990, 2100
CENT = Decimal("0.01")
"""Labels of the resources of this package that ``permissions.RESOURCE_LABELS`` lacks."""

INDICATOR_VALUES: dict[str, Callable[[Figures], Decimal]] = {
    "renewal.cleared_mu": lambda f: f.cleared_mu,
    "renewal.attracted": lambda f: Decimal(f.attracted),
    "renewal.expansions": lambda f: Decimal(f.expansions),
    "renewal.investment_yi": lambda f: f.investment_wan.scaleb(-4),
    "water.rivers_entered": lambda f: Decimal(f.rivers_entered),
    "water.rivers_completed": lambda f: Decimal(f.rivers_completed),
    "water.sewer_km": lambda f: f.sewer_km,
    "water.wwtp_started": lambda f: Decimal(f.wwtp_started),
    "water.black_odor_reduction_pct": lambda f: f.black_odor_reduction_pct or Decimal(0),
}
"""Each indicator's exact, unrounded figure in its own unit (investment in 亿元). The
black-odour reduction is a quotient (to 28 significant digits), 0 without a baseline."""


def indicator_value(figures: Figures, key: str) -> Decimal:
    """The figure of indicator ``key`` in ``figures``."""
    return INDICATOR_VALUES[key](figures)


def commitment_key(town: Town, year: int, campaign: Campaign) -> str:
    """How a commitment is named in the audit log: ``town code/year/campaign``."""
    return f"{town.code}/{year}/{Campaign(campaign).value}"


def describe(commitment: Commitment) -> str:
    """``石岐 2023 年治水承诺书``."""
    return f"{commitment.town.name} {commitment.year} 年{Campaign(commitment.campaign).label}承诺书"


def year_problems(year: int, field: str = "year") -> list[Problem]:
    """A year outside 1990–2100 is refused."""
    if YEAR_MIN <= year <= YEAR_MAX:
        return []
    return [Problem(f"年度须在 {YEAR_MIN}–{YEAR_MAX} 之间", column=field, value=str(year))]


def progress_day(year: int, as_of: dt.date | None) -> dt.date:
    """The day ``year``'s progress is read as of: ``as_of`` (default today), but at most
    the year's last day (a year that is over is read at its end). ``Invalid`` before the
    year has begun: there is no pace yet."""
    problems = year_problems(year)
    if problems:
        raise Invalid("年度有误", problems)
    day = today() if as_of is None else as_of
    if day < dt.date(year, 1, 1):
        raise Invalid(
            f"{year} 年尚未开始，没有进度",
            [Problem(f"截至日期须不早于 {year}-01-01", column="as_of", value=str(day))],
        )
    return min(day, dt.date(year, 12, 31))


def previous_year_end(year: int) -> dt.date:
    """The last day of the year before ``year``: where the year's progress starts from."""
    return dt.date(year - 1, 12, 31)


def _with_targets() -> Any:
    return (
        select(Commitment)
        .join(Town, Town.id == Commitment.town_id)
        .options(selectinload(Commitment.targets), selectinload(Commitment.town))
    )


def _stored(session: Session, town: Town, year: int, campaign: Campaign) -> Commitment | None:
    return session.scalars(
        _with_targets().where(
            Commitment.town_id == town.id,
            Commitment.year == year,
            Commitment.campaign == Campaign(campaign).value,
        )
    ).first()


def _missing(town: Town, year: int, campaign: Campaign) -> NotFound:
    return NotFound(f"没有{town.name} {year} 年{Campaign(campaign).label}承诺书")


def list_commitments(
    session: Session,
    *,
    actor: Actor,
    year: int | None = None,
    campaign: Campaign | None = None,
    town_id: int | None = None,
) -> list[Commitment]:
    """The commitments ``actor`` may see (every town's, for any signed-in role), with
    their targets and towns; by year, campaign and town code."""
    stmt = _with_targets().order_by(Commitment.year, Commitment.campaign, Town.code)
    if year is not None:
        stmt = stmt.where(Commitment.year == year)
    if campaign is not None:
        stmt = stmt.where(Commitment.campaign == Campaign(campaign).value)
    if town_id is not None:
        stmt = stmt.where(Commitment.town_id == town_id)
    return list(session.scalars(restrict(session, actor, stmt, COMMITMENT)))


def get_commitment(
    session: Session, *, actor: Actor, town: str, year: int, campaign: Campaign
) -> Commitment:
    """The commitment of ``town`` (name or code) for ``year`` and ``campaign``."""
    authorize(session, actor, Action.view, COMMITMENT)
    found_town = find_town(session, town)
    found = _stored(session, found_town, year, campaign)
    if found is None:
        raise _missing(found_town, year, campaign)
    return found


def locked_message(commitment: Commitment) -> str:
    """Why a signed-off commitment cannot change: who signed it off, and when."""
    assert commitment.approved_at is not None
    at = commitment.approved_at.astimezone(city_zone())
    return (
        f"{describe(commitment)}已由“{commitment.approved_by}”于 {at:%Y-%m-%d %H:%M} "
        "审定，已锁定，不能再修改"
    )


def _writable(
    session: Session, actor: Actor, action: Action, town: str, year: int, campaign: Campaign
) -> Commitment:
    """The commitment, if ``actor`` may take ``action`` on it (403, logged, if not; 404
    when there is none) and it is not locked (409 naming who signed it off, and when)."""
    authorize_some(session, actor, action, COMMITMENT, record_id=town)
    found_town = find_town(session, town)
    record_id = commitment_key(found_town, year, campaign)
    authorize(session, actor, action, COMMITMENT, town_id=found_town.id, record_id=record_id)
    found = _stored(session, found_town, year, campaign)
    if found is None:
        raise _missing(found_town, year, campaign)
    if found.approved_at is not None:
        raise Conflict(locked_message(found))
    return found


def _target_problems(
    campaign: Campaign, targets: Mapping[str, Decimal | None], *, removable: bool
) -> list[Problem]:
    problems = []
    for key, target in targets.items():
        if target is None:
            if not removable:
                problems.append(Problem("缺少目标值", column=f"targets.{key}"))
            elif key not in INDICATORS:
                problems.append(Problem(f"“{key}”不是指标", column=f"targets.{key}"))
            continue
        why = target_problem(campaign, key, target)
        if why is not None:
            problems.append(Problem(why, column=f"targets.{key}", value=str(target)))
    return problems


def _signed_problems(signed_on: dt.date | None) -> list[Problem]:
    if signed_on is not None and signed_on > today():
        return [
            Problem(f"签署日期不能晚于今天（{today()}）", column="signed_on", value=str(signed_on))
        ]
    return []


def _targets_of(commitment: Commitment) -> dict[str, str]:
    return {t.indicator: str(t.target) for t in sorted(commitment.targets, key=indicator_order)}


def indicator_order(target: CommitmentTarget) -> int:
    """Where ``target`` comes among a commitment's targets: in the order of the KPIs."""
    keys = list(INDICATORS)
    return keys.index(target.indicator) if target.indicator in keys else len(keys)


def _audit(
    session: Session,
    *,
    actor: Actor,
    action: Action,
    commitment: Commitment,
    before: dict[str, Any] | None,
    detail: str,
) -> None:
    session.flush()
    session.refresh(commitment, ["targets"])
    record(
        session,
        actor=actor,
        action=action.value,
        resource=COMMITMENT,
        record_id=commitment_key(commitment.town, commitment.year, Campaign(commitment.campaign)),
        town_id=commitment.town_id,
        before=before,
        after={**snapshot(commitment), "targets": _targets_of(commitment)},
        detail=detail,
    )


def _state(commitment: Commitment) -> dict[str, Any]:
    return {**snapshot(commitment), "targets": _targets_of(commitment)}


def create_commitment(
    session: Session,
    *,
    actor: Actor,
    town: str,
    year: int,
    campaign: Campaign,
    targets: Mapping[str, Decimal],
    signed_on: dt.date | None = None,
) -> Commitment:
    """Add ``town``'s commitment for ``year`` and ``campaign`` with its ``targets`` (KPI
    key → cumulative figure promised for the year's end; see ``rules.target_problem``),
    signed on ``signed_on`` when given. 409 when the town already has one."""
    campaign = Campaign(campaign)
    authorize_some(session, actor, Action.add, COMMITMENT, record_id=town)
    found_town = find_town(session, town)
    record_id = commitment_key(found_town, year, campaign)
    authorize(session, actor, Action.add, COMMITMENT, town_id=found_town.id, record_id=record_id)
    problems = year_problems(year) + _target_problems(campaign, targets, removable=False)
    problems += _signed_problems(signed_on)
    if problems:
        raise Invalid(f"{found_town.name} {year} 年{campaign.label}承诺书有误，未添加", problems)
    existing = _stored(session, found_town, year, campaign)
    if existing is not None:
        raise Conflict(f"{describe(existing)}已存在；修改目标请用更新")
    commitment = Commitment(
        town_id=found_town.id, year=year, campaign=campaign.value, signed_on=signed_on
    )
    commitment.targets = [
        CommitmentTarget(indicator=key, target=value.quantize(CENT))
        for key, value in targets.items()
    ]
    session.add(commitment)
    session.flush()
    _audit(
        session,
        actor=actor,
        action=Action.add,
        commitment=commitment,
        before=None,
        detail=f"新增{found_town.name} {year} 年{campaign.label}承诺书（{len(targets)} 项目标）",
    )
    return commitment


def set_targets(
    session: Session,
    *,
    actor: Actor,
    town: str,
    year: int,
    campaign: Campaign,
    targets: Mapping[str, Decimal | None],
) -> Commitment:
    """Set the given targets of a commitment not yet signed off (adding an indicator not
    there yet); a target of ``None`` takes that indicator off. Other targets stay."""
    campaign = Campaign(campaign)
    commitment = _writable(session, actor, Action.change, town, year, campaign)
    problems = _target_problems(campaign, targets, removable=True)
    if not targets:
        problems.append(Problem("没有要修改的目标", column="targets"))
    if problems:
        raise Invalid(f"{describe(commitment)}的目标有误，未修改", problems)
    before = _state(commitment)
    commitment.updated_at = utcnow()  # its targets change: so do its time and version
    stored = {target.indicator: target for target in commitment.targets}
    for key, value in targets.items():
        if value is None:
            if key in stored:
                session.delete(stored[key])
        elif key in stored:
            stored[key].target = value.quantize(CENT)
        else:
            session.add(
                CommitmentTarget(
                    commitment_id=commitment.id, indicator=key, target=value.quantize(CENT)
                )
            )
    _audit(
        session,
        actor=actor,
        action=Action.change,
        commitment=commitment,
        before=before,
        detail=f"修改{describe(commitment)}的目标：{'、'.join(targets)}",
    )
    return commitment


def sign(
    session: Session,
    *,
    actor: Actor,
    town: str,
    year: int,
    campaign: Campaign,
    signed_on: dt.date,
) -> Commitment:
    """Record the day the town signed its commitment (not in the future)."""
    commitment = _writable(session, actor, Action.change, town, year, Campaign(campaign))
    problems = _signed_problems(signed_on)
    if problems:
        raise Invalid(f"{describe(commitment)}的签署日期有误", problems)
    before = _state(commitment)
    commitment.signed_on = signed_on
    _audit(
        session,
        actor=actor,
        action=Action.change,
        commitment=commitment,
        before=before,
        detail=f"{describe(commitment)}签署于 {signed_on}",
    )
    return commitment


def approve(
    session: Session, *, actor: Actor, town: str, year: int, campaign: Campaign
) -> Commitment:
    """The city signs a commitment off, which locks it: ``approved_by`` and
    ``approved_at`` are set. It must have been signed by the town and hold at least one
    target (409 otherwise, and when it is already signed off)."""
    commitment = _writable(session, actor, Action.approve, town, year, Campaign(campaign))
    if commitment.signed_on is None:
        raise Conflict(f"{describe(commitment)}尚未由镇街签署，不能审定")
    if not commitment.targets:
        raise Conflict(f"{describe(commitment)}没有任何目标，不能审定")
    before = _state(commitment)
    commitment.approved_by = actor.username
    commitment.approved_at = utcnow()
    _audit(
        session,
        actor=actor,
        action=Action.approve,
        commitment=commitment,
        before=before,
        detail=f"审定{describe(commitment)}（锁定）",
    )
    return commitment


@dataclass(frozen=True)
class YearFigures:
    """Every town's figures at the end of the previous year and as of the day read."""

    year: int
    as_of: dt.date
    start: dict[int, Figures]
    now: dict[int, Figures]

    @classmethod
    def load(cls, session: Session, year: int, as_of: dt.date) -> YearFigures:
        """Both, from ``figures_by_town`` (``as_of`` already within the year)."""
        return cls(
            year,
            as_of,
            figures_by_town(session, previous_year_end(year)),
            figures_by_town(session, as_of),
        )

    def forecasts(self, commitment: Commitment) -> list[Forecast]:
        """The outlook of each of ``commitment``'s targets, in the order of the KPIs."""
        start = self.start.get(commitment.town_id, Figures())
        now = self.now.get(commitment.town_id, Figures())
        return [
            forecast(
                target.indicator,
                start=indicator_value(start, target.indicator),
                achieved=indicator_value(now, target.indicator),
                target=target.target,
                year=self.year,
                as_of=self.as_of,
            )
            for target in sorted(commitment.targets, key=indicator_order)
        ]


@dataclass(frozen=True)
class CommitmentProgress:
    """A commitment's progress as of a day: per target, the figures and outlook."""

    commitment: Commitment
    as_of: dt.date
    forecasts: Sequence[Forecast]


def progress(
    session: Session,
    *,
    actor: Actor,
    town: str,
    year: int,
    campaign: Campaign,
    as_of: dt.date | None = None,
) -> CommitmentProgress:
    """Each target's figure as of ``as_of`` (see ``progress_day``), its share of the
    target, and the year-end outlook from the pace so far (``rules.forecast``)."""
    commitment = get_commitment(session, actor=actor, town=town, year=year, campaign=campaign)
    day = progress_day(year, as_of)
    figures = YearFigures.load(session, year, day)
    return CommitmentProgress(commitment, day, figures.forecasts(commitment))
