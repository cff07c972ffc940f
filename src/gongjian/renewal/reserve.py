"""The land-reserve ledger (收储台账): land taken into the government reserve on account
(挂账收储) and released when it is supplied (供地出库).

A parcel is reserved once, for at most its own area (mu), at a valuation in 万元; it may
then be released in one or more parts, never beyond what was reserved, never before the
day it was reserved, and no entry is dated after today. A release carries the reserve's
book value out in proportion to the area it releases (rounded to 0.01 万元, half to
even); the release that empties the parcel carries out exactly what is left, so an
emptied parcel's balance is 0 mu and 0 万元.

The balance as of a day is what was reserved minus what was released on or before that
day: per parcel, per town (the parcel's town when the entry was written) and for the
city (the towns' sum). Every entry passes one permission check (a town writes only for
its own parcels) and is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import restrict
from gongjian.checks import amount_problems, cents, day_problems, text_problems
from gongjian.errors import Conflict, Invalid, Problem
from gongjian.periods import today
from gongjian.records import RecordKind, add_record, names_by_id, read_record
from gongjian.renewal.choices import ReserveEntryKind
from gongjian.renewal.models import Parcel, ReserveEntry
from gongjian.renewal.services import PARCELS, writable_parcel
from gongjian.towns.models import Town
from gongjian.towns.services import find_town

RESOURCE = "reserve_entry"
RESERVE_ENTRIES = RecordKind(ReserveEntry, RESOURCE, "town_id")
"""Ledger entries, written in their parcel's town (they have no code of their own)."""
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
AREA_DIGITS = 14
"""Digits of an area in mu (``Exact(14, 2)``)."""


@dataclass(frozen=True)
class ReserveEntryView:
    """A ledger entry as people read it: its parcel by code, its town by name."""

    id: int
    parcel: str
    town_id: int
    town: str
    kind: ReserveEntryKind
    area_mu: Decimal
    valuation_wan: Decimal
    entry_on: dt.date
    funding_source: str | None


def _views(session: Session, entries: list[ReserveEntry]) -> list[ReserveEntryView]:
    parcels = names_by_id(session, Parcel.id, Parcel.code, {entry.parcel_id for entry in entries})
    towns = names_by_id(session, Town.id, Town.name, {entry.town_id for entry in entries})
    return [
        ReserveEntryView(
            id=entry.id,
            parcel=parcels[entry.parcel_id],
            town_id=entry.town_id,
            town=towns[entry.town_id],
            kind=ReserveEntryKind(entry.kind),
            area_mu=entry.area_mu,
            valuation_wan=entry.valuation_wan,
            entry_on=entry.entry_on,
            funding_source=entry.funding_source,
        )
        for entry in entries
    ]


def _reserved(session: Session, parcel: Parcel) -> ReserveEntry | None:
    return session.scalars(
        select(ReserveEntry).where(
            ReserveEntry.parcel_id == parcel.id,
            ReserveEntry.kind == ReserveEntryKind.reserve_on_account.value,
        )
    ).first()


def _released(session: Session, parcel: Parcel) -> tuple[Decimal, Decimal]:
    """Area (mu) and book value (万元) released from ``parcel`` so far, every date."""
    area, value = session.execute(
        select(
            func.coalesce(func.sum(ReserveEntry.area_mu), 0),
            func.coalesce(func.sum(ReserveEntry.valuation_wan), 0),
        ).where(
            ReserveEntry.parcel_id == parcel.id,
            ReserveEntry.kind == ReserveEntryKind.release.value,
        )
    ).one()
    return Decimal(area).quantize(CENT), Decimal(value).quantize(CENT)


def _write(
    session: Session,
    *,
    actor: Actor,
    parcel: Parcel,
    kind: ReserveEntryKind,
    area_mu: Decimal,
    valuation_wan: Decimal,
    entry_on: dt.date,
    funding_source: str | None,
    detail: str,
) -> ReserveEntryView:
    """Write one entry of ``parcel`` (in its town), area and amount with exactly two
    places, audited under the parcel's code."""
    entry = ReserveEntry(
        parcel_id=parcel.id,
        town_id=parcel.town_id,
        kind=kind,
        area_mu=cents(area_mu),
        valuation_wan=cents(valuation_wan),
        entry_on=entry_on,
        funding_source=(funding_source or "").strip() or None,
    )
    add_record(
        session, RESERVE_ENTRIES, actor=actor, obj=entry, detail=detail, record_id=parcel.code
    )
    return _views(session, [entry])[0]


def _entry_problems(
    area_mu: Decimal, entry_on: dt.date, funding_source: str | None
) -> list[Problem]:
    return [
        *amount_problems(
            area_mu,
            column="area_mu",
            label="面积（亩）",
            max_digits=AREA_DIGITS,
            positive=True,
        ),
        *day_problems(entry_on, column="entry_on", label="入账日期", today=today()),
        *text_problems(
            funding_source,
            column="funding_source",
            label="资金来源",
            max_length=80,
            required=False,
        ),
    ]


