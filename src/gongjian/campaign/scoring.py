"""Town scores per year and campaign, rankings, the city's bonuses and deductions, and
commendation (通报表扬).

A town's score for a year and a campaign, as of the year's last day (or an earlier day
of the year), from the rubric of the setting ``score_weights``:

- ``indicator`` points per committed indicator, earned in proportion to the share of
  the year's target done (``rules.completion``: capped at 1, so a met target earns the
  full weight);
- minus ``overdue_project`` per project of the campaign overdue on that day
  (``projects.overdue_projects``), at most ``overdue_cap`` in all;
- water only: minus ``complained_severe_river`` per river the town leads that was
  graded severe in a period ending in the year and drew public complaints in the year,
  at most ``complained_cap`` in all;
- plus or minus the city's score adjustments (``ScoreAdjustment``) of the year and
  campaign.

Each item is rounded to 0.01 and the score is their sum, so the items shown always add
up to it. The overall score is the sum of a town's two campaign scores. Rankings order
towns by score, then completion share, then fewer overdue projects, then town code
(``rules.RankKey``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize, restrict
from gongjian.campaign.choices import Campaign, CommendationKind
from gongjian.campaign.commitments import (
    COMMITMENT,
    YearFigures,
    list_commitments,
    progress_day,
    year_problems,
)
from gongjian.campaign.models import Commendation, Commitment
from gongjian.campaign.models import ScoreAdjustment as Adjustment
from gongjian.campaign.projects import overdue_projects
from gongjian.campaign.rules import (
    INDICATORS,
    RankKey,
    capped_deduction,
    commendation_picks,
    completion,
    indicator_points,
    met,
    rank,
    rounded,
)
from gongjian.config import get_settings
from gongjian.errors import Invalid, Problem
from gongjian.periods import city_zone, today
from gongjian.records import write_added
from gongjian.towns.models import Town
from gongjian.towns.services import find_town
from gongjian.water.choices import Grade
from gongjian.water.models import Complaint, River, WaterBodyGrade

ADJUSTMENT = "score_adjustment"
COMMENDATION = "commendation"
OVERALL = "both"
"""The ``campaign`` of the overall ranking (both campaigns) and of its commendations."""
SCOPE_LABELS = {Campaign.renewal.value: "工改", Campaign.water.value: "治水", OVERALL: "工改治水"}
REASON_MAX = 500
CITATION_MAX = 2000
POINTS_MAX = Decimal("9999.99")
"""The largest bonus or deduction ``score_adjustments.points`` (``Exact(6, 2)``) holds."""
CENT = Decimal("0.01")

ITEM_LABELS = {
    "indicator": "承诺指标",
    "no_commitment": "未签承诺书",
    "overdue_projects": "逾期项目",
    "complained_severe_rivers": "重度黑臭且有群众投诉的河涌",
    "adjustment": "市攻坚办加减分",
}


def scope_of(campaign: Campaign | None) -> str:
    """``renewal``, ``water``, or ``both`` for the overall ranking."""
    return OVERALL if campaign is None else Campaign(campaign).value


# --- Scores -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreItem:
    """One line of a score: what it is, the numbers it rests on, and its points."""

    item: str
    campaign: Campaign
    basis: dict[str, Any]
    points: Decimal
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or ITEM_LABELS[self.item]

    @property
    def explanation(self) -> str:
        """The basis in words."""
        b = self.basis
        if self.item == "indicator":
            return (
                f"年初 {b['start']}，现 {b['achieved']}，目标 {b['target']}；年内完成 "
                f"{b['achieved_in_year']} / 年内目标 {b['target_in_year']}，计 "
                f"{b['completion_pct']}%（封顶 100%）× {b['weight']} 分"
            )
        if self.item == "no_commitment":
            return f"{b['year']} 年未签{self.campaign.label}承诺书，承诺指标不得分"
        if self.item in ("overdue_projects", "complained_severe_rivers"):
            listed = b.get("projects", b.get("rivers", []))
            shown = (
                f"：{'、'.join(listed[:10])}{'等' if len(listed) > 10 else ''}" if listed else ""
            )
            return f"{b['count']} 个 × {b['each']} 分，最多扣 {b['cap']} 分{shown}"
        return f"{b['reason']}（{b['entered_on']}，{b['entered_by']} 录入）"


@dataclass
class TownScore:
    """A town's score in one ranking (a campaign, or ``both``), item by item."""

    town: Town
    campaign: str
    items: list[ScoreItem] = field(default_factory=list)
    shares: list[Fraction] = field(default_factory=list)
    """The completion share of each committed indicator."""
    overdue_projects: int = 0
    committed: bool = False
    met_all: bool = False
    rank: int = 0

    @property
    def score(self) -> Decimal:
        return sum((item.points for item in self.items), Decimal("0.00"))

    @property
    def completion(self) -> Fraction:
        """The mean completion share of the committed indicators (0 without any)."""
        return sum(self.shares, Fraction(0)) / len(self.shares) if self.shares else Fraction(0)

    @property
    def completion_pct(self) -> Decimal:
        return rounded(self.completion * 100)

    def rank_key(self) -> RankKey:
        return RankKey(self.score, self.completion, self.overdue_projects, self.town.code)

    def __add__(self, other: TownScore) -> TownScore:
        return TownScore(
            town=self.town,
            campaign=OVERALL,
            items=self.items + other.items,
            shares=self.shares + other.shares,
            overdue_projects=self.overdue_projects + other.overdue_projects,
            committed=self.committed and other.committed,
            met_all=self.met_all and other.met_all,
        )


