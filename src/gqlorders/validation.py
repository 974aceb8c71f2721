"""Checks of plain input values shared by every domain module; each reports into `Problems`."""

from __future__ import annotations

import re
from decimal import Decimal

from gqlorders.errors import ErrorCode, FieldPath, Problems

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ADDRESS_FIELDS = ("attention", "street1", "street2", "city", "state", "zip", "country")
MAX_DECIMAL = Decimal("1e12")


def clean_text(
    problems: Problems,
    value: str | None,
    field: FieldPath,
    *,
    required: bool = False,
    max_length: int = 200,
) -> str | None:
    """Strip a text value; blank counts as absent; report a missing or too long one."""
    text = value.strip() if value is not None else None
    if not text:
        if required:
            problems.add(ErrorCode.REQUIRED, field, f"{field[-1]} is required")
        return None
    if len(text) > max_length:
        problems.add(ErrorCode.INVALID, field, f"{field[-1]} has at most {max_length} characters")
    if not is_storable(text):
        problems.add(ErrorCode.INVALID, field, f"{field[-1]} contains an invalid character")
    return text


def is_storable(text: str) -> bool:
    """Text both databases can store: no NUL character, no lone UTF-16 surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def search_term(value: str | None) -> str | None:
    """A search box's text, or None when it searches for nothing."""
    term = value.strip()[:200] if value else ""
    return term or None


def check_decimal(
    problems: Problems,
    value: Decimal | None,
    field: FieldPath,
    *,
    places: int,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal = MAX_DECIMAL,
    exclusive_minimum: bool = False,
) -> None:
    """Report a number with too many decimals or outside its range (None is left to callers)."""
    if value is None:
        return
    name = field[-1]
    if not value.is_finite():
        problems.add(ErrorCode.INVALID, field, f"{name} must be a finite number")
        return
    exponent = value.as_tuple().exponent  # an int: the value is finite
    if (
        isinstance(exponent, int)
        and exponent < -places
        and value != value.quantize(Decimal(1).scaleb(-places))
    ):
        problems.add(ErrorCode.INVALID, field, f"{name} has at most {places} decimal places")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        relation = "greater than" if exclusive_minimum else "at least"
        problems.add(ErrorCode.INVALID, field, f"{name} must be {relation} {minimum}")
    if value > maximum or (minimum is None and value < -maximum):
        problems.add(ErrorCode.INVALID, field, f"{name} is out of range")


def clean_currency(problems: Problems, value: str | None, field: FieldPath) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not CURRENCY_CODE.match(code):
        problems.add(ErrorCode.INVALID, field, "currency must be an ISO 4217 code such as EUR")
    return code


def clean_email(problems: Problems, value: str | None, field: FieldPath) -> str | None:
    email = clean_text(problems, value, field, max_length=254)
    if email is not None and not EMAIL.match(email):
        problems.add(ErrorCode.INVALID, field, "email is not a valid e-mail address")
    return email


def clean_address(
    problems: Problems, value: dict[str, str | None] | None, field: FieldPath
) -> dict[str, str | None] | None:
    """An address as stored: the seven fields, stripped; None when every field is empty."""
    if value is None:
        return None
    address = {key: clean_text(problems, value.get(key), (*field, key)) for key in ADDRESS_FIELDS}
    return address if any(address.values()) else None
