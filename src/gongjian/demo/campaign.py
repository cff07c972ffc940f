"""The demo city's campaign records: projects of both campaigns with their histories,
batches, town commitments with targets, cadres and their dispatches.

Sewer projects completed by the report day add up to about 975 km; 13 wastewater
plants are being built or expanded.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from gongjian.campaign.choices import (
    PROJECT_CAMPAIGN,
    BatchKind,
    Campaign,
    ProjectKind,
    ProjectState,
)
from gongjian.demo.common import REPORT_DAY, Demo, DemoTown, at_ten, history, places
from gongjian.demo.names import CADRE_POSITIONS, CITY_UNITS, UNITS
from gongjian.demo.renewal import DemoParcel
from gongjian.demo.water import DemoRiver
from gongjian.kpi.services import KPI_KEYS, Figures
from gongjian.renewal.choices import RenewalState

SEWER_DONE = 200
SEWER_OPEN = 60
SEWER_KM = 975
WWTP_STARTED = 13
CADRES = 200
OTHER_WATER_WORKS = {
    ProjectKind.interception: 150,
    ProjectKind.dredging: 100,
    ProjectKind.water_diversion: 40,
    ProjectKind.greening: 80,
}
START_BATCHES = (
    dt.date(2022, 3, 15),
    dt.date(2022, 6, 18),
    dt.date(2022, 9, 20),
    dt.date(2022, 12, 16),
)
DEMOLITION_BATCHES = (dt.date(2022, 4, 12), dt.date(2022, 8, 8), dt.date(2022, 11, 11))
AUDIT_FINDINGS = (
    "工程量清单存在重复计量，已核减",
    "材料价格高于信息价，已按审计意见调整",
    "变更签证手续不全，已补充完善",
)
NO_QUANTITIES: dict[str, Decimal | None] = {
    "sewer_km": None,
    "capacity_kt_d": None,
    "area_mu": None,
    "culvert_uncovered_m": None,
}
CITY_APPROVERS = {Campaign.renewal: "gaigeban", Campaign.water: "zhishuiban"}
#: Commitment indicators: each campaign's headline KPIs, bar the grading one.
INDICATORS = {
    campaign: [
        key
        for key in KPI_KEYS
        if key.startswith(f"{campaign.value}.") and key != "water.black_odor_reduction_pct"
    ]
    for campaign in Campaign
}


class Projects:
    """Writes projects with their state histories and links, numbering them per campaign."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.numbers = {Campaign.renewal: 0, Campaign.water: 0}
        self.started: dict[int, dt.date] = {}
        self.kinds: dict[int, ProjectKind] = {}

    def add(
        self,
        kind: ProjectKind,
        town: DemoTown,
        name: str,
        *,
        start: dt.date | None,
        end: dt.date | None = None,
        accepted: dt.date | None = None,
        budget: float,
        rivers: tuple[int, ...] = (),
        parcels: tuple[int, ...] = (),
        **quantities: Decimal | None,
    ) -> int:
        """A project started on ``start`` (None: not started, so neither completed nor
        accepted) and completed on ``end``."""
        demo, rng = self.demo, self.demo.rng
        if start is None:
            end = accepted = None
        campaign = PROJECT_CAMPAIGN[kind]
        self.numbers[campaign] += 1
        prefix = "GG" if campaign is Campaign.renewal else "ZS"
        planned_start = start or demo.day_between(dt.date(2023, 2, 1), dt.date(2023, 6, 30))
        planned_on = min(
            planned_start - dt.timedelta(days=rng.randint(60, 120)),
            REPORT_DAY - dt.timedelta(days=rng.randint(0, 30)),
        )
        steps = [(ProjectState.planned, planned_on)]
        if start is not None or rng.random() < 0.5:
            approved_on = min(planned_start - dt.timedelta(days=rng.randint(10, 50)), REPORT_DAY)
            steps.append((ProjectState.approved, max(approved_on, planned_on)))
        for state, day in (
            (ProjectState.started, start),
            (ProjectState.completed, end),
            (ProjectState.accepted, accepted),
        ):
            if day is not None and day <= REPORT_DAY:
                steps.append((state, day))
        state = steps[-1][0]
        spent_share = {ProjectState.started: rng.uniform(0.2, 0.8)}.get(
            state, 1.0 if state in (ProjectState.completed, ProjectState.accepted) else 0.0
        )
        audit = budget >= 3000 and start is not None and rng.random() < 0.35
        project_id = demo.add(
            "projects",
            code=f"{prefix}{self.numbers[campaign]:05d}",
            name=name,
            campaign=campaign.value,
            kind=kind.value,
            town_id=town.id,
            state=state.value,
            owner=f"{town.name}{rng.choice(UNITS).removeprefix('镇街')}",
            planned_start_on=planned_start,
            planned_end_on=planned_start + dt.timedelta(days=rng.randint(120, 360)),
            actual_start_on=start if start is not None and start <= REPORT_DAY else None,
            actual_end_on=end if end is not None and end <= REPORT_DAY else None,
            budget_wan=places(budget, 2),
            spend_wan=places(budget * spent_share * rng.uniform(0.9, 1.0), 2),
            audit_joined_on=start - dt.timedelta(days=rng.randint(5, 40))
            if audit and start
            else None,
            audit_findings=rng.choice(AUDIT_FINDINGS) if audit and rng.random() < 0.5 else None,
            audit_saving_wan=places(budget * rng.uniform(0.005, 0.04), 2) if audit else None,
            **(NO_QUANTITIES | quantities),
        )
        history(
            demo,
            "project_state_changes",
            "project_id",
            project_id,
            [(s.value, day) for s, day in steps],
        )
        for river_id in rivers:
            demo.link("project_rivers", project_id=project_id, river_id=river_id)
        for parcel_id in parcels:
            demo.link("project_parcels", project_id=project_id, parcel_id=parcel_id)
        if start is not None:
            self.started[project_id] = start
        self.kinds[project_id] = kind
        return project_id


