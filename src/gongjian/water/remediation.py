"""The remediation of a river, as a state machine with dated, audited transitions.

A river moves forward one state at a time: 列入清单 (listed) → 进场 (entered) → 完工
(completed) → 评估通过 (evaluated) → 长治久清 (sustained). Each move is dated (a day in
the city's time zone, never in the future, never before the river's previous change),
written to the river's history and to the audit log, and sets
``River.remediation_state``.

Two moves need evidence, because a river is only as clean as its data say:

- **评估通过** needs the river's last ``evaluation_clean_periods`` consecutive months of
  current point grades, the latest one the last month graded that ended on or before
  the day, each with enough graded points (the rules file's ``min_graded_points``:
  insufficient data is not evidence) and no point graded mild or severe; and a public
  survey on or before the day with at least ``evaluation_min_questionnaires`` valid
  questionnaires of which at least ``evaluation_min_satisfied_pct`` % were satisfied
  (compared exactly, in integers).
- **长治久清** needs the river evaluated at least ``sustained_after_days`` days before,
  no point graded mild or severe in any period since, and its latest months clean in
  the same way as for evaluation.

A river that turns black again after evaluation (返黑返臭) goes back to 进场: the
assessment that finds it calls ``detect_relapses``. The city may correct a mistaken
state (``correct_state``): the correction is a change of its own, and the mistake
stays in the history.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import allowed, authorize, authorize_some, refuse
from gongjian.config import get_settings
from gongjian.errors import Conflict, Invalid, NotFound, Problem
from gongjian.periods import Period, parse_period, today
from gongjian.records import check_version, read_record, write_added
from gongjian.states import day_problems, move_detail, refused_move, write_change
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.models import (
    Assessment,
    MonitoringPoint,
    PointGrade,
    River,
    RiverStateChange,
    RiverSurvey,
)
from gongjian.water.rules import load_rules
from gongjian.water.services import RIVERS

ORDER: tuple[RemediationState, ...] = tuple(RemediationState)
"""The remediation states in the order a river passes through them."""
CLEAN_STATES = (RemediationState.evaluated, RemediationState.sustained)
"""States that say a river is clean; a black grade in them is a relapse."""
BLACK = (Grade.mild, Grade.severe)
MONTH = re.compile(r"^\d{4}-\d{2}$")
REASON_MAX = 500
"""Longest reason a state change holds (characters)."""
PCT_PLACES = Decimal("0.01")


def next_states(state: RemediationState) -> tuple[RemediationState, ...]:
    """The states a river in ``state`` may move forward to: the next one in ``ORDER``."""
    index = ORDER.index(state)
    return ORDER[index + 1 : index + 2]


def satisfied_share_met(satisfied: int, valid: int, min_pct: Decimal) -> bool:
    """Whether ``satisfied`` of ``valid`` questionnaires is at least ``min_pct`` percent,
    compared exactly (``satisfied × 100 ≥ min_pct × valid``), never through a float."""
    return Decimal(satisfied) * 100 >= min_pct * valid


def satisfied_pct(satisfied: int, valid: int) -> Decimal:
    """The satisfied share in %, cut (not rounded) to two places so that a share just
    under a bound never shows as the bound itself (89.999% shows as 89.99%)."""
    return (Decimal(satisfied) * 100 / valid).quantize(PCT_PLACES, rounding=ROUND_DOWN)


@dataclass
class PeriodGrades:
    """How one river's points were graded in one period (current grades only)."""

    period: str
    start: dt.date
    end: dt.date
    graded: int = 0
    """Points whose grade is not ``insufficient``."""
    mild: int = 0
    severe: int = 0

    @property
    def black(self) -> int:
        """Points graded mild or severe."""
        return self.mild + self.severe

    def black_text(self) -> str:
        """The black points in words, e.g. ``轻度黑臭 2 个、重度黑臭 1 个``."""
        counts = ((Grade.mild, self.mild), (Grade.severe, self.severe))
        return "、".join(f"{grade.label} {count} 个" for grade, count in counts if count)


