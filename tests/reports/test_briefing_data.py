"""What a briefing reads: one reading of the year's standings gives the same rankings and
commendation list as the scoring services read one at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gongjian.auth.actors import Actor
from gongjian.campaign.choices import Campaign
from gongjian.campaign.scoring import commendation_list, ranking, year_standings

AS_OF = dt.date(2023, 1, 31)
SYSTEM = Actor.system("test")


def test_year_standings_match_the_rankings_and_the_commendation_list(
    demo_session: Session,
) -> None:
    standings = year_standings(demo_session, actor=SYSTEM, year=2023, as_of=AS_OF)
    assert standings.as_of == AS_OF
    for campaign in (Campaign.renewal, Campaign.water, None):
        board = ranking(demo_session, actor=SYSTEM, year=2023, campaign=campaign, as_of=AS_OF)
        rows = standings.rankings[board.campaign]
        assert [(r.town.code, r.score, r.rank) for r in rows] == [
            (r.town.code, r.score, r.rank) for r in board.rows
        ]
    expected = commendation_list(demo_session, actor=SYSTEM, year=2023, as_of=AS_OF)
    assert [(c.town.code, c.campaign, c.citation) for c in standings.candidates] == [
        (c.town.code, c.campaign, c.citation) for c in expected
    ]
    assert standings.candidates
