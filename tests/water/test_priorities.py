"""Urgent first: each river's score is the sum of its shown terms, rivers come in
score order then by code, and the list costs a fixed number of queries; complaints are
counted per river over a period in city time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.config import get_settings
from gongjian.db import utcnow
from gongjian.errors import Forbidden
from gongjian.periods import city_zone, parse_period
from gongjian.water.choices import ComplaintCategory, Grade, MeasureKind, MeasureState
from gongjian.water.models import Baseline, BaselineMember, Complaint, River, WaterBodyGrade
from gongjian.water.priorities import RiverPriority, complaint_counts, priorities
from tests.water.test_plans import make_plan
from tests.water.test_remediation import CITY, grade_period, make_river

AS_OF = dt.date(2022, 6, 30)
G = Grade


def complain(session: Session, river: River, at: dt.datetime) -> None:
    """A complaint about ``river`` received at ``at``."""
    count = session.query(Complaint).count()
    session.add(
        Complaint(
            receipt_no=f"TS-PR-{count + 1:05d}",
            river_id=river.id,
            town_id=river.lead_town_id,
            category=ComplaintCategory.odour,
            description="河边臭味很重",
            received_at=at,
        )
    )
    session.flush()


def city_time(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    """An instant in city time."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=city_zone())


def freeze(session: Session, frozen_on: dt.date, rivers: list[River]) -> None:
    """A baseline frozen on ``frozen_on`` listing ``rivers``."""
    baseline = Baseline(
        frozen_on=frozen_on, source_period="2021-12", frozen_at=utcnow(), frozen_by="test"
    )
    baseline.members = [BaselineMember(river_id=r.id, grade=Grade.severe) for r in rivers]
    session.add(baseline)
    session.flush()


@pytest.fixture
def rivers(session: Session) -> dict[str, River]:
    """Four rivers whose scores as of AS_OF are 117.33, 40, 40 and 0."""
    found = {
        "PR-A": make_river(session, "PR-A", town="石岐"),
        "PR-B": make_river(session, "PR-B", town="坦洲"),
        "PR-C": make_river(session, "PR-C", town="石岐"),
        "PR-D": make_river(session, "PR-D", town="坦洲"),
    }
    a, b, _c, d = found.values()
    grade_period(session, a, "2022-04", [G.none, G.none, G.none])
    grade_period(session, a, "2022-05", [G.severe, G.severe, G.none])
    grade_period(session, b, "2022-05", [G.mild, G.none, G.none])
    superseded = grade_period(session, b, "2022-06", [G.severe, G.severe, G.severe])
    grade_period(session, b, "2022-07", [G.severe, G.severe, G.severe])
    for grade in session.scalars(
        select(WaterBodyGrade).where(WaterBodyGrade.assessment_id == superseded.id)
    ):
        grade.superseded_at = utcnow()
    grade_period(session, d, "2022-06", [G.none, G.none, G.none])
    complain(session, a, city_time(2022, 6, 30, 23, 0))
    complain(session, a, city_time(2022, 4, 2, 0, 30))
    complain(session, a, city_time(2022, 4, 1, 23, 59))
    complain(session, b, city_time(2022, 7, 1, 0, 10))
    freeze(session, dt.date(2022, 1, 1), [a])
    freeze(session, dt.date(2022, 7, 1), [a, b])
    make_plan(
        session,
        a,
        [
            (MeasureKind.sewer, dt.date(2022, 5, 1), MeasureState.in_progress, None),
            (MeasureKind.dredging, dt.date(2022, 5, 1), MeasureState.done, dt.date(2022, 4, 1)),
        ],
    )
    return found


def _terms(row: RiverPriority) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    return {t.name: (t.raw, t.weight, t.points) for t in row.terms}


def test_scores_are_the_sum_of_their_terms_in_order(
    session: Session, rivers: dict[str, River]
) -> None:
    found = priorities(session, actor=CITY, as_of=AS_OF)
    assert [(r.rank, r.river_code, r.score) for r in found] == [
        (1, "PR-A", Decimal("117.33")),
        (2, "PR-B", Decimal("40.00")),
        (3, "PR-C", Decimal("40.00")),
        (4, "PR-D", Decimal("0.00")),
    ]
    for row in found:
        assert sum(t.points for t in row.terms) == row.score
    first = found[0]
    assert (first.grade, first.grade_period, first.town) == (G.severe, "2022-05", "石岐")
    assert _terms(first) == {
        "grade": (Decimal(2), Decimal(40), Decimal("80.00")),
        "severe_points": (Decimal("0.6667"), Decimal(20), Decimal("13.33")),
        "complaints": (Decimal(2), Decimal(2), Decimal("4.00")),
        "baseline": (Decimal(1), Decimal(15), Decimal("15.00")),
        "overdue_measures": (Decimal(1), Decimal(5), Decimal("5.00")),
    }
    assert first.terms[0].label == "黑臭等级"
    assert (found[1].grade, found[1].grade_period) == (G.mild, "2022-05")
    assert (found[2].grade, found[2].grade_period) == (None, None)
    assert _terms(found[2])["grade"][0] == Decimal(1)