def build(demo: Demo, rivers: list[DemoRiver], parcels: list[DemoParcel]) -> None:
    """Projects of both campaigns, the batches that group them, cadres and dispatches."""
    projects = Projects(demo)
    _river_works(demo, projects, rivers)
    _sewers(demo, projects, rivers)
    _plants(demo, projects)
    _renewal_works(demo, projects, parcels)
    _batches(demo, projects)
    _cadres(demo)
    _score_adjustments(demo)


def _batch_day(demo: Demo, start: dt.date) -> dt.date:
    """``start``, or the concentrated start event shortly before it (集中开工)."""
    for held_on in START_BATCHES:
        if 0 <= (start - held_on).days <= 45 and demo.rng.random() < 0.45:
            return held_on
    return start


def _river_works(demo: Demo, projects: Projects, rivers: list[DemoRiver]) -> None:
    rng = demo.rng
    entered = [r for r in rivers if r.entered_on is not None]
    for river in entered:
        assert river.entered_on is not None
        project_id = projects.add(
            ProjectKind.river_remediation,
            river.town,
            f"{river.name}综合整治工程",
            start=river.entered_on,
            end=river.completed_on,
            accepted=river.evaluated_on,
            budget=river.length_m * rng.uniform(0.4, 1.6),
            rivers=(river.id,),
        )
        for measure_id, _kind in river.measures[:1]:
            demo.link("plan_measure_projects", measure_id=measure_id, project_id=project_id)
        for culvert_id, length, uncovered in river.culverts:
            start = uncovered - dt.timedelta(days=rng.randint(60, 150)) if uncovered else None
            projects.add(
                ProjectKind.culvert_uncovering,
                river.town,
                f"{river.name}暗渠揭盖复明工程（{culvert_id}）",
                start=start or (river.entered_on if rng.random() < 0.5 else None),
                end=uncovered,
                budget=length * rng.uniform(2, 5),
                rivers=(river.id,),
                culvert_uncovered_m=places(length, 1) if uncovered else None,
            )
    for kind, count in OTHER_WATER_WORKS.items():
        for _ in range(demo.scale.of(count)):
            river = rng.choice(entered)
            assert river.entered_on is not None
            start = _batch_day(demo, demo.day_between(river.entered_on, REPORT_DAY))
            end = start + dt.timedelta(days=rng.randint(45, 240))
            projects.add(
                kind,
                river.town,
                f"{river.name}{kind.label}工程",
                start=start if rng.random() < 0.9 else None,
                end=end if end <= REPORT_DAY else None,
                budget=rng.uniform(150, 2500),
                rivers=(river.id,),
            )


