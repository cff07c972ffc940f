"""Leases of industrial land and buildings, subleases and sublandlords (二房东), and the
towns' quarterly rent index.

A lease is on a parcel (its town is the parcel's) and may name a parent lease when it
is a sublease: a sublease lies on its parent's parcel, covers no more floor area than
its parent, and the parent links never loop. A sublease whose rent (元/m²/month)
exceeds its parent's by more than ``sublease_markup_pct`` % is flagged; so is one whose
rent exceeds the original lease's (the top of its chain) by more than that share,
however the markup is spread along the chain.

The rent index of a town for a quarter is the median rent of the town's leases in
force on at least one day of that quarter, subleases included (the rent the occupiers
actually pay), each lease counted once; it is flagged when it exceeds the same
quarter's a year before by more than ``rent_rise_pct`` %. See docs/renewal-ledger.md.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, aliased

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, authorize_some, restrict
from gongjian.checks import amount_problems, cents, text_problems
from gongjian.config import get_settings
from gongjian.errors import Conflict, Invalid, Problem
from gongjian.periods import today
from gongjian.records import (
    RecordKind,
    add_record,
    change_record,
    list_records,
    names_by_id,
    narrowed,
    read_record,
    referenced,
)
from gongjian.renewal.models import Lease, Parcel
from gongjian.renewal.rent_rules import (
    ChainCycle,
    Quarter,
    chain_to_original,
    change_pct,
    cycle_if_parent,
    exceeds_by_more_than,
    in_force,
    quarter_of,
    quarters_between,
    rent_index,
)
from gongjian.renewal.services import PARCELS
from gongjian.towns.models import Town
from gongjian.towns.services import find_town

LEASES = RecordKind(Lease, "lease", "town_id")
MAX_QUARTERS = 120
"""Longest span of the rent index (30 years)."""


@dataclass(frozen=True)
class LeaseView:
    """A lease as people read it: its parcel and parent by code, its town by name."""

    code: str
    town_id: int
    town: str
    parcel: str
    parent: str | None
    lessor: str
    lessee: str
    building: str | None
    area_m2: Decimal
    rent_yuan_m2_month: Decimal
    start_on: dt.date
    end_on: dt.date | None
    version: int


@dataclass(frozen=True)
class ChainLink:
    """One lease of a chain, with its markup over the lease above it (None at the top)."""

    code: str
    lessor: str
    lessee: str
    rent_yuan_m2_month: Decimal
    markup_pct: Decimal | None


@dataclass(frozen=True)
class LeaseDetail(LeaseView):
    """A lease with its chain up to the original lease and its own subleases."""

    chain: list[ChainLink]
    """From the original lease down to this one."""
    original: str
    original_rent: Decimal
    total_markup_pct: Decimal
    """This lease's rent over the original's, in % (0 for an original lease)."""
    subleases: list[str]


def lease_views(session: Session, rows: list[Lease]) -> list[LeaseView]:
    """``rows`` as views, their towns, parcels and parents looked up in three queries."""
    towns = names_by_id(session, Town.id, Town.name, {row.town_id for row in rows})
    parcels = names_by_id(session, Parcel.id, Parcel.code, {row.parcel_id for row in rows})
    parents = names_by_id(
        session, Lease.id, Lease.code, {row.parent_lease_id for row in rows if row.parent_lease_id}
    )
    return [
        LeaseView(
            code=row.code,
            town_id=row.town_id,
            town=towns[row.town_id],
            parcel=parcels[row.parcel_id],
            parent=parents[row.parent_lease_id] if row.parent_lease_id else None,
            lessor=row.lessor,
            lessee=row.lessee,
            building=row.building,
            area_m2=row.area_m2,
            rent_yuan_m2_month=row.rent_yuan_m2_month,
            start_on=row.start_on,
            end_on=row.end_on,
            version=row.version,
        )
        for row in rows
    ]


def _parent_map(session: Session, ids: Iterable[int]) -> dict[int, int | None]:
    """The parent link of ``ids`` and of all their ancestors: one query per level."""
    known: dict[int, int | None] = {}
    frontier = set(ids)
    while frontier:
        rows = session.execute(
            select(Lease.id, Lease.parent_lease_id).where(Lease.id.in_(frontier))
        ).tuples()
        frontier = set()
        for lease_id, parent_id in rows:
            known[lease_id] = parent_id
            if parent_id is not None and parent_id not in known:
                frontier.add(parent_id)
        frontier -= set(known)
    return known


def _loop_text(session: Session, ids: list[int]) -> str:
    codes = names_by_id(session, Lease.id, Lease.code, set(ids))
    return " → ".join(codes.get(lease_id, str(lease_id)) for lease_id in ids)


def list_leases(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    parcel: str | None = None,
    subleases: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[LeaseView]]:
    """A page of leases (by code) and how many match: of one town (name or code), one
    parcel (code), only subleases (``True``) or only original leases (``False``). An
    unknown town or parcel is ``NotFound``."""
    criteria: list[ColumnElement[bool]] = []
    town_id = find_town(session, town).id if town else None
    if parcel:
        criteria.append(
            Lease.parcel_id == read_record(session, PARCELS, actor=actor, code=parcel).id
        )
    if subleases is not None:
        parent = Lease.parent_lease_id
        criteria.append(parent.is_not(None) if subleases else parent.is_(None))
    total, rows = list_records(
        session,
        narrowed(LEASES, *criteria),
        actor=actor,
        town_id=town_id,
        limit=limit,
        offset=offset,
    )
    return total, lease_views(session, rows)


def get_lease(session: Session, *, actor: Actor, code: str) -> LeaseDetail:
    """The lease ``code`` with its chain up to the original lease (each link's markup
    over the one above, the total markup over the original) and its subleases.
    ``Conflict`` if the stored parent links loop (they cannot through this module)."""
    lease = read_record(session, LEASES, actor=actor, code=code)
    (view,) = lease_views(session, [lease])
    parents = _parent_map(session, [lease.id])
    try:
        chain_ids = chain_to_original(lease.id, parents)
    except ChainCycle as cycle:
        raise Conflict(f"租赁链成环：{_loop_text(session, cycle.ids)}") from None
    rows = {row.id: row for row in session.scalars(select(Lease).where(Lease.id.in_(chain_ids)))}
    chain = []
    for index, lease_id in enumerate(chain_ids):
        row = rows[lease_id]
        above = rows[chain_ids[index - 1]] if index else None
        chain.append(
            ChainLink(
                code=row.code,
                lessor=row.lessor,
                lessee=row.lessee,
                rent_yuan_m2_month=row.rent_yuan_m2_month,
                markup_pct=(
                    change_pct(row.rent_yuan_m2_month, above.rent_yuan_m2_month)
                    if above is not None and above.rent_yuan_m2_month > 0
                    else None
                ),
            )
        )
    original = rows[chain_ids[0]]
    subleases = list(
        session.scalars(
            select(Lease.code).where(Lease.parent_lease_id == lease.id).order_by(Lease.code)
        )
    )
    total = (
        change_pct(lease.rent_yuan_m2_month, original.rent_yuan_m2_month)
        if original.rent_yuan_m2_month > 0
        else Decimal(0)
    )
    return LeaseDetail(
        **vars(view),
        chain=chain,
        original=original.code,
        original_rent=original.rent_yuan_m2_month,
        total_markup_pct=total,
        subleases=subleases,
    )


def _value_problems(values: dict[str, Any]) -> list[Problem]:
    """The checks of each lease field present in ``values``."""
    problems: list[Problem] = []
    texts = {
        "code": ("编号", 30, True),
        "lessor": ("出租方", 120, True),
        "lessee": ("承租方", 120, True),
        "building": ("楼栋", 80, False),
    }
    for column, (label, max_length, required) in texts.items():
        if column in values:
            problems += text_problems(
                values[column], column=column, label=label, max_length=max_length, required=required
            )
    amounts = {
        "area_m2": ("租赁面积（m²）", 12),
        "rent_yuan_m2_month": ("租金（元/m²/月）", 10),
    }
    for column, (label, digits) in amounts.items():
        if column in values:
            if values[column] is None:
                problems.append(Problem(f"{label}不能为空", column=column))
            problems += amount_problems(
                values[column], column=column, label=label, max_digits=digits, positive=True
            )
    if "start_on" in values and values["start_on"] is None:
        problems.append(Problem("起租日期不能为空", column="start_on"))
    return problems


def _sublease_problems(
    session: Session, *, parcel: Parcel, area_m2: Decimal | None, parent: Lease
) -> list[Problem]:
    """A sublease lies on its parent's parcel and covers no more area than its parent."""
    problems = []
    if parent.parcel_id != parcel.id:
        parent_parcel = session.get(Parcel, parent.parcel_id)
        where = parent_parcel.code if parent_parcel else parent.parcel_id
        problems.append(
            Problem(
                f"转租须与上级租赁“{parent.code}”在同一地块（{where}），而非“{parcel.code}”",
                column="parcel",
                value=parcel.code,
            )
        )
    if area_m2 is not None and area_m2.is_finite() and area_m2 > parent.area_m2:
        problems.append(
            Problem(
                f"转租面积 {area_m2} m² 超过上级租赁“{parent.code}”的面积 {parent.area_m2} m²",
                column="area_m2",
                value=str(area_m2),
            )
        )
    return problems