@dataclass(frozen=True)
class Ranking:
    """One ranking (a campaign, or ``both``) for a year, as of a day, best first."""

    year: int
    campaign: str
    as_of: dt.date
    rows: list[TownScore]


def _weight(name: str) -> Decimal:
    return Decimal(get_settings().score_weights.get(name, Decimal(0)))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), city_zone())


def _complained_severe(session: Session, year: int, as_of: dt.date) -> dict[int, list[str]]:
    """The rivers (codes) each lead town has that were graded severe in a period ending
    in ``year`` by ``as_of`` (current grades only) and drew complaints received in that
    year by the end of ``as_of``."""
    severe = select(WaterBodyGrade.river_id).where(
        WaterBodyGrade.grade == Grade.severe.value,
        WaterBodyGrade.superseded_at.is_(None),
        WaterBodyGrade.period_end >= dt.date(year, 1, 1),
        WaterBodyGrade.period_end <= as_of,
    )
    complained = select(Complaint.river_id).where(
        Complaint.received_at >= _day_start(dt.date(year, 1, 1)),
        Complaint.received_at < _day_start(as_of + dt.timedelta(days=1)),
    )
    found: dict[int, list[str]] = defaultdict(list)
    for town_id, code in session.execute(
        select(River.lead_town_id, River.code)
        .where(River.id.in_(severe), River.id.in_(complained))
        .order_by(River.code)
    ):
        found[town_id].append(code)
    return found


@dataclass
class _Year:
    """What every score of a year reads, loaded once."""

    year: int
    as_of: dt.date
    towns: list[Town]
    figures: YearFigures
    commitments: dict[tuple[int, str], Commitment]
    overdue: dict[tuple[int, str], list[str]]
    complained: dict[int, list[str]]
    adjustments: dict[tuple[int, str], list[Adjustment]]


