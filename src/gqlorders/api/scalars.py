"""The `Decimal` scalar: exact decimals as strings, never floats (contract conventions)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry

from gqlorders.money import format_decimal

MAX_INPUT_LENGTH = 40


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError('a Decimal is given as a string such as "12.50"')
    text = str(value).strip()
    if len(text) > MAX_INPUT_LENGTH:
        raise ValueError("Decimal value is too long")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError("a Decimal must be finite")
    return number


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number, serialized as a string such as "1234.50".',
    serialize=format_decimal,
    parse_value=parse_decimal,
)