def _sewers(demo: Demo, projects: Projects, rivers: list[DemoRiver]) -> None:
    """Sewer projects; those done by the report day add up to about 975 km."""
    rng = demo.rng
    by_town: dict[int, list[DemoRiver]] = {}
    for river in rivers:
        by_town.setdefault(river.town.id, []).append(river)
    done = demo.scale.of(SEWER_DONE)
    raw = [rng.uniform(1.5, 8.0) for _ in range(done + demo.scale.of(SEWER_OPEN))]
    factor = demo.scale.of(SEWER_KM) * rng.uniform(1.0, 1.01) / sum(raw[:done])
    for n, km in enumerate(raw):
        town = demo.town_by_weight()
        start = _batch_day(demo, demo.day_between(dt.date(2022, 1, 10), dt.date(2022, 8, 31)))
        end: dt.date | None = None
        accepted: dt.date | None = None
        if n < done:
            end = demo.day_between(start + dt.timedelta(days=60), REPORT_DAY)
            accepted = end + dt.timedelta(days=rng.randint(20, 60))
        else:
            start = _batch_day(demo, demo.day_between(dt.date(2022, 6, 1), REPORT_DAY))
        length = km * factor if n < done else km
        served = rng.sample(by_town[town.id], min(len(by_town[town.id]), rng.randint(1, 2)))
        projects.add(
            ProjectKind.sewer,
            town,
            f"{town.name}污水管网建设工程（{n + 1}期）",
            start=start if n < done or rng.random() < 0.7 else None,
            end=end,
            accepted=accepted if rng.random() < 0.6 else None,
            budget=length * rng.uniform(600, 1400),
            rivers=tuple(r.id for r in served),
            sewer_km=places(length, 3),
        )


def _plants(demo: Demo, projects: Projects) -> None:
    """Wastewater plants: 13 being built or expanded, a few more still planned."""
    rng = demo.rng
    started = demo.scale.of(WWTP_STARTED, minimum=2)
    towns = rng.sample(demo.towns, min(len(demo.towns), started + demo.scale.of(3)))
    for n, town in enumerate(towns):
        kind = ProjectKind.wwtp_new if rng.random() < 0.4 else ProjectKind.wwtp_expansion
        capacity = rng.uniform(20, 100) if kind is ProjectKind.wwtp_new else rng.uniform(10, 50)
        start = demo.day_between(dt.date(2022, 1, 15), dt.date(2022, 10, 31))
        end = start + dt.timedelta(days=rng.randint(180, 500))
        verb = "新建" if kind is ProjectKind.wwtp_new else "扩建"
        projects.add(
            kind,
            town,
            f"{town.name}污水处理厂{verb}工程",
            start=start if n < started else None,
            end=end if n < started else None,
            budget=capacity * rng.uniform(2000, 4000),
            capacity_kt_d=places(capacity, 2),
        )


def _renewal_works(demo: Demo, projects: Projects, parcels: list[DemoParcel]) -> None:
    """A demolition project per park under demolition; a construction project per parcel
    being built on."""
    rng = demo.rng
    by_park: dict[int, list[DemoParcel]] = {}
    for parcel in parcels:
        if parcel.day_of(RenewalState.demolishing) is not None:
            by_park.setdefault(parcel.park_id, []).append(parcel)
    for park_id, group in by_park.items():
        starts = [p.day_of(RenewalState.demolishing) for p in group]
        ends = [p.day_of(RenewalState.cleared) for p in group]
        area = sum((p.area_mu for p in group), Decimal(0))
        park_name = demo.rows["parks"][park_id - 1]["name"]
        projects.add(
            ProjectKind.demolition,
            group[0].town,
            f"{park_name}拆除整理工程",
            start=min(d for d in starts if d is not None),
            end=None if None in ends else max(d for d in ends if d is not None),
            budget=float(area) * rng.uniform(8, 20),
            parcels=tuple(p.id for p in group),
            area_mu=area,
        )
    for parcel in parcels:
        start = parcel.day_of(RenewalState.construction)
        if start is None:
            continue
        projects.add(
            ProjectKind.renewal_construction,
            parcel.town,
            f"{demo.rows['parcels'][parcel.id - 1]['code']}地块改造建设工程",
            start=start,
            end=parcel.day_of(RenewalState.producing),
            budget=float(parcel.area_mu) * rng.uniform(300, 900),
            parcels=(parcel.id,),
            area_mu=parcel.area_mu,
        )


