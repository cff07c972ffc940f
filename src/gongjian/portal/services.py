"""The public portal's work: what citizens may read of the published rivers, the
complaints they submit (rate-limited per client address, with an optional photo) and
the receipt lookup.

Every read goes through ``restrict`` with the actor (the public: ``Actor.public()``), so
only published rivers and briefings are ever seen; an unpublished river is as unknown
as one that does not exist. No portal read returns a complainant's personal data, nor a
complaint's description (which a citizen may have filled with it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, delete, func, select
from sqlalchemy.orm import Session

from gongjian.audit.chain import record
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import restrict
from gongjian.campaign.models import Briefing
from gongjian.config import get_settings
from gongjian.errors import GongjianError, Invalid, NotFound, Problem
from gongjian.periods import Period, city_zone
from gongjian.portal.choices import PhotoType, ReceiptStatus
from gongjian.portal.models import ComplaintPhoto, ComplaintSubmission
from gongjian.towns.models import Town
from gongjian.water.choices import (
    ComplaintCategory,
    Grade,
    MeasureKind,
    MeasureState,
    RemediationState,
)
from gongjian.water.latest import latest_grades
from gongjian.water.models import (
    Complaint,
    MonitoringPoint,
    PlanMeasure,
    River,
    RiverPlan,
    RiverReach,
    Sample,
    WaterBodyGrade,
)
from gongjian.water.plans import is_overdue
from gongjian.water.priorities import COMPLAINT_DAYS
from gongjian.water.services import add_complaint

PAGE_SIZE = 12
"""River cards per page of the portal's list."""
HISTORY_PERIODS = 12
"""Grades shown in a river's history, latest first."""
BRIEFINGS_SHOWN = 10
"""Published briefings listed on the portal, latest first."""
UNKNOWN_ADDRESS = "unknown"
"""The rate limit's key for a request whose client address is not known."""


class TooManySubmissions(GongjianError):
    """A client address has submitted ``complaint_rate_limit`` complaints within the
    window: it may submit again at ``retry_at`` (429)."""

    status = 429

    def __init__(self, retry_at: dt.datetime) -> None:
        super().__init__("提交过于频繁，请稍后再试")
        self.retry_at = retry_at


@dataclass(frozen=True)
class PlanSummary:
    """What is being done for a river (一河一策) and by when, in a few figures."""

    title: str
    measures: int
    done: int
    overdue: int
    """Measures past their deadline and not done."""
    doing: list[MeasureKind]
    """Kinds of the measures not yet done, in the plan's order."""
    due: dt.date | None
    """The latest deadline of the measures not yet done; ``None`` when all are done."""


@dataclass(frozen=True)
class PublicMeasure:
    """A plan measure as citizens see it (without its owner's details)."""

    kind: MeasureKind
    description: str
    deadline: dt.date
    state: MeasureState
    done_on: dt.date | None
    overdue: bool


@dataclass(frozen=True)
class RiverCard:
    """One published river as the portal's list shows it."""

    id: int
    name: str
    town: str
    grade: Grade | None
    """Its latest current grade on or before the day; ``None`` when never graded."""
    grade_period: Period | None
    state: RemediationState
    relapsed: bool
    plan: PlanSummary | None
    last_sampled: dt.date | None
    """The day (city time) of its latest sampling."""


@dataclass(frozen=True)
class TownChoice:
    """A town of the list's filter, with how many published rivers it leads."""

    code: str
    name: str
    rivers: int


@dataclass(frozen=True)
class RiverPage:
    """A page of published rivers and the towns to filter by."""

    cards: list[RiverCard]
    total: int
    page: int
    pages: int
    towns: list[TownChoice]
    town: TownChoice | None


@dataclass(frozen=True)
class MapRiver:
    """A published river as the map draws it."""

    id: int
    name: str
    town: str
    grade: Grade | None
    state: RemediationState
    geometry: dict[str, Any]
    """Its centre line, GeoJSON in EPSG:4326."""


@dataclass(frozen=True)
class GradeEntry:
    """One period of a river's grade history."""

    period: Period
    grade: Grade
    points_graded: int
    points_severe: int