def _load(session: Session, actor: Actor, year: int, as_of: dt.date | None) -> _Year:
    authorize(session, actor, Action.view, COMMITMENT)
    day = progress_day(year, as_of)
    overdue: dict[tuple[int, str], list[str]] = defaultdict(list)
    for late in overdue_projects(session, actor=actor, as_of=day):
        overdue[(late.project.town_id, Campaign(late.project.campaign).value)].append(
            late.project.code
        )
    adjustments: dict[tuple[int, str], list[Adjustment]] = defaultdict(list)
    for adjustment in session.scalars(
        select(Adjustment)
        .where(Adjustment.year == year)
        .order_by(Adjustment.entered_on, Adjustment.id)
    ):
        adjustments[(adjustment.town_id, adjustment.campaign)].append(adjustment)
    return _Year(
        year=year,
        as_of=day,
        towns=list(session.scalars(select(Town).order_by(Town.code))),
        figures=YearFigures.load(session, year, day),
        commitments={
            (c.town_id, c.campaign): c for c in list_commitments(session, actor=actor, year=year)
        },
        overdue=overdue,
        complained=_complained_severe(session, year, day),
        adjustments=adjustments,
    )


def _indicator_items(loaded: _Year, commitment: Commitment, score: TownScore) -> None:
    weight = _weight("indicator")
    campaign = Campaign(commitment.campaign)
    forecasts = loaded.figures.forecasts(commitment)
    for found in forecasts:
        share = completion(found.start, found.achieved, found.target)
        score.shares.append(share)
        score.items.append(
            ScoreItem(
                item="indicator",
                campaign=campaign,
                label=INDICATORS[found.indicator].label,
                basis={
                    "indicator": found.indicator,
                    "start": rounded(found.start),
                    "achieved": rounded(found.achieved),
                    "target": found.target,
                    "achieved_in_year": rounded(found.achieved_in_year),
                    "target_in_year": rounded(found.target_in_year),
                    "met": met(found.achieved, found.target),
                    "completion_pct": rounded(share * 100),
                    "weight": weight,
                },
                points=indicator_points(weight, share),
            )
        )
    score.met_all = bool(forecasts) and all(met(f.achieved, f.target) for f in forecasts)


def _campaign_score(loaded: _Year, town: Town, campaign: Campaign) -> TownScore:
    score = TownScore(town=town, campaign=campaign.value)
    commitment = loaded.commitments.get((town.id, campaign.value))
    if commitment is None:
        score.items.append(
            ScoreItem("no_commitment", campaign, {"year": loaded.year}, Decimal("0.00"))
        )
    else:
        score.committed = True
        _indicator_items(loaded, commitment, score)
    late = loaded.overdue.get((town.id, campaign.value), [])
    score.overdue_projects = len(late)
    each, cap = _weight("overdue_project"), _weight("overdue_cap")
    score.items.append(
        ScoreItem(
            "overdue_projects",
            campaign,
            {"count": len(late), "each": each, "cap": cap, "projects": sorted(late)},
            capped_deduction(len(late), each, cap),
        )
    )
    if campaign is Campaign.water:
        rivers = loaded.complained.get(town.id, [])
        each, cap = _weight("complained_severe_river"), _weight("complained_cap")
        score.items.append(
            ScoreItem(
                "complained_severe_rivers",
                campaign,
                {"count": len(rivers), "each": each, "cap": cap, "rivers": rivers},
                capped_deduction(len(rivers), each, cap),
            )
        )
    for adjustment in loaded.adjustments.get((town.id, campaign.value), []):
        score.items.append(
            ScoreItem(
                "adjustment",
                campaign,
                {
                    "reason": adjustment.reason,
                    "entered_on": adjustment.entered_on,
                    "entered_by": adjustment.entered_by,
                },
                adjustment.points,
            )
        )
    return score


def _ranked(scores: Iterable[TownScore]) -> list[TownScore]:
    by_code = {score.town.code: score for score in scores}
    ordered = [by_code[key.town_code] for key in rank(s.rank_key() for s in by_code.values())]
    for position, score in enumerate(ordered, start=1):
        score.rank = position
    return ordered