def reserve_on_account(
    session: Session,
    *,
    actor: Actor,
    parcel: str,
    area_mu: Decimal,
    valuation_wan: Decimal,
    entry_on: dt.date,
    funding_source: str | None = None,
) -> ReserveEntryView:
    """Take ``area_mu`` of parcel ``parcel`` into the reserve on account (挂账收储) on
    ``entry_on``, valued at ``valuation_wan`` 万元.

    ``Invalid`` (nothing written) when the area is not positive or exceeds the parcel's,
    a figure has more than two decimals, or the day is after today; ``Conflict`` when the
    parcel is already reserved.
    """
    found = writable_parcel(session, actor, parcel, Action.add, RESOURCE)
    problems = _entry_problems(area_mu, entry_on, funding_source)
    problems += amount_problems(valuation_wan, column="valuation_wan", label="估值（万元）")
    if not problems and area_mu > found.area_mu:
        problems.append(
            Problem(
                f"收储面积 {cents(area_mu)} 亩超过地块面积 {found.area_mu} 亩",
                column="area_mu",
                value=str(area_mu),
            )
        )
    if problems:
        raise Invalid(f"地块“{found.code}”的挂账收储有误", problems)
    earlier = _reserved(session, found)
    if earlier is not None:
        raise Conflict(
            f"地块“{found.code}”已于 {earlier.entry_on} 挂账收储 {earlier.area_mu} 亩"
            f"（估值 {earlier.valuation_wan} 万元），不能重复收储"
        )
    return _write(
        session,
        actor=actor,
        parcel=found,
        kind=ReserveEntryKind.reserve_on_account,
        area_mu=area_mu,
        valuation_wan=valuation_wan,
        entry_on=entry_on,
        funding_source=funding_source,
        detail=f"挂账收储：地块 {found.code} {area_mu} 亩，估值 {valuation_wan} 万元（{entry_on}）",
    )


def release_value(
    reserved_mu: Decimal,
    reserved_wan: Decimal,
    released_mu: Decimal,
    released_wan: Decimal,
    area_mu: Decimal,
) -> Decimal:
    """The book value (万元) a release of ``area_mu`` carries out: its share of the
    reserve's valuation by area, rounded to 0.01 half to even; all that is left when it
    empties the parcel (so rounding never leaves a remainder behind)."""
    left = reserved_wan - released_wan
    if released_mu + area_mu >= reserved_mu:
        return left
    share = (reserved_wan * area_mu / reserved_mu).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return min(share, left)


def release(
    session: Session,
    *,
    actor: Actor,
    parcel: str,
    area_mu: Decimal,
    entry_on: dt.date,
    funding_source: str | None = None,
) -> ReserveEntryView:
    """Release ``area_mu`` of parcel ``parcel`` from the reserve when it is supplied
    (供地出库) on ``entry_on``; its book value follows the area (``release_value``).

    ``Conflict`` when the parcel was never reserved; ``Invalid`` (nothing written) when
    the release would take out more than was reserved (the message gives the area
    reserved, released so far and the excess), is dated before the reserve or after
    today, or its area is not positive.
    """
    found = writable_parcel(session, actor, parcel, Action.add, RESOURCE)
    problems = _entry_problems(area_mu, entry_on, funding_source)
    reserved = _reserved(session, found)
    if reserved is None:
        raise Conflict(f"地块“{found.code}”没有挂账收储，不能供地出库")
    released_mu, released_wan = _released(session, found)
    if entry_on < reserved.entry_on:
        problems.append(
            Problem(
                f"出库日期不能早于挂账收储日期（{reserved.entry_on}）",
                column="entry_on",
                value=str(entry_on),
            )
        )
    if not problems and released_mu + area_mu > reserved.area_mu:
        excess = released_mu + area_mu - reserved.area_mu
        problems.append(
            Problem(
                f"出库面积超过收储面积：收储 {reserved.area_mu} 亩，已出库 {released_mu} 亩，"
                f"本次 {cents(area_mu)} 亩，超出 {cents(excess)} 亩",
                column="area_mu",
                value=str(area_mu),
            )
        )
    if problems:
        raise Invalid(f"地块“{found.code}”的供地出库有误", problems)
    value = release_value(
        reserved.area_mu, reserved.valuation_wan, released_mu, released_wan, area_mu
    )
    return _write(
        session,
        actor=actor,
        parcel=found,
        kind=ReserveEntryKind.release,
        area_mu=area_mu,
        valuation_wan=value,
        entry_on=entry_on,
        funding_source=funding_source,
        detail=f"供地出库：地块 {found.code} {area_mu} 亩，账面价值 {value} 万元（{entry_on}）",
    )