def _dates_problems(start_on: dt.date | None, end_on: dt.date | None) -> list[Problem]:
    if start_on is not None and end_on is not None and end_on < start_on:
        return [
            Problem(f"到期日期不能早于起租日期（{start_on}）", column="end_on", value=str(end_on))
        ]
    return []


def add_lease(
    session: Session,
    *,
    actor: Actor,
    code: str,
    lessor: str,
    lessee: str,
    area_m2: Decimal,
    rent_yuan_m2_month: Decimal,
    start_on: dt.date,
    parcel: str | None = None,
    parent: str | None = None,
    building: str | None = None,
    end_on: dt.date | None = None,
) -> LeaseView:
    """Add a lease on ``parcel`` (code), or a sublease of ``parent`` (code; the parcel
    then defaults to the parent's). Its town is the parcel's: a town user adds leases
    only in their own town (403, logged). ``Invalid`` names every wrong field and
    nothing is written; a code already used is a ``Conflict``."""
    authorize_some(session, actor, Action.add, LEASES.resource, record_id=code)
    values = {
        "code": code,
        "lessor": lessor,
        "lessee": lessee,
        "building": building,
        "area_m2": area_m2,
        "rent_yuan_m2_month": rent_yuan_m2_month,
        "start_on": start_on,
    }
    problems = _value_problems(values) + _dates_problems(start_on, end_on)
    above = referenced(session, LEASES, parent, problems, column="parent") if parent else None
    if parcel:
        on = referenced(session, PARCELS, parcel, problems, column="parcel")
    elif above is not None:
        on = session.get(Parcel, above.parcel_id)
    else:
        on = None
        if not parent:
            problems.append(
                Problem("须指定地块，或指定上级租赁（地块随上级租赁）", column="parcel")
            )
    if on is not None and above is not None:
        problems += _sublease_problems(session, parcel=on, area_m2=area_m2, parent=above)
    if problems or on is None:
        raise Invalid(f"租赁“{code}”的信息有误", problems)
    lease = Lease(
        code=code.strip(),
        parcel_id=on.id,
        town_id=on.town_id,
        parent_lease_id=above.id if above else None,
        lessor=lessor.strip(),
        lessee=lessee.strip(),
        building=(building or "").strip() or None,
        area_m2=cents(area_m2),
        rent_yuan_m2_month=cents(rent_yuan_m2_month),
        start_on=start_on,
        end_on=end_on,
    )
    return lease_views(session, [add_record(session, LEASES, actor=actor, obj=lease)])[0]