def _rankings(loaded: _Year) -> dict[str, list[TownScore]]:
    by_campaign = {
        campaign.value: [_campaign_score(loaded, town, campaign) for town in loaded.towns]
        for campaign in Campaign
    }
    overall = [
        renewal + water
        for renewal, water in zip(
            by_campaign[Campaign.renewal.value], by_campaign[Campaign.water.value], strict=True
        )
    ]
    return {
        **{key: _ranked(scores) for key, scores in by_campaign.items()},
        OVERALL: _ranked(overall),
    }


def ranking(
    session: Session,
    *,
    actor: Actor,
    year: int,
    campaign: Campaign | None = None,
    as_of: dt.date | None = None,
) -> Ranking:
    """Every town's score for ``year`` in ``campaign`` (``None``: overall, the sum of
    both), best first, as of ``as_of`` (default today; at most the year's last day)."""
    loaded = _load(session, actor, year, as_of)
    scope = scope_of(campaign)
    return Ranking(year, scope, loaded.as_of, _rankings(loaded)[scope])


def town_score(
    session: Session,
    *,
    actor: Actor,
    town: str,
    year: int,
    campaign: Campaign | None = None,
    as_of: dt.date | None = None,
) -> TownScore:
    """One town's (name or code) score and rank, item by item (see ``ranking``)."""
    board = ranking(session, actor=actor, year=year, campaign=campaign, as_of=as_of)
    found = find_town(session, town)
    return next(row for row in board.rows if row.town.id == found.id)


# --- Adjustments ------------------------------------------------------------------------


def add_adjustment(
    session: Session,
    *,
    actor: Actor,
    town: str,
    year: int,
    campaign: Campaign,
    points: Decimal,
    reason: str,
    entered_on: dt.date | None = None,
) -> Adjustment:
    """The city enters a bonus (positive ``points``) or a deduction (negative) in a
    town's (name or code) score for ``year`` and ``campaign``, with its reason and the
    day it was decided (default today). City only; audited."""
    campaign = Campaign(campaign)
    authorize(session, actor, Action.add, ADJUSTMENT, record_id=town)
    found = find_town(session, town)
    day = today() if entered_on is None else entered_on
    text = reason.strip()
    problems = year_problems(year)
    if not points.is_finite() or points == 0 or abs(points) > POINTS_MAX:
        problems.append(
            Problem(
                f"分值须为非零数，绝对值不超过 {POINTS_MAX}", column="points", value=str(points)
            )
        )
    elif points != points.quantize(CENT):
        problems.append(Problem("分值最多两位小数", column="points", value=str(points)))
    if not text or len(text) > REASON_MAX:
        problems.append(Problem(f"须填写理由，最多 {REASON_MAX} 字", column="reason"))
    if day > today():
        problems.append(
            Problem(f"日期不能晚于今天（{today()}）", column="entered_on", value=str(day))
        )
    if problems:
        raise Invalid(f"{found.name} {year} 年{campaign.label}加减分有误，未录入", problems)
    adjustment = Adjustment(
        town_id=found.id,
        year=year,
        campaign=campaign.value,
        points=points,
        reason=text,
        entered_on=day,
        entered_by=actor.username,
    )
    return write_added(
        session,
        adjustment,
        actor=actor,
        resource=ADJUSTMENT,
        record_id=f"{found.code}/{year}/{campaign.value}",
        town_id=found.id,
        detail=f"{found.name} {year} 年{campaign.label}{points:+} 分：{text}",
    )


def list_adjustments(
    session: Session,
    *,
    actor: Actor,
    year: int | None = None,
    campaign: Campaign | None = None,
    town_id: int | None = None,
) -> list[tuple[Adjustment, Town]]:
    """The bonuses and deductions entered, with their towns, oldest first."""
    stmt = select(Adjustment, Town).join(Town, Town.id == Adjustment.town_id)
    if year is not None:
        stmt = stmt.where(Adjustment.year == year)
    if campaign is not None:
        stmt = stmt.where(Adjustment.campaign == Campaign(campaign).value)
    if town_id is not None:
        stmt = stmt.where(Adjustment.town_id == town_id)
    stmt = stmt.order_by(Adjustment.year, Adjustment.entered_on, Adjustment.id)
    return [(a, t) for a, t in session.execute(restrict(session, actor, stmt, ADJUSTMENT))]


