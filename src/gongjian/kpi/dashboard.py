"""What the command dashboard shows: the city overview, a town's page and their map.

Every figure comes from the services that own it: the KPIs from ``headline`` (the same
function as ``gongjian kpi --json``), commitments and their outlook from
``campaign.commitments``, scores from ``campaign.scoring``. What the pages add here —
every town's figures, rivers by grade and parcels by state per town, the map's records —
is read as of a date and kept in the figures cache (``kpi.cache``) like the KPIs.

A town user sees the city's summaries (the KPIs, every town's figures) but only their
own town's records (the map and its table) and page; another town's page is refused
(403, logged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, authorize_town_view, town_scope
from gongjian.campaign.choices import Campaign
from gongjian.campaign.commitments import YearFigures, list_commitments, progress_day
from gongjian.campaign.rules import INDICATORS, Forecast, Indicator
from gongjian.campaign.scoring import TownScore, town_score
from gongjian.kpi.cache import figures_cache
from gongjian.kpi.services import KPI_KEYS, headline, state_as_of, town_figures
from gongjian.periods import Period, parse_as_of, parse_period, period_of
from gongjian.renewal.choices import CLEARED_OR_LATER, RenewalState
from gongjian.renewal.models import Parcel, ParcelStateChange
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.latest import latest_grades
from gongjian.water.models import River, RiverStateChange

MAP_LIMIT = 3000
"""The most rivers, and the most parcels, one map draws; more are left off (and said so)."""
TOWN_RIVERS_SHOWN = 50
"""The most rivers a town's map table lists; the river list has the rest."""


# --- The moment a page is read as of ----------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """The day figures are read as of, its period, and the day changes are measured
    from (the last day of the period before)."""

    as_of: dt.date
    period: Period
    previous: dt.date


def moment(*, period: str | None = None, as_of: str | None = None) -> Moment:
    """``period`` (``2023-01``, ``2023-W05``: read as of its last day), else ``as_of``
    (a date; default today, read within its month); ``Invalid`` for anything else."""
    if period:
        chosen = parse_period(period)
        day = chosen.end
    else:
        day = parse_as_of(as_of)
        chosen = period_of(day)
    return Moment(day, chosen, chosen.previous().end)


# --- KPI tiles --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One headline KPI: its value as ``kpi --json`` writes it, and the change since the
    previous period's last day (``None`` when either is undefined)."""

    indicator: Indicator
    value: int | float | None
    previous: int | float | None

    @property
    def key(self) -> str:
        return self.indicator.key

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return Decimal(str(self.value)) - Decimal(str(self.previous))


@dataclass(frozen=True)
class TileRow:
    """The tiles of one campaign, in the order of the city's report."""

    campaign: Campaign
    tiles: list[Tile]


def _tiles(now: dict[str, Any], before: dict[str, Any]) -> list[TileRow]:
    return [
        TileRow(
            campaign,
            [
                Tile(INDICATORS[key], now[key], before[key])
                for key in KPI_KEYS
                if INDICATORS[key].campaign is campaign
            ],
        )
        for campaign in Campaign
    ]


# --- Towns and their figures ------------------------------------------------------------


@dataclass(frozen=True)
class TownRef:
    """A town as the pages name and link it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class TownFigures:
    """One town's KPI object as of the day read."""

    town: TownRef
    kpi: dict[str, Any]


def _towns(session: Session) -> list[TownRef]:
    """Every town, streets first, in code order (cached: towns change by writes only)."""

    def load() -> list[TownRef]:
        rows = session.execute(select(Town.id, Town.code, Town.name).order_by(Town.kind, Town.code))
        return [TownRef(*row) for row in rows]

    return figures_cache.get(session, ("towns",), load)


def _town_figures(session: Session, as_of: dt.date) -> list[TownFigures]:
    by_town = town_figures(session, as_of)
    return [
        TownFigures(town, by_town[town.id].as_kpi())
        for town in _towns(session)
        if town.id in by_town
    ]


# --- The map's records and their summaries ----------------------------------------------


@dataclass(frozen=True)
class RiverOnMap:
    """A river with its latest grade and remediation state as of the day read."""

    id: int
    code: str
    name: str
    town: TownRef
    grade: Grade | None
    state: RemediationState | None
    geometry: dict[str, Any] | None


@dataclass(frozen=True)
class ParcelOnMap:
    """A parcel with its renewal state as of the day read."""

    id: int
    code: str
    name: str | None
    town: TownRef
    state: RenewalState
    area_mu: Decimal
    geometry: dict[str, Any] | None


