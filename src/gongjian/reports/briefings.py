"""What a briefing (通报) says, computed from the records before anything is laid out.

``briefing_data`` reads, for a period (a month ``2023-01`` or an ISO week ``2023-W05``)
as of its last day:

- the headline KPIs of each campaign (``kpi.services.kpis``) with their change since
  the previous period's last day, already written the way DESIGN.md says
  (``display.headline``, ``headline_wan_yuan``, ``change``);
- the same KPIs at the end of the twelve periods before, for the chart of progress;
- each campaign's ranking of the 23 towns for the year the period ends in
  (``campaign.scoring.ranking``), each committed indicator with its scored completion
  and its year-end outlook (``campaign.commitments``); the towns with an indicator
  ``behind`` (滞后: at the pace so far the year's target will not reach 90%);
- the rivers whose latest current grade is severe (the river priorities of
  ``water.priorities``, most urgent first), the overdue projects
  (``campaign.projects.overdue_projects``) and the commendation list
  (``campaign.scoring.commendation_list``);
- whether the database holds the demo city (示例数据).

The result is plain data (``BriefingData``): dates, numbers, labels and the printed
texts of the headline figures, no records, so it can be stored as the briefing printed
it and rendered again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from gongjian.audit.models import AuditEntry
from gongjian.auth.actors import Actor
from gongjian.auth.choices import Action
from gongjian.auth.permissions import authorize
from gongjian.campaign.choices import Campaign, Outlook, ProjectKind
from gongjian.campaign.projects import overdue_projects
from gongjian.campaign.rules import INDICATORS, Forecast
from gongjian.campaign.scoring import (
    OVERALL,
    SCOPE_LABELS,
    TownScore,
    YearStandings,
    year_standings,
)
from gongjian.display import change, headline, headline_wan_yuan, period_text
from gongjian.errors import Invalid, Problem
from gongjian.kpi.services import WAN_PER_YI, kpis
from gongjian.periods import Period, today
from gongjian.water.choices import Grade
from gongjian.water.priorities import priorities

BRIEFING = "briefing"
"""The resource name of briefings in permissions and the audit log."""
DEMO_ACTION = "demo"
"""The audit action written when the demo city is loaded."""
HISTORY_PERIODS = 13
"""Points of the progress chart: the period and the twelve before it."""
CAMPAIGN_CHOICES = (Campaign.renewal.value, Campaign.water.value, OVERALL)
PERCENTAGE_POINTS = "个百分点"


@dataclass(frozen=True)
class HeadlineFigure:
    """One headline KPI as of the period's last day and the previous period's, with
    the texts the briefing prints (``1.42万亩``, ``较上期 +373亩``)."""

    key: str
    label: str
    unit: str
    value: int | float | None
    previous: int | float | None
    text: str
    change_text: str


@dataclass(frozen=True)
class IndicatorColumn:
    """A committed indicator of a campaign: its KPI key, label and unit."""

    key: str
    label: str
    unit: str


@dataclass(frozen=True)
class Progress:
    """A town's progress on one committed indicator as of the period's last day:
    figures in the indicator's unit (investment in 亿元), the completion counted in the
    score (in-year share, capped at 100%) and the year-end outlook."""

    indicator: str
    label: str
    unit: str
    achieved: Decimal
    target: Decimal
    achieved_in_year: Decimal
    target_in_year: Decimal
    forecast_in_year: Decimal
    completion_pct: Decimal
    outlook: Outlook


@dataclass(frozen=True)
class TownRow:
    """A town's line of a campaign's ranking."""

    rank: int
    town: str
    town_code: str
    score: Decimal
    committed: bool
    overdue_projects: int
    progress: tuple[Progress, ...]

    def progress_of(self, key: str) -> Progress | None:
        """The progress on indicator ``key``; ``None`` when the town set no target on it."""
        return next((p for p in self.progress if p.indicator == key), None)


@dataclass(frozen=True)
class BehindTown:
    """A town with indicators whose year-end outlook is ``behind``, and those indicators."""

    town: str
    rank: int
    behind: tuple[Progress, ...]


@dataclass(frozen=True)
class CampaignSection:
    """One campaign's part of a briefing."""

    campaign: Campaign
    label: str
    figures: tuple[HeadlineFigure, ...]
    columns: tuple[IndicatorColumn, ...]
    ranking: tuple[TownRow, ...]
    behind: tuple[BehindTown, ...]


@dataclass(frozen=True)
class HistoryPoint:
    """The headline KPIs (``kpis``) at the end of one period."""

    period: str
    period_text: str
    as_of: dt.date
    kpi: dict[str, Any]


@dataclass(frozen=True)
class SevereRiver:
    """A river whose latest current grade on or before the period's last day is severe."""

    code: str
    name: str
    town: str
    grade_period: str