# --- Commendation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A town on the commendation list of one ranking, and why."""

    town: Town
    campaign: str
    rank: int
    score: Decimal
    reasons: list[str]
    citation: str


def _citation(year: int, row: TownScore, reasons: list[str]) -> str:
    scope = SCOPE_LABELS[row.campaign]
    parts = []
    if "top" in reasons:
        parts.append(f"{year} 年度{scope}攻坚排名第 {row.rank} 名（{row.score} 分）")
    if "met_all" in reasons:
        parts.append(f"全面完成 {year} 年{scope}承诺书目标")
    return f"{row.town.name}：{'；'.join(parts)}"


def _candidates(
    loaded: _Year, boards: dict[str, list[TownScore]], campaign: Campaign | None
) -> list[Candidate]:
    """The commendation list of the rankings ``boards`` (see ``commendation_list``)."""
    scopes = [c.value for c in Campaign] + [OVERALL] if campaign is None else [scope_of(campaign)]
    top_n = get_settings().commend_top_n
    found = []
    for scope in scopes:
        rows = boards[scope]
        met_all = [r.town.code for r in rows if r.met_all] if scope != OVERALL else []
        picks = commendation_picks([r.town.code for r in rows], met_all, top_n)
        for row in rows:
            if row.town.code in picks:
                reasons = picks[row.town.code]
                found.append(
                    Candidate(
                        row.town,
                        scope,
                        row.rank,
                        row.score,
                        reasons,
                        _citation(loaded.year, row, reasons),
                    )
                )
    return found


def commendation_list(
    session: Session,
    *,
    actor: Actor,
    year: int,
    campaign: Campaign | None = None,
    as_of: dt.date | None = None,
) -> list[Candidate]:
    """The towns to commend for ``year``: the best ``commend_top_n`` of each ranking,
    and every town that met all the targets of its commitment for the campaign. Without
    ``campaign``: the renewal, water and overall rankings; with it, that one only. The
    overall ranking adds its best towns only (meeting every target is per campaign)."""
    loaded = _load(session, actor, year, as_of)
    return _candidates(loaded, _rankings(loaded), campaign)


def standings(
    session: Session,
    *,
    actor: Actor,
    year: int,
    campaign: Campaign | None = None,
    as_of: dt.date | None = None,
) -> tuple[Ranking, list[Candidate]]:
    """The ranking of ``campaign`` (``None``: overall) and the commendation list of
    ``campaign`` (``None``: of the three rankings), from one reading of the year's records
    (see ``ranking`` and ``commendation_list``)."""
    loaded = _load(session, actor, year, as_of)
    boards = _rankings(loaded)
    scope = scope_of(campaign)
    return Ranking(year, scope, loaded.as_of, boards[scope]), _candidates(loaded, boards, campaign)


@dataclass(frozen=True)
class YearStandings:
    """Every ranking of a year as of a day (``renewal``, ``water`` and ``both``, best
    first), the commendation list of all three, and what they were scored from: the
    year's figures (for each commitment's forecasts) and the commitments by
    ``(town_id, campaign)``."""

    year: int
    as_of: dt.date
    rankings: dict[str, list[TownScore]]
    candidates: list[Candidate]
    figures: YearFigures
    commitments: dict[tuple[int, str], Commitment]


def year_standings(
    session: Session, *, actor: Actor, year: int, as_of: dt.date | None = None
) -> YearStandings:
    """The three rankings of ``year`` and their commendation list as of ``as_of`` (see
    ``ranking`` and ``commendation_list``), from one reading of the year's records: what
    a briefing of both campaigns prints."""
    loaded = _load(session, actor, year, as_of)
    boards = _rankings(loaded)
    return YearStandings(
        year=year,
        as_of=loaded.as_of,
        rankings=boards,
        candidates=_candidates(loaded, boards, None),
        figures=loaded.figures,
        commitments=loaded.commitments,
    )


