"""The demo city's industrial land: theme parks, low-efficiency parks laid out as grids of
adjacent parcels, renewal histories, enterprises, leases and the land-reserve ledger.

Parks are cleared a contiguous block at a time (连片改造) until a little over 14,000 mu
is cleared by the report day; enterprise investment adds up to about 650亿元.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from gongjian.demo.common import REPORT_DAY, Demo, DemoTown, history, offset, places
from gongjian.demo.names import (
    COMPANY_KINDS,
    COMPANY_WORDS,
    FUNDING_SOURCES,
    INDUSTRIES,
    RIVER_STEMS,
    THEME_PARKS,
)
from gongjian.geo.area import area_mu
from gongjian.renewal.choices import (
    EnterpriseKind,
    MilestoneKind,
    Ownership,
    RenewalState,
    ReserveEntryKind,
)

PARKS = 110
CLEARED_MU = 14_000
ATTRACTED = 110
EXPANSIONS = 140
INVESTMENT_WAN = 6_500_000
S = RenewalState
BEFORE_YEAR = 2021
"""The year of the figures that identified the demo's parcels (低效认定)."""
COMMENT_DAYS = 30
"""A published renewal plan's comment period (公示期), in days."""
BEFORE_CLEARED = (S.identified, S.plan_published, S.relocating, S.demolishing)
#: Where a parcel's renewal ends by the report day, and how often, once it is cleared.
AFTER_CLEARED = (
    ((S.cleared,), 0.35),
    ((S.cleared, S.reserved), 0.15),
    ((S.cleared, S.reserved, S.supplied), 0.10),
    ((S.cleared, S.supplied), 0.10),
    ((S.cleared, S.supplied, S.construction), 0.18),
    ((S.cleared, S.reserved, S.supplied, S.construction, S.producing), 0.04),
    ((S.cleared, S.supplied, S.construction, S.producing), 0.08),
)


@dataclass
class DemoParcel:
    """A parcel as the other parts of the generator need it."""

    id: int
    park_id: int
    town: DemoTown
    area_mu: Decimal
    steps: list[tuple[RenewalState, dt.date]] = field(default_factory=list)

    @property
    def state(self) -> RenewalState:
        return self.steps[-1][0]

    def day_of(self, state: RenewalState) -> dt.date | None:
        return next((day for s, day in self.steps if s is state), None)


def build(demo: Demo) -> list[DemoParcel]:
    """Theme parks, parks, parcels and their histories, enterprises, leases, reserve."""
    for code, name, theme in THEME_PARKS:
        demo.add("theme_parks", code=code, name=name, theme=theme)
    parks: list[list[DemoParcel]] = []
    counts = demo.spread(demo.scale.of(PARKS), minimum=1 if demo.scale.factor < 1 else 2)
    for town in demo.towns:
        for n in range(1, counts[town.id] + 1):
            parks.append(_park(demo, town, n))
    _renew(demo, parks)
    parcels = [p for park in parks for p in park]
    for parcel in parcels:
        _parcel_history(demo, parcel)
    _enterprises(demo, parcels)
    _leases(demo, parcels)
    _reserve(demo, parcels)
    return parcels


