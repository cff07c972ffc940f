"""Task lists (清单) out of the platform: empty templates and exports of stored records,
as .xlsx (the template's layout: headers, frozen header row, drop-downs, instructions)
or CSV (UTF-8 with a BOM, the same headers). Texts that a spreadsheet would take for
formulas are neutralised (see ``excel``), so an export can be edited and imported back:
unchanged rows change nothing.

An export from a list page (``/exports/{kind}``, ``export_page``) takes the page's
filters (for a task list ``ListFilters``, read by ``parse_filters``): the rows are those
the page lists, and the workbook's second sheet, 筛选条件, records the filters, the
count, who exported and when (the instructions follow on their own sheet). States,
grades and the baseline are read as of the filters' ``as_of`` (default today); the
exported values are the records' current ones. The list pages that are not task lists
(batches, the ranking, the audit log, clusters, complaints: ``PAGE_TABLES``) export
through the services their pages call. Every export is audited (``audit_export``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.audit.services import AuditFilters, list_entries
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action, Role
from gongjian.auth.permissions import RESOURCE_LABELS, allowed, restrict, scoped_town, town_scope
from gongjian.campaign.batches import batch_states, list_batches
from gongjian.campaign.choices import BatchKind, Campaign, ProjectKind, ProjectState
from gongjian.campaign.models import Batch, Project, ProjectStateChange, batch_projects
from gongjian.campaign.projects import overdue_projects
from gongjian.campaign.rules import COMPLETED_OR_LATER, STARTED_OR_LATER
from gongjian.campaign.scoring import SCOPE_LABELS, standings
from gongjian.choices import LabeledChoice
from gongjian.db import utcnow
from gongjian.display import period_text
from gongjian.errors import Invalid, NotFound, Problem
from gongjian.imports.excel import FileKind, Layout, Sheet, write_csv, write_xlsx
from gongjian.imports.tasklists import LISTS, list_kind
from gongjian.kpi.services import state_as_of
from gongjian.periods import city_zone, parse_as_of, parse_period, today
from gongjian.renewal.choices import EnterpriseKind, RenewalState
from gongjian.renewal.models import Enterprise, Parcel, ParcelStateChange
from gongjian.renewal.services import PARCELS, cluster_views
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import ComplaintCategory, Grade, RemediationState
from gongjian.water.latest import latest_baseline_id, latest_grades
from gongjian.water.models import BaselineMember, Complaint, River, RiverStateChange


def write_template(name: str, target: Path | IO[bytes]) -> None:
    """Write the empty template of list ``name``: the data sheet with its headers, frozen
    header row and drop-downs, and the instructions sheet."""
    write_xlsx(target, list_kind(name).layout(), [])


def export_list(
    session: Session,
    *,
    actor: Actor,
    name: str,
    target: IO[bytes],
    kind: FileKind = FileKind.xlsx,
    town: str | None = None,
    filters: ListFilters | None = None,
) -> int:
    """Write the stored records of list ``name`` that ``actor`` may see (of ``town``, a
    name or code, or all) to ``target`` as .xlsx (the template's layout) or CSV (UTF-8
    with a BOM), formula characters neutralised; return how many rows. With ``filters``
    (a list page's; their town replaces ``town``), only the rows they select, and the
    .xlsx's second sheet records them (筛选条件)."""
    importer = list_kind(name)(session, actor=actor)
    if filters is not None:
        town = filters.town
    town_id = find_town(session, town).id if town else None
    rows = list(importer.export_rows(town_id))
    layout = importer.layout()
    lines: list[list[str]] = [["镇街", find_town(session, town).name if town else "全部镇街"]]
    if filters is not None:
        codes = matching_codes(session, actor=actor, name=name, filters=filters)
        if codes is not None:
            position = [column.field for column in importer.columns].index("code")
            rows = [row for row in rows if row[position] in codes]
        lines = filter_sheet(session, actor, name, filters, len(rows))
        layout = dataclasses.replace(layout, extra=[Sheet(FILTERS_SHEET, lines)])
    _write(target, kind, layout, rows)
    audit_export(session, actor=actor, kind=name, filters=lines, rows=len(rows))
    return len(rows)


def _write(
    target: IO[bytes], kind: FileKind, layout: Layout, rows: Sequence[Sequence[Any]]
) -> None:
    """``rows`` under ``layout``'s headers as .xlsx (its sheets) or CSV (UTF-8 with a BOM)."""
    if kind is FileKind.xlsx:
        write_xlsx(target, layout, rows)
        return
    wrapper = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
    write_csv(wrapper, layout.headers, rows)
    wrapper.flush()
    wrapper.detach()


def audit_export(
    session: Session, *, actor: Actor, kind: str, filters: Sequence[Sequence[str]], rows: int
) -> None:
    """The audit entry of an export (a read the auditors may want to see): the list, its
    filters in words and how many rows left the platform."""
    record(
        session,
        actor=actor,
        action=EXPORT_ACTION,
        resource=EXPORT_ACTION,
        record_id=kind,
        town_id=actor.town_id,
        after={
            "kind": kind,
            "filters": {line[0]: line[1] for line in filters if len(line) > 1},
            "rows": rows,
        },
        detail=f"导出清单“{kind}”：{rows} 行",
    )


# --- exports of what a list page shows --------------------------------------------------

FILTERS_SHEET = "筛选条件"
"""The second sheet of a list page's export: its filters (the instructions follow on a
sheet of their own)."""
EXPORT_ACTION = "export"
"""The audit action (and resource) of an export."""

PAGE_FILTERS: dict[str, tuple[str, ...]] = {
    "rivers": ("town", "grade", "state", "reached", "baseline", "as_of"),
    "parcels": ("town", "state", "reached", "as_of"),
    "enterprises": ("town", "kind", "signed", "as_of"),
    "projects": ("campaign", "kind", "state", "town", "overdue", "batch", "as_of"),
}
"""The filters each list page takes (the URL contract of the web pages); the other lists
take ``town`` only."""

_STATES: dict[str, type[LabeledChoice]] = {
    "rivers": RemediationState,
    "parcels": RenewalState,
    "projects": ProjectState,
}
_KINDS: dict[str, type[LabeledChoice]] = {"projects": ProjectKind, "enterprises": EnterpriseKind}
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ListFilters:
    """The filters of a list page, checked: a town (name or code), states (any of),
    a state reached or passed, a grade, the baseline's bodies only, kinds (any of), a campaign,
    signed only, overdue only, a batch (code), and the day they are read on."""

    town: str | None = None
    states: tuple[str, ...] = ()
    reached: str | None = None
    grade: str | None = None
    baseline: bool = False
    kinds: tuple[str, ...] = ()
    campaign: str | None = None
    signed: bool = False
    overdue: bool = False
    batch: str | None = None
    as_of: dt.date | None = None

    @property
    def day(self) -> dt.date:
        """The day states, grades, signatures and deadlines are read on."""
        return self.as_of or today()


def _choice(of: type[LabeledChoice], column: str, value: str) -> str:
    try:
        return of.parse(value).value
    except ValueError:
        raise Invalid(
            f"筛选条件“{column}”的取值无效",
            [Problem(f"可选：{'、'.join(of.values())}", column=column, value=value)],
        ) from None


def parse_filters(name: str, params: Iterable[tuple[str, str]]) -> ListFilters:
    """The filters list ``name``'s page takes, from a query string's ``params`` (``state``
    may repeat); other parameters (``page``, ``format``) are ignored, empty ones too.
    ``Invalid`` names a value that is not one of its choices or not a date."""
    list_kind(name)
    taken = PAGE_FILTERS.get(name, ("town",))
    given: dict[str, list[str]] = {}
    for key, value in params:
        if key in taken and value.strip():
            given.setdefault(key, []).append(value.strip())

    def one(key: str) -> str | None:
        return given[key][-1] if key in given else None

    states = _STATES.get(name)
    kinds = _KINDS.get(name)
    reached = one("reached")
    grade = one("grade")
    campaign = one("campaign")
    as_of = one("as_of")
    return ListFilters(
        town=one("town"),
        states=tuple(_choice(states, "state", v) for v in given.get("state", [])) if states else (),
        reached=_choice(states, "reached", reached) if states and reached else None,
        grade=_choice(Grade, "grade", grade) if grade else None,
        baseline=(one("baseline") or "").lower() in _TRUE,
        kinds=tuple(_choice(kinds, "kind", v) for v in given.get("kind", [])) if kinds else (),
        campaign=_choice(Campaign, "campaign", campaign) if campaign else None,
        signed=(one("signed") or "").lower() in _TRUE,
        overdue=(one("overdue") or "").lower() in _TRUE,
        batch=one("batch"),
        as_of=parse_as_of(as_of) if as_of else None,
    )


def town_scoped(
    session: Session, *, actor: Actor, filters: ListFilters, resource: str
) -> ListFilters:
    """``filters`` limited to a town user's own town: a town user exports their town's
    records of ``resource`` only (asking for another town is refused, 403, logged);
    others as given."""
    if town_scope(actor) is None:
        return filters
    own = scoped_town(session, actor, resource, filters.town)
    assert own is not None  # a town user's scope is their town
    return dataclasses.replace(filters, town=own.code)


def _from(states: Sequence[str], of: type[LabeledChoice], reached: str) -> list[str]:
    """The states from ``reached`` on, in ``of``'s order."""
    order = of.values()
    return [s for s in order[order.index(reached) :] if not states or s in states]


def _state_filter(
    stmt: Select[Any], key: Any, history: Any, owner: Any, of: type[LabeledChoice], f: ListFilters
) -> Select[Any]:
    if not (f.states or f.reached):
        return stmt
    wanted = _from(f.states, of, f.reached) if f.reached else list(f.states)
    states = state_as_of(owner, history.to_state, history.changed_on, history.id, f.day)
    return stmt.join(states, states.c.record_id == key).where(states.c.state.in_(wanted))


def matching_codes(
    session: Session, *, actor: Actor, name: str, filters: ListFilters
) -> set[str] | None:
    """The codes of list ``name``'s records that ``filters`` select beyond the town
    (the export's own town filter), or ``None`` when they select no further."""
    f = filters
    stmt: Select[Any]
    if name == "rivers" and (f.states or f.reached or f.grade or f.baseline):
        stmt = _state_filter(
            select(River.code),
            River.id,
            RiverStateChange,
            RiverStateChange.river_id,
            RemediationState,
            f,
        )
        if f.grade:
            grades = latest_grades(f.day)
            stmt = stmt.join(grades, grades.c.river_id == River.id).where(grades.c.grade == f.grade)
        if f.baseline:
            stmt = stmt.join(BaselineMember, BaselineMember.river_id == River.id).where(
                BaselineMember.baseline_id == latest_baseline_id(f.day)
            )
    elif name == "parcels" and (f.states or f.reached):
        stmt = _state_filter(
            select(Parcel.code),
            Parcel.id,
            ParcelStateChange,
            ParcelStateChange.parcel_id,
            RenewalState,
            f,
        )
    elif name == "enterprises" and (f.kinds or f.signed):
        stmt = select(Enterprise.code)
        if f.kinds:
            stmt = stmt.where(Enterprise.kind.in_(f.kinds))
        if f.signed:
            stmt = stmt.where(Enterprise.agreement_signed_on <= f.day)
    elif name == "projects" and (
        f.states or f.reached or f.kinds or f.campaign or f.overdue or f.batch
    ):
        stmt = _state_filter(
            select(Project.code),
            Project.id,
            ProjectStateChange,
            ProjectStateChange.project_id,
            ProjectState,
            f,
        )
        if f.kinds:
            stmt = stmt.where(Project.kind.in_(f.kinds))
        if f.campaign:
            stmt = stmt.where(Project.campaign == f.campaign)
        if f.batch:
            stmt = (
                stmt.join(batch_projects, batch_projects.c.project_id == Project.id)
                .join(Batch, Batch.id == batch_projects.c.batch_id)
                .where(Batch.code == f.batch)
            )
        if f.overdue:
            late = overdue_projects(session, actor=actor, as_of=f.day)
            stmt = stmt.where(Project.id.in_([row.project.id for row in late]))
    else:
        return None
    return set(session.scalars(stmt))


def filter_sheet(
    session: Session, actor: Actor, name: str, filters: ListFilters, count: int
) -> list[list[str]]:
    """The lines of the 筛选条件 sheet of list ``name``'s export: the list, each filter in
    words, the count, who exported and when, a note on dates."""
    f = filters
    label = list_kind(name).label
    town = find_town(session, f.town).name if f.town else "全部镇街"
    lines = [[f"{label}清单导出：筛选条件"], ["清单", f"{label}清单"], ["镇街", town]]
    if f.states or f.reached:
        states = _STATES[name]
        if f.states:
            lines.append(["状态", "、".join(states(s).label for s in f.states)])
        if f.reached:
            lines.append(["已达到（含之后）", states(f.reached).label])
    if f.grade:
        lines.append(["黑臭等级", Grade(f.grade).label])
    if f.baseline:
        lines.append(["范围", "央督基线内的水体"])
    if f.kinds:
        lines.append(["类型", "、".join(_KINDS[name](kind).label for kind in f.kinds)])
    if f.campaign:
        lines.append(["所属攻坚", Campaign(f.campaign).label])
    if f.signed:
        lines.append(["范围", "已签约"])
    if f.overdue:
        lines.append(["范围", "逾期项目"])
    if f.batch:
        lines.append(["批次", f.batch])
    lines.append(["截至日期", f.day.isoformat()])
    return [
        *lines,
        *_exported_lines(actor, count),
        ["注", "状态、等级、签约、逾期按截至日期判断；表中各列为导出时的当前值。"],
    ]


def _exported_lines(actor: Actor, count: int) -> list[list[str]]:
    """The closing lines of every 筛选条件 sheet: the count, who exported and when."""
    exported = utcnow().astimezone(city_zone())
    return [
        ["记录数", str(count)],
        ["导出人", f"{actor.username}（{Role(actor.role).label}）"],
        ["导出时间", f"{exported:%Y-%m-%d %H:%M:%S}"],
    ]


# --- exports of the list pages that are not task lists -------------------------------------

EXPORT_ROWS_MAX = 100_000
"""Most rows an export of a list that is not a task list holds (the audit log: the newest)."""
CLUSTER_GAP_MAX_M = 500
"""The widest gap between parcels a cluster export accepts, in metres (as ``/clusters``)."""
Params = Sequence[tuple[str, str]]
"""A query string's parameters, in order (``state`` may repeat)."""
YES, NO = "是", "否"


@dataclass(frozen=True)
class PageTable:
    """What a list page that is not a task list exports: its name (the data sheet's),
    headers with their units, rows, and the filters it was read with, in words."""

    label: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    filters: list[list[str]]
    note: str | None = None


def _given(params: Params, taken: Sequence[str]) -> dict[str, str]:
    """The last non-empty value of each parameter in ``taken``; others are ignored."""
    return {key: value.strip() for key, value in params if key in taken and value.strip()}


def _flag(value: str | None) -> bool:
    return (value or "").lower() in _TRUE


def _city_time(moment: dt.datetime | None) -> str | None:
    return f"{moment.astimezone(city_zone()):%Y-%m-%d %H:%M:%S}" if moment else None


def _day(text: str | None, column: str) -> dt.date | None:
    """A day filter (``2023-01-31``), as the audit page reads it."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(
            "日期无效", [Problem("日期应为 2023-01-31", column=column, value=text)]
        ) from None


def batch_table(session: Session, actor: Actor, params: Params) -> PageTable:
    """The batches (集中开工/集中拆除) of ``/batches``: filter ``kind``; each with its
    figures and its projects started and completed now (``campaign.batches``)."""
    given = _given(params, ("kind",))
    kind = BatchKind(_choice(BatchKind, "kind", given["kind"])) if "kind" in given else None
    _, found = list_batches(session, actor=actor, kind=kind, limit=EXPORT_ROWS_MAX)
    states = batch_states(session, [row.batch.id for row in found])
    rows = []
    for row in found:
        batch, total, counts = row.batch, row.figures.total, states[row.batch.id]
        rows.append(
            (
                batch.code,
                batch.name,
                BatchKind(batch.kind).label,
                batch.held_on,
                total.projects,
                sum(counts[s] for s in STARTED_OR_LATER),
                sum(counts[s] for s in COMPLETED_OR_LATER),
                total.investment_wan,
                total.area_mu,
                total.sewer_km,
                total.capacity_kt_d,
            )
        )
    headers = (
        "批次编号",
        "批次名称",
        "类型",
        "举行日期",
        "项目数（个）",
        "已开工（个）",
        "已完工（个）",
        "总投资（万元）",
        "面积（亩）",
        "污水管网（公里）",
        "处理能力（万吨/日）",
    )
    filters = [["批次类型", kind.label if kind else "全部"]]
    note = "开工、完工按导出时项目的当前状态计。"
    return PageTable("批次", headers, rows, filters, note)


def ranking_table(session: Session, actor: Actor, params: Params) -> PageTable:
    """The towns' ranking of ``/ranking``: ``period`` (required: the period the page
    shows) and ``campaign`` (empty: overall), the score of the year the period ends in
    as of its last day (``campaign.scoring.standings``), with each score's items."""
    given = _given(params, ("period", "campaign"))
    if "period" not in given:
        raise Invalid("请选择时段", [Problem("时段如 2023-01 或 2023-W05", column="period")])
    period = parse_period(given["period"])
    campaign = (
        Campaign(_choice(Campaign, "campaign", given["campaign"])) if "campaign" in given else None
    )
    board, _ = standings(
        session, actor=actor, year=period.end.year, campaign=campaign, as_of=period.end
    )
    rows = [
        (
            row.rank,
            row.town.name,
            row.town.code,
            row.score,
            row.completion_pct,
            row.overdue_projects,
            YES if row.committed else NO,
            "；".join(
                f"{item.campaign.label}·{item.title}：{item.points}分（{item.explanation}）"
                for item in row.items
            ),
        )
        for row in board.rows
    ]
    headers = (
        "排名",
        "镇街",
        "镇街代码",
        "得分（分）",
        "承诺完成率（%）",
        "逾期项目（个）",
        "已签承诺书",
        "得分明细",
    )
    filters = [
        ["时段", period_text(period)],
        ["年度", str(board.year)],
        ["排名", SCOPE_LABELS.get(board.campaign, board.campaign)],
        ["截至日期", board.as_of.isoformat()],
    ]
    return PageTable("镇街排名", headers, rows, filters)