LEASE_FIELDS = frozenset(
    {
        "parcel",
        "parent",
        "lessor",
        "lessee",
        "building",
        "area_m2",
        "rent_yuan_m2_month",
        "start_on",
        "end_on",
    }
)
"""What ``update_lease`` may change (``parcel`` and ``parent`` by code; ``parent`` may be
set to ``None``, making the lease an original one)."""


def update_lease(
    session: Session,
    *,
    actor: Actor,
    code: str,
    changes: dict[str, Any],
    version: int | None = None,
) -> LeaseView:
    """Change the fields of ``changes`` (keys of ``LEASE_FIELDS``) of lease ``code``.

    Checked as when adding, and more: a new parent may not close a loop of parent links
    (the loop is named), a lease with subleases keeps its parcel and at least the area
    of its largest sublease. Before and after go to the audit log. ``version``: the
    version the change is based on (``StaleVersion`` when stale).
    """
    authorize_some(session, actor, Action.change, LEASES.resource, record_id=code)
    lease = read_record(session, LEASES, actor=actor, code=code)
    authorize(session, actor, Action.change, LEASES.resource, town_id=lease.town_id, record_id=code)
    problems = [
        Problem("不能修改此项", column=column) for column in sorted(set(changes) - LEASE_FIELDS)
    ]
    if "parcel" in changes and not changes["parcel"]:
        problems.append(Problem("地块不能为空", column="parcel"))
    problems += _value_problems(changes)
    start_on = changes.get("start_on", lease.start_on)
    end_on = changes.get("end_on", lease.end_on)
    problems += _dates_problems(start_on, end_on)
    on = (
        referenced(session, PARCELS, changes["parcel"], problems, column="parcel")
        if changes.get("parcel")
        else session.get(Parcel, lease.parcel_id)
    )
    if "parent" in changes:
        above = (
            referenced(session, LEASES, changes["parent"], problems, column="parent")
            if changes["parent"]
            else None
        )
    else:
        above = session.get(Lease, lease.parent_lease_id) if lease.parent_lease_id else None
    area_m2 = changes.get("area_m2", lease.area_m2)
    if problems or on is None:
        raise Invalid(f"租赁“{code}”的信息有误", problems)
    if above is not None and "parent" in changes:
        loop = cycle_if_parent(lease.id, above.id, _parent_map(session, [above.id]))
        if loop is not None:
            problems.append(
                Problem(
                    f"上级租赁将使租赁链成环：{_loop_text(session, loop)}",
                    column="parent",
                    value=above.code,
                )
            )
    if above is not None and not problems:
        problems += _sublease_problems(session, parcel=on, area_m2=area_m2, parent=above)
    children = list(session.scalars(select(Lease).where(Lease.parent_lease_id == lease.id)))
    if children and on.id != lease.parcel_id:
        problems.append(
            Problem(
                f"租赁有转租（{'、'.join(sorted(c.code for c in children))}），不能改到其他地块",
                column="parcel",
                value=on.code,
            )
        )
    largest = max(children, key=lambda child: child.area_m2, default=None)
    if (
        largest is not None
        and area_m2 is not None
        and area_m2.is_finite()
        and area_m2 < largest.area_m2
    ):
        problems.append(
            Problem(
                f"面积不能小于其转租“{largest.code}”的面积 {largest.area_m2} m²",
                column="area_m2",
                value=str(area_m2),
            )
        )
    if problems:
        raise Invalid(f"租赁“{code}”的信息有误", problems)
    columns: dict[str, Any] = {
        column: value.strip() if isinstance(value, str) else value
        for column, value in changes.items()
        if column not in ("parcel", "parent")
    }
    for column in ("area_m2", "rent_yuan_m2_month"):
        if column in columns:
            columns[column] = cents(columns[column])
    if "building" in columns:
        columns["building"] = columns["building"] or None
    if "parcel" in changes:
        columns.update(parcel_id=on.id, town_id=on.town_id)
    if "parent" in changes:
        columns["parent_lease_id"] = above.id if above else None
    changed = change_record(
        session, LEASES, actor=actor, code=code, changes=columns, version=version
    )
    return lease_views(session, [changed])[0]


