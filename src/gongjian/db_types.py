"""Reusable column types, identical in meaning on SQLite and PostgreSQL.

* ``UtcDateTime`` — a timezone-aware instant; stored as UTC, returned aware.
* ``Exact(precision, scale)`` — an exact decimal. PostgreSQL stores ``NUMERIC(p, s)``;
  SQLite has no decimal type (its NUMERIC is a float), so there the value is an integer
  scaled by ``10**scale``. Python always sees ``decimal.Decimal`` in the column's own
  unit, and ``SUM``/``MIN``/``MAX``/``COALESCE`` over such a column keep the type, so
  aggregates come back exact and in the same unit on both databases.
* ``Money`` — ``Exact(16, 2)``: 万元 with two decimal places, never a float.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp, stored in UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: a timestamp needs its time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Exact(TypeDecorator[Decimal]):
    """An exact decimal with ``scale`` places (see the module docstring)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 16, scale: int = 2) -> None:
        super().__init__(precision=precision, scale=scale)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)
        self._factor = 10**scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(
            Numeric(precision=self.precision, scale=self.scale, asdecimal=True)
        )

    def _exact(self, value: Any) -> Decimal:
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        exact = number.quantize(self._quantum, rounding=ROUND_HALF_EVEN)
        if exact != number:
            raise ValueError(f"{value!r} has more than {self.scale} decimal places")
        return exact

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = self._exact(value)
        if dialect.name == "sqlite":
            return int(exact.scaleb(self.scale))
        return exact

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        """A constant in DDL (a CHECK bound): scaled on SQLite, like stored values."""
        return str(self.process_bind_param(value, dialect))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self


def Money() -> Exact:  # noqa: N802 - reads as a column type, like Numeric()
    """万元 as an exact decimal with two places."""
    return Exact(16, 2)