def audit_table(session: Session, actor: Actor, params: Params) -> PageTable:
    """The audit log of ``/audit`` (auditor and admin; others are refused, 403, logged),
    newest first, with its filters ``user``, ``resource``, ``record``, ``action``,
    ``outcome``, ``from`` and ``to`` (``audit.services.list_entries``)."""
    given = _given(params, ("user", "resource", "record", "action", "outcome", "from", "to"))
    outcome = given.get("outcome")
    filters = AuditFilters(
        actor=given.get("user"),
        resource=given.get("resource"),
        record_id=given.get("record"),
        action=given.get("action"),
        outcome=outcome if outcome in ("ok", "refused") else None,
        since=_day(given.get("from"), "from"),
        until=_day(given.get("to"), "to"),
    )
    total, entries = list_entries(
        session, actor=actor, limit=EXPORT_ROWS_MAX, offset=0, filters=filters
    )
    towns = dict(session.execute(select(Town.id, Town.name)).tuples().all())
    rows = [
        (
            entry.seq,
            _city_time(entry.at),
            entry.actor,
            Role(entry.role).label if entry.role in Role.values() else entry.role,
            entry.action,
            "拒绝" if entry.outcome == "refused" else "成功",
            RESOURCE_LABELS.get(entry.resource, entry.resource),
            entry.record_id,
            towns.get(entry.town_id) if entry.town_id is not None else None,
            entry.detail,
            entry.hash,
        )
        for entry in entries
    ]
    headers = (
        "序号",
        "时间（中山时间）",
        "用户",
        "角色",
        "操作",
        "结果",
        "记录类型",
        "记录编号",
        "镇街",
        "说明",
        "哈希",
    )
    words = [
        ["用户", filters.actor or "全部"],
        [
            "记录类型",
            RESOURCE_LABELS.get(filters.resource, filters.resource) if filters.resource else "全部",
        ],
        ["记录编号", filters.record_id or "全部"],
        ["操作", filters.action or "全部"],
        ["结果", {"ok": "成功", "refused": "拒绝"}.get(filters.outcome or "", "全部")],
        ["起始日期", filters.since.isoformat() if filters.since else "不限"],
        ["截止日期", filters.until.isoformat() if filters.until else "不限"],
    ]
    note = f"共 {total} 条，仅导出最新的 {EXPORT_ROWS_MAX} 条。" if total > len(rows) else None
    return PageTable("审计日志", headers, rows, words, note)


