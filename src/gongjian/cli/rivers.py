"""River commands: ``priorities`` (先急后缓), ``river state|correct|history|survey|plan`` and
``complaint list|add|close``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from gongjian.cli.common import EXIT_INVALID, command, console, fail, operator, session
from gongjian.periods import city_zone, parse_as_of, parse_instant
from gongjian.water import services
from gongjian.water.choices import ComplaintCategory, Grade, RemediationState
from gongjian.water.models import River
from gongjian.water.plans import get_plan
from gongjian.water.priorities import TERM_LABELS, priorities
from gongjian.water.remediation import change_state, correct_state, record_survey, river_history
from gongjian.water.schemas import RiverPriorityRead

river_app = typer.Typer(
    help="河涌整治：状态变更、更正、历史、满意度调查、一河一策。", no_args_is_help=True
)

complaint_app = typer.Typer(help="群众投诉：列表、登记、办结。", no_args_is_help=True)

AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="截至日期 2023-01-31 或时段 2023-01；默认今天")
]
OnOption = Annotated[str, typer.Option("--on", help="日期，如 2023-01-31")]


def _state(text: str) -> RemediationState:
    """A remediation state by identifier (``entered``) or label (``进场``)."""
    try:
        return RemediationState.parse(text)
    except ValueError as exc:
        raise fail(str(exc), EXIT_INVALID) from None


def _day(text: str, field: str) -> dt.date:
    return parse_as_of(text, field=field)


def _label(state: str | None) -> str:
    """A stored state's label; ``—`` for none (a history's first change)."""
    return RemediationState(state).label if state else "—"


def _grade(grade: Grade | None) -> str:
    return grade.label if grade is not None else "未评价"


def _minute(moment: dt.datetime) -> str:
    return f"{moment.astimezone(city_zone()):%Y-%m-%d %H:%M}"


def register(app: typer.Typer) -> None:
    """Add ``priorities`` and the ``river`` and ``complaint`` sub-apps to ``app``."""
    app.add_typer(river_app, name="river")
    app.add_typer(complaint_app, name="complaint")

    @command(complaint_app, "list")
    def list_complaints(
        town: Annotated[
            str | None, typer.Option("--town", help="镇街名称或代码；不填为全市")
        ] = None,
        river: Annotated[str | None, typer.Option("--river", help="河涌编号")] = None,
        open_only: Annotated[
            bool | None, typer.Option("--open/--closed", help="只列未办结 / 只列已办结")
        ] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="最多列出几件")] = 50,
    ) -> None:
        """列出群众投诉（最新受理的在前；不含投诉人个人信息）。"""
        with session() as db:
            total, rows = services.list_complaints(
                db, actor=operator(), town=town, river=river, open_only=open_only, limit=limit
            )
            table = Table(title=f"群众投诉（共 {total} 件，列出 {len(rows)} 件）")
            for header in ("回执号", "河涌", "类别", "受理时间", "办结时间"):
                table.add_column(header, no_wrap=header == "回执号")
            rivers = {river_id: code for river_id, code in db.execute(select(River.id, River.code))}
            for row in rows:
                table.add_row(
                    row.receipt_no,
                    rivers.get(row.river_id, ""),
                    ComplaintCategory(row.category).label,
                    _minute(row.received_at),
                    _minute(row.closed_at) if row.closed_at else "未办结",
                )
        console.print(table)

    @command(complaint_app, "add")
    def add_complaint(
        river: Annotated[str, typer.Option("--river", help="河涌编号")],
        category: Annotated[
            str,
            typer.Option(
                "--category",
                help="类别（代码或名称）："
                + "、".join(f"{c.value}/{c.label}" for c in ComplaintCategory),
            ),
        ],
        description: Annotated[str, typer.Option("--description", help="问题描述")],
        at: Annotated[
            str | None, typer.Option("--at", help="受理时间，如 2023-02-01 09:30；默认现在")
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="投诉人姓名")] = None,
        phone: Annotated[str | None, typer.Option("--phone", help="投诉人电话")] = None,
    ) -> None:
        """登记电话、来信、来访收到的群众投诉（市攻坚办或河涌牵头镇街），给出回执号。"""
        received_at = parse_instant(at, field="--at")
        try:
            kind = ComplaintCategory.parse(category).value
        except ValueError:
            kind = category  # refused by the service, beside any other problem
        with session() as db:
            found = services.add_complaint(
                db,
                actor=operator(),
                river_id=services.river_id(db, river),
                category=kind,
                description=description,
                complainant_name=name,
                complainant_phone=phone,
                received_at=received_at,
                intake=True,
            )
            receipt_no = found.receipt_no
        console.print(f"投诉已登记，回执号 {receipt_no}（受理 {_minute(received_at)}）")

    @command(complaint_app, "close")
    def close_complaint(
        receipt_no: Annotated[str, typer.Argument(help="回执号")],
        at: Annotated[
            str | None, typer.Option("--at", help="办结时间，如 2023-02-01 09:30；默认现在")
        ] = None,
        note: Annotated[str | None, typer.Option("--note", help="办结说明")] = None,
    ) -> None:
        """办结一件群众投诉（市攻坚办或投诉所涉镇街）。"""
        closed_at = parse_instant(at, field="--at")
        with session() as db:
            found = services.close_complaint(
                db, actor=operator(), receipt_no=receipt_no, closed_at=closed_at, note=note
            )
        console.print(f"投诉 {receipt_no} 已办结（{_minute(found.closed_at or closed_at)}）")

    @command(app, "priorities")
    def show_priorities(
        top: Annotated[int, typer.Option("--top", min=1, help="列出前几条河涌")] = 20,
        town: Annotated[
            str | None, typer.Option("--town", help="镇街名称或代码；不填为全市")
        ] = None,
        as_of: AsOfOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="输出 JSON 数组")] = False,
    ) -> None:
        """先急后缓：按黑臭等级、重度点占比、投诉、基线、逾期措施给河涌排序，并列出得分构成。"""
        day = parse_as_of(as_of, field="--as-of")
        with session() as db:
            found = priorities(db, actor=operator(), as_of=day, top=top, town=town)
        if as_json:
            rows = [RiverPriorityRead.model_validate(row).model_dump(mode="json") for row in found]
            typer.echo(json.dumps(rows, ensure_ascii=False))
            return
        table = Table(title=f"先急后缓：河涌优先顺序（截至 {day:%Y年%m月%d日}，{town or '全市'}）")
        for header in ("排名", "河涌", "牵头镇街", "整治状态", "黑臭等级", "得分", "构成"):
            table.add_column(
                header,
                justify="right" if header in ("排名", "得分") else "left",
                no_wrap=header == "河涌",
            )
        for row in found:
            table.add_row(
                str(row.rank),
                f"{row.river_code}\n{row.river_name}",
                row.town,
                row.remediation_state.label,
                _grade(row.grade) + (f"（{row.grade_period}）" if row.grade_period else ""),
                f"{row.score}",
                "\n".join(
                    f"{TERM_LABELS[term.name]} {term.raw}×{term.weight}={term.points}"
                    for term in row.terms
                ),
            )
        console.print(table)

    @command(river_app, "state")
    def state(
        code: Annotated[str, typer.Argument(help="河涌编号")],
        to_state: Annotated[str, typer.Argument(help="新状态：entered/进场、completed/完工 等")],
        on: OnOption,
        reason: Annotated[str | None, typer.Option("--reason", help="说明")] = None,
    ) -> None:
        """河涌整治状态前进一步（评估通过、长治久清须有数据支持）。"""
        target, day = _state(to_state), _day(on, "--on")
        with session() as db:
            change = change_state(
                db, actor=operator(), river_code=code, to_state=target, on=day, reason=reason
            )
            console.print(
                f"河涌 {code}：{_label(change.from_state)} → {target.label}（{change.changed_on}）"
            )

    @command(river_app, "correct")
    def correct(
        code: Annotated[str, typer.Argument(help="河涌编号")],
        to_state: Annotated[str, typer.Argument(help="更正后的状态")],
        on: OnOption,
        reason: Annotated[str, typer.Option("--reason", help="更正理由（必填）")],
    ) -> None:
        """更正河涌整治状态（市攻坚办）；原记录保留在历史中。"""
        target, day = _state(to_state), _day(on, "--on")
        with session() as db:
            change = correct_state(
                db, actor=operator(), river_code=code, to_state=target, on=day, reason=reason
            )
            console.print(
                f"已更正河涌 {code}：{_label(change.from_state)} → "
                f"{target.label}（{change.changed_on}）；理由：{change.reason}"
            )

    @command(river_app, "history")
    def history(code: Annotated[str, typer.Argument(help="河涌编号")]) -> None:
        """河涌整治状态的全部变更记录（含更正与返黑返臭）。"""
        with session() as db:
            found = river_history(db, actor=operator(), river_code=code)
            relapsed = "，曾返黑返臭" if found.relapsed else ""
            table = Table(
                title=f"{found.code} {found.name}：{found.remediation_state.label}{relapsed}"
            )
            for header in ("日期", "原状态", "新状态", "类型", "理由", "记录人", "记录时间"):
                table.add_column(header)
            for change in found.changes:
                kind = "更正" if change.is_correction else "返黑返臭" if change.is_relapse else ""
                table.add_row(
                    str(change.changed_on),
                    _label(change.from_state),
                    _label(change.to_state),
                    kind,
                    change.reason or "",
                    change.actor,
                    f"{change.recorded_at.astimezone(city_zone()):%Y-%m-%d %H:%M}",
                )
            console.print(table)

    @command(river_app, "survey")
    def survey(
        code: Annotated[str, typer.Argument(help="河涌编号")],
        on: OnOption,
        valid: Annotated[int, typer.Option("--valid", help="有效问卷（份）")],
        satisfied: Annotated[int, typer.Option("--satisfied", help="满意问卷（份）")],
    ) -> None:
        """录入河涌的公众满意度调查（评估通过的依据之一）。"""
        day = _day(on, "--on")
        with session() as db:
            record_survey(
                db,
                actor=operator(),
                river_code=code,
                surveyed_on=day,
                valid_questionnaires=valid,
                satisfied=satisfied,
            )
        console.print(f"已录入河涌 {code} 的满意度调查（{day}）：满意 {satisfied}/{valid} 份")

    @command(river_app, "plan")
    def plan(
        code: Annotated[str, typer.Argument(help="河涌编号")], as_of: AsOfOption = None
    ) -> None:
        """一河一策：措施、责任单位、期限，逾期的标出。"""
        day = parse_as_of(as_of, field="--as-of")
        with session() as db:
            found = get_plan(db, actor=operator(), river_code=code, as_of=day)
        table = Table(
            title=f"{found.river_code} {found.title}（截至 {day}，逾期 {found.overdue} 项）"
        )
        for header in ("措施", "内容", "责任单位", "期限", "进展", "完成日期", "逾期", "项目"):
            table.add_column(header)
        for measure in found.measures:
            table.add_row(
                measure.kind.label,
                measure.description,
                measure.owner,
                str(measure.deadline),
                measure.state.label,
                str(measure.done_on or ""),
                "逾期" if measure.overdue else "",
                "、".join(measure.projects),
            )
        console.print(table)