@dataclass(frozen=True)
class OverdueItem:
    """A project overdue at the end of the period's last day."""

    code: str
    name: str
    town: str
    campaign: str
    kind: str
    state: str
    reason: str
    days: int


@dataclass(frozen=True)
class Commended:
    """A town on the commendation list of one ranking (工改, 治水 or 工改治水)."""

    scope: str
    town: str
    rank: int
    score: Decimal
    citation: str


@dataclass(frozen=True)
class Correction:
    """What a correcting briefing corrects: the published briefing (its number, title
    and day of publication) and the reason."""

    briefing_id: int
    title: str
    published_on: dt.date
    reason: str

    @property
    def text(self) -> str:
        """The sentence the correction prints under its title."""
        return (
            f"本通报更正{self.published_on.year}年{self.published_on.month}月"
            f"{self.published_on.day}日发布的《{self.title}》（第{self.briefing_id}号），"
            f"更正原因：{self.reason}。原通报作废，以本通报为准。"
        )


@dataclass(frozen=True)
class BriefingData:
    """Everything a briefing prints, computed from the records, before any layout."""

    period: str
    period_text: str
    as_of: dt.date
    previous_period: str
    previous_period_text: str
    previous_as_of: dt.date
    year: int
    campaigns: tuple[CampaignSection, ...]
    history: tuple[HistoryPoint, ...]
    severe_rivers: tuple[SevereRiver, ...]
    overdue: tuple[OverdueItem, ...]
    commended: tuple[Commended, ...]
    example: bool
    issued_on: dt.date
    correction: Correction | None = None
    """Set on a briefing that corrects a published one (issue 7, item 5)."""

    @property
    def scope_label(self) -> str:
        """``工改治水``, ``工改`` or ``治水``."""
        return "".join(section.label for section in self.campaigns)

    @property
    def title(self) -> str:
        """``关于2023年1月工改治水攻坚工作进展情况的通报``, followed by ``（更正）`` on a
        correction."""
        corrected = "（更正）" if self.correction else ""
        return f"关于{self.period_text}{self.scope_label}攻坚工作进展情况的通报{corrected}"

    @property
    def covers_water(self) -> bool:
        """Whether the water campaign is reported (and so its severe rivers)."""
        return any(section.campaign is Campaign.water for section in self.campaigns)

    def section(self, campaign: Campaign) -> CampaignSection | None:
        """The part of ``campaign``, if the briefing covers it."""
        return next((s for s in self.campaigns if s.campaign is campaign), None)


def parse_campaigns(text: str) -> tuple[Campaign, ...]:
    """``renewal``, ``water`` or ``both`` (default of the command) as the campaigns covered."""
    value = text.strip()
    if value == OVERALL:
        return tuple(Campaign)
    if value in CAMPAIGN_CHOICES:
        return (Campaign(value),)
    raise Invalid(
        f"无法识别的攻坚类别“{text}”",
        [Problem("只能是 renewal（工改）、water（治水）或 both（两者）", column="campaign")],
    )


def holds_demo(session: Session) -> bool:
    """Whether the database holds the demo city (an audit entry of action ``demo``)."""
    return bool(session.scalar(select(exists().where(AuditEntry.action == DEMO_ACTION))))


def _decimal(value: int | float) -> Decimal:
    return Decimal(str(value))


def _figure(key: str, value: Any, previous: Any) -> HeadlineFigure:
    """One KPI with its printed value and change: money from 亿元 through
    ``headline_wan_yuan``, a percentage's change in percentage points."""
    indicator = INDICATORS[key]
    if value is not None and key == "renewal.investment_yi":
        text = headline_wan_yuan(_decimal(value) * WAN_PER_YI)
    else:
        text = headline(value, indicator.unit)
    delta = None if value is None or previous is None else _decimal(value) - _decimal(previous)
    change_unit = PERCENTAGE_POINTS if indicator.percentage else indicator.unit
    return HeadlineFigure(
        key=key,
        label=indicator.label,
        unit=indicator.unit,
        value=value,
        previous=previous,
        text=text,
        change_text=change(delta, change_unit),
    )


def _history(session: Session, period: Period) -> tuple[HistoryPoint, ...]:
    """The KPIs at the end of ``period`` and of the twelve periods before, oldest first."""
    periods = [period]
    while len(periods) < HISTORY_PERIODS:
        periods.append(periods[-1].previous())
    return tuple(
        HistoryPoint(p.label, period_text(p), p.end, kpis(session, as_of=p.end))
        for p in reversed(periods)
    )


def _columns(campaign: Campaign) -> tuple[IndicatorColumn, ...]:
    return tuple(
        IndicatorColumn(key, indicator.label, indicator.unit)
        for key, indicator in INDICATORS.items()
        if indicator.campaign is campaign
    )


