"""The schema migrates on both databases and exact decimals stay exact."""

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongjian.towns.models import Town
from gongjian.water.models import River


def test_twenty_three_towns(session: Session) -> None:
    names = set(session.scalars(select(Town.name)))
    assert len(names) == 23
    assert {"小榄", "火炬开发区", "南朗", "坦洲"} <= names
    assert "东升" not in names


def test_exact_sums(session: Session) -> None:
    town = session.scalars(select(Town)).first()
    assert town is not None
    for i, length in enumerate(["0.1", "0.2", "1234567.3"]):
        session.add(
            River(code=f"T{i}", name=f"河{i}", lead_town_id=town.id, length_m=Decimal(length))
        )
    session.flush()
    total = session.scalar(select(func.sum(River.length_m)).where(River.code.like("T%")))
    assert total == Decimal("1234567.6")
    assert isinstance(total, Decimal)
