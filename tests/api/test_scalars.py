"""The Decimal scalar's serialization: texts kept by a Decimal's identity, never its value."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gqlorders.api import scalars
from gqlorders.api.scalars import decimal_text, serialize_decimal
from gqlorders.money import format_decimal


def test_equal_decimals_keep_their_own_text() -> None:
    # equal values, different texts: the sign of zero; 1.5 and 1.50 and 1.500 the same text
    values = [Decimal("0.00"), Decimal("-0.00"), Decimal("-0"), Decimal("1.5"), Decimal("1.500")]

    first = [serialize_decimal(value) for value in values]
    again = [serialize_decimal(value) for value in reversed(values)]

    assert first == ["0.00", "-0.00", "-0.00", "1.50", "1.50"]
    assert again == list(reversed(first))


def test_a_full_cache_starts_again_and_still_gives_each_text() -> None:
    values = [Decimal(n).scaleb(-4) for n in range(scalars.KEPT_TEXTS + 10)]

    texts = [serialize_decimal(value) for value in values]
    kept = len(scalars.kept_texts)

    assert texts[:3] == ["0.00", "0.0001", "0.0002"]
    assert texts[-1] == str(Decimal(scalars.KEPT_TEXTS + 9).scaleb(-4))
    assert kept <= scalars.KEPT_TEXTS
    assert [serialize_decimal(value) for value in values] == texts


def test_what_is_not_a_decimal_is_serialized_and_never_kept() -> None:
    kept = dict(scalars.kept_texts)

    assert serialize_decimal("12.50") == "12.50"  # type: ignore[arg-type]

    assert kept == scalars.kept_texts


@given(st.integers(-(2**63), 2**63 - 1), st.integers(-3, 10))
def test_the_text_is_format_decimals(digits: int, places: int) -> None:
    # the fast ways (two places as str() writes them; more places trimmed) say what
    # format_decimal says, kept or not, for what a 64-bit scaled column can hold (beyond the
    # context's 28 digits format_decimal would round, and they do not)
    value = Decimal(digits).scaleb(-places)
    assert decimal_text(value) == format_decimal(value)
    assert serialize_decimal(value) == format_decimal(value)
