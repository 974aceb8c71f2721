"""Reading helpers the marketplace adapters share.

Every reader takes the location (`loc`) of the value inside the payload, so that a bad payload
is rejected with an `InvalidPayload` naming both what is wrong and where, instead of a
KeyError/TypeError deep inside a mapping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from gqlorders.marketplaces import InvalidPayload, MarketplaceAddress

Loc = tuple[str | int, ...]

ZERO = Decimal("0.00")
RATE_PLACES = Decimal("0.0001")  # unit prices and percentages are stored with 4 places


def where(loc: Loc) -> str:
    """A readable location for messages: order.line_items[0].price."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "payload"


def mapping(value: Any, loc: Loc, what: str = "an object") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidPayload(f"{where(loc)} must be {what}, not {type(value).__name__}", loc)
    return value


def field(obj: Mapping[str, Any], key: str, loc: Loc) -> Any:
    """A required field: present and not null."""
    value = obj.get(key)
    if value is None:
        raise InvalidPayload(f"{where((*loc, key))} is missing", (*loc, key))
    return value


def sub_mapping(obj: Mapping[str, Any], key: str, loc: Loc) -> Mapping[str, Any] | None:
    """An optional nested object (None when absent or null)."""
    value = obj.get(key)
    return None if value is None else mapping(value, (*loc, key))


def items_list(obj: Mapping[str, Any], key: str, loc: Loc, *, required: bool) -> list[Any]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{where((*loc, key))} must be a list", (*loc, key))
    if required and not value:
        raise InvalidPayload(f"{where((*loc, key))} is empty: an order needs lines", (*loc, key))
    return value


def text(value: Any) -> str | None:
    """A string field, with empty strings and nulls both read as None."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def ident(obj: Mapping[str, Any], key: str, loc: Loc) -> str:
    """A required id, kept as a string (Shopify ids exceed 2**53, floats would lose them)."""
    value = field(obj, key, loc)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise InvalidPayload(f"{where((*loc, key))} is not an id: {value!r}", (*loc, key))
    return str(value).strip()


def decimal(value: Any, loc: Loc) -> Decimal:
    """A number given as a decimal string or a JSON number (floats go through str, so 0.06 is
    exactly 0.06, not its binary approximation)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InvalidPayload(f"{where(loc)} is not a number: {value!r}", loc)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidPayload(f"{where(loc)} is not a finite number: {value!r}", loc)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidPayload(f"{where(loc)} is not a number: {value!r}", loc) from None
    if not result.is_finite():
        raise InvalidPayload(f"{where(loc)} is not a finite number: {value!r}", loc)
    return result


def money(obj: Mapping[str, Any], key: str, loc: Loc, default: Decimal | None = None) -> Decimal:
    """An amount field; missing/null/"" gives `default`, or is an error when there is none."""
    value = obj.get(key)
    if value is None or value == "":
        if default is None:
            raise InvalidPayload(f"{where((*loc, key))} is missing", (*loc, key))
        return default
    return decimal(value, (*loc, key))


def rows(obj: Mapping[str, Any], key: str, loc: Loc) -> list[tuple[Mapping[str, Any], Loc]]:
    """An optional list of objects, each with its location."""
    return [
        (mapping(row, (*loc, key, i)), (*loc, key, i))
        for i, row in enumerate(items_list(obj, key, loc, required=False))
    ]


def sum_of(obj: Mapping[str, Any], key: str, amount_key: str, loc: Loc) -> Decimal:
    """The sum of one amount over an optional list of objects (0.00 for none)."""
    return sum(
        (money(row, amount_key, row_loc, ZERO) for row, row_loc in rows(obj, key, loc)), ZERO
    )


def quantity(obj: Mapping[str, Any], key: str, loc: Loc) -> Decimal:
    """A line quantity: a number above zero."""
    value = decimal(field(obj, key, loc), (*loc, key))
    if value <= 0:
        raise InvalidPayload(f"{where((*loc, key))} must be above zero, not {value}", (*loc, key))
    return value


def at_most_4_places(value: Decimal) -> Decimal:
    """Rates and percentages are stored with 4 places: keep exact values, round finer ones
    half-up (the marketplace's own totals are kept beside ours, so nothing is lost)."""
    rounded = value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
    return value if rounded == value else rounded


def percent_from_fraction(value: Any, loc: Loc) -> Decimal:
    """0.06 -> 6 (Shopify rates are fractions given as JSON floats)."""
    return at_most_4_places(decimal(value, loc) * 100)


def timestamp(obj: Mapping[str, Any], key: str, loc: Loc) -> datetime:
    """An ISO 8601 timestamp, in UTC; one without an offset is UTC already (WooCommerce
    `*_gmt` fields). Comparing re-deliveries then never mixes offsets."""
    parsed = _parse_datetime(field(obj, key, loc), (*loc, key))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local_date(obj: Mapping[str, Any], key: str, loc: Loc) -> date:
    """The calendar date as written in the payload (the marketplace's own day of the order)."""
    return _parse_datetime(field(obj, key, loc), (*loc, key)).date()


def _parse_datetime(value: Any, loc: Loc) -> datetime:
    if not isinstance(value, str):
        raise InvalidPayload(f"{where(loc)} is not a timestamp: {value!r}", loc)
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidPayload(f"{where(loc)} is not an ISO 8601 timestamp: {value!r}", loc) from None


def joined(*parts: Any) -> str | None:
    """Non-empty parts joined by spaces ("Bob" + "Norman"), None when all are empty."""
    return " ".join(p for p in (text(part) for part in parts) if p) or None


def address(
    attention: Any,
    street1: Any,
    street2: Any,
    city: Any,
    state: Any,
    zip_code: Any,
    country: Any,
) -> MarketplaceAddress | None:
    """An address with empty strings read as None; None when every part is empty."""
    result = MarketplaceAddress(
        attention=text(attention),
        street1=text(street1),
        street2=text(street2),
        city=text(city),
        state=text(state),
        zip=text(zip_code),
        country=text(country),
    )
    return result if any(result.as_dict().values()) else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (plain dicts are case-sensitive, HTTP is not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None
