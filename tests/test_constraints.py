"""Every constraint of the schema refuses a write that breaks it, with a clear message.

The constraints are read from the models' metadata, so a constraint added later is
tested without a new test. Each test breaks one constraint on a row of the demo city
(or a row added here for tables the demo leaves empty), inside a savepoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Table,
    UniqueConstraint,
    delete,
    insert,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongjian.auth.models import SignInFailure, User, WebSession
from gongjian.db_errors import CHECK_MEANINGS, explain
from gongjian.errors import Conflict, GongjianError, Invalid
from gongjian.models import (
    Assessment,
    Base,
    Baseline,
    BaselineMember,
    Briefing,
    Commendation,
    ImportRun,
    MonitoringPoint,
    PointGrade,
    River,
    RiverSurvey,
    StationToken,
    StationTokenPoint,
    Town,
    WaterBodyGrade,
)

UTC_NOON = dt.datetime(2022, 1, 1, 4, tzinfo=dt.UTC)
TABLES = [t for t in Base.metadata.sorted_tables if t.name != "alembic_version"]


def _checks() -> list[tuple[Table, CheckConstraint]]:
    return [
        (table, c)
        for table in TABLES
        for c in sorted(table.constraints, key=lambda c: str(c.name))
        if isinstance(c, CheckConstraint)
    ]


def _uniques() -> list[tuple[Table, str, list[str]]]:
    found = []
    for table in TABLES:
        for c in table.constraints:
            if isinstance(c, UniqueConstraint):
                found.append((table, str(c.name), [col.name for col in c.columns]))
        for index in table.indexes:
            if isinstance(index, Index) and index.unique:
                found.append((table, str(index.name), [col.name for col in index.columns]))
    return sorted(found, key=lambda f: f[1])


def _foreign_keys() -> list[tuple[Table, str]]:
    return sorted(
        (
            (table, c.columns.keys()[0])
            for table in TABLES
            for c in table.constraints
            if isinstance(c, ForeignKeyConstraint)
        ),
        key=lambda f: f"{f[0].name}.{f[1]}",
    )


def _not_nulls() -> list[tuple[Table, Column[Any]]]:
    return [
        (table, column)
        for table in TABLES
        for column in table.columns
        if not column.nullable and not column.primary_key
    ]


@pytest.fixture
def filled(demo_session: Session) -> Session:
    """The demo city plus rows in the tables the demo leaves to later features."""
    river = demo_session.scalars(select(River).order_by(River.id)).first()
    point = demo_session.scalars(select(MonitoringPoint).order_by(MonitoringPoint.id)).first()
    town = demo_session.scalars(select(Town).order_by(Town.id)).first()
    user = demo_session.scalars(select(User).order_by(User.id)).first()
    assert river
    assert point
    assert town
    assert user
    period = {
        "period": "2021-12",
        "period_start": dt.date(2021, 12, 1),
        "period_end": dt.date(2021, 12, 31),
        "rules_hash": "0" * 64,
        "assessed_at": UTC_NOON,
    }
    assessment = Assessment(samples=1, warnings={"warnings": []}, actor="t", **period)
    demo_session.add(assessment)
    demo_session.flush()
    grade = {
        **period,
        "assessment_id": assessment.id,
        "grade": "severe",
        "evidence": {"rule": "test"},
        "decided_by": "测试",
    }
    demo_session.add_all(
        [
            ImportRun(kind="samples", filename="a.csv", sha256="0" * 64, rows=1, actor="t"),
            PointGrade(point_id=point.id, samples=5, **grade),
            WaterBodyGrade(
                river_id=river.id,
                points_graded=3,
                points_severe=3,
                severe_segments={"segments": []},
                **grade,
            ),
            Briefing(period="2023-01", campaign="water", title="通报", figures={}),
            Commendation(kind="town", year=2022, campaign="water", town_id=town.id, citation="好"),
            RiverSurvey(
                river_id=river.id,
                surveyed_on=dt.date(2022, 12, 1),
                valid_questionnaires=120,
                satisfied=110,
                recorded_by="t",
            ),
            *(
                StationToken(
                    name=f"测试站{n}",
                    prefix=f"gjst_{n}",
                    token_hash=str(n) * 64,
                    created_by="t",
                    points=[StationTokenPoint(point_id=point.id)],
                )
                for n in (1, 2)
            ),
            *(
                WebSession(
                    token_hash=str(n) * 64,
                    user_id=user.id,
                    created_at=UTC_NOON,
                    last_seen_at=UTC_NOON,
                )
                for n in (1, 2)
            ),
            *(SignInFailure(username="nobody", at=UTC_NOON, run_length=n) for n in (1, 2)),
        ]
    )
    for day in (dt.date(2030, 1, 1), dt.date(2030, 7, 1)):
        baseline = Baseline(
            frozen_on=day, source_period="2021-12", frozen_at=UTC_NOON, frozen_by="t"
        )
        demo_session.add(baseline)
        demo_session.flush()
        demo_session.add(BaselineMember(baseline_id=baseline.id, river_id=river.id, grade="severe"))
    demo_session.flush()
    return demo_session


def _rows(session: Session, table: Table, where: Any = None, n: int = 2) -> list[Any]:
    stmt = select(table).order_by(*table.primary_key.columns).limit(n)
    if where is not None:
        stmt = stmt.where(where)
    rows = session.execute(stmt).all()
    assert rows, f"no row in {table.name} to test with"
    return list(rows)


def _key(table: Table, row: Any) -> Any:
    return [column == getattr(row, column.name) for column in table.primary_key.columns]


def _refused(session: Session, write: Callable[[], Any]) -> GongjianError:
    """Run ``write`` in a savepoint; it must be refused. Returns the explained error."""
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        write()
    return explain(caught.value)


def _breaking_values(table: Table, check: CheckConstraint, row: Any) -> dict[str, Any]:
    """Values that break ``check`` (and nothing else) on ``row``."""
    name = str(check.name).removeprefix(f"ck_{table.name}_")
    if name.endswith("_valid") and name.removesuffix("_valid") in table.c:
        return {name.removesuffix("_valid"): "bogus"}
    if name.endswith("_non_negative"):
        column = name.removesuffix("_non_negative")
        return {column: -1}
    if name.endswith("_in_range"):
        column = name.removesuffix("_in_range")
        return {column: 1001}
    one_day = dt.timedelta(days=1)
    special: dict[str, dict[str, Any]] = {
        "measures_something": dict.fromkeys(
            ("transparency_cm", "do_mg_l", "orp_mv", "nh3n_mg_l"), None
        ),
        "reach_forward": {"end_chainage_m": literal_column("start_chainage_m")},
        "culvert_forward": {"end_chainage_m": literal_column("start_chainage_m")},
        "closed_after": {"closed_at": getattr(row, "received_at", UTC_NOON) - one_day},
        "ends_after_start": {"end_on": getattr(row, "start_on", dt.date(2022, 1, 1)) - one_day},
        "not_own_parent": {"parent_lease_id": literal_column("id")},
        "town_role_has_town": {"role": "town", "town_id": None},
        "no_public_accounts": {"role": "public", "town_id": None},
        "single_row": {"id": 2},
        "seq_positive": {"seq": 0},
        "satisfied_within_valid": {"satisfied": literal_column("valid_questionnaires + 1")},
    }
    assert name in special, f"no breaking values for CHECK {check.name}: add them here"
    return special[name]


def _row_for_check(session: Session, table: Table, name: str) -> Any:
    if name.endswith("closed_after"):
        return _rows(session, table, table.c.closed_at.is_not(None), 1)[0]
    if name.endswith(("town_role_has_town", "no_public_accounts")):
        return _rows(session, table, table.c.role == "admin", 1)[0]
    return _rows(session, table, n=1)[0]


@pytest.mark.parametrize(("table", "check"), _checks(), ids=[str(c.name) for _, c in _checks()])
def test_check_constraint_refuses_and_says_which_rule(
    filled: Session, table: Table, check: CheckConstraint
) -> None:
    row = _row_for_check(filled, table, str(check.name))
    values = _breaking_values(table, check, row)
    error = _refused(
        filled, lambda: filled.execute(update(table).where(*_key(table, row)).values(values))
    )
    assert isinstance(error, Invalid)
    reason = error.problems[0].reason
    assert str(check.name) in reason
    assert table.name in reason
    assert "不符合约束" not in reason, f"no meaning in CHECK_MEANINGS for {check.name}"
    assert any(str(check.name).endswith(key) for key in CHECK_MEANINGS)


@pytest.mark.parametrize(
    ("table", "name", "columns"), _uniques(), ids=[name for _, name, _ in _uniques()]
)
def test_unique_key_refuses_a_duplicate(
    filled: Session, table: Table, name: str, columns: list[str]
) -> None:
    where = table.c.kind == "reserve_on_account" if name.startswith("uq_reserve_entries") else None
    first, second = _rows(filled, table, where)
    values = {column: getattr(second, column) for column in columns}
    error = _refused(
        filled, lambda: filled.execute(update(table).where(*_key(table, first)).values(values))
    )
    assert isinstance(error, Conflict)
    if name.startswith("uq_reserve_entries"):
        assert "重复收储" in error.message
    else:
        assert all(column in error.message for column in columns), error.message


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_primary_key_refuses_a_second_row_with_the_same_key(filled: Session, table: Table) -> None:
    row = _rows(filled, table, n=1)[0]
    error = _refused(filled, lambda: filled.execute(insert(table).values(dict(row._mapping))))
    assert isinstance(error, Conflict)


@pytest.mark.parametrize(
    ("table", "column"), _foreign_keys(), ids=[f"{t.name}.{c}" for t, c in _foreign_keys()]
)
def test_foreign_key_refuses_a_missing_record(filled: Session, table: Table, column: str) -> None:
    referencing = (
        _rows(filled, table, table.c[column].is_not(None), 1)
        if filled.scalar(select(table.c[column]).where(table.c[column].is_not(None)).limit(1))
        else _rows(filled, table, n=1)
    )
    row = referencing[0]
    error = _refused(
        filled,
        lambda: filled.execute(
            update(table).where(*_key(table, row)).values({column: 2_000_000_000})
        ),
    )
    assert isinstance(error, Invalid)
    assert "外键" in error.message


def test_deleting_a_record_still_referenced_is_refused(filled: Session) -> None:
    town = _rows(filled, Town.__table__, n=1)[0]
    error = _refused(filled, lambda: filled.execute(delete(Town).where(Town.id == town.id)))
    assert isinstance(error, Invalid)
    assert "外键" in error.message


@pytest.mark.parametrize(
    ("table", "column"),
    _not_nulls(),
    ids=[f"{t.name}.{c.name}" for t, c in _not_nulls()],
)
def test_required_column_refuses_null(filled: Session, table: Table, column: Column[Any]) -> None:
    row = _rows(filled, table, n=1)[0]
    error = _refused(
        filled,
        lambda: filled.execute(
            update(table).where(*_key(table, row)).values({column.name: null()})
        ),
    )
    assert isinstance(error, Invalid)
    assert column.name in error.problems[0].reason
