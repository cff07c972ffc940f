"""Parcels: how they are found and scoped, added, moved through the renewal states,
built on (construction milestones), and measured year by year (identification of
low-efficiency land, before and after renewal).

Every write goes through the permission check (a town writes its own parcels only)
and lands in the audit log with before and after.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record, snapshot
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import (
    allowed,
    authorize,
    authorize_some,
    authorize_town_view,
    restrict,
)
from gongjian.choices import LabeledChoice
from gongjian.config import get_settings, identification_thresholds
from gongjian.errors import Conflict, Invalid, Problem
from gongjian.geo.choices import InputCrs
from gongjian.kpi.services import state_as_of
from gongjian.periods import today
from gongjian.records import RecordKind, add_record, check_version, read_record
from gongjian.renewal.choices import MilestoneKind, Ownership, RenewalState
from gongjian.renewal.models import (
    ConstructionMilestone,
    Parcel,
    ParcelPerformance,
    ParcelStateChange,
    Park,
    ThemePark,
)
from gongjian.renewal.rules import (
    MILESTONE_NEEDS,
    MILESTONE_STATES,
    Figures,
    Finding,
    Measure,
    before_and_after,
    low_efficiency,
    next_states,
    refusal,
)
from gongjian.states import day_problems, move_detail, write_change
from gongjian.towns.models import Town

PARCELS = RecordKind(Parcel, "parcel", "town_id")
PARKS = RecordKind(Park, "park", "town_id")
REASON_MAX = 500
TWO_PLACES = Decimal("0.01")
CODE_MAX = 30
"""Longest parcel code the database holds (characters)."""
State = TypeVar("State", bound=LabeledChoice)


def writable_parcel(
    session: Session, actor: Actor, code: str, action: Action, resource: str = PARCELS.resource
) -> Parcel:
    """The parcel ``code`` if ``actor`` may take ``action`` on ``resource`` for it (the
    parcel itself, or a record about it such as a ledger entry): 403 (logged) for the
    public, the auditor or another town's user, 404 when there is no such parcel."""
    authorize_some(session, actor, action, resource, record_id=code)
    parcel = read_record(session, PARCELS, actor=actor, code=code)
    authorize(session, actor, action, resource, town_id=parcel.town_id, record_id=code)
    return parcel


def _audit(
    session: Session,
    *,
    actor: Actor,
    parcel: Parcel,
    action: Action,
    after: dict[str, Any],
    detail: str,
    before: dict[str, Any] | None = None,
) -> None:
    """Write a change to ``parcel`` (its state, construction or figures) to the audit
    log, under the parcel's code and town."""
    record(
        session,
        actor=actor,
        action=action.value,
        resource=PARCELS.resource,
        record_id=parcel.code,
        town_id=parcel.town_id,
        before=before,
        after=after,
        detail=detail,
    )


@dataclass(frozen=True)
class ParcelLookups:
    """What a new parcel's references are checked against: towns by name and by code,
    parks and theme parks by code."""

    towns: dict[str, Town]
    parks: dict[str, Park]
    themes: dict[str, ThemePark]

    @classmethod
    def load(cls, session: Session) -> ParcelLookups:
        towns: dict[str, Town] = {}
        for town in session.scalars(select(Town)):
            towns[town.name] = towns[town.code] = town
        return cls(
            towns,
            {park.code: park for park in session.scalars(select(Park))},
            {theme.code: theme for theme in session.scalars(select(ThemePark))},
        )


def as_text(value: Any) -> str:
    """A cell or field as stripped text; ``None`` as empty."""
    return "" if value is None else str(value).strip()


def identified_day(values: Mapping[str, Any]) -> tuple[dt.date, list[tuple[str, str]]]:
    """The day ``values`` say the parcel was identified (``identified_on``, a date or ISO
    text; default today), and what is wrong with it."""
    given = values.get("identified_on")
    if given is None or not as_text(given):
        return today(), []
    if isinstance(given, dt.date):
        day = given
    else:
        try:
            day = dt.date.fromisoformat(as_text(given)[:10])
        except ValueError:
            return today(), [("identified_on", "认定日期应为 2022-03-01 这样的日期")]
    if day > today():
        return day, [("identified_on", f"认定日期不能晚于今天（{today()}）")]
    return day, []