@dataclass(frozen=True)
class SubleaseFlag:
    """A sublease rented out dearer than the lease above it (or than the original lease
    at the top of its chain) by more than the allowed markup."""

    code: str
    town: str
    parcel: str
    lessor: str
    """The sublandlord (二房东): the lessee of the parent lease, subletting."""
    lessee: str
    parent: str
    parent_rent: Decimal
    rent_yuan_m2_month: Decimal
    markup_pct: Decimal
    """Rent over the parent's, in % (rounded up to 2 places)."""
    over_parent: bool
    """The markup over the parent exceeds the allowed share."""
    chain: list[str]
    """Codes from the original lease down to this sublease."""
    original: str
    original_rent: Decimal
    total_markup_pct: Decimal
    """Rent over the original lease's, in %."""
    over_original: bool
    """The total markup over the original exceeds the allowed share (a chain of smaller
    markups can reach it)."""


def sublease_flags(
    session: Session, *, actor: Actor, town: str | None = None, markup_pct: Decimal | None = None
) -> list[SubleaseFlag]:
    """Every sublease (of one town) flagged for its markup over its parent, or over its
    chain's original lease, by more than ``markup_pct`` % (the setting
    ``sublease_markup_pct`` by default); the largest markup first."""
    pct = get_settings().sublease_markup_pct if markup_pct is None else markup_pct
    parent = aliased(Lease)
    stmt = restrict(
        session,
        actor,
        select(Lease, parent.code, parent.rent_yuan_m2_month)
        .join(parent, parent.id == Lease.parent_lease_id)
        .order_by(Lease.code),
        LEASES.resource,
    )
    if town:
        stmt = stmt.where(Lease.town_id == find_town(session, town).id)
    rows = session.execute(stmt).tuples().all()
    parents = _parent_map(session, [lease.id for lease, _code, _rent in rows])
    tops = {
        lease_id: (code, rent)
        for lease_id, code, rent in session.execute(
            select(Lease.id, Lease.code, Lease.rent_yuan_m2_month).where(
                Lease.id.in_([k for k, v in parents.items() if v is None])
            )
        )
    }
    all_codes = names_by_id(session, Lease.id, Lease.code, set(parents))
    towns = names_by_id(session, Town.id, Town.name, {lease.town_id for lease, _c, _r in rows})
    parcels = names_by_id(
        session, Parcel.id, Parcel.code, {lease.parcel_id for lease, _c, _r in rows}
    )
    flags = []
    for lease, parent_code, parent_rent in rows:
        rent = lease.rent_yuan_m2_month
        try:
            chain_ids = chain_to_original(lease.id, parents)
            original, original_rent = tops[chain_ids[0]]
            chain = [all_codes[lease_id] for lease_id in chain_ids]
        except (ChainCycle, KeyError):
            chain, original, original_rent = [parent_code, lease.code], parent_code, parent_rent
        over_parent = exceeds_by_more_than(rent, parent_rent, pct)
        over_original = len(chain) > 2 and exceeds_by_more_than(rent, original_rent, pct)
        if not (over_parent or over_original):
            continue
        flags.append(
            SubleaseFlag(
                code=lease.code,
                town=towns[lease.town_id],
                parcel=parcels[lease.parcel_id],
                lessor=lease.lessor,
                lessee=lease.lessee,
                parent=parent_code,
                parent_rent=parent_rent,
                rent_yuan_m2_month=rent,
                markup_pct=change_pct(rent, parent_rent),
                over_parent=over_parent,
                chain=chain,
                original=original,
                original_rent=original_rent,
                total_markup_pct=change_pct(rent, original_rent),
                over_original=over_original,
            )
        )
    flags.sort(key=lambda flag: (-max(flag.markup_pct, flag.total_markup_pct), flag.code))
    return flags


