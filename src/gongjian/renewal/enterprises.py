"""Enterprises attracted (新招引) or expanding (增资扩产) on renewed land, and the theme
industrial parks (主题产业园) they settle in.

Enterprises belong to a town (their parcel's, when they have one) and are written by
that town or the city; theme parks are city-wide and written by the city only. Every
write goes through ``gongjian.records`` (one permission check, an audit entry with
before and after). Investment is in 万元, exact to two places, never a float; an
enterprise counts in the renewal KPIs from the day its agreement is signed, which may
not lie in the future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, authorize_some, restrict
from gongjian.checks import amount_problems, cents, day_problems, text_problems
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.periods import today
from gongjian.records import (
    CityWideKind,
    RecordKind,
    add_record,
    change_record,
    list_records,
    names_by_id,
    narrowed,
    read_record,
    referenced,
)
from gongjian.renewal.choices import EnterpriseKind
from gongjian.renewal.models import Enterprise, Parcel, ThemePark
from gongjian.renewal.services import PARCELS
from gongjian.towns.models import Town
from gongjian.towns.services import find_town

ENTERPRISES = RecordKind(Enterprise, "enterprise", "town_id")
THEME_PARKS = CityWideKind(ThemePark, "theme_park", "")

CODE_MAX = 30
MAX_JOBS = 10_000_000
"""Most jobs one enterprise may report (the column is a 32-bit integer)."""
ZERO = Decimal("0.00")


# --- Theme parks ----------------------------------------------------------------------


def list_theme_parks(
    session: Session, *, actor: Actor, limit: int = 100, offset: int = 0
) -> tuple[int, list[ThemePark]]:
    """The theme parks, by code."""
    return list_records(session, THEME_PARKS, actor=actor, town_id=None, limit=limit, offset=offset)


def get_theme_park(session: Session, *, actor: Actor, code: str) -> ThemePark:
    """The theme park ``code`` (404 when there is none)."""
    return read_record(session, THEME_PARKS, actor=actor, code=code)


def _theme_park_problems(values: dict[str, Any]) -> list[Problem]:
    limits = {"code": ("编号", 20), "name": ("名称", 80), "theme": ("产业主题", 80)}
    problems = []
    for column, value in values.items():
        label, max_length = limits[column]
        problems += text_problems(
            value, column=column, label=label, max_length=max_length, required=True
        )
    return problems


def add_theme_park(
    session: Session, *, actor: Actor, code: str, name: str, theme: str
) -> ThemePark:
    """Add a theme park (the city only); a code or name already used is a ``Conflict``."""
    authorize(session, actor, Action.add, THEME_PARKS.resource, record_id=code)
    values = {"code": code, "name": name, "theme": theme}
    if problems := _theme_park_problems(values):
        raise Invalid("主题产业园信息有误", problems)
    park = ThemePark(**{column: value.strip() for column, value in values.items()})
    return add_record(session, THEME_PARKS, actor=actor, obj=park)


def update_theme_park(
    session: Session,
    *,
    actor: Actor,
    code: str,
    changes: dict[str, Any],
    version: int | None = None,
) -> ThemePark:
    """Change a theme park's ``name`` or ``theme`` (the city only), based on its
    ``version`` (``StaleVersion`` when stale)."""
    authorize(session, actor, Action.change, THEME_PARKS.resource, record_id=code)
    unknown = sorted(set(changes) - {"name", "theme"})
    problems = [Problem("不能修改此项", column=column) for column in unknown]
    problems += _theme_park_problems({k: v for k, v in changes.items() if k not in unknown})
    if problems:
        raise Invalid("主题产业园信息有误", problems)
    cleaned = {column: value.strip() for column, value in changes.items()}
    return change_record(
        session, THEME_PARKS, actor=actor, code=code, changes=cleaned, version=version
    )


@dataclass(frozen=True)
class ThemeParkSummary:
    """What one theme park holds: parcels assigned to it, enterprises settled in it,
    and their agreed investment."""

    code: str
    name: str
    theme: str
    parcels: int
    area_mu: Decimal
    """Area of the parcels assigned, mu."""
    attracted: int
    """Attracted enterprises (新招引) with a signed agreement."""
    expansions: int
    """Expanding enterprises (增资扩产) with a signed agreement."""
    unsigned: int
    """Enterprises of either kind whose agreement is not yet signed."""
    investment_wan: Decimal
    """Agreed investment of the signed enterprises, 万元 (exact)."""


def theme_park_summary(session: Session, *, actor: Actor) -> list[ThemeParkSummary]:
    """Every theme park with its parcels (count, mu) and enterprises (signed ones by
    kind, unsigned ones, signed agreed investment), in three queries."""
    parks = list(session.scalars(restrict(session, actor, THEME_PARKS.select(), "theme_park")))
    parcels = {
        park_id: (count, area or ZERO)
        for park_id, count, area in session.execute(
            select(Parcel.theme_park_id, func.count(), func.sum(Parcel.area_mu))
            .where(Parcel.theme_park_id.is_not(None))
            .group_by(Parcel.theme_park_id)
        )
    }
    signed = Enterprise.agreement_signed_on.is_not(None).label("signed")
    counts: dict[tuple[int, str, bool], tuple[int, Decimal]] = {
        (park_id, kind, bool(is_signed)): (count, investment or ZERO)
        for park_id, kind, is_signed, count, investment in session.execute(
            select(
                Enterprise.theme_park_id,
                Enterprise.kind,
                signed,
                func.count(),
                func.sum(Enterprise.investment_wan),
            )
            .where(Enterprise.theme_park_id.is_not(None))
            .group_by(Enterprise.theme_park_id, Enterprise.kind, signed)
        )
    }
    none = (0, ZERO)
    found = []
    for park in parks:
        n_parcels, area = parcels.get(park.id, none)
        attracted, attracted_wan = counts.get((park.id, EnterpriseKind.attracted, True), none)
        expansions, expansions_wan = counts.get((park.id, EnterpriseKind.expansion, True), none)
        unsigned = sum(counts.get((park.id, kind, False), none)[0] for kind in EnterpriseKind)
        found.append(
            ThemeParkSummary(
                code=park.code,
                name=park.name,
                theme=park.theme,
                parcels=n_parcels,
                area_mu=area,
                attracted=attracted,
                expansions=expansions,
                unsigned=unsigned,
                investment_wan=attracted_wan + expansions_wan,
            )
        )
    return found


# --- Enterprises ------------------------------------------------------------------------


@dataclass(frozen=True)
class EnterpriseView:
    """An enterprise as people read it: its town by name, its parcel and theme park by
    code."""

    code: str
    name: str
    kind: EnterpriseKind
    town_id: int
    town: str
    parcel: str | None
    theme_park: str | None
    industry: str | None
    agreement_signed_on: dt.date | None
    investment_wan: Decimal
    actual_investment_wan: Decimal | None
    jobs: int | None
    version: int

    @property
    def signed(self) -> bool:
        """Whether the agreement is signed (it then counts in the KPIs)."""
        return self.agreement_signed_on is not None


def enterprise_views(session: Session, rows: list[Enterprise]) -> list[EnterpriseView]:
    """``rows`` as views, their towns, parcels and theme parks looked up in three queries."""
    towns = names_by_id(session, Town.id, Town.name, {row.town_id for row in rows})
    parcels = names_by_id(
        session, Parcel.id, Parcel.code, {row.parcel_id for row in rows if row.parcel_id}
    )
    parks = names_by_id(
        session,
        ThemePark.id,
        ThemePark.code,
        {row.theme_park_id for row in rows if row.theme_park_id},
    )
    return [
        EnterpriseView(
            code=row.code,
            name=row.name,
            kind=EnterpriseKind(row.kind),
            town_id=row.town_id,
            town=towns[row.town_id],
            parcel=parcels.get(row.parcel_id) if row.parcel_id else None,
            theme_park=parks.get(row.theme_park_id) if row.theme_park_id else None,
            industry=row.industry,
            agreement_signed_on=row.agreement_signed_on,
            investment_wan=row.investment_wan,
            actual_investment_wan=row.actual_investment_wan,
            jobs=row.jobs,
            version=row.version,
        )
        for row in rows
    ]


def _listed(
    session: Session,
    *,
    actor: Actor,
    town: str | None,
    kind: EnterpriseKind | None,
    signed: bool | None,
    theme_park: str | None,
    as_of: dt.date | None,
) -> tuple[int | None, list[ColumnElement[bool]]]:
    """The town (id) and the criteria of a list of enterprises (see ``list_enterprises``)."""
    criteria: list[ColumnElement[bool]] = []
    town_id = find_town(session, town).id if town else None
    if kind is not None:
        criteria.append(Enterprise.kind == kind.value)
    if signed is not None:
        signed_on = Enterprise.agreement_signed_on
        by_day = signed_on.is_not(None) if as_of is None else signed_on <= as_of
        criteria.append(by_day if signed else or_(signed_on.is_(None), ~by_day))
    if theme_park:
        park = get_theme_park(session, actor=actor, code=theme_park)
        criteria.append(Enterprise.theme_park_id == park.id)
    return town_id, criteria


def list_enterprises(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    kind: EnterpriseKind | None = None,
    signed: bool | None = None,
    theme_park: str | None = None,
    limit: int = 50,
    offset: int = 0,
    as_of: dt.date | None = None,
) -> tuple[int, list[EnterpriseView]]:
    """A page of enterprises (by code) and how many match: of one town (name or code),
    one kind, signed or not (by the end of ``as_of`` when given, as the renewal KPIs
    count them), in one theme park (code). An unknown town or theme park is
    ``NotFound``."""
    town_id, criteria = _listed(
        session,
        actor=actor,
        town=town,
        kind=kind,
        signed=signed,
        theme_park=theme_park,
        as_of=as_of,
    )
    total, rows = list_records(
        session,
        narrowed(ENTERPRISES, *criteria),
        actor=actor,
        town_id=town_id,
        limit=limit,
        offset=offset,
    )
    return total, enterprise_views(session, rows)


def agreed_investment(
    session: Session,
    *,
    actor: Actor,
    town: str | None = None,
    kind: EnterpriseKind | None = None,
    signed: bool | None = None,
    theme_park: str | None = None,
    as_of: dt.date | None = None,
) -> Decimal:
    """The agreed investment (万元, exact) of every enterprise ``list_enterprises``
    lists with the same filters: with ``signed=True`` and ``as_of``, the KPI
    ``renewal.investment_yi`` in 万元."""
    town_id, criteria = _listed(
        session,
        actor=actor,
        town=town,
        kind=kind,
        signed=signed,
        theme_park=theme_park,
        as_of=as_of,
    )
    stmt = select(func.sum(Enterprise.investment_wan)).where(*criteria)
    if town_id is not None:
        stmt = stmt.where(Enterprise.town_id == town_id)
    total = session.scalar(restrict(session, actor, stmt, ENTERPRISES.resource))
    return cents(total) or ZERO


def get_enterprise(session: Session, *, actor: Actor, code: str) -> EnterpriseView:
    """The enterprise ``code`` (404 when there is none)."""
    return enterprise_views(session, [read_record(session, ENTERPRISES, actor=actor, code=code)])[0]


def _town_field(session: Session, text: str, problems: list[Problem]) -> Town | None:
    try:
        return find_town(session, text)
    except NotFound as exc:
        problems.append(Problem(exc.message, column="town", value=text))
        return None


def _value_problems(values: dict[str, Any]) -> list[Problem]:
    """The checks of each enterprise field present in ``values``."""
    problems: list[Problem] = []
    texts = {"code": ("编号", CODE_MAX, True), "name": ("企业名称", 120, True)}
    texts["industry"] = ("行业", 60, False)
    for column, (label, max_length, required) in texts.items():
        if column in values:
            problems += text_problems(
                values[column], column=column, label=label, max_length=max_length, required=required
            )
    if "investment_wan" in values:
        if values["investment_wan"] is None:
            problems.append(Problem("协议投资额不能为空", column="investment_wan"))
        problems += amount_problems(
            values["investment_wan"], column="investment_wan", label="协议投资额（万元）"
        )
    if "actual_investment_wan" in values:
        problems += amount_problems(
            values["actual_investment_wan"],
            column="actual_investment_wan",
            label="实际投资额（万元）",
        )
    if "kind" in values and values["kind"] is None:
        problems.append(Problem("企业类型不能为空", column="kind"))
    jobs = values.get("jobs")
    if jobs is not None and jobs < 0:
        problems.append(Problem("就业人数不能为负数", column="jobs", value=str(jobs)))
    elif jobs is not None and jobs > MAX_JOBS:
        problems.append(
            Problem(f"就业人数超出范围（最多 {MAX_JOBS}）", column="jobs", value=str(jobs))
        )
    if "agreement_signed_on" in values:
        problems += day_problems(
            values["agreement_signed_on"],
            column="agreement_signed_on",
            label="协议签订日期",
            today=today(),
        )
    return problems


def _placed(
    session: Session,
    *,
    town: str | None,
    parcel: str | None,
    theme_park: str | None,
    current: Enterprise | None,
    changing: set[str],
    problems: list[Problem],
) -> dict[str, Any]:
    """The ``town_id``, ``parcel_id`` and ``theme_park_id`` that follow from the fields
    named in ``changing`` (all three for a new enterprise), checked against each other.

    An enterprise on a parcel lies in the parcel's town, and in the parcel's theme park
    when the parcel has one; a town or theme park not given follows a new parcel. A
    field named in ``changing`` with no value is cleared (parcel, theme park).
    """
    known = len(problems)
    found_town = _town_field(session, town, problems) if town else None
    found_parcel = (
        referenced(session, PARCELS, parcel, problems, column="parcel") if parcel else None
    )
    found_park = (
        referenced(session, THEME_PARKS, theme_park, problems, column="theme_park")
        if theme_park
        else None
    )
    if len(problems) > known:
        return {}
    if "parcel" in changing:
        on = found_parcel
    else:
        on = session.get(Parcel, current.parcel_id) if current and current.parcel_id else None
    if found_town is not None:
        town_id: int | None = found_town.id
    elif on is not None and "parcel" in changing:
        town_id = on.town_id
    else:
        town_id = current.town_id if current else None
    if "theme_park" in changing:
        park_id = found_park.id if found_park else None
    elif on is not None and "parcel" in changing and on.theme_park_id is not None:
        park_id = on.theme_park_id
    else:
        park_id = current.theme_park_id if current else None
    if town_id is None:
        problems.append(Problem("须指定镇街，或指定地块（镇街随地块）", column="town"))
    if on is not None and changing & {"town", "parcel"} and town_id != on.town_id:
        parcel_town = session.get(Town, on.town_id)
        problems.append(
            Problem(
                f"地块“{on.code}”属于{parcel_town.name if parcel_town else '另一镇街'}，"
                "企业所在镇街须与地块一致",
                column="town",
                value=town,
            )
        )
    if (
        on is not None
        and on.theme_park_id is not None
        and changing & {"parcel", "theme_park"}
        and park_id != on.theme_park_id
    ):
        park = session.get(ThemePark, on.theme_park_id)
        problems.append(
            Problem(
                f"地块“{on.code}”已划入主题产业园“{park.code if park else on.theme_park_id}”，"
                "企业所在主题产业园须与地块一致",
                column="theme_park",
                value=theme_park,
            )
        )
    return {"town_id": town_id, "parcel_id": on.id if on else None, "theme_park_id": park_id}


def add_enterprise(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: EnterpriseKind,
    investment_wan: Decimal,
    town: str | None = None,
    parcel: str | None = None,
    theme_park: str | None = None,
    industry: str | None = None,
    agreement_signed_on: dt.date | None = None,
    actual_investment_wan: Decimal | None = None,
    jobs: int | None = None,
) -> EnterpriseView:
    """Add an enterprise in ``town`` (name or code), or on ``parcel`` (code; the town
    follows the parcel, and the theme park too when the parcel has one).

    ``Invalid`` names every wrong field and nothing is written; a town user adds only in
    their own town (403, logged); a code already used is a ``Conflict``.
    """
    authorize_some(session, actor, Action.add, ENTERPRISES.resource, record_id=code)
    values: dict[str, Any] = {
        "code": code,
        "name": name,
        "kind": kind,
        "industry": industry,
        "agreement_signed_on": agreement_signed_on,
        "investment_wan": investment_wan,
        "actual_investment_wan": actual_investment_wan,
        "jobs": jobs,
    }
    problems = _value_problems(values)
    given = {"town": town, "parcel": parcel, "theme_park": theme_park}
    placed = _placed(
        session,
        town=town,
        parcel=parcel,
        theme_park=theme_park,
        current=None,
        changing={name for name, value in given.items() if value},
        problems=problems,
    )
    if problems:
        raise Invalid(f"企业“{code}”的信息有误", problems)
    enterprise = Enterprise(
        code=code.strip(),
        name=name.strip(),
        kind=kind,
        industry=(industry or "").strip() or None,
        agreement_signed_on=agreement_signed_on,
        investment_wan=cents(investment_wan),
        actual_investment_wan=cents(actual_investment_wan),
        jobs=jobs,
        **placed,
    )
    added = add_record(session, ENTERPRISES, actor=actor, obj=enterprise)
    return enterprise_views(session, [added])[0]


def _cleaned(value: Any) -> Any:
    """A value as it is stored: texts stripped, amounts with two places."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Decimal):
        return cents(value)
    return value