def new_parcel(
    values: Mapping[str, Any], lookups: ParcelLookups, crs: InputCrs
) -> tuple[Parcel | None, list[tuple[str, str]]]:
    """The parcel that ``values`` describe, as 低效认定 (identified); or ``None`` and
    each problem as ``(column, reason)``.

    ``values`` hold ``code``, ``town`` (name or code), and ``geometry`` (a GeoJSON
    mapping, or GeoJSON or WKT text, in ``crs``) or ``area_mu``; optionally ``name``,
    ``park`` and ``theme_park`` (codes), ``ownership`` (identifier or label),
    ``owner_name`` and ``identified_on`` (see ``identified_day``). A geometry is stored
    in WGS84 and gives the area, on the ellipsoid, in mu (``area_mu`` is then ignored).
    """
    _day, problems = identified_day(values)
    code = as_text(values.get("code"))
    if not code:
        problems.append(("code", "缺少地块编号"))
    elif len(code) > CODE_MAX:
        problems.append(("code", f"地块编号最长 {CODE_MAX} 个字符"))
    town = lookups.towns.get(as_text(values.get("town")))
    if town is None:
        problems.append(("town", "镇街不存在（填写镇街名称或代码）"))
    park = lookups.parks.get(as_text(values.get("park")))
    if as_text(values.get("park")):
        if park is None:
            problems.append(("park", "没有这个编号的工业园"))
        elif town is not None and park.town_id != town.id:
            problems.append(("park", f"工业园不在{town.name}"))
    theme = lookups.themes.get(as_text(values.get("theme_park")))
    if as_text(values.get("theme_park")) and theme is None:
        problems.append(("theme_park", "没有这个编号的主题产业园"))
    ownership = Ownership.collective
    if as_text(values.get("ownership")):
        try:
            ownership = Ownership.parse(as_text(values.get("ownership")))
        except ValueError as exc:
            problems.append(("ownership", str(exc)))
    geometry, size = None, None
    raw_geometry = values.get("geometry")
    if raw_geometry is not None and as_text(raw_geometry):
        # Shapely and pyproj load only when a geometry is given, not with every command.
        from shapely.geometry import mapping

        from gongjian.geo.area import area_m2, m2_to_mu
        from gongjian.geo.shapes import check_geometry

        shape, reasons = check_geometry(raw_geometry, crs)
        problems += [("geometry", reason) for reason in reasons]
        if shape is not None:
            geometry = dict(mapping(shape))
            size = m2_to_mu(area_m2(geometry))
    elif as_text(values.get("area_mu")):
        try:
            size = Decimal(as_text(values.get("area_mu")))
        except InvalidOperation:
            problems.append(("area_mu", "面积（亩）不是数值"))
        else:
            if not size.is_finite() or size <= 0 or size != size.quantize(TWO_PLACES):
                problems.append(("area_mu", "面积（亩）须为正数，最多两位小数"))
    else:
        problems.append(("area_mu", "没有几何时须填写面积（亩）"))
    if problems or town is None or size is None:
        return None, problems
    return Parcel(
        code=code,
        name=as_text(values.get("name")) or None,
        town_id=town.id,
        park_id=park.id if park else None,
        theme_park_id=theme.id if theme else None,
        geometry=geometry,
        area_mu=size,
        renewal_state=RenewalState.identified,
        ownership=ownership,
        owner_name=as_text(values.get("owner_name")) or None,
    ), []


def start_histories(
    session: Session, parcels: Sequence[tuple[Parcel, dt.date]], *, actor: Actor, reason: str
) -> None:
    """Begin new parcels' histories: 低效认定 (identified) on the day given with each."""
    session.add_all(
        ParcelStateChange(
            parcel_id=parcel.id,
            to_state=RenewalState.identified.value,
            changed_on=day,
            reason=reason,
            actor=actor.username,
        )
        for parcel, day in parcels
    )
    session.flush()


