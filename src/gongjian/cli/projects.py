"""Project and batch commands: ``project list|show|add|state|overdue`` and
``batch list|show|add|attach|detach``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, TypeVar

import typer

from gongjian.campaign import batches, projects
from gongjian.campaign.choices import BatchKind, Campaign, ProjectKind, ProjectState
from gongjian.campaign.rules import QUANTITIES
from gongjian.choices import LabeledChoice
from gongjian.cli.common import (
    JsonOption,
    TownOption,
    amount_option,
    command,
    console,
    day_option,
    echo_json,
    facts_table,
    history_table,
    json_rows,
    move_text,
    next_states_text,
    operator,
    session,
    table,
    town_id_of,
)
from gongjian.errors import Invalid, Problem
from gongjian.periods import parse_as_of

project_app = typer.Typer(
    help="攻坚项目（工改、治水）：列出、查看、新增、状态变更、逾期项目。", no_args_is_help=True
)
batch_app = typer.Typer(
    help="集中开工、集中拆除批次（市攻坚办）：列出、查看、新增、加入或移出项目。",
    no_args_is_help=True,
)

CampaignOption = Annotated[
    str | None, typer.Option("--campaign", help="renewal/工改 或 water/治水")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="截至日期 2023-01-31 或时段 2023-01；默认今天")
]
ProjectArgument = Annotated[str, typer.Argument(help="项目编号")]
BatchArgument = Annotated[str, typer.Argument(help="批次编号")]
C = TypeVar("C", bound=LabeledChoice)


def register(app: typer.Typer) -> None:
    """Add the ``project`` and ``batch`` sub-apps to ``app``."""
    app.add_typer(project_app, name="project")
    app.add_typer(batch_app, name="batch")


def _choice(kind: type[C], text: str | None, option: str) -> C | None:
    """A state or kind by identifier or Chinese label; ``Invalid`` naming ``option``."""
    if text is None:
        return None
    try:
        return kind.parse(text.strip())
    except ValueError as exc:
        raise Invalid(
            f"{option} 的取值无效", [Problem(str(exc), column=option, value=text)]
        ) from None


def _shown(value: object) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, Decimal) else str(value)


# --- project ----------------------------------------------------------------------------


@command(project_app, "list")
def list_(
    town: TownOption = None,
    campaign: CampaignOption = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="项目类型，如 sewer 或 污水管网")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="当前状态，如 started 或 已开工")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只列截至 --as-of 逾期的项目")] = False,
    as_of: AsOfOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="最多列出几个")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="跳过前几个")] = 0,
    as_json: JsonOption = False,
) -> None:
    """列出项目（按编号），可按镇街、攻坚类别、类型、状态、是否逾期筛选。"""
    with session() as db:
        total, rows = projects.list_projects(
            db,
            actor=operator(),
            town=town,
            campaign=_choice(Campaign, campaign, "--campaign"),
            kind=_choice(ProjectKind, kind, "--kind"),
            state=_choice(ProjectState, state, "--state"),
            overdue_as_of=parse_as_of(as_of, field="--as-of") if overdue else None,
            limit=limit,
            offset=offset,
        )
        if as_json:
            from gongjian.campaign.schemas import ProjectRead  # Pydantic models load on use

            echo_json({"total": total, "items": json_rows(ProjectRead, rows)})
            return
        listed = table(
            f"项目（共 {total} 个，显示 {len(rows)} 个）",
            ("编号", "名称", "类型", "镇街", "状态", "计划开工", "计划完工", "总投资（万元）"),
            right={"总投资（万元）"},
            no_wrap={"编号"},
        )
        for project in rows:
            listed.add_row(
                project.code,
                project.name,
                ProjectKind(project.kind).label,
                project.town.name,
                ProjectState(project.state).label,
                _shown(project.planned_start_on),
                _shown(project.planned_end_on),
                _shown(project.budget_wan),
            )
    console.print(listed)


@command(project_app, "show")
def show(code: ProjectArgument) -> None:
    """项目详情、工程量、关联河涌或地块、所在批次和状态历史。"""
    with session() as db:
        found = projects.get_project(db, actor=operator(), code=code)
    project = found.project
    state = ProjectState(project.state)
    allowed = next_states_text(found.allowed_next)
    console.print(
        f"{project.code} {project.name}（{ProjectKind(project.kind).label}，{found.town}）："
        f"{state.label}；下一步可改为：{allowed}",
        highlight=False,
    )
    rows: list[tuple[str, object]] = [
        ("责任单位", project.owner),
        (
            "计划开工 / 完工",
            f"{_shown(project.planned_start_on)} / {_shown(project.planned_end_on)}",
        ),
        ("实际开工 / 完工", f"{_shown(project.actual_start_on)} / {_shown(project.actual_end_on)}"),
        ("总投资（万元）", project.budget_wan),
        ("已完成投资（万元）", project.spend_wan),
        *((q.label, getattr(project, q.field)) for q in QUANTITIES if project.kind in q.kinds),
        ("服务河涌", "、".join(found.rivers) or None),
        ("关联地块", "、".join(found.parcels) or None),
        ("所在批次", "、".join(found.batches) or None),
    ]
    if project.audit_joined_on is not None:
        rows += [
            ("提前介入审计", project.audit_joined_on),
            ("审计意见", project.audit_findings),
            ("审计核减（万元）", project.audit_saving_wan),
        ]
    console.print(facts_table((label, _shown(value)) for label, value in rows))
    console.print(history_table(found.changes, ProjectState))


@command(project_app, "add")
def add(
    code: ProjectArgument,
    name: Annotated[str, typer.Option("--name", help="项目名称")],
    kind: Annotated[str, typer.Option("--kind", help="项目类型，如 sewer 或 污水管网")],
    town: Annotated[str, typer.Option("--town", help="镇街名称或代码")],
    owner: Annotated[str | None, typer.Option("--owner", help="责任单位")] = None,
    planned_start: Annotated[
        str | None, typer.Option("--planned-start", help="计划开工日期")
    ] = None,
    planned_end: Annotated[str | None, typer.Option("--planned-end", help="计划完工日期")] = None,
    budget_wan: Annotated[str | None, typer.Option("--budget-wan", help="总投资（万元）")] = None,
    spend_wan: Annotated[str | None, typer.Option("--spend-wan", help="已完成投资（万元）")] = None,
    sewer_km: Annotated[
        str | None, typer.Option("--sewer-km", help="污水管网项目：新建管网（公里）")
    ] = None,
    capacity_kt_d: Annotated[
        str | None, typer.Option("--capacity-kt-d", help="污水处理厂项目：处理规模（千吨/日）")
    ] = None,
    area_mu: Annotated[
        str | None, typer.Option("--area-mu", help="拆除、改造建设项目：用地面积（亩）")
    ] = None,
    culvert_m: Annotated[
        str | None, typer.Option("--culvert-m", help="揭盖复明项目：揭盖长度（米）")
    ] = None,
    river: Annotated[
        list[str] | None, typer.Option("--river", help="服务的河涌编号（治水项目，可重复）")
    ] = None,
    parcel: Annotated[
        list[str] | None, typer.Option("--parcel", help="所在地块编号（工改项目，可重复）")
    ] = None,
    listed_on: Annotated[
        str | None, typer.Option("--listed-on", help="列入计划日期；默认今天")
    ] = None,
) -> None:
    """新增项目（状态为“计划”）；只填写该类型项目报送的工程量。"""
    project_kind = _choice(ProjectKind, kind, "--kind")
    assert project_kind is not None
    with session() as db:
        project = projects.add_project(
            db,
            actor=operator(),
            code=code,
            name=name,
            kind=project_kind,
            town=town,
            owner=owner,
            planned_start_on=day_option(planned_start, "--planned-start"),
            planned_end_on=day_option(planned_end, "--planned-end"),
            budget_wan=amount_option(budget_wan, "--budget-wan", "总投资（万元）"),
            spend_wan=amount_option(spend_wan, "--spend-wan", "已完成投资（万元）"),
            sewer_km=amount_option(sewer_km, "--sewer-km", "管网长度（公里）"),
            capacity_kt_d=amount_option(capacity_kt_d, "--capacity-kt-d", "处理规模（千吨/日）"),
            area_mu=amount_option(area_mu, "--area-mu", "用地面积（亩）"),
            culvert_uncovered_m=amount_option(culvert_m, "--culvert-m", "揭盖长度（米）"),
            rivers=river or [],
            parcels=parcel or [],
            listed_on=day_option(listed_on, "--listed-on"),
        )
        console.print(
            f"已新增项目 {project.code} {project.name}"
            f"（{project_kind.label}，{Campaign(project.campaign).label}）"
        )


@command(project_app, "state")
def change_state(
    code: ProjectArgument,
    to: Annotated[str, typer.Option("--to", help="新状态，如 started 或 已开工")],
    on: Annotated[str, typer.Option("--on", help="日期，如 2023-01-31（不能晚于今天）")],
    reason: Annotated[str | None, typer.Option("--reason", help="说明")] = None,
) -> None:
    """变更项目状态（只能改为下一状态；“已验收”由市攻坚办审批）。"""
    to_state = _choice(ProjectState, to, "--to")
    assert to_state is not None
    with session() as db:
        change = projects.change_project_state(
            db,
            actor=operator(),
            code=code,
            to_state=to_state,
            on=parse_as_of(on, field="--on"),
            reason=reason,
        )
        console.print(f"项目 {code}：{move_text(change, ProjectState)}")


@command(project_app, "overdue")
def overdue(
    as_of: AsOfOption = None,
    town: TownOption = None,
    campaign: CampaignOption = None,
    as_json: JsonOption = False,
) -> None:
    """逾期项目：计划完工日已过仍未完工（逾期未完工），或计划开工日已过仍未开工（逾期未开工）。"""
    day = parse_as_of(as_of, field="--as-of")
    with session() as db:
        town_id = town_id_of(db, town)
        found = projects.overdue_projects(
            db,
            actor=operator(),
            as_of=day,
            town_id=town_id,
            campaign=_choice(Campaign, campaign, "--campaign"),
        )
    if as_json:
        from gongjian.campaign.schemas import OverdueRead  # Pydantic models load on use

        items = [OverdueRead.of(row).model_dump(mode="json") for row in found]
        echo_json({"as_of": str(day), "items": items})
        return
    listed = table(
        f"逾期项目（截至 {day}，共 {len(found)} 个）",
        ("编号", "名称", "镇街", "当时状态", "计划开工", "计划完工", "逾期", "天数"),
        right={"天数"},
        no_wrap={"编号"},
    )
    for row in found:
        listed.add_row(
            row.project.code,
            row.project.name,
            row.town,
            row.state.label,
            _shown(row.project.planned_start_on),
            _shown(row.project.planned_end_on),
            row.reason.label,
            str(row.days),
        )
    console.print(listed)


# --- batch ------------------------------------------------------------------------------


def _print_batch(found: batches.BatchDetail) -> None:
    batch = found.batch
    console.print(
        f"{batch.code} {batch.name}（{BatchKind(batch.kind).label}，{batch.held_on}）",
        highlight=False,
    )
    figures = ("项目数", "总投资（万元）", "面积（亩）", "管网（公里）", "处理规模（千吨/日）")
    summed = table("批次统计（按项目计算）", ("", *figures), right=figures)
    by_campaign = found.figures.by_campaign
    for label, totals in (
        *((campaign.label, by_campaign[campaign]) for campaign in Campaign),
        ("合计", found.figures.total),
    ):
        summed.add_row(
            label,
            str(totals.projects),
            _shown(totals.investment_wan),
            _shown(totals.area_mu),
            _shown(totals.sewer_km),
            _shown(totals.capacity_kt_d),
        )
    console.print(summed)
    members = table("项目", ("编号", "名称", "类型", "状态", "实际开工"), no_wrap={"编号"})
    for project in found.projects:
        members.add_row(
            project.code,
            project.name,
            ProjectKind(project.kind).label,
            ProjectState(project.state).label,
            _shown(project.actual_start_on),
        )
    console.print(members)


@command(batch_app, "list")
def list_batches(
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="concentrated_start/集中开工 或 concentrated_demolition/集中拆除"
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="最多列出几批")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="跳过前几批")] = 0,
) -> None:
    """列出集中开工、集中拆除批次及其项目统计。"""
    with session() as db:
        total, rows = batches.list_batches(
            db,
            actor=operator(),
            kind=_choice(BatchKind, kind, "--kind"),
            limit=limit,
            offset=offset,
        )
    figures = ("项目数", "总投资（万元）", "面积（亩）", "管网（公里）", "处理规模（千吨/日）")
    listed = table(
        f"批次（共 {total} 批，显示 {len(rows)} 批）",
        ("编号", "名称", "类型", "日期", *figures),
        right=figures,
        no_wrap={"编号"},
    )
    for row in rows:
        totals = row.figures.total
        listed.add_row(
            row.batch.code,
            row.batch.name,
            BatchKind(row.batch.kind).label,
            str(row.batch.held_on),
            str(totals.projects),
            _shown(totals.investment_wan),
            _shown(totals.area_mu),
            _shown(totals.sewer_km),
            _shown(totals.capacity_kt_d),
        )
    console.print(listed)


@command(batch_app, "show")
def show_batch(code: BatchArgument) -> None:
    """批次详情：按攻坚类别统计项目数、投资、面积、管网、处理规模，并列出项目。"""
    with session() as db:
        found = batches.get_batch(db, actor=operator(), code=code)
    _print_batch(found)


@command(batch_app, "add")
def add_batch(
    code: BatchArgument,
    name: Annotated[str, typer.Option("--name", help="批次名称")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="concentrated_start/集中开工 或 concentrated_demolition/集中拆除"
        ),
    ],
    held_on: Annotated[str, typer.Option("--held-on", help="举行日期，如 2022-03-15")],
    project: Annotated[
        list[str] | None, typer.Option("--project", help="项目编号（可重复）")
    ] = None,
) -> None:
    """新增批次（市攻坚办）；集中拆除批次只能包含拆除整理项目。"""
    batch_kind = _choice(BatchKind, kind, "--kind")
    assert batch_kind is not None
    with session() as db:
        found = batches.add_batch(
            db,
            actor=operator(),
            code=code,
            name=name,
            kind=batch_kind,
            held_on=parse_as_of(held_on, field="--held-on"),
            projects=project or [],
        )
    console.print(f"已新增批次 {found.batch.code}")
    _print_batch(found)


@command(batch_app, "attach")
def attach(
    code: BatchArgument,
    project: Annotated[list[str], typer.Argument(help="项目编号（可多个）")],
) -> None:
    """把项目加入批次（市攻坚办）。"""
    with session() as db:
        found = batches.attach_projects(db, actor=operator(), code=code, projects=project)
    console.print(f"已加入批次 {code}：{'、'.join(project)}")
    _print_batch(found)


@command(batch_app, "detach")
def detach(
    code: BatchArgument,
    project: Annotated[list[str], typer.Argument(help="项目编号（可多个）")],
) -> None:
    """把项目移出批次（市攻坚办）。"""
    with session() as db:
        found = batches.detach_projects(db, actor=operator(), code=code, projects=project)
    console.print(f"已移出批次 {code}：{'、'.join(project)}")
    _print_batch(found)