def clean_window_problems(
    grades: dict[str, PeriodGrades], *, months: int, min_points: int, on: dt.date
) -> list[str]:
    """Why the latest ``months`` consecutive months graded by ``on`` do not show a clean
    river (empty when they do).

    The window ends at the latest month in ``grades`` that ended on or before ``on``; a
    month of the window without grades, with fewer than ``min_points`` graded points, or
    with a point graded mild or severe is a problem.
    """
    graded = sorted(
        label for label, found in grades.items() if MONTH.match(label) and found.end <= on
    )
    if not graded:
        return [f"{on} 及以前没有按月的黑臭评价结果（没有数据不能证明不黑不臭）"]
    window: list[Period] = [parse_period(graded[-1])]
    while len(window) < months:
        window.append(window[-1].previous())
    window.reverse()
    problems = []
    for period in window:
        found = grades.get(period.label)
        if found is None:
            problems.append(f"{period.label} 没有黑臭评价结果")
        elif found.black:
            problems.append(f"{period.label} 有检测点黑臭：{found.black_text()}")
        elif found.graded < min_points:
            problems.append(
                f"{period.label} 数据不足：有效评价的检测点 {found.graded} 个，少于 {min_points} 个"
            )
    if problems:
        span = f"{window[0].label} 至 {window[-1].label}" if months > 1 else window[0].label
        problems.insert(0, f"须连续 {months} 个月（{span}）无轻度、重度黑臭检测点")
    return problems


@dataclass(frozen=True)
class RiverHistory:
    """A river with its remediation history, oldest change first."""

    code: str
    name: str
    lead_town_id: int
    remediation_state: RemediationState
    relapsed: bool
    changes: list[RiverStateChange]


def _river(session: Session, actor: Actor, code: str) -> River:
    """The river ``code`` if ``actor`` may see it (404 otherwise, 403 for no rivers at all)."""
    return read_record(session, RIVERS, actor=actor, code=code)


def _changes(session: Session, river_id: int) -> list[RiverStateChange]:
    return list(
        session.scalars(
            select(RiverStateChange)
            .where(RiverStateChange.river_id == river_id)
            .order_by(RiverStateChange.changed_on, RiverStateChange.id)
        )
    )


def _check_day(session: Session, river: River, on: dt.date) -> None:
    """A change is dated neither in the future nor before the river's previous change."""
    problems = day_problems(
        session, RiverStateChange, RiverStateChange.river_id == river.id, RemediationState, on
    )
    if problems:
        raise Invalid(f"河涌“{river.code}”的状态变更日期有误", problems)