def list_entries(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    parcel: str | None = None,
    kind: ReserveEntryKind | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[ReserveEntryView]]:
    """A page of ledger entries (by date, then as written) and how many match: of one
    town (name or code), one parcel (code), one kind."""
    stmt = select(ReserveEntry).order_by(ReserveEntry.entry_on, ReserveEntry.id)
    stmt = restrict(session, actor, stmt, RESOURCE)
    if town:
        stmt = stmt.where(ReserveEntry.town_id == find_town(session, town).id)
    if parcel:
        found = read_record(session, PARCELS, actor=actor, code=parcel)
        stmt = stmt.where(ReserveEntry.parcel_id == found.id)
    if kind is not None:
        stmt = stmt.where(ReserveEntry.kind == kind.value)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(session.scalars(stmt.limit(limit).offset(offset)))
    return total or 0, _views(session, rows)


@dataclass
class Balance:
    """Reserved, released and what remains, in mu and in 万元."""

    reserved_mu: Decimal = ZERO
    released_mu: Decimal = ZERO
    reserved_wan: Decimal = ZERO
    released_wan: Decimal = ZERO

    @property
    def area_mu(self) -> Decimal:
        """Area still in the reserve, mu."""
        return self.reserved_mu - self.released_mu

    @property
    def valuation_wan(self) -> Decimal:
        """Book value still in the reserve, 万元."""
        return self.reserved_wan - self.released_wan

    def add(self, other: Balance) -> None:
        self.reserved_mu += other.reserved_mu
        self.released_mu += other.released_mu
        self.reserved_wan += other.reserved_wan
        self.released_wan += other.released_wan


@dataclass
class ParcelBalance(Balance):
    """The balance of one parcel."""

    parcel: str = ""
    town: str = ""


@dataclass
class TownBalance(Balance):
    """The balance of one town: the sum of its parcels'."""

    town: str = ""
    parcels: int = 0


@dataclass
class ReserveBalance(Balance):
    """The ledger's balance as of a day, for the city (or one town): its towns and its
    parcels (every parcel with an entry by that day, emptied ones included)."""

    as_of: dt.date = dt.date.min
    scope: str = "city"
    towns: list[TownBalance] = field(default_factory=list)
    parcels: list[ParcelBalance] = field(default_factory=list)


def balance(
    session: Session,
    *,
    actor: Actor,
    as_of: dt.date,
    town: str | None = None,
    parcel: str | None = None,
) -> ReserveBalance:
    """The balance at the end of ``as_of``: reserved minus released on or before that
    day, per parcel, per town and for the city (or for one town, or one parcel)."""
    stmt = restrict(
        session,
        actor,
        select(
            ReserveEntry.parcel_id,
            ReserveEntry.town_id,
            ReserveEntry.kind,
            func.sum(ReserveEntry.area_mu),
            func.sum(ReserveEntry.valuation_wan),
        ).where(ReserveEntry.entry_on <= as_of),
        RESOURCE,
    ).group_by(ReserveEntry.parcel_id, ReserveEntry.town_id, ReserveEntry.kind)
    scope = "city"
    if town:
        found_town = find_town(session, town)
        stmt = stmt.where(ReserveEntry.town_id == found_town.id)
        scope = found_town.name
    if parcel:
        found_parcel = read_record(session, PARCELS, actor=actor, code=parcel)
        stmt = stmt.where(ReserveEntry.parcel_id == found_parcel.id)
        scope = found_parcel.code
    rows = session.execute(stmt).all()
    parcel_ids = {row[0] for row in rows}
    town_ids = {row[1] for row in rows}
    codes = names_by_id(session, Parcel.id, Parcel.code, parcel_ids)
    towns = {
        town_id: (name, code)
        for town_id, name, code in session.execute(
            select(Town.id, Town.name, Town.code).where(Town.id.in_(town_ids))
        )
    }
    by_parcel: dict[tuple[int, int], ParcelBalance] = {}
    for parcel_id, town_id, kind, area, value in rows:
        found = by_parcel.setdefault(
            (town_id, parcel_id), ParcelBalance(parcel=codes[parcel_id], town=towns[town_id][0])
        )
        if kind == ReserveEntryKind.reserve_on_account:
            found.reserved_mu += area or 0
            found.reserved_wan += value or 0
        else:
            found.released_mu += area or 0
            found.released_wan += value or 0
    result = ReserveBalance(as_of=as_of, scope=scope)
    by_town: dict[int, TownBalance] = {}
    for (town_id, _parcel_id), found in sorted(
        by_parcel.items(), key=lambda item: (towns[item[0][0]][1], item[1].parcel)
    ):
        town_balance = by_town.setdefault(town_id, TownBalance(town=towns[town_id][0]))
        town_balance.add(found)
        town_balance.parcels += 1
        result.add(found)
        result.parcels.append(found)
    result.towns = list(by_town.values())
    return result