@dataclass(frozen=True)
class MapRecords:
    """The rivers and parcels of a map (one town's, or the city's), at most
    ``MAP_LIMIT`` of each; ``truncated`` when some were left off."""

    rivers: list[RiverOnMap]
    parcels: list[ParcelOnMap]
    truncated: bool


@dataclass
class TownMapCounts:
    """One town's rivers by latest grade (``None``: not graded yet) and parcels by state
    (count and area in mu), as of the day read."""

    town: TownRef
    rivers: dict[Grade | None, int] = field(default_factory=dict)
    parcels: dict[RenewalState, tuple[int, Decimal]] = field(default_factory=dict)

    @property
    def river_count(self) -> int:
        return sum(self.rivers.values())

    @property
    def parcel_count(self) -> int:
        return sum(count for count, _mu in self.parcels.values())

    @property
    def cleared(self) -> tuple[int, Decimal]:
        """Parcels cleared or later: how many, and their area in mu."""
        found = [self.parcels[s] for s in CLEARED_OR_LATER if s in self.parcels]
        return sum(c for c, _ in found), sum((mu for _, mu in found), Decimal(0))


def _river_states(as_of: dt.date) -> Any:
    return state_as_of(
        RiverStateChange.river_id,
        RiverStateChange.to_state,
        RiverStateChange.changed_on,
        RiverStateChange.id,
        as_of,
    )


def _parcel_states(as_of: dt.date) -> Any:
    return state_as_of(
        ParcelStateChange.parcel_id,
        ParcelStateChange.to_state,
        ParcelStateChange.changed_on,
        ParcelStateChange.id,
        as_of,
    )


def _map_counts(session: Session, as_of: dt.date) -> list[TownMapCounts]:
    """Every town's rivers by grade and parcels by state (cached)."""

    def load() -> list[TownMapCounts]:
        counts = {town.id: TownMapCounts(town) for town in _towns(session)}
        latest = latest_grades(as_of)
        for town_id, grade, count in session.execute(
            select(River.lead_town_id, latest.c.grade, func.count())
            .outerjoin(latest, latest.c.river_id == River.id)
            .group_by(River.lead_town_id, latest.c.grade)
        ):
            counts[town_id].rivers[None if grade is None else Grade(grade)] = count
        states = _parcel_states(as_of)
        for town_id, state, count, area in session.execute(
            select(Parcel.town_id, states.c.state, func.count(), func.sum(Parcel.area_mu))
            .join(states, states.c.record_id == Parcel.id)
            .group_by(Parcel.town_id, states.c.state)
        ):
            counts[town_id].parcels[RenewalState(state)] = (count, area or Decimal(0))
        return list(counts.values())

    return figures_cache.get(session, ("map_counts", as_of), load)


def map_records(
    session: Session, *, actor: Actor, town: TownRef | None, as_of: dt.date
) -> MapRecords:
    """The rivers (by lead town) and parcels of ``town`` (``None``: the whole city) with
    their grade and states as of ``as_of``, for a map and its table (cached)."""
    authorize(session, actor, Action.view, "river")
    authorize(session, actor, Action.view, "parcel")

    def load() -> MapRecords:
        towns = {t.id: t for t in _towns(session)}
        latest, rivers = latest_grades(as_of), _river_states(as_of)
        river_stmt = (
            select(
                River.id,
                River.code,
                River.name,
                River.lead_town_id,
                latest.c.grade,
                rivers.c.state,
                River.geometry,
            )
            .outerjoin(latest, latest.c.river_id == River.id)
            .outerjoin(rivers, rivers.c.record_id == River.id)
            .order_by(River.code)
            .limit(MAP_LIMIT + 1)
        )
        parcels = _parcel_states(as_of)
        parcel_stmt = (
            select(
                Parcel.id,
                Parcel.code,
                Parcel.name,
                Parcel.town_id,
                parcels.c.state,
                Parcel.area_mu,
                Parcel.geometry,
            )
            .join(parcels, parcels.c.record_id == Parcel.id)
            .order_by(Parcel.code)
            .limit(MAP_LIMIT + 1)
        )
        if town is not None:
            river_stmt = river_stmt.where(River.lead_town_id == town.id)
            parcel_stmt = parcel_stmt.where(Parcel.town_id == town.id)
        river_rows = [
            RiverOnMap(
                rid,
                code,
                name,
                towns[town_id],
                None if grade is None else Grade(grade),
                None if state is None else RemediationState(state),
                geometry,
            )
            for rid, code, name, town_id, grade, state, geometry in session.execute(river_stmt)
        ]
        parcel_rows = [
            ParcelOnMap(pid, code, name, towns[town_id], RenewalState(state), area, geometry)
            for pid, code, name, town_id, state, area, geometry in session.execute(parcel_stmt)
        ]
        truncated = len(river_rows) > MAP_LIMIT or len(parcel_rows) > MAP_LIMIT
        return MapRecords(river_rows[:MAP_LIMIT], parcel_rows[:MAP_LIMIT], truncated)

    key = ("map", None if town is None else town.id, as_of)
    return figures_cache.get(session, key, load)