def add_parcel(
    session: Session, *, actor: Actor, values: Mapping[str, Any], crs: InputCrs = InputCrs.wgs84
) -> Parcel:
    """Add one parcel (see ``new_parcel``); ``Invalid`` naming every bad field, and
    nothing written, when it is refused."""
    parcel, problems = new_parcel(values, ParcelLookups.load(session), crs)
    if parcel is None:
        raise Invalid(
            f"地块“{as_text(values.get('code'))}”有误，未添加",
            [Problem(reason, column=column) for column, reason in problems],
        )
    add_record(session, PARCELS, actor=actor, obj=parcel, detail=f"添加地块 {parcel.code}")
    day, _ = identified_day(values)
    start_histories(session, [(parcel, day)], actor=actor, reason="添加")
    return parcel


def _comment_problems(
    parcel: Parcel, to_state: RenewalState, on: dt.date, comment_until: dt.date | None
) -> list[Problem]:
    """方案公示 needs the comment period's last day; 腾挪安置 may start only after it."""
    if to_state is RenewalState.plan_published:
        if comment_until is None:
            return [Problem("方案公示须填写公示期截止日期", column="comment_until")]
        if comment_until < on:
            return [
                Problem(
                    f"公示期截止日期不能早于公示日期 {on}",
                    column="comment_until",
                    value=str(comment_until),
                )
            ]
    elif comment_until is not None:
        return [Problem("只有方案公示时填写公示期截止日期", column="comment_until")]
    if (
        to_state is RenewalState.relocating
        and parcel.plan_comment_until is not None
        and on <= parcel.plan_comment_until
    ):
        return [
            Problem(
                f"方案公示期至 {parcel.plan_comment_until} 止，公示期满后才能腾挪安置",
                column="on",
                value=str(on),
            )
        ]
    return []


def change_state(
    session: Session,
    *,
    actor: Actor,
    parcel_code: str,
    to_state: RenewalState,
    on: dt.date,
    comment_until: dt.date | None = None,
    reason: str | None = None,
    version: int | None = None,
) -> ParcelStateChange:
    """Move the parcel to ``to_state`` on day ``on`` (city time), if the transition is
    listed (``Conflict`` naming the allowed next states otherwise).

    方案公示 records the last day of its comment period (``comment_until``), and
    腾挪安置 is refused until that day has passed. ``Invalid`` when ``on`` is in the
    future or before the previous change. ``version``: the version of the parcel the move
    is based on (``StaleVersion`` when it is at another).
    """
    parcel = writable_parcel(session, actor, parcel_code, Action.change)
    check_version(parcel, resource=PARCELS.resource, code=parcel.code, sent=version)
    to_state = RenewalState(to_state)
    current = RenewalState(parcel.renewal_state)
    if to_state not in next_states(current):
        raise Conflict(refusal(parcel.code, current, to_state))
    text = (reason or "").strip()
    problems = day_problems(
        session, ParcelStateChange, ParcelStateChange.parcel_id == parcel.id, RenewalState, on
    )
    problems += _comment_problems(parcel, to_state, on, comment_until)
    if len(text) > REASON_MAX:
        problems.append(Problem(f"理由最多 {REASON_MAX} 字", column="reason"))
    if problems:
        raise Invalid(f"地块“{parcel.code}”不能于 {on} 改为“{to_state.label}”", problems)
    before = {"renewal_state": current.value, "plan_comment_until": parcel.plan_comment_until}
    change = ParcelStateChange(
        parcel_id=parcel.id,
        from_state=current.value,
        to_state=to_state.value,
        changed_on=on,
        reason=text or None,
        actor=actor.username,
    )
    parcel.renewal_state = to_state
    if comment_until is not None:
        parcel.plan_comment_until = comment_until
    return write_change(
        session,
        change,
        actor=actor,
        action=Action.change.value,
        resource=PARCELS.resource,
        record_id=parcel.code,
        town_id=parcel.town_id,
        before=before,
        also={"plan_comment_until": parcel.plan_comment_until},
        detail=move_detail("更新状态", current, to_state, on),
    )


