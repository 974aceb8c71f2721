"""The `Decimal` scalar: exact decimals as strings, never floats (contract conventions)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry

from gqlorders.money import format_decimal

MAX_INPUT_LENGTH = 40
KEPT_TEXTS = 4096  # serialized Decimals kept, by identity

# id(decimal) -> (decimal, its text); read directly by compiled plans (api/compiled/levels.py)
kept_texts: dict[int, tuple[Decimal, str]] = {}


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


def serialize_decimal(value: Decimal) -> str:
    """`format_decimal`, fast for what rows hold (2 or 4 places): a page of orders serializes
    thousands of these, mostly the same few objects (rows.py keeps the scaled values it
    makes: quantities, rates and zeros repeat), so a Decimal's text is kept by the object's
    identity -- never by value, which would take 1.5 for 1.50 and -0.00 for 0.00. A kept text
    holds its Decimal alive, so no other object can take that identity meanwhile."""
    if type(value) is not Decimal:
        return decimal_text(value)
    kept = kept_texts.get(id(value))
    if kept is not None and kept[0] is value:
        return kept[1]
    return keep_text(value)


def keep_text(value: Decimal) -> str:
    """The Decimal's text, made and kept (a compiled plan calls it when it found none kept)."""
    text = decimal_text(value)
    if len(kept_texts) >= KEPT_TEXTS:
        kept_texts.clear()
    kept_texts[id(value)] = (value, text)
    return text


def decimal_text(value: Decimal) -> str:
    """The text of `serialize_decimal`, made anew. Anything but 2 or more places (no point,
    exponent notation, one place) goes `format_decimal`'s general way."""
    text = str(value)
    if text[-3:-2] == ".":  # two places (an exponent's text never ends so): what money holds
        return text
    point = text.find(".")
    if point < 0 or "E" in text:
        return format_decimal(value)
    places = len(text) - point - 1
    if places > 2:
        trimmed = text.rstrip("0")
        return trimmed if len(trimmed) - point > 3 else text[: point + 3]
    return format_decimal(value)


DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number, serialized as a string such as "1234.50".',
    serialize=serialize_decimal,
    parse_value=parse_decimal,
)
