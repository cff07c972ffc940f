"""The one permission mechanism: named actions on named resources, decided in one place.

``allowed`` answers whether an actor may take an action on a resource (of a town);
``authorize`` raises ``Forbidden`` (and writes the refusal to the audit log) when not;
``restrict`` filters a query to what the actor may see. Routes and services call these
and never test roles themselves.
"""

from __future__ import annotations

from typing import Any, NoReturn

from sqlalchemy import Select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import WRITE_ACTIONS, Action, Role
from gongjian.errors import Forbidden
from gongjian.towns.models import Town
from gongjian.towns.services import find_town

#: Resources whose label a refusal message names.
RESOURCE_LABELS: dict[str, str] = {
    "audit_entry": "审计日志",
    "user": "用户账号",
    "complaint_contact": "投诉人个人信息",
    "town": "镇街",
    "river": "河涌",
    "monitoring_point": "检测点",
    "sample": "监测数据",
    "grade": "黑臭等级",
    "baseline": "央督基线",
    "river_plan": "一河一策",
    "complaint": "群众投诉",
    "complaint_intake": "代为登记的群众投诉",
    "park": "低效工业园",
    "parcel": "地块",
    "theme_park": "主题产业园",
    "enterprise": "企业",
    "lease": "租赁",
    "reserve_entry": "收储台账",
    "project": "项目",
    "batch": "集中开工/拆除批次",
    "commitment": "承诺书",
    "cadre": "干部",
    "dispatch": "下派",
    "briefing": "通报",
    "commendation": "表扬",
    "kpi": "核心指标",
    "import": "导入记录",
    "station_token": "监测站令牌",
    "river_survey": "满意度调查",
    "assessment": "黑臭评价",
    "score_adjustment": "加减分",
}

#: Readable only by the roles listed (admin reads everything).
SENSITIVE: dict[str, frozenset[Role]] = {
    "audit_entry": frozenset({Role.auditor}),
    "user": frozenset(),
}

#: What the public may read (rows further filtered to what is published).
PUBLIC_VIEW = frozenset({"kpi", "town", "river", "briefing"})
#: What the public may submit: the portal's complaint form. (A complaint the city or a
#: town takes by telephone, letter or visit is a ``complaint_intake``: not the public's.)
PUBLIC_ADD = frozenset({"complaint"})
#: Records the city writes for the whole city; a town may not write them.
CITY_ONLY = frozenset(
    {
        "town",
        "baseline",
        "theme_park",
        "batch",
        "cadre",
        "dispatch",
        "commendation",
        "score_adjustment",
        "briefing",
        "station_token",
        "assessment",
    }
)
#: What a monitoring station may do: add samples (for its own points only, which the
#: ingestion checks with ``authorize_points``).
STATION_ADD = frozenset({"sample"})


def allowed(actor: Actor, action: Action, resource: str, town_id: int | None = None) -> bool:
    """Whether ``actor`` may take ``action`` on ``resource`` belonging to ``town_id``.

    ``town_id`` is the town of the record (for a river, its lead town; for a
    complaint's personal data, the town the complaint concerns); ``None`` for
    city-wide records.
    """
    role = actor.role
    if role is Role.admin:
        return True
    if resource in SENSITIVE:
        return action is Action.view and role in SENSITIVE[resource]
    if resource == "complaint_contact":
        return action is Action.view and (
            role is Role.city or (role is Role.town and town_id == actor.town_id)
        )
    if role is Role.station:
        return action is Action.add and resource in STATION_ADD
    if role is Role.public:
        return (action is Action.view and resource in PUBLIC_VIEW) or (
            action is Action.add and resource in PUBLIC_ADD
        )
    if action is Action.view:
        return True
    if role is Role.auditor:
        return False
    if role is Role.city:
        return True
    if action in WRITE_ACTIONS:
        return resource not in CITY_ONLY and town_id is not None and town_id == actor.town_id
    return False


def refusal_message(actor: Actor, action: Action, resource: str) -> str:
    """Why an action was refused, and which role may take it."""
    what = f"{action.label}{RESOURCE_LABELS.get(resource, resource)}"
    if resource == "audit_entry":
        who = "审计监督、平台管理员"
    elif resource == "user":
        who = "平台管理员"
    elif resource == "complaint_contact":
        who = "市攻坚办和投诉所涉镇街"
    elif action in (Action.approve, Action.publish) or resource in CITY_ONLY:
        who = "市攻坚办"
    elif actor.role is Role.town and action in WRITE_ACTIONS:
        who = "本镇街用户和市攻坚办（镇街用户只能修改本镇街的记录）"
    else:
        who = "市攻坚办、镇街（本镇街）"
    return f"无权{what}：{Role(actor.role).label}不能执行此操作，可执行者：{who}"