@dataclass(frozen=True)
class ParcelHistory:
    """A parcel with every change of its renewal state and its construction steps."""

    parcel: Parcel
    changes: list[ParcelStateChange]
    milestones: list[ConstructionMilestone]

    @property
    def allowed_next(self) -> tuple[RenewalState, ...]:
        return next_states(RenewalState(self.parcel.renewal_state))


def parcel_history(session: Session, *, actor: Actor, parcel_code: str) -> ParcelHistory:
    """The parcel's state history, oldest first, and its construction milestones."""
    parcel = read_record(session, PARCELS, actor=actor, code=parcel_code)
    changes = session.scalars(
        select(ParcelStateChange)
        .where(ParcelStateChange.parcel_id == parcel.id)
        .order_by(ParcelStateChange.changed_on, ParcelStateChange.id)
    )
    milestones = session.scalars(
        select(ConstructionMilestone)
        .where(ConstructionMilestone.parcel_id == parcel.id)
        .order_by(ConstructionMilestone.happened_on, ConstructionMilestone.id)
    )
    return ParcelHistory(parcel, list(changes), list(milestones))


def record_milestone(
    session: Session,
    *,
    actor: Actor,
    parcel_code: str,
    kind: MilestoneKind,
    area_m2: Decimal,
    on: dt.date,
) -> ConstructionMilestone:
    """Record a construction step (规划报建, 施工许可, 竣工验收) of a supplied parcel with the
    floor area it covers, in m²: each step in its order, on a day not in the future and
    not before the step it follows."""
    parcel = writable_parcel(session, actor, parcel_code, Action.change)
    kind = MilestoneKind(kind)
    state = RenewalState(parcel.renewal_state)
    if state not in MILESTONE_STATES[kind]:
        allowed = "、".join(f"“{s.label}”" for s in MILESTONE_STATES[kind])
        raise Conflict(
            f"地块“{parcel.code}”当前为“{state.label}”，{kind.label}只能在{allowed}时登记"
        )
    recorded = {
        MilestoneKind(m.kind): m
        for m in session.scalars(
            select(ConstructionMilestone)
            .where(ConstructionMilestone.parcel_id == parcel.id)
            .order_by(ConstructionMilestone.happened_on)
        )
    }
    problems = []
    if area_m2 <= 0 or area_m2 != area_m2.quantize(TWO_PLACES):
        problems.append(
            Problem("面积须为正数，最多两位小数（平方米）", column="area_m2", value=str(area_m2))
        )
    if on > today():
        problems.append(Problem(f"日期不能晚于今天（{today()}）", column="on", value=str(on)))
    needed = MILESTONE_NEEDS[kind]
    if needed is not None:
        if needed not in recorded:
            problems.append(Problem(f"须先登记{needed.label}", column="kind", value=kind.value))
        elif on < recorded[needed].happened_on:
            problems.append(
                Problem(
                    f"不能早于{needed.label}（{recorded[needed].happened_on}）",
                    column="on",
                    value=str(on),
                )
            )
    if problems:
        raise Invalid(f"地块“{parcel.code}”的{kind.label}有误", problems)
    milestone = ConstructionMilestone(
        parcel_id=parcel.id, kind=kind.value, area_m2=area_m2, happened_on=on, actor=actor.username
    )
    session.add(milestone)
    session.flush()
    _audit(
        session,
        actor=actor,
        parcel=parcel,
        action=Action.add,
        after=snapshot(milestone),
        detail=f"{kind.label}：{area_m2} 平方米（{on}）",
    )
    return milestone