@dataclass(frozen=True)
class ComplaintTally:
    """How many complaints a river has received, and how many are closed; no one's
    personal data."""

    received: int
    closed: int
    recent: int
    """Received in the ``COMPLAINT_DAYS`` days up to the day, the day included."""

    @property
    def open(self) -> int:
        """Received and not yet closed."""
        return self.received - self.closed


@dataclass(frozen=True)
class RiverStatus:
    """A published river's page: its card, towns, grade history, plan and complaints."""

    card: RiverCard
    length_m: Any
    towns: list[str]
    """The towns its reaches run through, from upstream."""
    history: list[GradeEntry]
    measures: list[PublicMeasure]
    complaints: ComplaintTally


@dataclass(frozen=True)
class PublishedBriefing:
    """A briefing (通报) the city has published."""

    id: int
    title: str
    period: str
    published_on: dt.date
    """The day (city time) it was published."""


@dataclass(frozen=True)
class RiverChoice:
    """A published river in the complaint form's list."""

    id: int
    name: str
    town: str


@dataclass(frozen=True)
class ReceiptView:
    """A complaint as its receipt lookup shows it: status and days, nothing personal."""

    receipt_no: str
    river_name: str | None
    """``None`` when the river is not (or no longer) published."""
    category: ComplaintCategory
    received_on: dt.date
    status: ReceiptStatus
    closed_on: dt.date | None


def _city_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(city_zone()).date()


def _published(session: Session, actor: Actor, stmt: Select[Any]) -> Select[Any]:
    """``stmt`` (whose first column is of ``River``) limited to what ``actor`` may see."""
    return restrict(session, actor, stmt, "river")


def _cards_select(as_of: dt.date) -> Select[Any]:
    latest = latest_grades(as_of)
    return (
        select(River, Town.name, WaterBodyGrade)
        .join(Town, Town.id == River.lead_town_id)
        .outerjoin(latest, latest.c.river_id == River.id)
        .outerjoin(WaterBodyGrade, WaterBodyGrade.id == latest.c.id)
    )


def _measures(
    session: Session, river_ids: list[int], as_of: dt.date
) -> dict[int, tuple[str, list[PublicMeasure]]]:
    """Each river's plan title and measures, in deadline order (one query)."""
    plans: dict[int, tuple[str, list[PublicMeasure]]] = {}
    if not river_ids:
        return plans
    rows = session.execute(
        select(RiverPlan.river_id, RiverPlan.title, PlanMeasure)
        .outerjoin(PlanMeasure, PlanMeasure.plan_id == RiverPlan.id)
        .where(RiverPlan.river_id.in_(river_ids))
        .order_by(RiverPlan.river_id, PlanMeasure.deadline, PlanMeasure.id)
    )
    for river_id, title, measure in rows:
        measures = plans.setdefault(river_id, (title, []))[1]
        if measure is not None:
            state = MeasureState(measure.state)
            measures.append(
                PublicMeasure(
                    kind=MeasureKind(measure.kind),
                    description=measure.description,
                    deadline=measure.deadline,
                    state=state,
                    done_on=measure.done_on,
                    overdue=is_overdue(measure.deadline, state, measure.done_on, as_of),
                )
            )
    return plans


def _summary(title: str, measures: list[PublicMeasure]) -> PlanSummary:
    pending = [m for m in measures if m.state is not MeasureState.done]
    return PlanSummary(
        title=title,
        measures=len(measures),
        done=len(measures) - len(pending),
        overdue=sum(m.overdue for m in measures),
        doing=list(dict.fromkeys(m.kind for m in pending)),
        due=max((m.deadline for m in pending), default=None),
    )


def _last_sampled(session: Session, river_ids: list[int]) -> dict[int, dt.date]:
    """The day of each river's latest sampling (one query)."""
    if not river_ids:
        return {}
    rows = session.execute(
        select(MonitoringPoint.river_id, func.max(Sample.sampled_at))
        .join(Sample, Sample.point_id == MonitoringPoint.id)
        .where(MonitoringPoint.river_id.in_(river_ids))
        .group_by(MonitoringPoint.river_id)
    )
    return {river_id: _city_day(last) for river_id, last in rows if last is not None}


