"""Batches: concentrated start (集中开工) and concentrated demolition (集中拆除) events,
each grouping projects, reported with the figures of the projects they hold.

A batch is a city-wide record: the city adds it and adds or removes its projects (a
town's attempt is 403 and logged); everyone who reads projects reads batches. A
concentrated demolition holds demolition projects only (``rules.BATCH_KINDS``). Its
figures are computed from its projects whenever it is read, never stored: how many,
their investment (sum of ``budget_wan``, 万元), ``area_mu``, ``sewer_km`` and
``capacity_kt_d``, per campaign and in total.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, town_scope
from gongjian.campaign.choices import BatchKind, ProjectState
from gongjian.campaign.models import Batch, Project, batch_projects
from gongjian.campaign.rules import BatchFigures, batch_figures, batch_refusal
from gongjian.checks import text_problems
from gongjian.errors import Conflict, Invalid, Problem
from gongjian.records import CityWideKind, add_record, list_records, narrowed, read_record
from gongjian.towns.models import Town

BATCHES = CityWideKind(Batch, "batch", "")
CODE_MAX = 30
NAME_MAX = 120


@dataclass(frozen=True)
class BatchSummary:
    """A batch and its figures."""

    batch: Batch
    figures: BatchFigures


@dataclass(frozen=True)
class BatchDetail(BatchSummary):
    """A batch, its figures and its projects (by code)."""

    projects: list[Project]


def _figures(session: Session, batch_ids: list[int]) -> dict[int, BatchFigures]:
    """The figures of each of ``batch_ids``, from one query over their projects."""
    members: dict[int, list[Any]] = defaultdict(list)
    if batch_ids:
        for row in session.execute(
            select(
                batch_projects.c.batch_id,
                Project.campaign,
                Project.budget_wan,
                Project.area_mu,
                Project.sewer_km,
                Project.capacity_kt_d,
            )
            .join(Project, Project.id == batch_projects.c.project_id)
            .where(batch_projects.c.batch_id.in_(batch_ids))
        ):
            members[row.batch_id].append(row)
    return {batch_id: batch_figures(members[batch_id]) for batch_id in batch_ids}


def _members(session: Session, batch: Batch) -> list[Project]:
    return list(
        session.scalars(
            select(Project)
            .join(batch_projects, batch_projects.c.project_id == Project.id)
            .where(batch_projects.c.batch_id == batch.id)
            .order_by(Project.code)
        )
    )


def _detail(session: Session, batch: Batch) -> BatchDetail:
    return BatchDetail(batch, _figures(session, [batch.id])[batch.id], _members(session, batch))


def list_batches(
    session: Session,
    *,
    actor: Actor,
    kind: BatchKind | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[BatchSummary]]:
    """A page of batches (by code), of one kind when given, with their figures, in two
    queries whatever the page holds."""
    criteria = [Batch.kind == BatchKind(kind).value] if kind is not None else []
    total, rows = list_records(
        session, narrowed(BATCHES, *criteria), actor=actor, town_id=None, limit=limit, offset=offset
    )
    figures = _figures(session, [batch.id for batch in rows])
    return total, [BatchSummary(batch, figures[batch.id]) for batch in rows]


def get_batch(session: Session, *, actor: Actor, code: str) -> BatchDetail:
    """The batch ``code`` with its figures and projects (404 when there is none)."""
    return _detail(session, read_record(session, BATCHES, actor=actor, code=code))


def _projects(session: Session, codes: Sequence[str]) -> list[Project]:
    """The projects ``codes`` name, each once, in the order given; ``Invalid`` naming
    every code that is unknown, or when none is given."""
    wanted = list(dict.fromkeys(code.strip() for code in codes if code.strip()))
    if not wanted:
        raise Invalid("没有给出项目", [Problem("请给出至少一个项目编号", column="projects")])
    by_code = {
        project.code: project
        for project in session.scalars(select(Project).where(Project.code.in_(wanted)))
    }
    missing = [code for code in wanted if code not in by_code]
    if missing:
        raise Invalid(
            "项目编号有误",
            [
                Problem(f"没有编号为“{code}”的项目", column="projects", value=code)
                for code in missing
            ],
        )
    return [by_code[code] for code in wanted]


def _check_kinds(batch: Batch, projects: Sequence[Project]) -> None:
    """``Conflict`` naming every project the batch's kind may not hold."""
    refusals = [
        why
        for project in projects
        if (why := batch_refusal(BatchKind(batch.kind), project.code, project.kind)) is not None
    ]
    if refusals:
        raise Conflict(f"批次“{batch.code}”不能加入这些项目：" + "；".join(refusals))


def _audit(
    session: Session,
    *,
    actor: Actor,
    batch: Batch,
    before: list[str],
    after: list[str],
    detail: str,
) -> None:
    record(
        session,
        actor=actor,
        action=Action.change.value,
        resource=BATCHES.resource,
        record_id=batch.code,
        before={"projects": before},
        after={"projects": after},
        detail=detail,
    )