def set_performance(
    session: Session,
    *,
    actor: Actor,
    parcel_code: str,
    year: int,
    figures: Figures,
) -> ParcelPerformance:
    """Record (or correct) a parcel's figures for ``year``: output and tax per mu in
    万元/亩, and the floor-area ratio."""
    parcel = writable_parcel(session, actor, parcel_code, Action.change)
    problems = [
        Problem("须为非负数，最多两位小数", column=measure.value, value=str(value))
        for measure in Measure
        if (value := figures.of(measure)) is not None
        and (not value.is_finite() or value < 0 or value != value.quantize(TWO_PLACES))
    ]
    if problems:
        raise Invalid(f"地块“{parcel.code}”{year} 年的亩均数据有误", problems)
    row = session.scalars(
        select(ParcelPerformance).where(
            ParcelPerformance.parcel_id == parcel.id, ParcelPerformance.year == year
        )
    ).first()
    before = snapshot(row) if row is not None else None
    if row is None:
        row = ParcelPerformance(parcel_id=parcel.id, year=year)
        session.add(row)
    row.output_per_mu = figures.output_per_mu
    row.tax_per_mu = figures.tax_per_mu
    row.floor_area_ratio = figures.floor_area_ratio
    session.flush()
    _audit(
        session,
        actor=actor,
        parcel=parcel,
        action=Action.change,
        before=before,
        after=snapshot(row),
        detail=f"{year} 年亩均数据",
    )
    return row


def _figures(row: ParcelPerformance) -> Figures:
    return Figures(row.output_per_mu, row.tax_per_mu, row.floor_area_ratio)


def identification_bounds(year: int) -> Figures:
    """The bounds under which a parcel's figures of ``year`` are low-efficiency (setting
    ``identification_thresholds``)."""
    found = identification_thresholds(year)
    return Figures(found.output_per_mu, found.tax_per_mu, found.floor_area_ratio)


@dataclass(frozen=True)
class Candidate:
    """A parcel on the year's low-efficiency list and the measures that put it there."""

    parcel: Parcel
    town: Town
    figures: Figures
    findings: list[Finding]

    @property
    def explanation(self) -> str:
        return "；".join(str(finding) for finding in self.findings)


def identify(
    session: Session, *, actor: Actor, year: int, town_id: int | None = None
) -> tuple[Figures, list[Candidate]]:
    """The year's bounds and the parcels whose figures of ``year`` fall under them
    (setting ``identification_thresholds``), by town and code."""
    bounds = identification_bounds(year)
    stmt = (
        select(Parcel, Town, ParcelPerformance)
        .join(Town, Town.id == Parcel.town_id)
        .join(ParcelPerformance, ParcelPerformance.parcel_id == Parcel.id)
        .where(ParcelPerformance.year == year)
        .order_by(Town.code, Parcel.code)
    )
    if town_id is not None:
        stmt = stmt.where(Parcel.town_id == town_id)
    stmt = restrict(session, actor, stmt, PARCELS.resource)
    candidates = []
    for parcel, town, row in session.execute(stmt):
        figures = _figures(row)
        findings = low_efficiency(figures, bounds)
        if findings:
            candidates.append(Candidate(parcel, town, figures, findings))
    return bounds, candidates


@dataclass(frozen=True)
class Comparison:
    """A parcel's figures before and after renewal (``None`` where not known)."""

    parcel: Parcel
    before_year: int | None
    before: Figures | None
    after_year: int | None
    after: Figures | None


@dataclass
class TownComparison:
    """A town's before and after: per-mu figures and floor-area ratio averaged over the
    land (weighted by each parcel's ``area_mu``) of its parcels known both before and
    after."""

    town: Town
    parcels: int = 0
    area_mu: Decimal = Decimal(0)
    _sums: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    _areas: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, comparison: Comparison) -> None:
        assert comparison.before is not None
        assert comparison.after is not None
        self.parcels += 1
        self.area_mu += comparison.parcel.area_mu
        for when, figures in (("before", comparison.before), ("after", comparison.after)):
            for name in ("output_per_mu", "tax_per_mu", "floor_area_ratio"):
                value = getattr(figures, name)
                if value is not None:
                    self._sums[f"{when}.{name}"] += value * comparison.parcel.area_mu
                    self._areas[f"{when}.{name}"] += comparison.parcel.area_mu

    def mean(self, when: str, name: str) -> Decimal | None:
        """The land-weighted mean of ``name`` (``before`` or ``after``), two places."""
        area = self._areas.get(f"{when}.{name}")
        if not area:
            return None
        return (self._sums[f"{when}.{name}"] / area).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _first_days(session: Session, state: RenewalState) -> dict[int, dt.date]:
    """Each parcel's first day in ``state``."""
    return dict(
        session.execute(  # type: ignore[arg-type]
            select(ParcelStateChange.parcel_id, func.min(ParcelStateChange.changed_on))
            .where(ParcelStateChange.to_state == state.value)
            .group_by(ParcelStateChange.parcel_id)
        ).all()
    )


