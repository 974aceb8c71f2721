"""Exact decimal storage that sums and sorts exactly on SQLite and PostgreSQL alike.

SQLite keeps DECIMAL columns as text and adds them as floats (docs/architecture.md). Storing a
decimal as a BIGINT scaled by 10**places makes SQL aggregates, comparisons and ORDER BY exact on
both databases, while Python code only ever sees `Decimal`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.fields import BigIntField


class ScaledDecimalField(BigIntField):
    """A `Decimal` with a fixed number of places, stored as a scaled 64-bit integer."""

    field_type = Decimal

    def __init__(self, places: int = 2, **kwargs: Any) -> None:
        self.places = places
        self._scale = Decimal(10) ** places
        super().__init__(**kwargs)

    @property
    def constraints(self) -> dict:
        return {}

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None or not isinstance(value, (Decimal, int, str, float)):
            return value  # None, or an expression (F(...)) that the database evaluates
        scaled = Decimal(str(value)) * self._scale
        integral = scaled.to_integral_value()
        if integral != scaled:
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(integral)

    def to_python_value(self, value: Any) -> Any:
        if value is None or isinstance(value, Decimal):
            return value
        return (Decimal(int(value)) / self._scale).quantize(Decimal(1).scaleb(-self.places))


def _scaled(places: int, kwargs: dict[str, Any]) -> ScaledDecimalField:
    if not kwargs.get("null"):
        kwargs.setdefault("default", Decimal(0))
        kwargs.setdefault("db_default", 0)  # new non-null columns need one (docs/architecture.md)
    return ScaledDecimalField(places=places, **kwargs)


def MoneyField(**kwargs: Any) -> ScaledDecimalField:
    """An amount of money: 2 places (SPEC §3)."""
    return _scaled(2, kwargs)


def QuantityField(**kwargs: Any) -> ScaledDecimalField:
    """A quantity, rate or percentage: up to 4 places, the finest the SPEC allows."""
    return _scaled(4, kwargs)