def _batches(demo: Demo, projects: Projects) -> None:
    """Concentrated start events group the projects started that day; concentrated
    demolitions group the demolitions started within a fortnight of the event."""
    for n, held_on in enumerate(START_BATCHES, start=1):
        members = [p for p, day in projects.started.items() if day == held_on]
        batch_id = demo.add(
            "batches",
            code=f"JZKG-{n:02d}",
            name=f"全市第{n}批重点项目集中开工（{held_on:%Y年%m月%d日}）",
            kind=BatchKind.concentrated_start.value,
            held_on=held_on,
        )
        for project_id in members:
            demo.link("batch_projects", batch_id=batch_id, project_id=project_id)
    for n, held_on in enumerate(DEMOLITION_BATCHES, start=1):
        batch_id = demo.add(
            "batches",
            code=f"JZCC-{n:02d}",
            name=f"全市第{n}批低效工业园集中拆除（{held_on:%Y年%m月%d日}）",
            kind=BatchKind.concentrated_demolition.value,
            held_on=held_on,
        )
        for project_id, day in projects.started.items():
            if (
                projects.kinds[project_id] is ProjectKind.demolition
                and abs((day - held_on).days) <= 14
            ):
                demo.link("batch_projects", batch_id=batch_id, project_id=project_id)


def _cadres(demo: Demo) -> None:
    """200 cadres sent down, each town getting a share in proportion to its workload."""
    rng = demo.rng
    total = demo.scale.of(CADRES)
    per_town = demo.spread(total)
    n = 0
    for town in demo.towns:
        for k in range(per_town[town.id]):
            n += 1
            cadre_id = demo.add(
                "cadres",
                code=f"GB{n:04d}",
                name=demo.person(),
                employer=rng.choice(CITY_UNITS),
                position=rng.choice(CADRE_POSITIONS),
            )
            demo.add(
                "dispatches",
                cadre_id=cadre_id,
                town_id=town.id,
                from_on=dt.date(2022, 3, 1),
                to_on=dt.date(2022, 12, 31) if rng.random() < 0.7 else None,
                role="驻镇工作组组长" if k == 0 else "驻镇工作组组员",
            )


ADJUSTMENTS = (
    (Decimal(3), "省工改专班通报表扬：连片改造成效明显"),
    (Decimal(2), "省生态环境厅通报表扬：黑臭水体整治经验被推广"),
    (Decimal(-2), "省督查发现问题：整改不及时"),
    (Decimal(-3), "央督反馈群众投诉办理不力"),
)
"""Praise and criticism from higher levels, as bonuses and deductions (示例)."""


def _score_adjustments(demo: Demo) -> None:
    """A few bonuses and deductions the city entered in 2022's town scores."""
    rng = demo.rng
    for town in rng.sample(demo.towns, k=min(6, len(demo.towns))):
        points, reason = rng.choice(ADJUSTMENTS)
        campaign = Campaign.renewal if "工改" in reason or "连片" in reason else Campaign.water
        demo.add(
            "score_adjustments",
            town_id=town.id,
            year=2022,
            campaign=campaign.value,
            points=points,
            reason=reason,
            entered_on=demo.day_between(dt.date(2022, 6, 1), dt.date(2022, 12, 20)),
            entered_by=CITY_APPROVERS[campaign],
        )


def commitments(demo: Demo, delivered: dict[int, Figures]) -> None:
    """Each town's commitment letters for 2022 (signed off by the city, so locked) and
    2023 (some still awaiting sign-off). Targets are cumulative figures at the year's
    end: 2022's near what the town ``delivered`` by 2022-12-31, 2023's beyond it."""
    rng = demo.rng
    for town in demo.towns:
        achieved = delivered[town.id].as_kpi()
        for year, stretch in ((2022, (0.85, 1.15)), (2023, (1.3, 1.6))):
            for campaign in Campaign:
                signed_on = demo.day_between(dt.date(year, 1, 10), dt.date(year, 1, 31))
                approved = year == 2022 or rng.random() < 0.6
                approved_on = signed_on + dt.timedelta(days=rng.randint(5, 25))
                commitment_id = demo.add(
                    "commitments",
                    town_id=town.id,
                    year=year,
                    campaign=campaign.value,
                    signed_on=signed_on,
                    approved_by=CITY_APPROVERS[campaign] if approved else None,
                    approved_at=at_ten(approved_on) if approved else None,
                )
                for indicator in INDICATORS[campaign]:
                    value = achieved[indicator] or 0
                    target = value * rng.uniform(*stretch)
                    demo.add(
                        "commitment_targets",
                        commitment_id=commitment_id,
                        indicator=indicator,
                        target=places(round(target) if isinstance(value, int) else target, 2),
                    )