def _cards(session: Session, rows: list[Any], as_of: dt.date) -> list[RiverCard]:
    ids = [river.id for river, _town, _grade in rows]
    plans = _measures(session, ids, as_of)
    sampled = _last_sampled(session, ids)
    cards = []
    for river, town_name, grade in rows:
        plan = plans.get(river.id)
        cards.append(
            RiverCard(
                id=river.id,
                name=river.name,
                town=town_name,
                grade=Grade(grade.grade) if grade is not None else None,
                grade_period=(
                    Period(grade.period, grade.period_start, grade.period_end)
                    if grade is not None
                    else None
                ),
                state=RemediationState(river.remediation_state),
                relapsed=river.relapsed,
                plan=_summary(*plan) if plan is not None else None,
                last_sampled=sampled.get(river.id),
            )
        )
    return cards


def _towns(session: Session, actor: Actor) -> list[TownChoice]:
    counts = _published(
        session,
        actor,
        select(River.lead_town_id, Town.code, Town.name, func.count(River.id))
        .join(Town, Town.id == River.lead_town_id)
        .group_by(River.lead_town_id, Town.code, Town.name),
    )
    return [
        TownChoice(code=code, name=name, rivers=n)
        for _id, code, name, n in session.execute(counts.order_by(River.lead_town_id))
    ]