ENTERPRISE_FIELDS = frozenset(
    {
        "name",
        "kind",
        "town",
        "parcel",
        "theme_park",
        "industry",
        "agreement_signed_on",
        "investment_wan",
        "actual_investment_wan",
        "jobs",
    }
)
"""What ``update_enterprise`` may change (``town``, ``parcel``, ``theme_park`` by name or
code; ``parcel`` and ``theme_park`` may be set to ``None``)."""


def update_enterprise(
    session: Session,
    *,
    actor: Actor,
    code: str,
    changes: dict[str, Any],
    version: int | None = None,
) -> EnterpriseView:
    """Change the fields of ``changes`` (keys of ``ENTERPRISE_FIELDS``) of enterprise
    ``code``, checked as when adding; moving it to another town needs the right to write
    in both towns. Before and after go to the audit log. ``version``: the version the
    change is based on (``StaleVersion`` when stale)."""
    authorize_some(session, actor, Action.change, ENTERPRISES.resource, record_id=code)
    current = read_record(session, ENTERPRISES, actor=actor, code=code)
    authorize(
        session, actor, Action.change, ENTERPRISES.resource, town_id=current.town_id, record_id=code
    )
    problems = [
        Problem("不能修改此项", column=column)
        for column in sorted(set(changes) - ENTERPRISE_FIELDS)
    ]
    if "town" in changes and changes["town"] is None:
        problems.append(Problem("镇街不能为空", column="town"))
    problems += _value_problems(changes)
    placed = _placed(
        session,
        town=changes.get("town"),
        parcel=changes.get("parcel"),
        theme_park=changes.get("theme_park"),
        current=current,
        changing=set(changes) & {"town", "parcel", "theme_park"},
        problems=problems,
    )
    if problems:
        raise Invalid(f"企业“{code}”的信息有误", problems)
    columns = {
        column: _cleaned(value)
        for column, value in changes.items()
        if column not in ("town", "parcel", "theme_park")
    }
    if "industry" in columns:
        columns["industry"] = columns["industry"] or None
    columns.update(placed)
    changed = change_record(
        session, ENTERPRISES, actor=actor, code=code, changes=columns, version=version
    )
    return enterprise_views(session, [changed])[0]
