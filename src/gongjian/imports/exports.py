"""Task lists (清单) out of the platform: empty templates and exports of stored records,
as .xlsx (the template's layout: headers, frozen header row, drop-downs, instructions)
or CSV (UTF-8 with a BOM, the same headers). Texts that a spreadsheet would take for
formulas are neutralised (see ``excel``), so an export can be edited and imported back:
unchanged rows change nothing.

An export from a list page (``/exports/{kind}``) takes the page's filters
(``ListFilters``, read by ``parse_filters``): the rows are those the page lists, and the
workbook's second sheet, 筛选条件, records the filters, the count, who exported and when,
above the instructions. States, grades and the baseline are read as of the filters'
``as_of`` (default today); the exported values are the records' current ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action, Role
from gongjian.auth.permissions import refuse
from gongjian.campaign.choices import Campaign, ProjectKind, ProjectState
from gongjian.campaign.models import Batch, Project, ProjectStateChange, batch_projects
from gongjian.campaign.projects import overdue_projects
from gongjian.choices import LabeledChoice
from gongjian.db import utcnow
from gongjian.errors import Invalid, Problem
from gongjian.imports.excel import FileKind, write_csv, write_xlsx
from gongjian.imports.tasklists import list_kind
from gongjian.kpi.services import state_as_of
from gongjian.periods import city_zone, parse_as_of, today
from gongjian.renewal.choices import EnterpriseKind, RenewalState
from gongjian.renewal.models import Enterprise, Parcel, ParcelStateChange
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.latest import latest_baseline_id, latest_grades
from gongjian.water.models import BaselineMember, River, RiverStateChange


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
    if filters is not None:
        codes = matching_codes(session, actor=actor, name=name, filters=filters)
        if codes is not None:
            position = [column.field for column in importer.columns].index("code")
            rows = [row for row in rows if row[position] in codes]
        layout = dataclasses.replace(
            layout,
            notes_sheet=FILTERS_SHEET,
            notes=[*filter_sheet(session, actor, name, filters, len(rows)), *layout.notes],
        )
    if kind is FileKind.xlsx:
        write_xlsx(target, layout, rows)
    else:
        wrapper = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
        write_csv(wrapper, [c.header for c in importer.columns], rows)
        wrapper.flush()
        wrapper.detach()
    return len(rows)


# --- exports of what a list page shows --------------------------------------------------

FILTERS_SHEET = "筛选条件"
"""The second sheet of a list page's export: its filters, then the instructions."""

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
    a state reached or passed, a grade, the baseline's bodies only, a kind, a campaign,
    signed only, overdue only, a batch (code), and the day they are read on."""

    town: str | None = None
    states: tuple[str, ...] = ()
    reached: str | None = None
    grade: str | None = None
    baseline: bool = False
    kind: str | None = None
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
    kind = one("kind")
    campaign = one("campaign")
    as_of = one("as_of")
    return ListFilters(
        town=one("town"),
        states=tuple(_choice(states, "state", v) for v in given.get("state", [])) if states else (),
        reached=_choice(states, "reached", reached) if states and reached else None,
        grade=_choice(Grade, "grade", grade) if grade else None,
        baseline=(one("baseline") or "").lower() in _TRUE,
        kind=_choice(kinds, "kind", kind) if kinds and kind else None,
        campaign=_choice(Campaign, "campaign", campaign) if campaign else None,
        signed=(one("signed") or "").lower() in _TRUE,
        overdue=(one("overdue") or "").lower() in _TRUE,
        batch=one("batch"),
        as_of=parse_as_of(as_of) if as_of else None,
    )


def town_scoped(session: Session, *, actor: Actor, filters: ListFilters) -> ListFilters:
    """``filters`` limited to a town user's own town: a town user exports their town's
    records only (asking for another town is refused, 403, logged); others as given."""
    if actor.role is not Role.town or actor.town_id is None:
        return filters
    if filters.town and find_town(session, filters.town).id != actor.town_id:
        refuse(
            session,
            actor,
            Action.view,
            "town",
            f"镇街用户只能导出本镇街的记录，不能导出“{filters.town}”的清单",
            town_id=actor.town_id,
            record_id=filters.town,
        )
    own = session.get_one(Town, actor.town_id)
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
    elif name == "enterprises" and (f.kind or f.signed):
        stmt = select(Enterprise.code)
        if f.kind:
            stmt = stmt.where(Enterprise.kind == f.kind)
        if f.signed:
            stmt = stmt.where(Enterprise.agreement_signed_on <= f.day)
    elif name == "projects" and (
        f.states or f.reached or f.kind or f.campaign or f.overdue or f.batch
    ):
        stmt = _state_filter(
            select(Project.code),
            Project.id,
            ProjectStateChange,
            ProjectStateChange.project_id,
            ProjectState,
            f,
        )
        if f.kind:
            stmt = stmt.where(Project.kind == f.kind)
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
    words, the count, who exported and when, a note on dates; a blank line before the
    instructions."""
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
    if f.kind:
        lines.append(["类型", _KINDS[name](f.kind).label])
    if f.campaign:
        lines.append(["所属攻坚", Campaign(f.campaign).label])
    if f.signed:
        lines.append(["范围", "已签约"])
    if f.overdue:
        lines.append(["范围", "逾期项目"])
    if f.batch:
        lines.append(["批次", f.batch])
    lines.append(["截至日期", f.day.isoformat()])
    exported = utcnow().astimezone(city_zone())
    lines += [
        ["记录数", str(count)],
        ["导出人", f"{actor.username}（{Role(actor.role).label}）"],
        ["导出时间", f"{exported:%Y-%m-%d %H:%M:%S}"],
        ["注", "状态、等级、签约、逾期按截至日期判断；表中各列为导出时的当前值。"],
        [],
    ]
    return lines
