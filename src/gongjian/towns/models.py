"""The town-level units (镇街) every record belongs to."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gongjian.db import Base, check_in, check_non_negative
from gongjian.db_types import Exact
from gongjian.towns.choices import TownKind


class Town(Base):
    """A town or street (镇街): signs commitments, owns records, is ranked."""

    __tablename__ = "towns"
    __table_args__ = (check_in("kind", TownKind), *check_non_negative("pressure_weight"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(
        String(12), unique=True, comment="administrative code of the town (乡镇级区划代码)"
    )
    name: Mapped[str] = mapped_column(String(40), unique=True, comment="Chinese name, e.g. 石岐")
    name_en: Mapped[str] = mapped_column(String(60), comment="pinyin name, e.g. Shiqi")
    kind: Mapped[TownKind] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(200))
    pressure_weight: Mapped[Decimal] = mapped_column(
        Exact(6, 2),
        default=Decimal(1),
        comment="the city's weight of this town's pressure in cadre dispatch (下派干部)",
    )