def committed_years(session: Session, *, actor: Actor) -> list[int]:
    """The years some town signed a commitment for, oldest first: the years a ranking
    has scores to show."""
    stmt = select(Commitment.year).distinct().order_by(Commitment.year)
    return list(session.scalars(restrict(session, actor, stmt, COMMITMENT)))


def commend(
    session: Session,
    *,
    actor: Actor,
    year: int,
    campaign: Campaign | None = None,
    as_of: dt.date | None = None,
) -> tuple[list[Commendation], list[Candidate]]:
    """Write the commendation list (``commendation_list``) as town commendations, city
    only, each audited. A town already commended for the year and ranking is left as it
    stands; returns what was written and the candidates left as they stood."""
    authorize(session, actor, Action.add, COMMENDATION, record_id=year)
    candidates = commendation_list(session, actor=actor, year=year, campaign=campaign, as_of=as_of)
    existing = set(
        session.execute(
            select(Commendation.town_id, Commendation.campaign).where(
                Commendation.kind == CommendationKind.town.value, Commendation.year == year
            )
        )
        .tuples()
        .all()
    )
    written, kept = [], []
    for candidate in candidates:
        if (candidate.town.id, candidate.campaign) in existing:
            kept.append(candidate)
            continue
        row = Commendation(
            kind=CommendationKind.town.value,
            year=year,
            campaign=candidate.campaign,
            town_id=candidate.town.id,
            citation=candidate.citation,
        )
        write_added(
            session,
            row,
            actor=actor,
            resource=COMMENDATION,
            town_id=candidate.town.id,
            detail=f"通报表扬先进单位：{candidate.citation}",
        )
        written.append(row)
    return written, kept


def nominate(
    session: Session,
    *,
    actor: Actor,
    year: int,
    person_name: str,
    citation: str,
    campaign: Campaign | None = None,
    town: str | None = None,
) -> Commendation:
    """Commend an individual (a cadre, a project lead) for ``year`` in ``campaign``
    (``None``: both), of ``town`` (name or code) when given, with the citation. City
    only; audited."""
    authorize(session, actor, Action.add, COMMENDATION, record_id=year)
    found = find_town(session, town) if town else None
    name, text = person_name.strip(), citation.strip()
    problems = year_problems(year)
    if not name or len(name) > 40:
        problems.append(Problem("须填写姓名，最多 40 字", column="person_name"))
    if not text or len(text) > CITATION_MAX:
        problems.append(Problem(f"须填写表扬事由，最多 {CITATION_MAX} 字", column="citation"))
    if problems:
        raise Invalid("先进个人有误，未录入", problems)
    row = Commendation(
        kind=CommendationKind.individual.value,
        year=year,
        campaign=scope_of(campaign),
        town_id=found.id if found else None,
        person_name=name,
        citation=text,
    )
    return write_added(
        session,
        row,
        actor=actor,
        resource=COMMENDATION,
        town_id=row.town_id,
        detail=f"通报表扬先进个人：{name}",
    )


def list_commendations(
    session: Session, *, actor: Actor, year: int | None = None
) -> list[tuple[Commendation, Town | None]]:
    """The commendations written, with their towns: by year, kind, ranking and id."""
    stmt = select(Commendation, Town).outerjoin(Town, Town.id == Commendation.town_id)
    if year is not None:
        stmt = stmt.where(Commendation.year == year)
    stmt = stmt.order_by(
        Commendation.year, Commendation.kind.desc(), Commendation.campaign, Commendation.id
    )
    return [(c, t) for c, t in session.execute(restrict(session, actor, stmt, COMMENDATION))]
