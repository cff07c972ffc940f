"""The river remediation state machine: forward moves only, dated and audited; the
evidence 评估通过 and 长治久清 need; relapses found by an assessment; corrections by the
city that keep the mistake in the history; towns write only the rivers they lead."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Role
from gongjian.db import utcnow
from gongjian.errors import Conflict, Forbidden, Invalid, NotFound
from gongjian.periods import city_zone, parse_period, today
from gongjian.towns.models import Town
from gongjian.water.assessment import assess
from gongjian.water.choices import Grade, RemediationState
from gongjian.water.models import (
    Assessment,
    MonitoringPoint,
    PointGrade,
    River,
    RiverStateChange,
    Sample,
    WaterBodyGrade,
)
from gongjian.water.remediation import (
    change_state,
    correct_state,
    detect_relapses,
    next_states,
    record_survey,
    river_history,
    satisfied_pct,
    satisfied_share_met,
)

CITY = Actor(username="city-water", role=Role.city)
ADMIN = Actor(username="admin-water", role=Role.admin)
S = RemediationState
CLEAN = [Grade.none, Grade.none, Grade.none]
ENTERED_ON = dt.date(2021, 6, 1)
COMPLETED_ON = dt.date(2021, 9, 1)
EVALUATED_ON = dt.date(2022, 1, 5)


def town_of(session: Session, name: str) -> Town:
    """The town called ``name``."""
    return session.scalars(select(Town).where(Town.name == name)).one()


def town_actor(town: Town) -> Actor:
    """An operator of ``town``."""
    return Actor(username=f"town-{town.name_en}", role=Role.town, town_id=town.id)


def make_river(session: Session, code: str, town: str = "石岐", points: int = 3) -> River:
    """A river led by ``town`` with ``points`` monitoring points 300 m apart."""
    river = River(
        code=code, name=f"{code}涌", lead_town_id=town_of(session, town).id, length_m=Decimal(900)
    )
    session.add(river)
    session.flush()
    session.add_all(
        MonitoringPoint(code=f"{code}-P{k}", river_id=river.id, chainage_m=Decimal(300 * k))
        for k in range(points)
    )
    session.flush()
    return river


def _body_grade(grades: list[Grade]) -> Grade:
    graded = [g for g in grades if g is not Grade.insufficient]
    if len(graded) < 3:
        return Grade.insufficient
    severe = sum(g is Grade.severe for g in graded)
    if severe * 5 >= len(graded) * 3:
        return Grade.severe
    return Grade.mild if any(g is not Grade.none for g in graded) else Grade.none


def grade_period(session: Session, river: River, label: str, grades: list[Grade]) -> Assessment:
    """Store an assessment of period ``label`` grading the river's points ``grades``
    (in chainage order) and the river itself accordingly."""
    period = parse_period(label)
    now = utcnow()
    assessment = Assessment(
        period=label,
        period_start=period.start,
        period_end=period.end,
        samples=0,
        rules_hash="0" * 64,
        warnings={"warnings": []},
        assessed_at=now,
        actor="test",
    )
    session.add(assessment)
    session.flush()
    common = {
        "assessment_id": assessment.id,
        "period": label,
        "period_start": period.start,
        "period_end": period.end,
        "evidence": {},
        "decided_by": "test",
        "rules_hash": "0" * 64,
        "assessed_at": now,
    }
    points = session.scalars(
        select(MonitoringPoint.id)
        .where(MonitoringPoint.river_id == river.id)
        .order_by(MonitoringPoint.chainage_m)
    ).all()
    session.add_all(
        PointGrade(point_id=point_id, grade=grade, samples=5, **common)
        for point_id, grade in zip(points, grades, strict=True)
    )
    body = _body_grade(grades)
    session.add(
        WaterBodyGrade(
            river_id=river.id,
            grade=body,
            points_graded=sum(g is not Grade.insufficient for g in grades),
            points_severe=sum(g is Grade.severe for g in grades),
            severe_segments={"segments": []},
            **common,
        )
    )
    session.flush()
    return assessment


def grade_months(session: Session, river: River, labels: list[str], grades: list[Grade]) -> None:
    """Grade each month of ``labels`` the same way."""
    for label in labels:
        grade_period(session, river, label, grades)


def advance(session: Session, river: River, *steps: tuple[RemediationState, dt.date]) -> None:
    """Move the river through ``steps`` as the city."""
    for state, on in steps:
        change_state(session, actor=CITY, river_code=river.code, to_state=state, on=on)


def survey(session: Session, river: River, valid: int, satisfied: int, on: dt.date) -> None:
    """Record a satisfaction survey as the city."""
    record_survey(
        session,
        actor=CITY,
        river_code=river.code,
        surveyed_on=on,
        valid_questionnaires=valid,
        satisfied=satisfied,
    )


def completed_river(session: Session, code: str, town: str = "石岐") -> River:
    """A river entered on 2021-06-01 and completed on 2021-09-01."""
    river = make_river(session, code, town)
    advance(session, river, (S.entered, ENTERED_ON), (S.completed, COMPLETED_ON))
    return river


def evaluated_river(session: Session, code: str, town: str = "石岐") -> River:
    """A completed river, clean from 2021-10 to 2021-12, surveyed, evaluated on 2022-01-05."""
    river = completed_river(session, code, town)
    grade_months(session, river, ["2021-10", "2021-11", "2021-12"], CLEAN)
    survey(session, river, 120, 110, dt.date(2021, 12, 20))
    advance(session, river, (S.evaluated, EVALUATED_ON))
    return river


def _history(session: Session, river: River) -> list[RiverStateChange]:
    return river_history(session, actor=CITY, river_code=river.code).changes


def _refusals(session: Session, actor: Actor) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.actor == actor.username, AuditEntry.outcome == "refused"
            )
        )
    )


def test_next_states_are_the_next_one_in_order() -> None:
    assert next_states(S.listed) == (S.entered,)
    assert next_states(S.completed) == (S.evaluated,)
    assert next_states(S.sustained) == ()


def test_satisfied_share_is_compared_exactly() -> None:
    assert satisfied_share_met(9000, 10000, Decimal(90))
    assert not satisfied_share_met(8999, 10000, Decimal(90))
    assert satisfied_share_met(2, 3, Decimal("66.66"))
    assert not satisfied_share_met(2, 3, Decimal("66.67"))
    assert satisfied_pct(89999, 100000) == Decimal("89.99")


def test_every_forward_move_is_dated_audited_and_sets_the_state(session: Session) -> None:
    river = evaluated_river(session, "RM-FWD")
    grade_months(session, river, [f"2022-{m:02d}" for m in range(1, 13)] + ["2023-01"], CLEAN)
    advance(session, river, (S.sustained, dt.date(2023, 1, 5)))
    assert river.remediation_state == S.sustained
    changes = _history(session, river)
    assert [(c.from_state, c.to_state, c.changed_on) for c in changes] == [
        (S.listed, S.entered, ENTERED_ON),
        (S.entered, S.completed, COMPLETED_ON),
        (S.completed, S.evaluated, EVALUATED_ON),
        (S.evaluated, S.sustained, dt.date(2023, 1, 5)),
    ]
    assert not any(c.is_correction or c.is_relapse for c in changes)
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.resource == "river", AuditEntry.record_id == river.code)
        .order_by(AuditEntry.seq)
    ).all()
    assert [e.action for e in entries] == ["change"] * 4
    assert entries[-1].before is not None
    assert '"remediation_state":"evaluated"' in entries[-1].before
    assert entries[-1].after is not None
    assert '"to_state":"sustained"' in entries[-1].after
    assert "评估通过 → 长治久清" in (entries[-1].detail or "")


@pytest.mark.parametrize(
    ("done", "to_state", "allowed"),
    [
        ((), S.completed, "进场"),
        ((), S.evaluated, "进场"),
        ((), S.sustained, "进场"),
        ((), S.listed, "进场"),
        ((S.entered,), S.entered, "完工"),
        ((S.entered,), S.evaluated, "完工"),
        ((S.entered, S.completed), S.entered, "评估通过"),
        ((S.entered, S.completed), S.listed, "评估通过"),
    ],
)
def test_a_wrong_move_is_refused_naming_the_allowed_next_state(
    session: Session, done: tuple[RemediationState, ...], to_state: RemediationState, allowed: str
) -> None:
    river = make_river(session, "RM-WRONG")
    advance(session, river, *((state, ENTERED_ON) for state in done))
    with pytest.raises(Conflict, match=f"可改为：“{allowed}”"):
        change_state(session, actor=CITY, river_code=river.code, to_state=to_state, on=COMPLETED_ON)
    assert len(_history(session, river)) == len(done)


def test_no_move_after_sustained(session: Session) -> None:
    river = evaluated_river(session, "RM-LAST")
    grade_months(session, river, [f"2022-{m:02d}" for m in range(1, 13)], CLEAN)
    advance(session, river, (S.sustained, dt.date(2023, 1, 10)))
    with pytest.raises(Conflict, match="最后一个状态"):
        change_state(
            session, actor=CITY, river_code=river.code, to_state=S.entered, on=dt.date(2023, 1, 11)
        )


def test_dates_are_neither_in_the_future_nor_before_the_previous_change(
    session: Session,
) -> None:
    river = make_river(session, "RM-DATE")
    advance(session, river, (S.entered, ENTERED_ON))
    with pytest.raises(Invalid) as future:
        change_state(
            session,
            actor=CITY,
            river_code=river.code,
            to_state=S.completed,
            on=today() + dt.timedelta(days=1),
        )
    assert "不能晚于今天" in str(future.value)
    with pytest.raises(Invalid) as earlier:
        change_state(
            session,
            actor=CITY,
            river_code=river.code,
            to_state=S.completed,
            on=ENTERED_ON - dt.timedelta(days=1),
        )
    assert f"不能早于上一次状态变更（{ENTERED_ON} 改为“进场”）" in str(earlier.value)
    advance(session, river, (S.completed, ENTERED_ON))
    assert river.remediation_state == S.completed


def test_a_missing_river_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="RM-NONE"):
        change_state(session, actor=CITY, river_code="RM-NONE", to_state=S.entered, on=ENTERED_ON)


def _evaluate(session: Session, river: River, on: dt.date = EVALUATED_ON) -> None:
    change_state(session, actor=CITY, river_code=river.code, to_state=S.evaluated, on=on)


def test_evaluation_without_grades_is_refused(session: Session) -> None:
    river = completed_river(session, "RM-NOGRADE")
    survey(session, river, 120, 110, dt.date(2021, 12, 20))
    with pytest.raises(Conflict, match="没有按月的黑臭评价结果"):
        _evaluate(session, river)
    assert river.remediation_state == S.completed


def test_evaluation_with_a_mild_point_in_the_last_months_is_refused(session: Session) -> None:
    river = completed_river(session, "RM-MILD")
    grade_months(session, river, ["2021-10", "2021-12"], CLEAN)
    grade_period(session, river, "2021-11", [Grade.none, Grade.mild, Grade.none])
    survey(session, river, 120, 110, dt.date(2021, 12, 20))
    with pytest.raises(Conflict) as refused:
        _evaluate(session, river)
    message = refused.value.message
    assert "须连续 3 个月（2021-10 至 2021-12）" in message
    assert "2021-11 有检测点黑臭：轻度黑臭 1 个" in message
    assert "满意度" not in message


def test_a_black_month_before_the_window_does_not_count(session: Session) -> None:
    river = completed_river(session, "RM-OLD")
    grade_period(session, river, "2021-09", [Grade.severe, Grade.severe, Grade.mild])
    grade_months(session, river, ["2021-10", "2021-11", "2021-12"], CLEAN)
    grade_period(session, river, "2022-01", [Grade.severe, Grade.none, Grade.none])
    survey(session, river, 120, 110, dt.date(2021, 12, 20))
    _evaluate(session, river)
    assert river.remediation_state == S.evaluated


def test_evaluation_needs_every_month_of_the_window_with_enough_points(session: Session) -> None:
    river = completed_river(session, "RM-GAP")
    grade_months(session, river, ["2021-08", "2021-09", "2021-12"], CLEAN)
    grade_period(session, river, "2021-11", [Grade.none, Grade.none, Grade.insufficient])
    survey(session, river, 120, 110, dt.date(2021, 12, 20))
    with pytest.raises(Conflict) as refused:
        _evaluate(session, river)
    assert "2021-10 没有黑臭评价结果" in refused.value.message
    assert "2021-11 数据不足：有效评价的检测点 2 个，少于 3 个" in refused.value.message


def test_a_weekly_grade_is_not_a_month(session: Session) -> None:
    river = completed_river(session, "RM-WEEK")
    grade_months(session, river, ["2021-10", "2021-11", "2021-12"], CLEAN)
    grade_period(session, river, "2021-W52", [Grade.mild, Grade.none, Grade.none])
    survey(session, river, 120, 110, dt.date(2021, 12, 20))
    _evaluate(session, river)
    assert river.remediation_state == S.evaluated


@pytest.mark.parametrize(
    ("valid", "satisfied", "survey_on", "problem"),
    [
        (None, None, None, "没有公众满意度调查"),
        (120, 110, dt.date(2022, 1, 6), "没有公众满意度调查"),
        (99, 99, dt.date(2021, 12, 20), "有效问卷 99 份，少于 100 份"),
        (10000, 8999, dt.date(2021, 12, 20), "满意 8999/10000 份（89.99%），低于 90%"),
    ],
)
def test_evaluation_needs_a_large_enough_satisfied_survey(
    session: Session,
    valid: int | None,
    satisfied: int | None,
    survey_on: dt.date | None,
    problem: str,
) -> None:
    river = completed_river(session, "RM-SURVEY")
    grade_months(session, river, ["2021-10", "2021-11", "2021-12"], CLEAN)
    if valid is not None and satisfied is not None and survey_on is not None:
        survey(session, river, valid, satisfied, survey_on)
    with pytest.raises(Conflict, match=problem):
        _evaluate(session, river)


def test_ninety_percent_exactly_is_enough(session: Session) -> None:
    river = completed_river(session, "RM-BOUND")
    grade_months(session, river, ["2021-10", "2021-11", "2021-12"], CLEAN)
    survey(session, river, 10000, 9000, dt.date(2021, 12, 20))
    _evaluate(session, river)
    assert river.remediation_state == S.evaluated


def test_the_latest_survey_by_the_day_decides(session: Session) -> None:
    river = completed_river(session, "RM-LATEST")
    grade_months(session, river, ["2021-10", "2021-11", "2021-12"], CLEAN)
    survey(session, river, 200, 190, dt.date(2021, 11, 1))
    survey(session, river, 200, 100, dt.date(2021, 12, 20))
    with pytest.raises(Conflict, match="2021-12-20 的满意度调查"):
        _evaluate(session, river)


def _sustain(session: Session, river: River, on: dt.date) -> None:
    change_state(session, actor=CITY, river_code=river.code, to_state=S.sustained, on=on)


def test_sustained_needs_the_full_time_since_evaluation(session: Session) -> None:
    river = evaluated_river(session, "RM-TIME")
    grade_months(session, river, [f"2022-{m:02d}" for m in range(1, 13)], CLEAN)
    with pytest.raises(Conflict, match="须满 365 天（2023-01-05 起）"):
        _sustain(session, river, dt.date(2023, 1, 4))
    _sustain(session, river, dt.date(2023, 1, 5))
    assert river.remediation_state == S.sustained


def test_sustained_is_refused_after_a_black_point_since_evaluation(session: Session) -> None:
    river = evaluated_river(session, "RM-SINCE")
    grade_months(session, river, [f"2022-{m:02d}" for m in range(1, 13)], CLEAN)
    grade_period(session, river, "2022-W20", [Grade.none, Grade.severe, Grade.none])
    with pytest.raises(Conflict, match="评估通过后 2022-W20 有检测点黑臭：重度黑臭 1 个"):
        _sustain(session, river, dt.date(2023, 1, 20))


def test_sustained_needs_recent_clean_months(session: Session) -> None:
    river = evaluated_river(session, "RM-STALE")
    grade_months(session, river, ["2022-03"], CLEAN)
    with pytest.raises(Conflict) as refused:
        _sustain(session, river, dt.date(2023, 1, 20))
    assert "须连续 3 个月（2022-01 至 2022-03）" in refused.value.message
    assert "2022-01 没有黑臭评价结果；2022-02 没有黑臭评价结果" in refused.value.message


def test_an_assessment_that_finds_an_evaluated_river_black_sends_it_back(
    session: Session,
) -> None:
    evaluated = evaluated_river(session, "RM-RELAPSE")
    completed = completed_river(session, "RM-NOTYET")
    grade_period(session, completed, "2022-02", [Grade.mild, Grade.mild, Grade.none])
    assessment = grade_period(session, evaluated, "2022-02", [Grade.mild, Grade.severe, Grade.none])
    assessment_id = assessment.id
    assert detect_relapses(session, actor=CITY, assessment_id=assessment_id) == ["RM-RELAPSE"]
    assert detect_relapses(session, actor=CITY, assessment_id=assessment_id) == []
    assert evaluated.remediation_state == S.entered
    assert evaluated.relapsed
    assert completed.remediation_state == S.completed
    last = _history(session, evaluated)[-1]
    assert (last.from_state, last.to_state, last.changed_on) == (
        S.evaluated,
        S.entered,
        dt.date(2022, 2, 28),
    )
    assert last.is_relapse
    assert not last.is_correction
    assert last.reason == "返黑返臭：2022-02 黑臭评价有检测点黑臭（轻度黑臭 1 个、重度黑臭 1 个）"
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "relapse", AuditEntry.record_id == "RM-RELAPSE"
        )
    ).one()
    assert entry.after is not None
    assert '"relapsed":true' in entry.after


def test_a_period_graded_before_the_evaluation_is_no_relapse(session: Session) -> None:
    river = evaluated_river(session, "RM-LATEGRADE")
    regraded = grade_period(session, river, "2021-12", [Grade.mild, Grade.none, Grade.none])
    assert detect_relapses(session, actor=CITY, assessment_id=regraded.id) == []
    assert river.remediation_state == S.evaluated


def test_a_sustained_river_relapses_too_and_is_dated_after_its_last_change(
    session: Session,
) -> None:
    river = evaluated_river(session, "RM-SUSTAINED")
    grade_months(session, river, [f"2022-{m:02d}" for m in range(1, 12)], CLEAN)
    assessment = grade_period(session, river, "2022-12", CLEAN)
    advance(session, river, (S.sustained, dt.date(2023, 1, 10)))
    session.execute(
        update(PointGrade)
        .where(PointGrade.assessment_id == assessment.id)
        .values(grade=Grade.mild.value)
    )
    assert detect_relapses(session, actor=CITY, assessment_id=assessment.id) == ["RM-SUSTAINED"]
    last = _history(session, river)[-1]
    assert (last.from_state, last.to_state, last.changed_on) == (
        S.sustained,
        S.entered,
        dt.date(2023, 1, 10),
    )


def test_relapse_after_a_real_assessment_and_evaluation_again_clears_the_flag(
    session: Session,
) -> None:
    river = evaluated_river(session, "RM-ASSESS")
    points = session.scalars(
        select(MonitoringPoint.id).where(MonitoringPoint.river_id == river.id)
    ).all()
    zone = city_zone()
    session.add_all(
        Sample(
            point_id=point_id,
            sampled_at=dt.datetime(2022, 3, day, 10, tzinfo=zone),
            transparency_cm=Decimal(40),
            do_mg_l=Decimal("1.000"),
            orp_mv=Decimal(100),
            nh3n_mg_l=Decimal("1.000"),
        )
        for point_id in points
        for day in (3, 10, 17)
    )
    session.flush()
    result = assess(session, actor=ADMIN, period=parse_period("2022-03"))
    assert result.points == {Grade.mild.value: 3}
    assert result.relapsed == ["RM-ASSESS"]
    assert result.assessment_id is not None
    assert detect_relapses(session, actor=ADMIN, assessment_id=result.assessment_id) == []
    assert river.relapsed
    advance(session, river, (S.completed, dt.date(2022, 4, 1)))
    grade_months(session, river, ["2022-04", "2022-05", "2022-06"], CLEAN)
    survey(session, river, 150, 140, dt.date(2022, 7, 1))
    _evaluate(session, river, dt.date(2022, 7, 5))
    assert river.remediation_state == S.evaluated
    assert not river.relapsed


def test_detect_relapses_of_a_missing_assessment_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        detect_relapses(session, actor=CITY, assessment_id=987654)


def test_a_correction_keeps_the_mistake_in_the_history(session: Session) -> None:
    river = completed_river(session, "RM-FIX")
    correct_state(
        session,
        actor=CITY,
        river_code=river.code,
        to_state=S.entered,
        on=dt.date(2021, 9, 2),
        reason="误报完工，实际仍在施工",
    )
    assert river.remediation_state == S.entered
    changes = _history(session, river)
    assert [(c.to_state, c.is_correction) for c in changes] == [
        (S.entered, False),
        (S.completed, False),
        (S.entered, True),
    ]
    assert changes[-1].reason == "误报完工，实际仍在施工"
    assert changes[-1].from_state == S.completed
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "correct", AuditEntry.record_id == river.code)
    ).one()
    assert "更正：完工 → 进场" in (entry.detail or "")


def test_a_correction_needs_a_reason_and_a_different_state(session: Session) -> None:
    river = completed_river(session, "RM-FIXBAD")
    with pytest.raises(Invalid, match="理由"):
        correct_state(
            session,
            actor=CITY,
            river_code=river.code,
            to_state=S.entered,
            on=COMPLETED_ON,
            reason=" ",
        )
    with pytest.raises(Conflict, match="已是“完工”"):
        correct_state(
            session,
            actor=ADMIN,
            river_code=river.code,
            to_state=S.completed,
            on=COMPLETED_ON,
            reason="x",
        )


def test_a_correction_to_evaluated_still_needs_the_evidence(session: Session) -> None:
    river = completed_river(session, "RM-FIXEVAL")
    with pytest.raises(Conflict, match="不能更正为“评估通过”"):
        correct_state(
            session,
            actor=CITY,
            river_code=river.code,
            to_state=S.evaluated,
            on=COMPLETED_ON,
            reason="补录",
        )


def test_towns_may_not_correct_even_their_own_rivers(session: Session) -> None:
    river = completed_river(session, "RM-TOWNFIX", town="黄圃")
    session.commit()
    owner = town_actor(town_of(session, "黄圃"))
    with pytest.raises(Forbidden, match="市攻坚办"):
        correct_state(
            session,
            actor=owner,
            river_code="RM-TOWNFIX",
            to_state=S.entered,
            on=COMPLETED_ON,
            reason="x",
        )
    (refusal,) = _refusals(session, owner)
    assert (refusal.action, refusal.resource, refusal.record_id) == ("approve", "river", river.code)
    assert len(_history(session, river)) == 2


def test_a_town_changes_its_own_rivers_only_but_reads_every_history(session: Session) -> None:
    river = make_river(session, "RM-TOWN", town="黄圃")
    session.commit()
    owner = town_actor(town_of(session, "黄圃"))
    intruder = town_actor(town_of(session, "坦洲"))
    with pytest.raises(Forbidden, match="只能修改本镇街"):
        change_state(
            session, actor=intruder, river_code="RM-TOWN", to_state=S.entered, on=ENTERED_ON
        )
    (refusal,) = _refusals(session, intruder)
    assert (refusal.action, refusal.resource, refusal.record_id) == ("change", "river", "RM-TOWN")
    assert river_history(session, actor=intruder, river_code="RM-TOWN").changes == []
    change_state(session, actor=owner, river_code="RM-TOWN", to_state=S.entered, on=ENTERED_ON)
    history = river_history(session, actor=intruder, river_code="RM-TOWN")
    assert history.remediation_state == S.entered
    assert history.changes[0].actor == owner.username
    assert river.id == history.changes[0].river_id


def test_an_auditor_may_not_record_a_survey(session: Session) -> None:
    make_river(session, "RM-AUDIT")
    session.commit()
    auditor = Actor(username="auditor-water", role=Role.auditor)
    with pytest.raises(Forbidden):
        record_survey(
            session,
            actor=auditor,
            river_code="RM-AUDIT",
            surveyed_on=ENTERED_ON,
            valid_questionnaires=100,
            satisfied=90,
        )
    assert [e.resource for e in _refusals(session, auditor)] == ["river_survey"]


def test_a_survey_is_checked_and_audited(session: Session) -> None:
    river = make_river(session, "RM-SURV")
    with pytest.raises(Invalid) as bad:
        record_survey(
            session,
            actor=CITY,
            river_code=river.code,
            surveyed_on=today() + dt.timedelta(days=3),
            valid_questionnaires=100,
            satisfied=101,
        )
    assert {p.column for p in bad.value.problems} == {"surveyed_on", "satisfied"}
    recorded = record_survey(
        session,
        actor=CITY,
        river_code=river.code,
        surveyed_on=ENTERED_ON,
        valid_questionnaires=100,
        satisfied=95,
    )
    assert recorded.recorded_by == CITY.username
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.resource == "river_survey", AuditEntry.actor == CITY.username
        )
    ).one()
    assert entry.after is not None
    assert '"satisfied":95' in entry.after