def _town_row(score: TownScore, forecasts: dict[str, Forecast]) -> TownRow:
    progress = []
    for item in score.items:
        if item.item != "indicator":
            continue
        key = item.basis["indicator"]
        found = forecasts[key]
        indicator = INDICATORS[key]
        progress.append(
            Progress(
                indicator=key,
                label=indicator.label,
                unit=indicator.unit,
                achieved=item.basis["achieved"],
                target=item.basis["target"],
                achieved_in_year=item.basis["achieved_in_year"],
                target_in_year=item.basis["target_in_year"],
                forecast_in_year=found.forecast_in_year,
                completion_pct=item.basis["completion_pct"],
                outlook=found.outlook,
            )
        )
    return TownRow(
        rank=score.rank,
        town=score.town.name,
        town_code=score.town.code,
        score=score.score,
        committed=score.committed,
        overdue_projects=score.overdue_projects,
        progress=tuple(progress),
    )


def _forecasts(standings: YearStandings, town_id: int, campaign: Campaign) -> dict[str, Forecast]:
    """A town's forecasts on its commitment of ``campaign``, by indicator (none without one)."""
    commitment = standings.commitments.get((town_id, campaign.value))
    if commitment is None:
        return {}
    return {f.indicator: f for f in standings.figures.forecasts(commitment)}


def _section(
    campaign: Campaign, standings: YearStandings, history: Sequence[HistoryPoint]
) -> CampaignSection:
    rows = tuple(
        _town_row(score, _forecasts(standings, score.town.id, campaign))
        for score in standings.rankings[campaign.value]
    )
    columns = _columns(campaign)
    now, before = history[-1].kpi, history[-2].kpi
    behind = tuple(
        BehindTown(row.town, row.rank, late)
        for row in rows
        if (late := tuple(p for p in row.progress if p.outlook is Outlook.behind))
    )
    return CampaignSection(
        campaign=campaign,
        label=campaign.label,
        figures=tuple(_figure(c.key, now[c.key], before[c.key]) for c in columns),
        columns=columns,
        ranking=rows,
        behind=behind,
    )


def _severe_rivers(session: Session, actor: Actor, as_of: dt.date) -> tuple[SevereRiver, ...]:
    return tuple(
        SevereRiver(river.river_code, river.river_name, river.town, river.grade_period or "")
        for river in priorities(session, actor=actor, as_of=as_of, top=None)
        if river.grade is Grade.severe
    )


def _overdue(
    session: Session, actor: Actor, as_of: dt.date, campaigns: Sequence[Campaign]
) -> tuple[OverdueItem, ...]:
    campaign = campaigns[0] if len(campaigns) == 1 else None
    return tuple(
        OverdueItem(
            code=late.project.code,
            name=late.project.name,
            town=late.town,
            campaign=Campaign(late.project.campaign).label,
            kind=ProjectKind(late.project.kind).label,
            state=late.state.label,
            reason=late.reason.label,
            days=late.days,
        )
        for late in overdue_projects(session, actor=actor, as_of=as_of, campaign=campaign)
    )


def _commended(standings: YearStandings, campaigns: Sequence[Campaign]) -> tuple[Commended, ...]:
    """The commendation list of the campaigns' rankings, and of the overall one when the
    briefing covers both."""
    scopes = {c.value for c in campaigns} | ({OVERALL} if len(campaigns) > 1 else set())
    return tuple(
        Commended(SCOPE_LABELS[c.campaign], c.town.name, c.rank, c.score, c.citation)
        for c in standings.candidates
        if c.campaign in scopes
    )


def briefing_data(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    campaigns: Sequence[Campaign] = tuple(Campaign),
    issued_on: dt.date | None = None,
) -> BriefingData:
    """What the briefing for ``period`` on ``campaigns`` prints, as of the period's last
    day, with changes against the previous period's last day; rankings and the
    commendation list are those of the year the period ends in. City only (writing a
    briefing is the city's act; a refusal is logged). ``issued_on`` (default today) is the
    date the document bears."""
    authorize(session, actor, Action.add, BRIEFING, record_id=period.label)
    ordered = tuple(c for c in Campaign if c in set(campaigns))
    if not ordered:
        raise Invalid("通报至少包含一项攻坚", [Problem("请选择工改或治水", column="campaign")])
    previous = period.previous()
    as_of, year = period.end, period.end.year
    history = _history(session, period)
    standings = year_standings(session, actor=actor, year=year, as_of=as_of)
    return BriefingData(
        period=period.label,
        period_text=period_text(period),
        as_of=as_of,
        previous_period=previous.label,
        previous_period_text=period_text(previous),
        previous_as_of=previous.end,
        year=year,
        campaigns=tuple(_section(c, standings, history) for c in ordered),
        history=history,
        severe_rivers=(_severe_rivers(session, actor, as_of) if Campaign.water in ordered else ()),
        overdue=_overdue(session, actor, as_of, ordered),
        commended=_commended(standings, ordered),
        example=holds_demo(session),
        issued_on=today() if issued_on is None else issued_on,
    )
