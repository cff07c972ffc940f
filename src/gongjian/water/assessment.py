"""Grading inside the database (``gongjian assess``): the engine of ``grading.py``, compiled
by Ibis to the database's own SQL, over the samples of one period.

The period's samples and the monitoring points are copied into temporary tables in the
session's transaction, the Ibis expression runs over them as SQL, and the grades are
stored with their evidence under one ``Assessment``. An assessment records how many
samples it saw and the largest sample id, so a period whose samples changed since (late
samples) or whose rules changed is graded again: the new grades become current and the
old ones stay, marked superseded. A period already graded from the same data is left
alone unless forced.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
from sqlalchemy import Column, MetaData, Table, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.config import get_settings
from gongjian.db import utcnow
from gongjian.errors import Invalid, Problem
from gongjian.periods import Period, city_zone, parse_period, period_of
from gongjian.records import read_record
from gongjian.water.choices import Grade
from gongjian.water.grading import (
    DECIMAL_SCALES,
    SQLITE_SCALES,
    PointEvidence,
    decided_by,
    point_grades,
    sampling_warnings,
    samplings_of,
    severe_segments,
    water_body_decided_by,
    water_body_grades,
)
from gongjian.water.models import (
    Assessment,
    MonitoringPoint,
    PointGrade,
    River,
    Sample,
    WaterBodyGrade,
)
from gongjian.water.remediation import detect_relapses
from gongjian.water.rules import INDICATORS, Rules, load_rules
from gongjian.water.services import RIVERS

Progress = Callable[[str, int, int], None]

PERIOD_SAMPLES = "gj_period_samples"
PERIOD_POINTS = "gj_period_points"
PERIOD_POINT_GRADES = "gj_period_point_grades"
CHAINAGE_SCALE_SQLITE = 10
"""``chainage_m`` is stored in tenths of a metre on SQLite."""


@dataclass
class AssessmentResult:
    """What one ``assess`` of one period did."""

    period: str
    status: str
    """``graded`` (first time), ``regraded`` (replaced older grades), ``up_to_date``
    (same samples and rules as the current grades: nothing written), ``no_samples``."""
    samples: int = 0
    points: Counter[str] = field(default_factory=Counter)
    water_bodies: Counter[str] = field(default_factory=Counter)
    warnings: int = 0
    assessment_id: int | None = None
    relapsed: list[str] = field(default_factory=list)
    """Rivers this grading sent back to ``entered`` (返黑返臭)."""


def current_rules() -> Rules:
    """The rules of the platform: the setting ``rules_file``, or the packaged file."""
    return load_rules(get_settings().rules_file)


def _window(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The period's instants: from its first day's midnight to the next period's, city time."""
    zone = city_zone()
    start = dt.datetime.combine(period.start, dt.time(), zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), zone)
    return start, end


def _temporary(name: str, *columns: Column[Any]) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])


def _copy_period(connection: Connection, period: Period) -> None:
    """The period's samples and every monitoring point, into temporary tables."""
    start, end = _window(period)
    measures = [Sample.__table__.c[name] for name in (*INDICATORS, "depth_cm")]
    samples = _temporary(
        PERIOD_SAMPLES,
        Column("point_id", Sample.__table__.c.point_id.type),
        *(Column(c.name, c.type) for c in measures),
    )
    points = _temporary(
        PERIOD_POINTS,
        Column("point_id", MonitoringPoint.__table__.c.id.type),
        Column("water_body_id", MonitoringPoint.__table__.c.river_id.type),
        Column("chainage_m", MonitoringPoint.__table__.c.chainage_m.type),
    )
    for table in (samples, points):
        connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
        table.create(connection)
    connection.execute(
        insert(samples).from_select(
            ["point_id", *(c.name for c in measures)],
            select(Sample.point_id, *measures).where(
                Sample.sampled_at >= start, Sample.sampled_at < end
            ),
        )
    )
    connection.execute(
        insert(points).from_select(
            ["point_id", "water_body_id", "chainage_m"],
            select(MonitoringPoint.id, MonitoringPoint.river_id, MonitoringPoint.chainage_m),
        )
    )