def before_after(
    session: Session, *, actor: Actor, town_id: int | None = None
) -> tuple[list[Comparison], list[TownComparison]]:
    """Per parcel with figures, its figures before and after renewal
    (``rules.before_and_after`` picks the years); per town, the land-weighted means of
    the parcels known both before and after."""
    stmt = select(Parcel).order_by(Parcel.code)
    if town_id is not None:
        stmt = stmt.where(Parcel.town_id == town_id)
    parcels = {p.id: p for p in session.scalars(restrict(session, actor, stmt, "parcel"))}
    rows: dict[int, dict[int, ParcelPerformance]] = defaultdict(dict)
    for row in session.scalars(
        select(ParcelPerformance).where(ParcelPerformance.parcel_id.in_(list(parcels)))
    ):
        rows[row.parcel_id][row.year] = row
    identified = _first_days(session, RenewalState.identified)
    producing = _first_days(session, RenewalState.producing)
    towns = {t.id: t for t in session.scalars(select(Town))}
    comparisons: list[Comparison] = []
    by_town: dict[int, TownComparison] = {}
    for parcel_id, years in rows.items():
        parcel = parcels[parcel_id]
        identified_on, producing_on = identified.get(parcel_id), producing.get(parcel_id)
        before_year, after_year = before_and_after(
            list(years),
            identified_on.year if identified_on else None,
            producing_on.year if producing_on else None,
        )
        comparison = Comparison(
            parcel,
            before_year,
            _figures(years[before_year]) if before_year is not None else None,
            after_year,
            _figures(years[after_year]) if after_year is not None else None,
        )
        comparisons.append(comparison)
        if comparison.before is not None and comparison.after is not None:
            town = by_town.setdefault(parcel.town_id, TownComparison(towns[parcel.town_id]))
            town.add(comparison)
    comparisons.sort(key=lambda c: c.parcel.code)
    return comparisons, sorted(by_town.values(), key=lambda t: t.town.code)


@dataclass(frozen=True)
class StoredCluster:
    """A contiguous cluster (连片) of stored parcels: its id (smallest code), area in mu,
    whether it reaches the threshold, and its parcels' codes."""

    cluster_id: str
    area_mu: Decimal
    flagged: bool
    parcels: list[str]


def parcel_clusters(
    session: Session,
    *,
    actor: Actor,
    gap_m: float = 0,
    min_mu: Decimal | None = None,
    town_id: int | None = None,
) -> tuple[list[StoredCluster], int]:
    """The contiguous clusters of the stored parcels that have a geometry (those that
    touch, or lie within ``gap_m`` metres, transitively), largest first; and how many
    parcels were left out for want of a geometry. ``min_mu`` defaults to the setting
    ``cluster_min_mu``."""
    from shapely.geometry import shape

    from gongjian.geo.clusters import find_clusters

    stmt = select(Parcel.code, Parcel.geometry).order_by(Parcel.code)
    if town_id is not None:
        stmt = stmt.where(Parcel.town_id == town_id)
    rows = session.execute(restrict(session, actor, stmt, PARCELS.resource)).all()
    drawn = [(code, shape(geometry)) for code, geometry in rows if geometry]
    threshold = get_settings().cluster_min_mu if min_mu is None else min_mu
    members: dict[str, list[str]] = defaultdict(list)
    found: dict[str, StoredCluster] = {}
    for row in find_clusters(drawn, gap_m=gap_m, min_mu=threshold):
        members[row.cluster_id].append(row.parcel_id)
        found[row.cluster_id] = StoredCluster(
            row.cluster_id, row.cluster_area_mu, row.flagged, members[row.cluster_id]
        )
    clusters = sorted(found.values(), key=lambda c: (-c.area_mu, c.cluster_id))
    return clusters, len(rows) - len(drawn)