def list_rivers(
    session: Session, *, actor: Actor, as_of: dt.date, town: str | None = None, page: int = 1
) -> RiverPage:
    """A page of the published rivers (of one town, by its code, when ``town`` is given),
    each with its grade as of ``as_of``, remediation state, plan summary and last
    sampling, and the towns to filter by. A fixed number of queries, whatever the number
    of rivers."""
    towns = _towns(session, actor)
    chosen = next((t for t in towns if t.code == town), None) if town else None
    stmt = _published(session, actor, _cards_select(as_of))
    if town:
        stmt = stmt.where(Town.code == town)
    counted = stmt.with_only_columns(River.id).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    ordered = stmt.order_by(River.lead_town_id, River.code)
    rows = list(session.execute(ordered.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return RiverPage(
        cards=_cards(session, rows, as_of),
        total=total,
        page=page,
        pages=pages,
        towns=towns,
        town=chosen,
    )


def river_map(
    session: Session, *, actor: Actor, as_of: dt.date, town: str | None = None
) -> list[MapRiver]:
    """Every published river with a centre line (of one town, by its code, when ``town``
    is given), with its grade as of ``as_of``, for the map; in one query."""
    latest = latest_grades(as_of)
    stmt = _published(
        session,
        actor,
        select(River.id, River.name, Town.name, latest.c.grade, River.remediation_state)
        .add_columns(River.geometry)
        .join(Town, Town.id == River.lead_town_id)
        .outerjoin(latest, latest.c.river_id == River.id)
        .where(River.geometry.is_not(None)),
    )
    if town:
        stmt = stmt.where(Town.code == town)
    return [
        MapRiver(
            id=river_id,
            name=name,
            town=town_name,
            grade=Grade(grade) if grade else None,
            state=RemediationState(state),
            geometry=geometry,
        )
        for river_id, name, town_name, grade, state, geometry in session.execute(
            stmt.order_by(River.lead_town_id, River.code)
        )
    ]


def get_river(session: Session, *, actor: Actor, river_id: int, as_of: dt.date) -> RiverStatus:
    """A published river's status as of ``as_of``: its card, the towns it runs through,
    its last ``HISTORY_PERIODS`` grades, its plan's measures and its complaint counts.
    ``NotFound`` for an unpublished river, worded as for one that does not exist."""
    stmt = _published(session, actor, _cards_select(as_of)).where(River.id == river_id)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"没有找到编号为 {river_id} 的河涌")
    card = _cards(session, [row], as_of)[0]
    towns = session.scalars(
        select(Town.name)
        .join(RiverReach, RiverReach.town_id == Town.id)
        .where(RiverReach.river_id == river_id)
        .order_by(RiverReach.start_chainage_m)
    )
    grades = session.scalars(
        select(WaterBodyGrade)
        .where(
            WaterBodyGrade.river_id == river_id,
            WaterBodyGrade.superseded_at.is_(None),
            WaterBodyGrade.period_end <= as_of,
        )
        .order_by(WaterBodyGrade.period_end.desc(), WaterBodyGrade.period_start)
        .limit(HISTORY_PERIODS)
    )
    history = [
        GradeEntry(
            period=Period(g.period, g.period_start, g.period_end),
            grade=Grade(g.grade),
            points_graded=g.points_graded,
            points_severe=g.points_severe,
        )
        for g in grades
    ]
    plan = _measures(session, [river_id], as_of).get(river_id)
    return RiverStatus(
        card=card,
        length_m=row[0].length_m,
        towns=list(towns),
        history=history,
        measures=plan[1] if plan is not None else [],
        complaints=_tally(session, river_id, as_of),
    )


def _tally(session: Session, river_id: int, as_of: dt.date) -> ComplaintTally:
    since = dt.datetime.combine(
        as_of - dt.timedelta(days=COMPLAINT_DAYS - 1), dt.time(), city_zone()
    )
    until = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), city_zone())
    received, closed, recent = session.execute(
        select(
            func.count(Complaint.id),
            func.count(Complaint.closed_at),
            func.coalesce(
                func.sum(
                    case(
                        (
                            (Complaint.received_at >= since) & (Complaint.received_at < until),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(Complaint.river_id == river_id, Complaint.received_at < until)
    ).one()
    return ComplaintTally(received=received, closed=closed, recent=int(recent))


def published_briefings(session: Session, *, actor: Actor) -> list[PublishedBriefing]:
    """The latest ``BRIEFINGS_SHOWN`` briefings the city has published."""
    stmt = restrict(session, actor, select(Briefing), "briefing")
    found = session.scalars(
        stmt.order_by(Briefing.published_at.desc(), Briefing.id.desc()).limit(BRIEFINGS_SHOWN)
    )
    return [
        PublishedBriefing(
            id=b.id, title=b.title, period=b.period, published_on=_city_day(b.published_at)
        )
        for b in found
        if b.published_at is not None
    ]


def river_choices(session: Session, *, actor: Actor) -> list[RiverChoice]:
    """The published rivers a complaint may be about, by town, then code."""
    stmt = _published(
        session,
        actor,
        select(River.id, River.name, Town.name).join(Town, Town.id == River.lead_town_id),
    )
    return [
        RiverChoice(id=river_id, name=name, town=town)
        for river_id, name, town in session.execute(stmt.order_by(River.lead_town_id, River.code))
    ]


# --- complaints ---------------------------------------------------------------------------

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def photo_type(data: bytes) -> PhotoType | None:
    """The type of a photo by its content (its signature), not its name: a PNG starts with
    the PNG signature and its ``IHDR`` chunk, a JPEG with the start-of-image marker and
    another marker; ``None`` for anything else."""
    if data.startswith(_PNG) and data[12:16] == b"IHDR":
        return PhotoType.png
    if data.startswith(_JPEG) and len(data) > 4 and data[3] not in (0x00, 0xFF):
        return PhotoType.jpeg
    return None


def photo_problems(data: bytes, *, max_kb: int) -> list[Problem]:
    """What is wrong with a photo: larger than ``max_kb``, or not a JPEG or PNG."""
    problems = []
    if len(data) > max_kb * 1024:
        problems.append(Problem(f"照片过大（超过 {max_kb} KB），请缩小后重新选择", column="photo"))
    elif photo_type(data) is None:
        problems.append(Problem("照片只能是 JPEG 或 PNG 图片", column="photo"))
    return problems


def _retry_at(session: Session, address: str, now: dt.datetime) -> dt.datetime | None:
    """When ``address`` may submit again, or ``None`` when it may now."""
    settings = get_settings()
    window = dt.timedelta(minutes=settings.complaint_rate_window_minutes)
    recent = list(
        session.scalars(
            select(ComplaintSubmission.submitted_at)
            .where(
                ComplaintSubmission.client_address == address,
                ComplaintSubmission.submitted_at > now - window,
            )
            .order_by(ComplaintSubmission.submitted_at.desc())
            .limit(settings.complaint_rate_limit)
        )
    )
    if len(recent) < settings.complaint_rate_limit:
        return None
    return recent[-1] + window


def submit_complaint(
    session: Session,
    *,
    actor: Actor,
    client_address: str | None,
    now: dt.datetime,
    river_id: int | None,
    category: str,
    description: str,
    name: str | None,
    phone: str | None,
    photo: bytes | None,
) -> str:
    """A complaint submitted on the portal; returns its receipt number.

    Refused with ``TooManySubmissions`` (audited) when the client address has submitted
    ``complaint_rate_limit`` complaints within ``complaint_rate_window_minutes``;
    ``Invalid``, listing every problem (the photo's too) and writing nothing, when the
    input is wrong. The photo, if any, is kept in the database.
    """
    address = client_address or UNKNOWN_ADDRESS
    retry_at = _retry_at(session, address, now)
    if retry_at is not None:
        record(
            session,
            actor=actor,
            action=Action.add.value,
            resource="complaint",
            outcome="refused",
            detail=f"公众门户投诉提交过于频繁（来自 {address}），"
            f"可于 {retry_at.isoformat()} 后再提交",
        )
        raise TooManySubmissions(retry_at)
    settings = get_settings()
    problems = (
        photo_problems(photo, max_kb=settings.complaint_photo_max_kb) if photo is not None else []
    )
    kind = photo_type(photo) if photo is not None and not problems else None
    attached = (
        f"，附照片（{kind.label}，{math.ceil(len(photo) / 1024)} KB）"
        if photo is not None and kind is not None
        else ""
    )
    try:
        with session.begin_nested():
            complaint = add_complaint(
                session,
                actor=actor,
                river_id=river_id,
                category=category,
                description=description,
                complainant_name=name,
                complainant_phone=phone,
                received_at=now,
                detail=f"公众门户提交的群众投诉（来自 {address}）{attached}",
            )
            if problems:
                raise Invalid("投诉内容有误")
    except Invalid as exc:
        raise Invalid(exc.message, [*exc.problems, *problems]) from None
    if photo is not None and kind is not None:
        session.add(
            ComplaintPhoto(
                complaint_id=complaint.id,
                content_type=kind,
                size_bytes=len(photo),
                sha256=hashlib.sha256(photo).hexdigest(),
                data=photo,
                received_at=now,
            )
        )
    window = dt.timedelta(minutes=settings.complaint_rate_window_minutes)
    session.execute(
        delete(ComplaintSubmission).where(ComplaintSubmission.submitted_at <= now - window)
    )
    session.add(ComplaintSubmission(client_address=address, submitted_at=now))
    session.flush()
    return complaint.receipt_no


def lookup_receipt(session: Session, *, actor: Actor, receipt_no: str) -> ReceiptView:
    """A complaint's status by its receipt number, for whoever holds the number: its
    river (when published), category, days received and closed; never the description
    or the complainant's personal data."""
    number = receipt_no.strip().upper()
    visible = _published(session, actor, select(River.id, River.name)).subquery()
    row = session.execute(
        select(Complaint.receipt_no, Complaint.category, Complaint.received_at, Complaint.closed_at)
        .add_columns(visible.c.name)
        .outerjoin(visible, visible.c.id == Complaint.river_id)
        .where(Complaint.receipt_no == number)
    ).first()
    if row is None:
        raise NotFound(f"没有回执号为“{number}”的投诉")
    found_no, category, received_at, closed_at, river_name = row
    return ReceiptView(
        receipt_no=found_no,
        river_name=river_name,
        category=ComplaintCategory(category),
        received_on=_city_day(received_at),
        status=ReceiptStatus.closed if closed_at is not None else ReceiptStatus.received,
        closed_on=_city_day(closed_at) if closed_at is not None else None,
    )