def _park(demo: Demo, town: DemoTown, n: int) -> list[DemoParcel]:
    """A park: a grid of adjacent rectangular parcels sharing their edges."""
    rng = demo.rng
    cols, rows = rng.randint(2, 4), rng.randint(2, 4)
    width, height = rng.randrange(120, 270, 10), rng.randrange(100, 230, 10)
    west, south = offset(town.lon, town.lat, rng.uniform(-3000, 3000), rng.uniform(-3000, 3000))
    xs = [offset(west, south, i * width, 0)[0] for i in range(cols + 1)]
    ys = [offset(west, south, 0, j * height)[1] for j in range(rows + 1)]
    xs, ys = [round(x, 6) for x in xs], [round(y, 6) for y in ys]
    code = f"YQ{town.code[-3:]}-{n:02d}"
    name = demo.unique(lambda: f"{town.name}{rng.choice(RIVER_STEMS)}工业园")
    outline = _rectangle(xs[0], ys[0], xs[-1], ys[-1])
    park_id = demo.add(
        "parks",
        code=code,
        name=name,
        town_id=town.id,
        area_mu=area_mu(outline),
        geometry=outline,
    )
    parcels = []
    for j in range(rows):
        for i in range(cols):
            polygon = _rectangle(xs[i], ys[j], xs[i + 1], ys[j + 1])
            size = area_mu(polygon)
            ownership = rng.choices(list(Ownership), weights=(70, 15, 15))[0]
            parcel_id = demo.add(
                "parcels",
                code=f"{code}-{j * cols + i + 1:02d}",
                name=f"{name}{j * cols + i + 1}号地块",
                park_id=park_id,
                town_id=town.id,
                theme_park_id=None,
                geometry=polygon,
                area_mu=size,
                renewal_state=S.identified.value,
                plan_comment_until=None,
                ownership=ownership.value,
                owner_name=f"{town.name}{rng.choice(RIVER_STEMS)}村股份合作经济联合社",
            )
            demo.add(
                "parcel_performance",
                parcel_id=parcel_id,
                year=BEFORE_YEAR,
                output_per_mu=places(rng.uniform(12, 140), 2),
                tax_per_mu=places(rng.uniform(0.4, 7.5), 2),
                floor_area_ratio=places(rng.uniform(0.3, 1.1), 2),
            )
            parcels.append(DemoParcel(parcel_id, park_id, town, size))
    return parcels