def _unbound(dialect: str) -> tuple[ir.Table, ir.Table]:
    """The temporary tables as Ibis sees them, in the database's own representation."""
    if dialect == "sqlite":
        measure = {name: "int64" for name in (*INDICATORS, "depth_cm")}
        chainage = "int64"
    else:
        measure = {
            "transparency_cm": "decimal(8, 2)",
            "do_mg_l": "decimal(8, 3)",
            "orp_mv": "decimal(8, 2)",
            "nh3n_mg_l": "decimal(8, 3)",
            "depth_cm": "decimal(8, 2)",
        }
        chainage = "decimal(12, 1)"
    samples = ibis.table({"point_id": "int64", **measure}, name=PERIOD_SAMPLES)
    points = ibis.table(
        {"point_id": "int64", "water_body_id": "int64", "chainage_m": chainage},
        name=PERIOD_POINTS,
    )
    return samples, points


def _sql(expression: ir.Table, dialect: str) -> str:
    return str(ibis.to_sql(expression, dialect="sqlite" if dialect == "sqlite" else "postgres"))


def _grade_period(
    connection: Connection, rules: Rules
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Point grades, water-body grades and severe segments of the copied period."""
    dialect = connection.dialect.name
    samples, points = _unbound(dialect)
    scales = SQLITE_SCALES if dialect == "sqlite" else DECIMAL_SCALES
    graded = point_grades(samples, points, rules, scales)
    connection.execute(text(f"DROP TABLE IF EXISTS {PERIOD_POINT_GRADES}"))
    connection.execute(
        text(f"CREATE TEMPORARY TABLE {PERIOD_POINT_GRADES} AS {_sql(graded, dialect)}")
    )
    stored = ibis.table(graded.schema(), name=PERIOD_POINT_GRADES)
    rows = [
        dict(row._mapping)
        for row in connection.execute(text(f"SELECT * FROM {PERIOD_POINT_GRADES}"))
    ]
    bodies = [
        dict(row._mapping)
        for row in connection.execute(text(_sql(water_body_grades(stored, rules), dialect)))
    ]
    segments = [
        dict(row._mapping)
        for row in connection.execute(text(_sql(severe_segments(stored, rules), dialect)))
    ]
    for name in (PERIOD_POINT_GRADES, PERIOD_SAMPLES, PERIOD_POINTS):
        connection.execute(text(f"DROP TABLE {name}"))
    return rows, bodies, segments


def _metres(value: Any, dialect: str) -> Decimal:
    chainage = Decimal(value)
    return chainage / CHAINAGE_SCALE_SQLITE if dialect == "sqlite" else chainage


def _warnings(session: Session, period: Period, rules: Rules) -> list[dict[str, str]]:
    """The sampling-rule warnings of the period, naming rivers and points by code."""
    start, end = _window(period)
    codes: dict[int, str] = {}
    bodies: dict[str, list[tuple[Decimal, str]]] = {}
    for point_id, code, river_code, chainage in session.execute(
        select(MonitoringPoint.id, MonitoringPoint.code, River.code, MonitoringPoint.chainage_m)
        .join(River, River.id == MonitoringPoint.river_id)
        .order_by(MonitoringPoint.id)
    ):
        codes[point_id] = code
        bodies.setdefault(river_code, []).append((chainage, code))
    times: dict[str, list[dt.datetime]] = {code: [] for code in codes.values()}
    for point_id, instant in session.execute(
        select(Sample.point_id, Sample.sampled_at).where(
            Sample.sampled_at >= start, Sample.sampled_at < end
        )
    ):
        times[codes[point_id]].append(instant)
    samplings = {code: samplings_of(instants, rules) for code, instants in times.items()}
    return [warning.as_dict() for warning in sampling_warnings(bodies, samplings, rules)]


def _supersede(session: Session, current: Assessment, now: dt.datetime) -> None:
    current.superseded_at = now
    for model in (PointGrade, WaterBodyGrade):
        session.execute(
            update(model).where(model.assessment_id == current.id).values(superseded_at=now)
        )


def assess(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    force: bool = False,
    rules: Rules | None = None,
) -> AssessmentResult:
    """Grade every point and water body for ``period`` and store the grades as current.

    Nothing is written when the current grades of the period were made from the same
    samples with the same rules, unless ``force``.
    """
    authorize(session, actor, Action.add, "assessment", record_id=period.label)
    rules = rules or current_rules()
    start, end = _window(period)
    # Samples are never changed or removed: a late one makes the period's count grow.
    count = session.execute(
        select(func.count())
        .select_from(Sample)
        .where(Sample.sampled_at >= start, Sample.sampled_at < end)
    ).scalar_one()
    current = session.scalars(
        select(Assessment).where(
            Assessment.period == period.label, Assessment.superseded_at.is_(None)
        )
    ).first()
    if current is None and count == 0:
        return AssessmentResult(period.label, "no_samples")
    unchanged = current is not None and (current.samples, current.rules_hash) == (
        count,
        rules.hash,
    )
    if unchanged and current is not None and not force:
        return AssessmentResult(period.label, "up_to_date", count, assessment_id=current.id)
    connection = session.connection()
    _copy_period(connection, period)
    point_rows, body_rows, segment_rows = _grade_period(connection, rules)
    now = utcnow()
    if current is not None:
        _supersede(session, current, now)
    warnings = _warnings(session, period, rules)
    assessment = Assessment(
        period=period.label,
        period_start=period.start,
        period_end=period.end,
        samples=count,
        rules_hash=rules.hash,
        warnings={"warnings": warnings},
        assessed_at=now,
        actor=actor.username,
    )
    session.add(assessment)
    session.flush()
    common = {
        "assessment_id": assessment.id,
        "period": period.label,
        "period_start": period.start,
        "period_end": period.end,
        "rules_hash": rules.hash,
        "assessed_at": now,
    }
    dialect = connection.dialect.name
    point_values = []
    for row in point_rows:
        evidence = PointEvidence.from_row(row)
        point_values.append(
            {
                **common,
                "point_id": row["point_id"],
                "samples": evidence.samples,
                "grade": evidence.grade.value,
                "evidence": evidence.as_dict(),
                "decided_by": decided_by(evidence, rules),
            }
        )
    segments: dict[int, list[list[float]]] = {}
    for row in sorted(segment_rows, key=lambda r: (r["water_body_id"], r["start_m"])):
        segments.setdefault(row["water_body_id"], []).append(
            [float(_metres(row["start_m"], dialect)), float(_metres(row["end_m"], dialect))]
        )
    body_values = []
    for row in body_rows:
        counts = {key: int(row[key]) for key in ("points", "points_graded", "points_severe")}
        grade = Grade(row["grade"])
        body_values.append(
            {
                **common,
                "river_id": row["water_body_id"],
                "grade": grade.value,
                "points_graded": counts["points_graded"],
                "points_severe": counts["points_severe"],
                "severe_segments": {"segments": segments.get(row["water_body_id"], [])},
                "evidence": {"grade": grade.value, **counts},
                "decided_by": water_body_decided_by(grade, rules, **counts),
            }
        )
    if point_values:
        session.execute(insert(PointGrade), point_values)
    if body_values:
        session.execute(insert(WaterBodyGrade), body_values)
    relapsed = detect_relapses(session, actor=actor, assessment_id=assessment.id)
    result = AssessmentResult(
        period.label,
        "graded" if current is None else "regraded",
        count,
        Counter(v["grade"] for v in point_values),
        Counter(v["grade"] for v in body_values),
        len(warnings),
        assessment.id,
        relapsed,
    )
    record(
        session,
        actor=actor,
        action="assess",
        resource="assessment",
        record_id=period.label,
        after={
            "assessment_id": assessment.id,
            "samples": count,
            "rules_hash": rules.hash,
            "water_bodies": dict(result.water_bodies),
        },
        detail=f"黑臭评价 {period.label}：样本 {count} 条"
        + (f"，替代第 {current.id} 次评价" if current is not None else ""),
    )
    return result


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period of ``first``'s kind from ``first`` to ``last`` inclusive."""
    periods = [first]
    while periods[-1].end < last.end:
        periods.append(periods[-1].following())
    return periods


def periods_to_assess(
    session: Session,
    *,
    period: str | None,
    first: str | None,
    last: str | None,
    names: tuple[str, str, str] = ("period", "from", "to"),
) -> list[Period]:
    """The periods a request names: one ``period``, or ``first``..``last`` (both months
    or both weeks, in order), or with none of them every month that has samples.
    ``names`` are the request's own names of the three fields, for messages."""
    if period and (first or last):
        raise Invalid(
            f"{names[0]} 不能与 {names[1]}/{names[2]} 同时给出",
            [Problem("只给一个时段，或给出起止时段", column=names[0], value=period)],
        )
    if period:
        return [parse_period(period, field=names[0])]
    if not (first or last):
        return sampled_months(session)
    if not (first and last):
        raise Invalid(
            f"{names[1]} 与 {names[2]} 需同时给出",
            [Problem("缺少起止时段之一", column=names[2] if first else names[1])],
        )
    start, end = parse_period(first, field=names[1]), parse_period(last, field=names[2])
    if start.weekly != end.weekly or start.start > end.start:
        raise Invalid(
            f"{names[1]} 与 {names[2]} 须为同一种时段，且 {names[1]} 不晚于 {names[2]}",
            [Problem("起止时段不匹配", column=names[1], value=f"{first}..{last}")],
        )
    return periods_between(start, end)


def sampled_months(session: Session) -> list[Period]:
    """Every month from the first sample's to the last sample's (city time)."""
    first, last = session.execute(
        select(func.min(Sample.sampled_at), func.max(Sample.sampled_at))
    ).one()
    if first is None:
        return []
    zone = city_zone()
    return periods_between(
        period_of(first.astimezone(zone).date()), period_of(last.astimezone(zone).date())
    )


def assess_periods(
    session: Session,
    *,
    actor: Actor,
    periods: list[Period],
    force: bool = False,
    progress: Progress | None = None,
) -> list[AssessmentResult]:
    """``assess`` each of ``periods`` in turn (one rules file for all)."""
    rules = current_rules()
    results = []
    for done, period in enumerate(periods, start=1):
        results.append(assess(session, actor=actor, period=period, force=force, rules=rules))
        if progress is not None:
            progress("黑臭评价", done, len(periods))
    return results


@dataclass(frozen=True)
class RiverGrades:
    """A river's grade for one period and its points' grades, along the chainage."""

    river_code: str
    water_body: WaterBodyGrade
    points: list[tuple[str, PointGrade]]


def river_grades(
    session: Session, *, actor: Actor, river_code: str, period: Period | None = None
) -> list[RiverGrades]:
    """A river's current grades, every period (latest first) or one; superseded grades
    are kept in the database but not shown here."""
    authorize(session, actor, Action.view, "grade", record_id=river_code)
    river = read_record(session, RIVERS, actor=actor, code=river_code)
    bodies = select(WaterBodyGrade).where(
        WaterBodyGrade.river_id == river.id, WaterBodyGrade.superseded_at.is_(None)
    )
    if period is not None:
        bodies = bodies.where(WaterBodyGrade.period == period.label)
    found = list(session.scalars(bodies.order_by(WaterBodyGrade.period_end.desc())))
    points: dict[int, list[tuple[str, PointGrade]]] = {}
    for code, grade in session.execute(
        select(MonitoringPoint.code, PointGrade)
        .join(PointGrade, PointGrade.point_id == MonitoringPoint.id)
        .where(
            MonitoringPoint.river_id == river.id,
            PointGrade.assessment_id.in_([b.assessment_id for b in found]),
        )
        .order_by(MonitoringPoint.chainage_m, MonitoringPoint.code)
    ):
        points.setdefault(grade.assessment_id, []).append((code, grade))
    return [RiverGrades(river.code, body, points.get(body.assessment_id, [])) for body in found]


def list_assessments(
    session: Session, *, actor: Actor, period: Period | None = None
) -> list[Assessment]:
    """Assessments, latest period first, superseded ones included (the history)."""
    authorize(session, actor, Action.view, "assessment")
    query = select(Assessment).order_by(Assessment.period_end.desc(), Assessment.id.desc())
    if period is not None:
        query = query.where(Assessment.period == period.label)
    return list(session.scalars(query))