@dataclass(frozen=True)
class RentIndexRow:
    """The rent index of one town in one quarter."""

    town: str
    quarter: str
    leases: int
    """Leases in force on at least one day of the quarter."""
    median_rent: Decimal | None
    """元/m²/month; ``None`` when no lease was in force."""
    year_before: Decimal | None
    rise_pct: Decimal | None
    flagged: bool


def _quarter_range(first: Quarter | None, last: Quarter | None) -> tuple[Quarter, Quarter]:
    """The quarters asked for: ``last`` defaults to this quarter, ``first`` to the same
    quarter a year before ``last``."""
    last = last or quarter_of(today())
    first = first or last.year_before()
    if first > last:
        raise Invalid(
            "起始季度晚于结束季度",
            [Problem(f"{first} 晚于 {last}", column="from", value=first.label)],
        )
    if len(quarters_between(first, last)) > MAX_QUARTERS:
        raise Invalid(
            f"季度跨度过长：最多 {MAX_QUARTERS} 个季度",
            [Problem(f"{first} 至 {last}", column="from", value=first.label)],
        )
    return first, last


def town_rent_index(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    first: Quarter | None = None,
    last: Quarter | None = None,
    subleases: bool = True,
    rise_pct: Decimal | None = None,
) -> list[RentIndexRow]:
    """The rent index per town (one town, or every town with a lease in force in the
    span) and per quarter from ``first`` to ``last``: the median rent of the leases in
    force in the quarter (subleases too unless ``subleases`` is false), and its rise over
    the same quarter a year before, flagged above ``rise_pct`` % (the setting
    ``rent_rise_pct`` by default). Rows by town code, then quarter."""
    pct = get_settings().rent_rise_pct if rise_pct is None else rise_pct
    first, last = _quarter_range(first, last)
    earliest = first.year_before()
    stmt = restrict(
        session,
        actor,
        select(Lease.town_id, Lease.rent_yuan_m2_month, Lease.start_on, Lease.end_on).where(
            Lease.start_on <= last.end,
            or_(Lease.end_on.is_(None), Lease.end_on >= earliest.start),
        ),
        LEASES.resource,
    )
    chosen = find_town(session, town) if town else None
    if chosen is not None:
        stmt = stmt.where(Lease.town_id == chosen.id)
    if not subleases:
        stmt = stmt.where(Lease.parent_lease_id.is_(None))
    quarters = quarters_between(earliest, last)
    shown = quarters_between(first, last)
    rents: dict[int, dict[Quarter, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    active: set[int] = set()
    for town_id, rent, start_on, end_on in session.execute(stmt).tuples():
        for quarter in quarters:
            if in_force(start_on, end_on, quarter.start, quarter.end):
                rents[town_id][quarter].append(rent)
                if quarter >= first:
                    active.add(town_id)
    town_ids = {chosen.id} if chosen is not None else active
    towns = sorted(
        session.execute(select(Town.id, Town.name, Town.code).where(Town.id.in_(town_ids))),
        key=lambda row: row.code,
    )
    found: list[RentIndexRow] = []
    for town_id, name, _code in towns:
        index = rent_index(rents[town_id], shown, pct)
        found.extend(
            RentIndexRow(
                town=name,
                quarter=row.quarter.label,
                leases=row.leases,
                median_rent=row.median,
                year_before=row.year_before,
                rise_pct=row.rise_pct,
                flagged=row.flagged,
            )
            for row in index
        )
    return found
