"""The rate behind a marketplace's rounded tax amounts (money.rate_behind), as a property:
whatever the rate and the amount, the derived rate gives the very tax the marketplace gave,
and a whole rate on an amount of 2.00 or more is found exactly (the quotient alone is off by
up to 0.5/amount %: 19.988 % for 20 % of 16.66)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gqlorders.money import rate_behind, round_money

HUNDRED = Decimal(100)
RATES = st.decimals(min_value="0.5", max_value="27", places=2)
AMOUNTS = st.decimals(min_value="0.05", max_value="100000", places=2)


def marketplace_tax(rate: Decimal, amount: Decimal, inclusive: bool) -> Decimal:
    share = rate / (HUNDRED + rate) if inclusive else rate / HUNDRED
    return round_money(share * amount)


@given(rate=RATES, amount=AMOUNTS, inclusive=st.booleans())
def test_the_derived_rate_gives_the_marketplaces_tax(
    rate: Decimal, amount: Decimal, inclusive: bool
) -> None:
    tax = marketplace_tax(rate, amount, inclusive)
    if tax == 0 or (inclusive and amount - tax <= 0):
        return  # no tax to derive a rate from (the importer sets no tax then)

    derived = rate_behind(tax, amount, inclusive=inclusive)

    assert marketplace_tax(derived, amount, inclusive) == tax
    exponent = derived.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number (not NaN nor infinite)
    assert -exponent <= 2  # never more places than the rate had


@given(rate=st.integers(min_value=1, max_value=27), amount=AMOUNTS, inclusive=st.booleans())
def test_a_whole_rate_is_found_exactly_on_amounts_from_2(
    rate: int, amount: Decimal, inclusive: bool
) -> None:
    tax = marketplace_tax(Decimal(rate), amount, inclusive)
    if amount - tax < 2 if inclusive else amount < 2:
        return

    assert rate_behind(tax, amount, inclusive=inclusive) == rate


def test_worked_examples() -> None:
    assert rate_behind(Decimal("3.33"), Decimal("19.99"), inclusive=True) == Decimal("20")
    assert rate_behind(Decimal("0.55"), Decimal("10.55"), inclusive=True) == Decimal("5.5")
    assert rate_behind(Decimal("1.01"), Decimal("10.00"), inclusive=False) == Decimal("10.1")
    # several rates' taxes on one line: no simple rate gives it, the quotient at 4 places
    assert rate_behind(Decimal("1.2345"), Decimal("10.00"), inclusive=False) == Decimal("12.3450")