def test_top_and_town_limit_the_list(session: Session, rivers: dict[str, River]) -> None:
    assert [r.river_code for r in priorities(session, actor=CITY, as_of=AS_OF, top=2)] == [
        "PR-A",
        "PR-B",
    ]
    tanzhou = priorities(session, actor=CITY, as_of=AS_OF, town="坦洲")
    assert [(r.rank, r.river_code) for r in tanzhou] == [(1, "PR-B"), (2, "PR-D")]


def test_later_data_count_as_of_their_day(session: Session, rivers: dict[str, River]) -> None:
    later = {r.river_code: r for r in priorities(session, actor=CITY, as_of=dt.date(2022, 7, 31))}
    assert later["PR-B"].grade == G.severe
    assert _terms(later["PR-B"])["baseline"][0] == Decimal(1)
    assert _terms(later["PR-B"])["complaints"][0] == Decimal(1)
    assert _terms(later["PR-A"])["complaints"][0] == Decimal(1)


def test_weights_come_from_the_settings(
    session: Session, rivers: dict[str, River], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "priority_weights", {"complaints": Decimal("100")})
    found = priorities(session, actor=CITY, as_of=AS_OF)
    assert [(r.river_code, r.score) for r in found][:2] == [
        ("PR-A", Decimal("200.00")),
        ("PR-B", Decimal("0.00")),
    ]
    assert _terms(found[0])["grade"] == (Decimal(2), Decimal(0), Decimal("0.00"))


def test_the_public_may_not_see_priorities(session: Session) -> None:
    with pytest.raises(Forbidden):
        priorities(session, actor=Actor.public(), as_of=AS_OF)


def test_priorities_cost_a_fixed_number_of_queries(
    demo_session: Session, demo_engine: Engine
) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statement = str(args[2]).lstrip()
        if statement.upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(demo_engine, "before_cursor_execute", count)
    try:
        city = priorities(demo_session, actor=CITY, as_of=dt.date(2023, 1, 31), top=1000)
        city_queries = len(statements)
        statements.clear()
        town = priorities(
            demo_session, actor=CITY, as_of=dt.date(2023, 1, 31), top=1000, town="小榄"
        )
        town_queries = len(statements)
    finally:
        event.remove(demo_engine, "before_cursor_execute", count)
    assert len(city) > 40
    assert 0 < len(town) < len(city)
    assert city_queries <= 5
    assert town_queries <= city_queries + 1
    scores = [r.score for r in city]
    assert scores == sorted(scores, reverse=True)
    assert all(sum(t.points for t in r.terms) == r.score for r in city)


def test_complaints_are_counted_per_river_in_the_period(
    session: Session, rivers: dict[str, River]
) -> None:
    complain(session, rivers["PR-C"], city_time(2022, 6, 1, 0, 0))
    june = complaint_counts(session, actor=CITY, period=parse_period("2022-06"))
    assert [(c.river_code, c.complaints, c.town) for c in june] == [
        ("PR-A", 1, "石岐"),
        ("PR-C", 1, "石岐"),
    ]
    april = complaint_counts(session, actor=CITY, period=parse_period("2022-04"))
    assert [(c.river_code, c.complaints) for c in april] == [("PR-A", 2)]
    july = complaint_counts(session, actor=CITY, period=parse_period("2022-07"), town="坦洲")
    assert [(c.river_code, c.complaints) for c in july] == [("PR-B", 1)]
    assert complaint_counts(session, actor=CITY, period=parse_period("2022-07"), town="石岐") == []
    week = complaint_counts(session, actor=CITY, period=parse_period("2022-W26"))
    assert [(c.river_code, c.complaints) for c in week] == [("PR-A", 1), ("PR-B", 1)]


def test_the_public_may_not_count_complaints(session: Session) -> None:
    with pytest.raises(Forbidden):
        complaint_counts(session, actor=Actor.public(), period=parse_period("2022-06"))