# --- What the dashboard's pages read ----------------------------------------------------


def wanted_states(
    order: type[State], states: Sequence[State], reached: State | None
) -> list[State]:
    """The states of ``order`` (a state machine's choices, in order) that a list's filters
    select: ``reached`` and every state after it (``cleared`` → 拆除整理 or later), of
    ``states`` only when those are given too; else ``states``."""
    if reached is None:
        return list(states)
    members = list(order)
    later = members[members.index(reached) :]
    return [s for s in later if not states or s in states]


@dataclass(frozen=True)
class ParcelRow:
    """A parcel as a list shows it: its town and park by name, its renewal state on the
    list's day (``None`` before its history begins) and the day it was first identified
    (低效认定)."""

    code: str
    name: str | None
    town: str
    park: str | None
    area_mu: Decimal
    state: RenewalState | None
    identified_on: dt.date | None


@dataclass(frozen=True)
class ParcelList:
    """A page of parcels, how many match the filters and their area in mu."""

    total: int
    area_mu: Decimal
    rows: list[ParcelRow]


def list_parcels(
    session: Session,
    *,
    actor: Actor,
    town_id: int | None = None,
    states: Sequence[RenewalState] = (),
    reached: RenewalState | None = None,
    as_of: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ParcelList:
    """A page of parcels by code, of one town, in any of ``states``, in ``reached`` or a
    later state. A parcel's state is the one its history gives at the end of ``as_of``
    (default today), as the KPI ``renewal.cleared_mu`` counts it: a parcel identified
    after that day is in no state then. Two queries."""
    day = today() if as_of is None else as_of
    history = state_as_of(
        ParcelStateChange.parcel_id,
        ParcelStateChange.to_state,
        ParcelStateChange.changed_on,
        ParcelStateChange.id,
        day,
    )
    stmt = select(Parcel.id)
    if states or reached is not None:
        wanted = [s.value for s in wanted_states(RenewalState, states, reached)]
        stmt = stmt.join(history, history.c.record_id == Parcel.id)
        stmt = stmt.where(history.c.state.in_(wanted))
    else:
        stmt = stmt.outerjoin(history, history.c.record_id == Parcel.id)
    if town_id is not None:
        stmt = stmt.where(Parcel.town_id == town_id)
    stmt = restrict(session, actor, stmt, PARCELS.resource)
    matching = stmt.add_columns(Parcel.area_mu).subquery()
    total, area = session.execute(
        select(func.count(), func.sum(matching.c.area_mu)).select_from(matching)
    ).one()
    identified = (
        select(ParcelStateChange.parcel_id, func.min(ParcelStateChange.changed_on).label("day"))
        .where(ParcelStateChange.to_state == RenewalState.identified.value)
        .group_by(ParcelStateChange.parcel_id)
        .subquery()
    )
    page = (
        stmt.with_only_columns(
            Parcel.code,
            Parcel.name,
            Town.name,
            Park.name,
            Parcel.area_mu,
            history.c.state,
            identified.c.day,
        )
        .join(Town, Town.id == Parcel.town_id)
        .outerjoin(Park, Park.id == Parcel.park_id)
        .outerjoin(identified, identified.c.parcel_id == Parcel.id)
        .order_by(Parcel.code)
        .limit(limit)
        .offset(offset)
    )
    rows = [
        ParcelRow(code, name, town, park, area_mu, RenewalState(state) if state else None, first)
        for code, name, town, park, area_mu, state, first in session.execute(page)
    ]
    return ParcelList(total or 0, area or Decimal(0), rows)


@dataclass(frozen=True)
class ParcelYear:
    """A parcel's figures of one year and what puts it under that year's bounds of
    identification (none when it is above every bound)."""

    year: int
    figures: Figures
    findings: list[Finding]

    @property
    def explanation(self) -> str:
        return "；".join(str(finding) for finding in self.findings)


@dataclass(frozen=True)
class ParcelDetail:
    """What a parcel's page shows: its history and milestones, its town, park and theme
    park by name, its yearly figures, the years that show it before and after renewal,
    and whether ``actor`` may move it to another state."""

    history: ParcelHistory
    town: Town
    park: str | None
    theme_park: str | None
    years: list[ParcelYear]
    before_year: int | None
    after_year: int | None
    can_change: bool

    @property
    def parcel(self) -> Parcel:
        return self.history.parcel

    def year(self, year: int | None) -> ParcelYear | None:
        """The figures of ``year`` (``None`` when not reported)."""
        return next((row for row in self.years if row.year == year), None)


def parcel_detail(session: Session, *, actor: Actor, parcel_code: str) -> ParcelDetail:
    """The parcel ``parcel_code`` as its page shows it (404 when there is none; 403,
    logged, for a town user and another town's parcel)."""
    history = parcel_history(session, actor=actor, parcel_code=parcel_code)
    parcel = history.parcel
    authorize_town_view(
        session, actor, PARCELS.resource, town_id=parcel.town_id, record_id=parcel.code
    )
    town = session.get_one(Town, parcel.town_id)
    park = session.get(Park, parcel.park_id) if parcel.park_id is not None else None
    theme = session.get(ThemePark, parcel.theme_park_id) if parcel.theme_park_id else None
    rows = session.scalars(
        select(ParcelPerformance)
        .where(ParcelPerformance.parcel_id == parcel.id)
        .order_by(ParcelPerformance.year)
    )
    years = []
    for row in rows:
        figures = _figures(row)
        years.append(
            ParcelYear(row.year, figures, low_efficiency(figures, identification_bounds(row.year)))
        )
    first = {
        RenewalState(change.to_state): change.changed_on for change in reversed(history.changes)
    }
    identified_on = first.get(RenewalState.identified)
    producing_on = first.get(RenewalState.producing)
    before_year, after_year = before_and_after(
        [row.year for row in years],
        identified_on.year if identified_on else None,
        producing_on.year if producing_on else None,
    )
    return ParcelDetail(
        history=history,
        town=town,
        park=park.name if park else None,
        theme_park=theme.name if theme else None,
        years=years,
        before_year=before_year,
        after_year=after_year,
        can_change=allowed(actor, Action.change, PARCELS.resource, parcel.town_id),
    )


@dataclass(frozen=True)
class ClusterView:
    """A contiguous cluster with its parcels as a list shows them (their present state)."""

    cluster: StoredCluster
    parcels: list[ParcelRow]


def cluster_views(
    session: Session,
    *,
    actor: Actor,
    town_id: int | None = None,
    gap_m: float = 0,
    flagged_only: bool = False,
) -> tuple[list[ClusterView], int]:
    """The clusters of two parcels or more (``parcel_clusters``), largest first, only
    those that reach ``cluster_min_mu`` when ``flagged_only``, each with its parcels;
    and how many parcels were left out for want of a geometry."""
    clusters, undrawn = parcel_clusters(session, actor=actor, gap_m=gap_m, town_id=town_id)
    shown = [
        cluster
        for cluster in clusters
        if len(cluster.parcels) > 1 and (cluster.flagged or not flagged_only)
    ]
    codes = [code for cluster in shown for code in cluster.parcels]
    by_code: dict[str, ParcelRow] = {}
    if codes:
        for code, name, town, park, area_mu, state in session.execute(
            select(
                Parcel.code,
                Parcel.name,
                Town.name,
                Park.name,
                Parcel.area_mu,
                Parcel.renewal_state,
            )
            .join(Town, Town.id == Parcel.town_id)
            .outerjoin(Park, Park.id == Parcel.park_id)
            .where(Parcel.code.in_(codes))
        ):
            by_code[code] = ParcelRow(code, name, town, park, area_mu, RenewalState(state), None)
    views = [
        ClusterView(cluster, [by_code[code] for code in sorted(cluster.parcels)])
        for cluster in shown
    ]
    return views, undrawn