def cluster_table(session: Session, actor: Actor, params: Params) -> PageTable:
    """The contiguous clusters of ``/clusters``: ``town`` (a town user: their own),
    ``gap_m`` (0 to 500 m) and ``flagged=1``, a row per parcel of each cluster, largest
    cluster first (``renewal.services.cluster_views``)."""
    given = _given(params, ("town", "gap_m", "flagged"))
    town = scoped_town(session, actor, PARCELS.resource, given.get("town"))
    try:
        gap_m = float(given.get("gap_m", "0"))
    except ValueError:
        gap_m = -1.0
    if not 0 <= gap_m <= CLUSTER_GAP_MAX_M:
        raise Invalid(
            "筛选条件“gap_m”的取值无效",
            [Problem(f"间距为 0 至 {CLUSTER_GAP_MAX_M} 米", column="gap_m", value=given["gap_m"])],
        )
    flagged = _flag(given.get("flagged"))
    found, undrawn = cluster_views(
        session,
        actor=actor,
        town_id=town.id if town else None,
        gap_m=gap_m,
        flagged_only=flagged,
    )
    rows = [
        (
            view.cluster.cluster_id,
            view.cluster.area_mu,
            YES if view.cluster.flagged else NO,
            parcel.code,
            parcel.name,
            parcel.town,
            parcel.park,
            parcel.area_mu,
            parcel.state.label if parcel.state else None,
        )
        for view in found
        for parcel in view.parcels
    ]
    headers = (
        "连片编号",
        "连片面积（亩）",
        "达到连片标准",
        "地块编号",
        "地块名称",
        "镇街",
        "园区",
        "地块面积（亩）",
        "改造状态",
    )
    filters = [
        ["镇街", town.name if town else "全部镇街"],
        ["相邻间距（米）", f"{gap_m:g}"],
        ["范围", "达到连片标准的" if flagged else "全部连片"],
        ["连片数", str(len(found))],
    ]
    note = f"{undrawn} 个地块没有几何图形，未参与连片计算。" if undrawn else None
    return PageTable("连片改造", headers, rows, filters, note)


