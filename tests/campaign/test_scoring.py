"""Town scores item by item: committed indicators (capped at the full weight, a zero
target met), overdue projects and their cap, severe rivers with complaints (water only)
and their cap, the city's bonuses and deductions (city only, audited); rankings and
their tie rules; the commendation list (top N and every town that met all its targets),
commendations written and individuals nominated (city only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.campaign import scoring
from gongjian.campaign.choices import Campaign, CommendationKind, ProjectKind, ProjectState
from gongjian.campaign.models import Project, ProjectStateChange
from gongjian.config import get_settings
from gongjian.db import utcnow
from gongjian.errors import Forbidden, Invalid
from gongjian.periods import city_zone
from gongjian.water.choices import ComplaintCategory, Grade
from gongjian.water.models import Assessment, Complaint, River, WaterBodyGrade
from tests.campaign.test_commitments import AUDITOR, CITY, clear, commit, town_actor, town_of

D = Decimal
R, W = Campaign.renewal, Campaign.water
YEAR_END = dt.date(2023, 12, 31)
CLEARED_ON = dt.date(2023, 5, 1)


def late_project(
    session: Session,
    town: str,
    *,
    campaign: Campaign = R,
    start: dt.date = dt.date(2023, 2, 1),
    end: dt.date = dt.date(2023, 6, 30),
    completed_on: dt.date | None = None,
) -> Project:
    """A project of ``town`` planned on 2023-01-05 to run from ``start`` to ``end``,
    completed on ``completed_on`` if given (else still planned), with its state
    history."""
    count = session.query(Project).count()
    kind = ProjectKind.demolition if campaign is R else ProjectKind.dredging
    project = Project(
        code=f"T-SC-{count + 1:04d}",
        name="测试项目",
        campaign=campaign,
        kind=kind,
        town_id=town_of(session, town).id,
        state=ProjectState.completed if completed_on else ProjectState.planned,
        planned_start_on=start,
        planned_end_on=end,
    )
    session.add(project)
    session.flush()
    history = [(ProjectState.planned, dt.date(2023, 1, 5))]
    if completed_on:
        history += [
            (ProjectState.approved, dt.date(2023, 1, 10)),
            (ProjectState.started, start),
            (ProjectState.completed, completed_on),
        ]
    session.add_all(
        ProjectStateChange(project_id=project.id, to_state=state.value, changed_on=day, actor="t")
        for state, day in history
    )
    session.flush()
    return project


def river_with(
    session: Session,
    town: str,
    *,
    grade: Grade = Grade.severe,
    graded: tuple[dt.date, dt.date] = (dt.date(2023, 3, 1), dt.date(2023, 3, 31)),
    complained_at: dt.datetime | None = dt.datetime(2023, 4, 2, 9, 0, tzinfo=city_zone()),
    superseded: bool = False,
) -> River:
    """A river led by ``town`` with one grade for the period ``graded`` and, when
    ``complained_at`` is given, one complaint received then."""
    count = session.query(River).count()
    river = River(
        code=f"T-SC-R{count + 1:03d}",
        name="测试涌",
        lead_town_id=town_of(session, town).id,
        length_m=D(1000),
    )
    start, end = graded
    assessment = Assessment(
        period=f"{start:%Y-%m}",
        period_start=start,
        period_end=end,
        samples=9,
        rules_hash="0" * 64,
        warnings={"warnings": []},
        assessed_at=utcnow(),
        actor="t",
    )
    session.add_all([river, assessment])
    session.flush()
    session.add(
        WaterBodyGrade(
            assessment_id=assessment.id,
            river_id=river.id,
            period=assessment.period,
            period_start=start,
            period_end=end,
            grade=grade,
            evidence={},
            decided_by="test",
            rules_hash="0" * 64,
            assessed_at=utcnow(),
            superseded_at=utcnow() if superseded else None,
            points_graded=3,
            points_severe=3 if grade is Grade.severe else 0,
            severe_segments={"segments": []},
        )
    )
    if complained_at is not None:
        session.add(
            Complaint(
                receipt_no=f"T-SC-{river.id:05d}",
                river_id=river.id,
                town_id=river.lead_town_id,
                category=ComplaintCategory.odour,
                description="河水发臭",
                received_at=complained_at,
            )
        )
    session.flush()
    return river


def score(
    session: Session, town: str, campaign: Campaign | None, as_of: dt.date = YEAR_END
) -> scoring.TownScore:
    return scoring.town_score(
        session, actor=AUDITOR, town=town, year=2023, campaign=campaign, as_of=as_of
    )


def items(row: scoring.TownScore, item: str) -> list[scoring.ScoreItem]:
    return [i for i in row.items if i.item == item]


def test_indicator_points_are_capped_at_the_full_weight(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "100"})
    commit(session, "东区", {"renewal.cleared_mu": "100"})
    commit(session, "西区", {"renewal.cleared_mu": "0", "renewal.attracted": "0"})
    clear(session, "石岐", "150", CLEARED_ON)
    clear(session, "东区", "50", CLEARED_ON)
    shiqi = score(session, "石岐", R)
    [indicator] = items(shiqi, "indicator")
    assert indicator.points == D("20.00")  # 150 of 100: capped at the full weight
    assert indicator.basis["completion_pct"] == D("100.00")
    assert indicator.basis["met"] is True
    assert (indicator.basis["achieved_in_year"], indicator.basis["target_in_year"]) == (
        D("150.00"),
        D("100.00"),
    )
    assert shiqi.score == D("20.00")
    assert shiqi.met_all
    dongqu = score(session, "东区", R)
    assert items(dongqu, "indicator")[0].points == D("10.00")
    assert dongqu.completion_pct == D("50.00")
    assert not dongqu.met_all
    xiqu = score(session, "西区", R)  # zero targets are met: the full weight each
    assert [i.points for i in items(xiqu, "indicator")] == [D("20.00"), D("20.00")]
    nanqu = score(session, "南区", R)
    assert [i.item for i in nanqu.items] == ["no_commitment", "overdue_projects"]
    assert nanqu.score == 0
    assert not nanqu.committed


def test_the_year_is_measured_from_its_start(session: Session) -> None:
    clear(session, "石岐", "80", dt.date(2022, 9, 1))  # stood at the end of 2022
    commit(session, "石岐", {"renewal.cleared_mu": "120"})  # asks 40 more of 2023
    clear(session, "石岐", "10", CLEARED_ON)
    [indicator] = items(score(session, "石岐", R), "indicator")
    assert indicator.basis["start"] == D("80.00")
    assert indicator.points == D("5.00")  # 10 of 40 × 20


def test_overdue_projects_are_deducted_up_to_the_cap(session: Session) -> None:
    commit(session, "石岐", {"renewal.cleared_mu": "0"})
    late = [late_project(session, "石岐") for _ in range(3)]
    late_project(session, "石岐", campaign=W)  # the water campaign's
    late_project(session, "石岐", start=dt.date(2024, 1, 2), end=dt.date(2024, 3, 1))  # not due
    late_project(session, "石岐", completed_on=dt.date(2023, 6, 1))  # done in time
    row = score(session, "石岐", R)
    [overdue] = items(row, "overdue_projects")
    assert overdue.points == D("-6.00")
    assert overdue.basis["count"] == 3
    assert overdue.basis["projects"] == sorted(p.code for p in late)
    assert row.overdue_projects == 3
    assert row.score == D("14.00")
    # Before their planned start (2023-02-01) none is late.
    before = score(session, "石岐", R, dt.date(2023, 1, 31))
    assert items(before, "overdue_projects")[0].points == D("0.00")
    for _ in range(9):
        late_project(session, "石岐")
    [capped] = items(score(session, "石岐", R), "overdue_projects")
    assert capped.basis["count"] == 12
    assert capped.points == D("-20.00")  # 12 × 2 = 24, capped at 20


def test_severe_rivers_with_complaints_are_deducted_in_the_water_score(session: Session) -> None:
    commit(session, "石岐", {"water.sewer_km": "0"}, campaign=W)
    counted = river_with(session, "石岐")
    river_with(session, "石岐", complained_at=dt.datetime(2022, 12, 31, 23, 0, tzinfo=city_zone()))
    river_with(session, "石岐", grade=Grade.mild)
    river_with(session, "石岐", superseded=True)
    river_with(session, "石岐", graded=(dt.date(2022, 12, 1), dt.date(2022, 12, 31)))
    river_with(session, "石岐", complained_at=None)
    river_with(session, "东区")  # another town's
    water = score(session, "石岐", W)
    [complained] = items(water, "complained_severe_rivers")
    assert complained.basis["rivers"] == [counted.code]
    assert complained.points == D("-3.00")
    assert water.score == D("17.00")
    assert not items(score(session, "石岐", R), "complained_severe_rivers")
    # A complaint received after the day read does not count yet.
    assert items(score(session, "石岐", W, dt.date(2023, 4, 1)), "complained_severe_rivers")[
        0
    ].points == D("0.00")
    for _ in range(5):
        river_with(session, "石岐")
    [capped] = items(score(session, "石岐", W), "complained_severe_rivers")
    assert capped.basis["count"] == 6
    assert capped.points == D("-15.00")  # 6 × 3 = 18, capped at 15


def test_the_citys_bonuses_and_deductions_count_and_are_audited(session: Session) -> None:
    commit(session, "石岐", {"water.sewer_km": "0"}, campaign=W)
    shiqi = town_of(session, "石岐")
    bonus = scoring.add_adjustment(
        session,
        actor=CITY,
        town="石岐",
        year=2023,
        campaign=W,
        points=D(3),
        reason="省生态环境厅通报表扬",
        entered_on=dt.date(2023, 6, 1),
    )
    scoring.add_adjustment(
        session,
        actor=CITY,
        town="442000001",
        year=2023,
        campaign=W,
        points=D("-1.5"),
        reason="整改不及时",
    )
    scoring.add_adjustment(
        session, actor=CITY, town="石岐", year=2023, campaign=R, points=D(5), reason="工改表扬"
    )
    scoring.add_adjustment(
        session, actor=CITY, town="石岐", year=2022, campaign=W, points=D(9), reason="上一年"
    )
    assert bonus.entered_by == CITY.username
    water = score(session, "石岐", W)
    assert [(i.points, i.basis["reason"]) for i in items(water, "adjustment")] == [
        (D("3.00"), "省生态环境厅通报表扬"),
        (D("-1.50"), "整改不及时"),
    ]
    assert water.score == D("21.50")
    assert score(session, "石岐", None).score == D("26.50")  # + 5 in renewal (no commitment)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "score_adjustment").order_by(AuditEntry.seq)
    ).first()
    assert entry is not None
    assert (entry.action, entry.town_id, entry.actor) == ("add", shiqi.id, CITY.username)
    listed = scoring.list_adjustments(session, actor=AUDITOR, year=2023, campaign=W)
    assert [a.points for a, _town in listed] == [D("3.00"), D("-1.50")]


@pytest.mark.parametrize(
    ("points", "reason", "column"),
    [
        ("0", "理由", "points"),
        ("1.234", "理由", "points"),
        ("10000", "理由", "points"),
        ("2", " ", "reason"),
    ],
)
def test_a_wrong_adjustment_is_refused(
    session: Session, points: str, reason: str, column: str
) -> None:
    with pytest.raises(Invalid) as refused:
        scoring.add_adjustment(
            session, actor=CITY, town="石岐", year=2023, campaign=W, points=D(points), reason=reason
        )
    assert [p.column for p in refused.value.problems] == [column]


@pytest.mark.parametrize("who", ["town", "auditor"])
def test_only_the_city_enters_adjustments(session: Session, who: str) -> None:
    shiqi = town_of(session, "石岐")
    actor = town_actor(shiqi) if who == "town" else AUDITOR
    with pytest.raises(Forbidden, match="市攻坚办"):
        scoring.add_adjustment(
            session, actor=actor, town="石岐", year=2023, campaign=W, points=D(3), reason="自评加分"
        )
    refused = session.scalars(
        select(AuditEntry).where(
            AuditEntry.resource == "score_adjustment", AuditEntry.outcome == "refused"
        )
    ).all()
    assert refused[-1].actor == actor.username


def tie_board(session: Session) -> None:
    """Six committed towns whose 2023 renewal scores tie in each way the rules break."""
    for town in ("石岐", "南区", "西区", "东区", "火炬开发区", "五桂山"):
        commit(session, town, {"renewal.cleared_mu": "100"})
    for town, mu in (("石岐", "100"), ("南区", "100"), ("西区", "100"), ("东区", "90")):
        clear(session, town, mu, CLEARED_ON)
    for town in ("火炬开发区", "五桂山"):
        clear(session, town, "50", CLEARED_ON)
    late_project(session, "石岐")
    late_project(session, "西区")
    scoring.add_adjustment(
        session, actor=CITY, town="石岐", year=2023, campaign=R, points=D(2), reason="通报表扬"
    )


def test_ranking_order_and_its_tie_rules(session: Session) -> None:
    tie_board(session)
    board = scoring.ranking(session, actor=AUDITOR, year=2023, campaign=R, as_of=YEAR_END)
    assert board.as_of == YEAR_END
    top = [
        (row.town.name, row.score, row.completion_pct, row.overdue_projects)
        for row in board.rows[:6]
    ]
    assert top == [
        ("南区", D("20.00"), D("100.00"), 0),  # 20, all done, none late
        ("石岐", D("20.00"), D("100.00"), 1),  # 20 - 2 + 2: ties 南区 but one late
        ("西区", D("18.00"), D("100.00"), 1),  # 20 - 2
        ("东区", D("18.00"), D("90.00"), 0),  # ties 西区 on score; less done
        ("火炬开发区", D("10.00"), D("50.00"), 0),  # ties 五桂山 in every way: code 003
        ("五桂山", D("10.00"), D("50.00"), 0),  # code 006
    ]
    assert [row.rank for row in board.rows] == list(range(1, 24))
    rest = [row.town.code for row in board.rows[6:]]
    assert rest == sorted(rest)
    assert all(row.score == 0 for row in board.rows[6:])


def test_the_overall_score_is_the_sum_of_both(session: Session) -> None:
    tie_board(session)
    commit(session, "东区", {"water.sewer_km": "0"}, campaign=W)
    overall = scoring.ranking(session, actor=AUDITOR, year=2023, as_of=YEAR_END)
    assert overall.campaign == "both"
    first = overall.rows[0]
    assert (first.town.name, first.score) == ("东区", D("38.00"))  # 18 + 20
    assert {item.campaign for item in first.items} == {R, W}
    assert first.committed
    for row in overall.rows:
        assert (
            row.score
            == score(session, row.town.name, R).score + score(session, row.town.name, W).score
        )


def test_the_commendation_list_is_the_top_n_and_every_town_that_met_all(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "commend_top_n", 1)
    tie_board(session)
    found = scoring.commendation_list(session, actor=AUDITOR, year=2023, as_of=YEAR_END)
    picked = [(c.campaign, c.town.name, c.reasons) for c in found]
    assert picked == [
        ("renewal", "南区", ["top", "met_all"]),
        ("renewal", "石岐", ["met_all"]),
        ("renewal", "西区", ["met_all"]),
        ("water", "石岐", ["top"]),  # no water commitments: all 0, the code decides
        ("both", "南区", ["top"]),
    ]
    assert "排名第 1 名" in found[0].citation
    assert "全面完成" in found[0].citation
    only_water = scoring.commendation_list(
        session, actor=AUDITOR, year=2023, campaign=W, as_of=YEAR_END
    )
    assert [(c.campaign, c.town.name) for c in only_water] == [("water", "石岐")]


def test_commendations_are_written_once_by_the_city(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "commend_top_n", 1)
    tie_board(session)
    written, kept = scoring.commend(session, actor=CITY, year=2023, campaign=R, as_of=YEAR_END)
    assert [(c.kind, c.campaign, c.town_id) for c in written] == [
        (CommendationKind.town.value, "renewal", town_of(session, name).id)
        for name in ("南区", "石岐", "西区")
    ]
    assert kept == []
    again, kept = scoring.commend(session, actor=CITY, year=2023, campaign=R, as_of=YEAR_END)
    assert again == []
    assert len(kept) == 3
    person = scoring.nominate(
        session,
        actor=CITY,
        year=2023,
        person_name="张三",
        citation="驻镇工作组组长，推动连片拆除",
        campaign=R,
        town="南区",
    )
    assert (person.kind, person.campaign, person.person_name) == ("individual", "renewal", "张三")
    listed = scoring.list_commendations(session, actor=AUDITOR, year=2023)
    assert [(c.kind, t.name if t else None) for c, t in listed] == [
        ("town", "南区"),
        ("town", "石岐"),
        ("town", "西区"),
        ("individual", "南区"),
    ]
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.resource == "commendation", AuditEntry.outcome == "ok")
    ).all()
    assert len(entries) == 4


def test_only_the_city_commends(session: Session) -> None:
    shiqi = town_of(session, "石岐")
    with pytest.raises(Forbidden):
        scoring.commend(session, actor=town_actor(shiqi), year=2023)
    with pytest.raises(Forbidden):
        scoring.nominate(
            session,
            actor=town_actor(shiqi),
            year=2023,
            person_name="李四",
            citation="表现突出",
            town="石岐",
        )
    with pytest.raises(Forbidden):
        scoring.ranking(session, actor=Actor.public(), year=2023)
    with pytest.raises(Invalid, match="姓名"):
        scoring.nominate(session, actor=CITY, year=2023, person_name=" ", citation="表现突出")