def _reason(reason: str | None, *, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise Invalid("更正必须说明理由", [Problem("理由不能为空", column="reason")])
    if len(text) > REASON_MAX:
        raise Invalid(
            f"理由过长：最多 {REASON_MAX} 字",
            [Problem(f"共 {len(text)} 字", column="reason")],
        )
    return text or None


def _period_grades(session: Session, river_id: int, on: dt.date) -> dict[str, PeriodGrades]:
    """The river's current point grades, counted per period, of periods begun by ``on``."""
    graded = case((PointGrade.grade != Grade.insufficient.value, 1), else_=0)
    mild = case((PointGrade.grade == Grade.mild.value, 1), else_=0)
    severe = case((PointGrade.grade == Grade.severe.value, 1), else_=0)
    rows = session.execute(
        select(
            PointGrade.period,
            PointGrade.period_start,
            PointGrade.period_end,
            func.sum(graded),
            func.sum(mild),
            func.sum(severe),
        )
        .join(MonitoringPoint, MonitoringPoint.id == PointGrade.point_id)
        .where(
            MonitoringPoint.river_id == river_id,
            PointGrade.superseded_at.is_(None),
            PointGrade.period_start <= on,
        )
        .group_by(PointGrade.period, PointGrade.period_start, PointGrade.period_end)
    )
    return {
        period: PeriodGrades(
            period, start, end, int(n_graded or 0), int(n_mild or 0), int(n_severe or 0)
        )
        for period, start, end, n_graded, n_mild, n_severe in rows
    }


def _survey_problems(session: Session, river: River, on: dt.date) -> list[str]:
    settings = get_settings()
    survey = session.scalars(
        select(RiverSurvey)
        .where(RiverSurvey.river_id == river.id, RiverSurvey.surveyed_on <= on)
        .order_by(RiverSurvey.surveyed_on.desc(), RiverSurvey.id.desc())
        .limit(1)
    ).first()
    if survey is None:
        return [f"{on} 及以前没有公众满意度调查"]
    minimum, min_pct = settings.evaluation_min_questionnaires, settings.evaluation_min_satisfied_pct
    if survey.valid_questionnaires < minimum:
        return [
            f"{survey.surveyed_on} 的满意度调查有效问卷 {survey.valid_questionnaires} 份，"
            f"少于 {minimum} 份"
        ]
    if not satisfied_share_met(survey.satisfied, survey.valid_questionnaires, min_pct):
        pct = satisfied_pct(survey.satisfied, survey.valid_questionnaires)
        return [
            f"{survey.surveyed_on} 的满意度调查满意 {survey.satisfied}/"
            f"{survey.valid_questionnaires} 份（{pct}%），低于 {min_pct}%"
        ]
    return []


def _evaluated_on(session: Session, river: River, on: dt.date) -> dt.date | None:
    """The day of the river's latest change to 评估通过 on or before ``on``."""
    day: dt.date | None = session.scalar(
        select(func.max(RiverStateChange.changed_on)).where(
            RiverStateChange.river_id == river.id,
            RiverStateChange.to_state == RemediationState.evaluated.value,
            RiverStateChange.changed_on <= on,
        )
    )
    return day


def evidence_problems(
    session: Session, river: River, to_state: RemediationState, on: dt.date
) -> list[str]:
    """Why the data do not support moving ``river`` to ``to_state`` on ``on`` (empty when
    they do, and for every state that needs no evidence)."""
    if to_state not in CLEAN_STATES:
        return []
    settings = get_settings()
    grades = _period_grades(session, river.id, on)
    min_points = load_rules(settings.rules_file).water_body.min_graded_points
    problems = clean_window_problems(
        grades, months=settings.evaluation_clean_periods, min_points=min_points, on=on
    )
    if to_state is RemediationState.evaluated:
        return problems + _survey_problems(session, river, on)
    evaluated_on = _evaluated_on(session, river, on)
    if evaluated_on is None:
        return [f"没有{RemediationState.evaluated.label}的记录", *problems]
    days = settings.sustained_after_days
    if on < evaluated_on + dt.timedelta(days=days):
        problems.append(
            f"{evaluated_on} {RemediationState.evaluated.label}，须满 {days} 天"
            f"（{evaluated_on + dt.timedelta(days=days)} 起）"
        )
    since = sorted(
        (found for found in grades.values() if found.end > evaluated_on and found.black),
        key=lambda found: (found.start, found.period),
    )
    problems.extend(
        f"{RemediationState.evaluated.label}后 {found.period} 有检测点黑臭：{found.black_text()}"
        for found in since
    )
    return problems


def _write_change(
    session: Session,
    *,
    actor: Actor,
    river: River,
    to_state: RemediationState,
    on: dt.date,
    reason: str | None,
    action: str,
    is_correction: bool = False,
    is_relapse: bool = False,
) -> RiverStateChange:
    """Append the change to the river's history, set its state, and audit both."""
    before = {
        "remediation_state": river.remediation_state,
        "relapsed": river.relapsed,
    }
    from_state = RemediationState(river.remediation_state)
    change = RiverStateChange(
        river_id=river.id,
        from_state=from_state.value,
        to_state=to_state.value,
        changed_on=on,
        reason=reason,
        is_correction=is_correction,
        is_relapse=is_relapse,
        actor=actor.username,
    )
    river.remediation_state = to_state
    if is_relapse:
        river.relapsed = True
    elif to_state in CLEAN_STATES:
        river.relapsed = False
    kind = "更正" if is_correction else "返黑返臭" if is_relapse else "整治状态"
    return write_change(
        session,
        change,
        actor=actor,
        action=action,
        resource=RIVERS.resource,
        record_id=river.code,
        town_id=river.lead_town_id,
        before=before,
        also={"relapsed": river.relapsed},
        detail=move_detail(kind, from_state, to_state, on, reason),
    )


def _refuse_move(river: River, to_state: RemediationState) -> Conflict:
    current = RemediationState(river.remediation_state)
    allowed_next = next_states(current)
    why = refused_move(current, to_state, allowed_next, with_values=False, at_end="，不能再前进")
    return Conflict(f"河涌“{river.code}”{why}（如属录入错误，请由市攻坚办更正）")


def change_state(
    session: Session,
    *,
    actor: Actor,
    river_code: str,
    to_state: RemediationState,
    on: dt.date,
    reason: str | None = None,
    version: int | None = None,
) -> RiverStateChange:
    """Move the river one state forward on day ``on`` (city time), based on the river's
    ``version`` (``StaleVersion`` when it is at another now).

    Refused with ``Conflict`` naming the allowed next state when ``to_state`` is not the
    next one, or naming every unmet condition when the data do not support 评估通过 or
    长治久清; ``Invalid`` when ``on`` is in the future or before the previous change.
    A town may change only the rivers it leads.
    """
    authorize_some(session, actor, Action.change, RIVERS.resource, record_id=river_code)
    river = _river(session, actor, river_code)
    authorize(
        session,
        actor,
        Action.change,
        RIVERS.resource,
        town_id=river.lead_town_id,
        record_id=river.code,
    )
    check_version(river, resource=RIVERS.resource, code=river.code, sent=version)
    to_state = RemediationState(to_state)
    text = _reason(reason, required=False)
    if to_state not in next_states(RemediationState(river.remediation_state)):
        raise _refuse_move(river, to_state)
    _check_day(session, river, on)
    problems = evidence_problems(session, river, to_state, on)
    if problems:
        raise Conflict(
            f"河涌“{river.code}”不能于 {on} 改为“{to_state.label}”：" + "；".join(problems)
        )
    return _write_change(
        session,
        actor=actor,
        river=river,
        to_state=to_state,
        on=on,
        reason=text,
        action=Action.change.value,
    )


def authorize_correction(session: Session, actor: Actor, river: object) -> None:
    """Refuse (403, logged) a correction of ``river`` (its code or id) to anyone but the
    city and the admin, before the river is looked up."""
    if not allowed(actor, Action.approve, RIVERS.resource, actor.town_id):
        refuse(
            session,
            actor,
            Action.approve,
            RIVERS.resource,
            "无权更正河涌整治状态：只有市攻坚办和平台管理员可以更正，镇街发现错误请报市攻坚办",
            record_id=river,
        )


def correct_state(
    session: Session,
    *,
    actor: Actor,
    river_code: str,
    to_state: RemediationState,
    on: dt.date,
    reason: str,
    version: int | None = None,
) -> RiverStateChange:
    """Correct a mistaken state (city and admin only; a town's attempt is 403 and logged).

    The correction may go to any other state, backwards included; it is written as a
    change of its own (``is_correction``) dated ``on`` with its required ``reason``, and
    the mistaken change stays in the history. 评估通过 and 长治久清 still need the
    evidence that ``change_state`` asks for: a correction overrides a mistake in the
    records, not the data. ``version``: as for ``change_state``.
    """
    authorize_correction(session, actor, river_code)
    river = _river(session, actor, river_code)
    check_version(river, resource=RIVERS.resource, code=river.code, sent=version)
    to_state = RemediationState(to_state)
    text = _reason(reason, required=True)
    current = RemediationState(river.remediation_state)
    if to_state is current:
        raise Conflict(f"河涌“{river.code}”已是“{current.label}”，无需更正")
    _check_day(session, river, on)
    problems = evidence_problems(session, river, to_state, on)
    if problems:
        raise Conflict(f"河涌“{river.code}”不能更正为“{to_state.label}”：" + "；".join(problems))
    return _write_change(
        session,
        actor=actor,
        river=river,
        to_state=to_state,
        on=on,
        reason=text,
        action="correct",
        is_correction=True,
    )


def river_history(session: Session, *, actor: Actor, river_code: str) -> RiverHistory:
    """The river's current state and every change of it, mistakes and corrections alike."""
    river = _river(session, actor, river_code)
    return RiverHistory(
        code=river.code,
        name=river.name,
        lead_town_id=river.lead_town_id,
        remediation_state=RemediationState(river.remediation_state),
        relapsed=river.relapsed,
        changes=_changes(session, river.id),
    )


def record_survey(
    session: Session,
    *,
    actor: Actor,
    river_code: str,
    surveyed_on: dt.date,
    valid_questionnaires: int,
    satisfied: int,
) -> RiverSurvey:
    """Record a public satisfaction survey (公众满意度调查) of a river: how many valid
    questionnaires (份) it collected and how many of them were satisfied."""
    authorize_some(session, actor, Action.add, "river_survey", record_id=river_code)
    river = _river(session, actor, river_code)
    authorize(
        session,
        actor,
        Action.add,
        "river_survey",
        town_id=river.lead_town_id,
        record_id=river.code,
    )
    problems = []
    if surveyed_on > today():
        problems.append(
            Problem("调查日期不能晚于今天", column="surveyed_on", value=str(surveyed_on))
        )
    if valid_questionnaires < 1:
        problems.append(
            Problem(
                "有效问卷至少 1 份",
                column="valid_questionnaires",
                value=str(valid_questionnaires),
            )
        )
    if not 0 <= satisfied <= valid_questionnaires:
        problems.append(
            Problem("满意问卷须在 0 至有效问卷数之间", column="satisfied", value=str(satisfied))
        )
    if problems:
        raise Invalid(f"河涌“{river.code}”的满意度调查有误", problems)
    survey = RiverSurvey(
        river_id=river.id,
        surveyed_on=surveyed_on,
        valid_questionnaires=valid_questionnaires,
        satisfied=satisfied,
        recorded_by=actor.username,
    )
    return write_added(
        session,
        survey,
        actor=actor,
        resource="river_survey",
        record_id=river.code,
        town_id=river.lead_town_id,
        detail=f"满意度调查 {surveyed_on}：满意 {satisfied}/{valid_questionnaires} 份",
    )


def detect_relapses(session: Session, *, actor: Actor, assessment_id: int) -> list[str]:
    """Move back to 进场 every river in 评估通过 or 长治久清 that assessment
    ``assessment_id`` grades mild or severe at any point (返黑返臭); their codes, sorted.

    Only periods that end after the river's evaluation count: a late regrading of an
    older period questions the evaluation, which is the city's to correct. The relapse
    is dated at the end of the period that showed it, but never before the river's
    previous change nor after today.
    """
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"没有编号为 {assessment_id} 的黑臭评价")
    black_points: dict[int, dict[str, int]] = defaultdict(dict)
    for river_id, grade, count in session.execute(
        select(MonitoringPoint.river_id, PointGrade.grade, func.count())
        .join(MonitoringPoint, MonitoringPoint.id == PointGrade.point_id)
        .join(River, River.id == MonitoringPoint.river_id)
        .where(
            PointGrade.assessment_id == assessment_id,
            PointGrade.superseded_at.is_(None),
            PointGrade.grade.in_([grade.value for grade in BLACK]),
            River.remediation_state.in_([state.value for state in CLEAN_STATES]),
        )
        .group_by(MonitoringPoint.river_id, PointGrade.grade)
    ):
        black_points[river_id][grade] = count
    if not black_points:
        return []
    evaluated = case(
        (RiverStateChange.to_state == RemediationState.evaluated.value, RiverStateChange.changed_on)
    )
    dates = {
        river_id: (evaluated_on, last_on)
        for river_id, evaluated_on, last_on in session.execute(
            select(
                RiverStateChange.river_id,
                func.max(evaluated),
                func.max(RiverStateChange.changed_on),
            )
            .where(RiverStateChange.river_id.in_(list(black_points)))
            .group_by(RiverStateChange.river_id)
        )
    }
    rivers = session.scalars(
        select(River).where(River.id.in_(list(black_points))).order_by(River.code)
    )
    relapsed = []
    for river in rivers:
        evaluated_on, last_on = dates.get(river.id, (None, None))
        if evaluated_on is not None and assessment.period_end <= evaluated_on:
            continue
        authorize(
            session,
            actor,
            Action.change,
            RIVERS.resource,
            town_id=river.lead_town_id,
            record_id=river.code,
        )
        counts = black_points[river.id]
        found = PeriodGrades(
            assessment.period,
            assessment.period_start,
            assessment.period_end,
            mild=counts.get(Grade.mild.value, 0),
            severe=counts.get(Grade.severe.value, 0),
        )
        on = min(assessment.period_end, today())
        if last_on is not None:
            on = max(on, last_on)
        _write_change(
            session,
            actor=actor,
            river=river,
            to_state=RemediationState.entered,
            on=on,
            reason=f"返黑返臭：{assessment.period} 黑臭评价有检测点黑臭（{found.black_text()}）",
            action="relapse",
            is_relapse=True,
        )
        relapsed.append(river.code)
    return relapsed