def complaint_table(session: Session, actor: Actor, params: Params) -> PageTable:
    """The complaints from the public: ``town`` (the town a complaint concerns; a town
    user: their own), ``category``, ``open=1`` (not yet closed), ``from`` and ``to``
    (days received, city time), newest first. The complainant's name and phone only on
    the rows whose personal data the user may see (the city; a town, its own town's
    complaints: ``complaint_contact``)."""
    given = _given(params, ("town", "category", "open", "from", "to"))
    town = scoped_town(session, actor, "complaint", given.get("town"))
    category = (
        ComplaintCategory(_choice(ComplaintCategory, "category", given["category"]))
        if "category" in given
        else None
    )
    only_open = _flag(given.get("open"))
    since, until = _day(given.get("from"), "from"), _day(given.get("to"), "to")
    stmt = restrict(
        session,
        actor,
        select(Complaint, River.code, River.name, Town.name)
        .join(River, River.id == Complaint.river_id)
        .join(Town, Town.id == Complaint.town_id)
        .order_by(Complaint.received_at.desc(), Complaint.id.desc()),
        "complaint",
    )
    zone = city_zone()
    if town is not None:
        stmt = stmt.where(Complaint.town_id == town.id)
    if category is not None:
        stmt = stmt.where(Complaint.category == category.value)
    if only_open:
        stmt = stmt.where(Complaint.closed_at.is_(None))
    if since is not None:
        stmt = stmt.where(Complaint.received_at >= dt.datetime.combine(since, dt.time(), zone))
    if until is not None:
        next_day = until + dt.timedelta(days=1)
        stmt = stmt.where(Complaint.received_at < dt.datetime.combine(next_day, dt.time(), zone))
    rows = []
    hidden = 0
    for complaint, river_code, river_name, town_name in session.execute(
        stmt.limit(EXPORT_ROWS_MAX)
    ).tuples():
        personal = allowed(actor, Action.view, "complaint_contact", complaint.town_id)
        hidden += not personal
        rows.append(
            (
                complaint.receipt_no,
                _city_time(complaint.received_at),
                river_code,
                river_name,
                town_name,
                ComplaintCategory(complaint.category).label,
                complaint.description,
                _city_time(complaint.closed_at),
                complaint.complainant_name if personal else None,
                complaint.complainant_phone if personal else None,
            )
        )
    headers = (
        "回执号",
        "收到时间（中山时间）",
        "河涌编号",
        "河涌",
        "所涉镇街",
        "投诉类别",
        "问题描述",
        "办结时间（中山时间）",
        "投诉人姓名",
        "投诉人电话",
    )
    filters = [
        ["镇街", town.name if town else "全部镇街"],
        ["投诉类别", category.label if category else "全部"],
        ["范围", "未办结" if only_open else "全部"],
        ["起始日期", since.isoformat() if since else "不限"],
        ["截止日期", until.isoformat() if until else "不限"],
    ]
    note = (
        f"{hidden} 条投诉的投诉人个人信息无权查看，姓名和电话留空"
        "（可查看者：市攻坚办和投诉所涉镇街）。"
        if hidden
        else None
    )
    return PageTable("群众投诉", headers, rows, filters, note)