def _rectangle(west: float, south: float, east: float, north: float) -> dict[str, object]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _renew(demo: Demo, parks: list[list[DemoParcel]]) -> None:
    """Clear whole parks, in a random order, until the target is passed; the rest are on
    their way, the next parks furthest along."""
    rng = demo.rng
    order = parks[:]
    rng.shuffle(order)
    target = Decimal(demo.scale.of(CLEARED_MU)) * Decimal(str(round(rng.uniform(1.01, 1.04), 3)))
    cleared = Decimal(0)
    paths = [path for path, _ in AFTER_CLEARED]
    weights = [weight for _, weight in AFTER_CLEARED]
    for rank, park in enumerate(order):
        for parcel in park:
            if cleared < target:
                path = rng.choices(paths, weights=weights)[0]
                parcel.steps = _cleared_steps(demo, path)
                cleared += parcel.area_mu
            else:
                reached = BEFORE_CLEARED[: 4 if rank < len(order) // 3 else rng.randint(1, 3)]
                parcel.steps = _early_steps(demo, reached)


def _cleared_steps(
    demo: Demo, path: tuple[RenewalState, ...]
) -> list[tuple[RenewalState, dt.date]]:
    rng = demo.rng
    last_cleared = REPORT_DAY - dt.timedelta(days=10) if len(path) == 1 else dt.date(2022, 9, 30)
    cleared_on = demo.day_between(dt.date(2022, 2, 15), last_cleared)
    published_on = cleared_on - dt.timedelta(days=rng.randint(100, 150))
    identified_by = min(dt.date(2021, 10, 31), published_on - dt.timedelta(days=30))
    relocating_on = cleared_on - dt.timedelta(days=rng.randint(50, 99))
    steps = [
        (S.identified, demo.day_between(dt.date(2021, 5, 1), identified_by)),
        (S.plan_published, published_on),
        (S.relocating, max(relocating_on, published_on + dt.timedelta(days=COMMENT_DAYS + 1))),
        (S.demolishing, cleared_on - dt.timedelta(days=rng.randint(10, 49))),
    ]
    day = cleared_on
    for state in path:
        if day > REPORT_DAY:
            break
        steps.append((state, day))
        day += dt.timedelta(days=rng.randint(20, 60))
    return steps


def _early_steps(
    demo: Demo, reached: tuple[RenewalState, ...]
) -> list[tuple[RenewalState, dt.date]]:
    day = demo.day_between(dt.date(2021, 5, 1), dt.date(2021, 12, 31))
    steps: list[tuple[RenewalState, dt.date]] = []
    for state in reached:
        if state is S.relocating:
            day = max(day, steps[-1][1] + dt.timedelta(days=COMMENT_DAYS + 1))
            if day > REPORT_DAY:
                break
        steps.append((state, day))
        day = demo.day_between(max(day, dt.date(2022, 3, 1)), REPORT_DAY)
    return steps


def _parcel_history(demo: Demo, parcel: DemoParcel) -> None:
    history(
        demo,
        "parcel_state_changes",
        "parcel_id",
        parcel.id,
        [(state.value, day) for state, day in parcel.steps],
    )
    row = demo.rows["parcels"][parcel.id - 1]
    row["renewal_state"] = parcel.state.value
    if parcel.day_of(S.supplied) is not None:
        row["theme_park_id"] = demo.rng.randint(1, len(THEME_PARKS))
    published_on = parcel.day_of(S.plan_published)
    if published_on is not None:
        row["plan_comment_until"] = published_on + dt.timedelta(days=COMMENT_DAYS)
    _milestones(demo, parcel)
    producing_on = parcel.day_of(S.producing)
    if producing_on is not None:
        demo.add(
            "parcel_performance",
            parcel_id=parcel.id,
            year=producing_on.year,
            output_per_mu=places(demo.rng.uniform(180, 600), 2),
            tax_per_mu=places(demo.rng.uniform(8, 40), 2),
            floor_area_ratio=places(demo.rng.uniform(1.8, 3.5), 2),
        )


def _milestones(demo: Demo, parcel: DemoParcel) -> None:
    """Planning application and construction permit once building starts; completion
    acceptance before production. The floor area is the land's at a floor-area ratio
    of 1.8-3.5."""
    started_on = parcel.day_of(S.construction)
    if started_on is None:
        return
    rng = demo.rng
    floor_m2 = float(parcel.area_mu) * 666.67 * rng.uniform(1.8, 3.5)
    producing_on = parcel.day_of(S.producing)
    steps = [
        (MilestoneKind.planning_application, started_on - dt.timedelta(days=rng.randint(15, 40))),
        (MilestoneKind.construction_permit, started_on),
    ]
    if producing_on is not None:
        accepted_on = producing_on - dt.timedelta(days=rng.randint(5, 15))
        steps.append((MilestoneKind.completion_acceptance, max(accepted_on, started_on)))
    for kind, day in steps:
        demo.add(
            "construction_milestones",
            parcel_id=parcel.id,
            kind=kind.value,
            area_m2=places(floor_m2, 2),
            happened_on=day,
            actor="demo",
        )


def _company(demo: Demo) -> str:
    rng = demo.rng
    return demo.unique(
        lambda: (
            f"中山市{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS)}"
            f"{rng.choice(COMPANY_KINDS)}有限公司"
        )
    )


def _enterprises(demo: Demo, parcels: list[DemoParcel]) -> None:
    """Signed and unsigned enterprises; the signed ones' investment adds up to ~650亿元."""
    rng = demo.rng
    supplied = [p for p in parcels if p.day_of(S.supplied) is not None]
    plans: list[tuple[EnterpriseKind, bool]] = [
        *[(EnterpriseKind.attracted, True)] * demo.scale.of(ATTRACTED),
        *[(EnterpriseKind.attracted, False)] * demo.scale.of(12),
        *[(EnterpriseKind.expansion, True)] * demo.scale.of(EXPANSIONS),
        *[(EnterpriseKind.expansion, False)] * demo.scale.of(10),
    ]
    raw = [
        rng.lognormvariate(0, 0.8) * (1.6 if kind is EnterpriseKind.attracted else 1)
        for kind, _ in plans
    ]
    signed_raw = sum(r for r, (_, signed) in zip(raw, plans, strict=True) if signed)
    total = demo.scale.of(INVESTMENT_WAN) * rng.uniform(1.0, 1.03)
    for n, ((kind, signed), weight) in enumerate(zip(plans, raw, strict=True), start=1):
        parcel = rng.choice(supplied) if supplied and kind is EnterpriseKind.attracted else None
        town = parcel.town if parcel else demo.town_by_weight()
        investment = places(total * weight / signed_raw, 2)
        signed_on = demo.day_between(dt.date(2022, 1, 10), REPORT_DAY) if signed else None
        demo.add(
            "enterprises",
            code=f"QY{n:05d}",
            name=_company(demo),
            kind=kind.value,
            town_id=town.id,
            parcel_id=parcel.id if parcel else None,
            theme_park_id=rng.randint(1, len(THEME_PARKS)) if rng.random() < 0.6 else None,
            industry=rng.choice(INDUSTRIES),
            agreement_signed_on=signed_on,
            investment_wan=investment,
            actual_investment_wan=places(float(investment) * rng.uniform(0.05, 0.6), 2)
            if signed
            else None,
            jobs=rng.randint(30, 1500),
        )


def _leases(demo: Demo, parcels: list[DemoParcel]) -> None:
    """Leases on parcels still in use, some sublet by a sublandlord (二房东) at a markup."""
    rng = demo.rng
    n = 0
    for parcel in parcels:
        if parcel.state not in (S.identified, S.plan_published, S.relocating):
            continue
        n += 1
        start = demo.day_between(dt.date(2012, 1, 1), dt.date(2021, 6, 30))
        area = float(parcel.area_mu) * 666.67 * rng.uniform(0.3, 0.9)
        rent = rng.uniform(10, 28)
        lessee = _company(demo)
        row = demo.rows["parcels"][parcel.id - 1]
        parent = demo.add(
            "leases",
            code=f"ZL{n:05d}",
            parcel_id=parcel.id,
            town_id=parcel.town.id,
            parent_lease_id=None,
            lessor=row["owner_name"],
            lessee=lessee,
            building=None,
            area_m2=places(area, 2),
            rent_yuan_m2_month=places(rent, 2),
            start_on=start,
            end_on=start + dt.timedelta(days=365 * rng.randint(5, 15)),
        )
        if rng.random() >= 0.3:
            continue
        for k in range(1, rng.randint(1, 3) + 1):
            demo.add(
                "leases",
                code=f"ZL{n:05d}-{k}",
                parcel_id=parcel.id,
                town_id=parcel.town.id,
                parent_lease_id=parent,
                lessor=lessee,
                lessee=_company(demo),
                building=f"{k}号厂房",
                area_m2=places(area / 4 * rng.uniform(0.5, 1.0), 2),
                rent_yuan_m2_month=places(rent * rng.uniform(1.05, 2.4), 2),
                start_on=start + dt.timedelta(days=rng.randint(30, 700)),
                end_on=None,
            )


def _reserve(demo: Demo, parcels: list[DemoParcel]) -> None:
    """A reserve-on-account entry when a parcel is reserved, a release when supplied."""
    rng = demo.rng
    for parcel in parcels:
        reserved_on = parcel.day_of(S.reserved)
        if reserved_on is None:
            continue
        valuation = places(float(parcel.area_mu) * rng.uniform(60, 160), 2)
        entry = {
            "parcel_id": parcel.id,
            "town_id": parcel.town.id,
            "area_mu": parcel.area_mu,
            "valuation_wan": valuation,
            "funding_source": rng.choice(FUNDING_SOURCES),
        }
        kind = ReserveEntryKind.reserve_on_account.value
        demo.add("reserve_entries", kind=kind, entry_on=reserved_on, **entry)
        supplied_on = parcel.day_of(S.supplied)
        if supplied_on is not None:
            release = ReserveEntryKind.release.value
            demo.add("reserve_entries", kind=release, entry_on=supplied_on, **entry)