def authorize(
    session: Session,
    actor: Actor,
    action: Action,
    resource: str,
    *,
    town_id: int | None = None,
    record_id: object = None,
) -> None:
    """Raise ``Forbidden`` unless ``allowed``; a refusal is written to the audit log.

    The refusal is committed on its own: anything the session held so far is rolled
    back first, since the operation it belonged to is refused.
    """
    if allowed(actor, action, resource, town_id):
        return
    refuse(
        session,
        actor,
        action,
        resource,
        refusal_message(actor, action, resource),
        town_id=town_id,
        record_id=record_id,
    )


def authorize_some(
    session: Session, actor: Actor, action: Action, resource: str, *, record_id: object = None
) -> None:
    """Raise ``Forbidden`` (logged) unless ``actor`` may take ``action`` on some record of
    ``resource`` (for a town user, one of its own town's), before the record is looked
    up: the public and auditors hear "no", never "not found". The record's own town is
    checked with ``authorize`` once it is known."""
    authorize(session, actor, action, resource, town_id=actor.town_id, record_id=record_id)


def refuse(
    session: Session,
    actor: Actor,
    action: Action,
    resource: str,
    message: str,
    *,
    town_id: int | None = None,
    record_id: object = None,
) -> NoReturn:
    """Write a refused attempt to the audit log, committed on its own, and raise
    ``Forbidden``. Anything the session held so far is rolled back first, since the
    operation it belonged to is refused."""
    session.rollback()
    record(
        session,
        actor=actor,
        action=action.value,
        resource=resource,
        record_id=None if record_id is None else str(record_id),
        town_id=town_id,
        outcome="refused",
        detail=message,
    )
    session.commit()
    raise Forbidden(message)


def authorize_points(session: Session, actor: Actor, points: dict[int, tuple[str, int]]) -> None:
    """Samples may be added only for points the actor answers for: a monitoring station
    for the points of its token, a town for the points on its rivers (by lead town), the
    city for all. ``points`` maps each point written to ``(code, town id of its river)``."""
    if actor.role is Role.station:
        outside = sorted(code for pid, (code, _town) in points.items() if pid not in actor.points)
    elif actor.role is Role.town:
        outside = sorted(code for code, town_id in points.values() if town_id != actor.town_id)
    else:
        return
    if outside:
        shown = "、".join(outside[:20]) + ("等" if len(outside) > 20 else "")
        refuse(
            session,
            actor,
            Action.add,
            "sample",
            f"“{actor.username}”无权报送这些检测点的数据：{shown}",
        )


def restrict(session: Session, actor: Actor, stmt: Select[Any], resource: str) -> Select[Any]:
    """``stmt`` limited to the rows of ``resource`` that ``actor`` may see.

    Raises ``Forbidden`` (logged) when the actor may see none of that resource. The
    public sees only published rivers and briefings.
    """
    authorize(session, actor, Action.view, resource)
    if actor.role is Role.public:
        entity = stmt.column_descriptions[0]["entity"]
        if resource == "river":
            stmt = stmt.where(entity.published)
        elif resource == "briefing":
            stmt = stmt.where(entity.published_at.is_not(None))
    return stmt


# --- the dashboard's town scope ---------------------------------------------------------


def town_scope(actor: Actor) -> int | None:
    """The town whose records the dashboard's pages show ``actor``: a town user's own
    (a town user sees their town's records and the city's summaries only); ``None``,
    every town, for the city, the auditor and the admin."""
    return actor.town_id if actor.role is Role.town else None


def authorize_town_view(
    session: Session,
    actor: Actor,
    resource: str,
    *,
    town_id: int | None,
    record_id: object = None,
) -> None:
    """Raise ``Forbidden`` (logged) when a page would show ``actor`` a record of
    ``resource`` outside its ``town_scope``: another town's record, or a city-wide one
    (``town_id`` ``None``, such as the dispatch of cadres)."""
    scope = town_scope(actor)
    if scope is None or town_id == scope:
        return
    what = RESOURCE_LABELS.get(resource, resource)
    whose = "全市" if town_id is None else "其他镇街"
    refuse(
        session,
        actor,
        Action.view,
        resource,
        f"无权查看{whose}的{what}：镇街用户只能查看本镇街的记录和全市汇总，"
        "可查看者：市攻坚办、审计监督、平台管理员",
        town_id=town_id,
        record_id=record_id,
    )


def scoped_town(session: Session, actor: Actor, resource: str, town: str | None) -> Town | None:
    """The town a list of ``resource`` is narrowed to: the one asked for (name or code;
    ``NotFound`` when there is none), else a town user's own; ``None`` for every town.
    A town user asking for another town is refused (403, logged)."""
    found = find_town(session, town) if town else None
    scope = town_scope(actor)
    if scope is None:
        return found
    if found is not None:
        authorize_town_view(session, actor, resource, town_id=found.id, record_id=found.code)
        return found
    return session.get(Town, scope)