def add_batch(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    kind: BatchKind,
    held_on: dt.date,
    projects: Sequence[str] = (),
) -> BatchDetail:
    """Add a batch held on ``held_on`` (the city only), holding ``projects`` (codes) when
    given, under the same checks as ``attach_projects``; a code already used is a
    ``Conflict``."""
    authorize(session, actor, Action.add, BATCHES.resource, record_id=code)
    kind = BatchKind(kind)
    problems = text_problems(
        code, column="code", label="批次编号", max_length=CODE_MAX, required=True
    )
    problems += text_problems(
        name, column="name", label="批次名称", max_length=NAME_MAX, required=True
    )
    if problems:
        raise Invalid(f"批次“{code}”的信息有误，未添加", problems)
    batch = Batch(code=code.strip(), name=name.strip(), kind=kind, held_on=held_on)
    members = _projects(session, projects) if projects else []
    _check_kinds(batch, members)
    detail = f"添加{kind.label}批次 {batch.code}（{held_on}）"
    if members:
        detail += f"，项目 {len(members)} 个：{'、'.join(p.code for p in members)}"
    add_record(session, BATCHES, actor=actor, obj=batch, detail=detail)
    if members:
        session.execute(
            batch_projects.insert(),
            [{"batch_id": batch.id, "project_id": project.id} for project in members],
        )
        session.flush()
    return _detail(session, batch)


def _writable(session: Session, actor: Actor, code: str) -> Batch:
    """The batch ``code`` if ``actor`` may change it (the city): 403 (logged) otherwise,
    404 when there is no such batch."""
    authorize(session, actor, Action.change, BATCHES.resource, record_id=code)
    return read_record(session, BATCHES, actor=actor, code=code)


def attach_projects(
    session: Session, *, actor: Actor, code: str, projects: Sequence[str]
) -> BatchDetail:
    """Add ``projects`` (codes) to the batch ``code`` (the city only), audited with the
    batch's projects before and after. ``Invalid`` for an unknown code; ``Conflict`` for
    a project already in the batch or of a kind the batch may not hold."""
    batch = _writable(session, actor, code)
    adding = _projects(session, projects)
    current = _members(session, batch)
    held = {project.id for project in current}
    already = [project.code for project in adding if project.id in held]
    if already:
        raise Conflict(f"项目已在批次“{batch.code}”中：{'、'.join(already)}")
    _check_kinds(batch, adding)
    session.execute(
        batch_projects.insert(),
        [{"batch_id": batch.id, "project_id": project.id} for project in adding],
    )
    session.flush()
    before = [project.code for project in current]
    _audit(
        session,
        actor=actor,
        batch=batch,
        before=before,
        after=sorted(before + [project.code for project in adding]),
        detail=f"加入项目：{'、'.join(project.code for project in adding)}",
    )
    return _detail(session, batch)


def detach_projects(
    session: Session, *, actor: Actor, code: str, projects: Sequence[str]
) -> BatchDetail:
    """Remove ``projects`` (codes) from the batch ``code`` (the city only), audited with
    the batch's projects before and after. ``Invalid`` for an unknown code; ``Conflict``
    for a project not in the batch."""
    batch = _writable(session, actor, code)
    removing = _projects(session, projects)
    current = _members(session, batch)
    held = {project.id for project in current}
    outside = [project.code for project in removing if project.id not in held]
    if outside:
        raise Conflict(f"项目不在批次“{batch.code}”中：{'、'.join(outside)}")
    session.execute(
        batch_projects.delete().where(
            batch_projects.c.batch_id == batch.id,
            batch_projects.c.project_id.in_([project.id for project in removing]),
        )
    )
    session.flush()
    gone = {project.id for project in removing}
    _audit(
        session,
        actor=actor,
        batch=batch,
        before=[project.code for project in current],
        after=[project.code for project in current if project.id not in gone],
        detail=f"移出项目：{'、'.join(project.code for project in removing)}",
    )
    return _detail(session, batch)


# --- What the dashboard's pages read ----------------------------------------------------


def batch_states(session: Session, batch_ids: list[int]) -> dict[int, dict[ProjectState, int]]:
    """How many of each batch's projects are in each state now (every state present,
    in order), from one query: a batch's progress."""
    counts: dict[int, dict[ProjectState, int]] = {
        batch_id: dict.fromkeys(ProjectState, 0) for batch_id in batch_ids
    }
    if batch_ids:
        for batch_id, state, count in session.execute(
            select(batch_projects.c.batch_id, Project.state, func.count())
            .join(Project, Project.id == batch_projects.c.project_id)
            .where(batch_projects.c.batch_id.in_(batch_ids))
            .group_by(batch_projects.c.batch_id, Project.state)
        ):
            counts[batch_id][ProjectState(state)] = count
    return counts


@dataclass(frozen=True)
class BatchView:
    """What a batch's page shows: the batch and its figures, its progress (projects by
    state), and its projects with their towns' names, of the actor's own town only for a
    town user (``town_scoped``)."""

    detail: BatchDetail
    states: dict[ProjectState, int]
    projects: list[tuple[Project, str]]
    town_scoped: bool


def batch_view(session: Session, *, actor: Actor, code: str) -> BatchView:
    """The batch ``code`` as its page shows it (404 when there is none): its figures and
    progress are the whole batch's; its projects, for a town user, their town's only."""
    detail = get_batch(session, actor=actor, code=code)
    scope = town_scope(actor)
    towns = dict(session.execute(select(Town.id, Town.name)).tuples().all())
    shown = [p for p in detail.projects if scope is None or p.town_id == scope]
    return BatchView(
        detail=detail,
        states=batch_states(session, [detail.batch.id])[detail.batch.id],
        projects=[(project, towns[project.town_id]) for project in shown],
        town_scoped=scope is not None,
    )