# --- Whose town ---------------------------------------------------------------------------


def own_town(session: Session, actor: Actor) -> TownRef | None:
    """The town whose records the dashboard shows ``actor``: a town user's own;
    ``None`` (every town) for the city, the auditor and the admin."""
    scope = town_scope(actor)
    return next((t for t in _towns(session) if t.id == scope), None)


def visible_town(session: Session, *, actor: Actor, town: str) -> TownRef:
    """The town ``town`` (name or code; 404 when there is none), if ``actor`` may see its
    page and records: a town user only their own town's (403, logged, for another's)."""
    found = find_town(session, town)
    authorize_town_view(session, actor, "town", town_id=found.id, record_id=found.code)
    return TownRef(found.id, found.code, found.name)


def map_scope(session: Session, *, actor: Actor, town: str | None) -> TownRef | None:
    """The town a map shows: ``town`` when given (see ``visible_town``), else a town
    user's own town, else ``None`` (the whole city)."""
    if town:
        return visible_town(session, actor=actor, town=town)
    return own_town(session, actor)


# --- The pages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The city overview as of a moment."""

    moment: Moment
    tiles: list[TileRow]
    towns: list[TownFigures]
    map_town: TownRef | None
    """The town the map and its table show (a town user's own); ``None``: the city."""
    map_counts: list[TownMapCounts]
    """Rivers by grade and parcels by state, per town of the map."""
    map_records: MapRecords | None
    """The rivers of the map's town, for its table; ``None`` on the city's map."""


def city_overview(session: Session, *, actor: Actor, when: Moment) -> Overview:
    """The headline KPIs of the city with their change, every town's figures, and the
    map's summary (a town user's map: their own town). Cached as a whole."""
    authorize(session, actor, Action.view, "kpi")
    map_town = own_town(session, actor)
    records = None
    if map_town is not None:
        records = map_records(session, actor=actor, town=map_town, as_of=when.as_of)

    def load() -> Overview:
        now = headline(session, actor=actor, as_of=when.as_of)
        before = headline(session, actor=actor, as_of=when.previous)
        counts = _map_counts(session, when.as_of)
        return Overview(
            moment=when,
            tiles=_tiles(now.kpi, before.kpi),
            towns=_town_figures(session, when.as_of),
            map_town=map_town,
            map_counts=[c for c in counts if map_town is None or c.town.id == map_town.id],
            map_records=records,
        )

    return figures_cache.get(session, ("overview", when, map_town), load)


@dataclass(frozen=True)
class CommitmentView:
    """A commitment of the town for the year read, each target with its progress."""

    campaign: Campaign
    signed_on: dt.date | None
    approved: bool
    forecasts: list[Forecast]


@dataclass(frozen=True)
class TownPage:
    """A town's page as of a moment."""

    town: TownRef
    moment: Moment
    tiles: list[TileRow]
    year: int
    commitments: list[CommitmentView]
    score: TownScore
    towns_ranked: int
    map_counts: TownMapCounts
    map_records: MapRecords


def town_page(session: Session, *, actor: Actor, town: str, when: Moment) -> TownPage:
    """One town's KPIs with their change, its commitments for the year of the day read
    with each target's progress and outlook, its overall rank and score item by item,
    and its map's records."""
    found = visible_town(session, actor=actor, town=town)
    now = headline(session, actor=actor, as_of=when.as_of, town=found.code)
    before = headline(session, actor=actor, as_of=when.previous, town=found.code)
    year = when.as_of.year
    commitments = list_commitments(session, actor=actor, year=year, town_id=found.id)
    day = progress_day(year, when.as_of)
    figures = YearFigures.load(session, year, day) if commitments else None
    score = town_score(session, actor=actor, town=found.code, year=year, as_of=when.as_of)
    counts = next(c for c in _map_counts(session, when.as_of) if c.town.id == found.id)
    return TownPage(
        town=found,
        moment=when,
        tiles=_tiles(now.kpi, before.kpi),
        year=year,
        commitments=[
            CommitmentView(
                Campaign(c.campaign),
                c.signed_on,
                c.approved_at is not None,
                figures.forecasts(c) if figures else [],
            )
            for c in commitments
        ],
        score=score,
        towns_ranked=len(_towns(session)),
        map_counts=counts,
        map_records=map_records(session, actor=actor, town=found, as_of=when.as_of),
    )