PAGE_TABLES: dict[str, Callable[[Session, Actor, Params], PageTable]] = {
    "batches": batch_table,
    "ranking": ranking_table,
    "audit": audit_table,
    "clusters": cluster_table,
    "complaints": complaint_table,
}
"""The list pages that are not task lists, by the kind of ``/exports/{kind}``."""


def export_kinds() -> list[str]:
    """Every kind ``/exports/{kind}`` serves: the task lists, then the other list pages."""
    return [*LISTS, *PAGE_TABLES]


def export_page(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    params: Params,
    target: IO[bytes],
    file_kind: FileKind = FileKind.xlsx,
) -> tuple[str, int]:
    """Write what list page ``kind`` shows with the filters in ``params`` (its query
    string) to ``target`` as .xlsx (the data, then 筛选条件; a task list's instructions
    after) or CSV; a town user's export is limited to their town. Audited (``export``).
    Return the file's name (without suffix) and how many rows. ``NotFound`` names the
    kinds there are."""
    if kind in LISTS:
        filters = town_scoped(
            session,
            actor=actor,
            filters=parse_filters(kind, params),
            resource=list_kind(kind).resource,
        )
        rows = export_list(
            session, actor=actor, name=kind, target=target, kind=file_kind, filters=filters
        )
        return f"{list_kind(kind).label}清单", rows
    table_of = PAGE_TABLES.get(kind)
    if table_of is None:
        raise NotFound(f"没有“{kind}”这种清单，可导出：{'、'.join(export_kinds())}")
    table = table_of(session, actor, params)
    lines = [
        [f"{table.label}导出：筛选条件"],
        ["清单", table.label],
        *table.filters,
        *_exported_lines(actor, len(table.rows)),
        *([["注", table.note]] if table.note else []),
    ]
    layout = Layout(
        sheet=table.label,
        headers=table.headers,
        widths=[],
        choices={},
        notes_sheet=FILTERS_SHEET,
        notes=[],
        extra=[Sheet(FILTERS_SHEET, lines)],
    )
    _write(target, file_kind, layout, table.rows)
    audit_export(session, actor=actor, kind=kind, filters=lines, rows=len(table.rows))
    return table.label, len(table.rows)
