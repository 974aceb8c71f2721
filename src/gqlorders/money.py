"""Decimal arithmetic and the rounding of SPEC §3, in one place.

Every amount is rounded half-up to 2 places at exactly the points the spec names; nothing else
in the code base rounds money.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


class TaxMode(StrEnum):
    """How a document's rates read (SPEC §3 "Tax-inclusive prices")."""

    EXCLUSIVE = "EXCLUSIVE"  # net: each tax is added on top
    INCLUSIVE = "INCLUSIVE"  # gross: each tax is carved out of the amounts


def format_decimal(value: Decimal) -> str:
    """At least two places ("12.50", "3.00"), more only when they carry something ("0.125")."""
    if value == value.quantize(CENT):
        return f"{value.quantize(CENT):f}"
    return f"{value.normalize():f}"


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, rate: Decimal, discount_percent: Decimal) -> Decimal:
    """round(quantity × rate × (1 − discount/100))."""
    return round_money(quantity * rate * (1 - discount_percent / HUNDRED))


@dataclass(frozen=True)
class TaxedAmount:
    """A line amount and the tax it is grouped under (None: untaxed)."""

    amount: Decimal
    tax_key: Hashable | None
    tax_percentage: Decimal | None


@dataclass(frozen=True)
class Totals:
    sub_total: Decimal
    discount_amount: Decimal
    taxes: list[tuple[Hashable, Decimal]]  # (tax key, amount), in first-seen order
    tax_total: Decimal
    total: Decimal

    def stored_taxes(self) -> list[dict[str, Any]]:
        """The tax groups as documents store them (JSON: tax id and amount as a string)."""
        return [{"tax_id": key, "amount": str(amount)} for key, amount in self.taxes]


def order_discount(
    sub_total: Decimal, percentage: Decimal | None = None, amount: Decimal | None = None
) -> Decimal:
    """The order-level discount: a rounded percentage of the sub total, or a fixed amount."""
    if percentage is not None:
        return round_money(sub_total * percentage / HUNDRED)
    if amount is not None:
        return round_money(amount)
    return ZERO


def document_totals(
    lines: Iterable[TaxedAmount],
    discount_amount: Decimal,
    shipping_charge: Decimal,
    adjustment: Decimal,
    tax_mode: TaxMode = TaxMode.EXCLUSIVE,
) -> Totals:
    """Totals of an order or invoice (SPEC §3): taxes grouped by tax, after the order discount.

    INCLUSIVE amounts already hold their taxes: a group's tax is its percentage/(100 +
    percentage) share, and the total adds none of them again.
    """
    lines = list(lines)
    sub_total = sum((line.amount for line in lines), ZERO)
    groups: dict[Hashable, tuple[Decimal, Decimal]] = {}
    for line in lines:
        if line.tax_key is None or line.tax_percentage is None:
            continue
        base, pct = groups.get(line.tax_key, (ZERO, line.tax_percentage))
        groups[line.tax_key] = (base + line.amount, pct)

    inclusive = tax_mode == TaxMode.INCLUSIVE

    def group_tax(base: Decimal, pct: Decimal) -> Decimal:
        # One division at the end: a rounded discount factor or share would shift half-cent
        # cases (59.97 at 20 % inclusive holds exactly 9.995, which rounds to 10.00).
        divisor = HUNDRED + pct if inclusive else HUNDRED
        if not sub_total:
            return round_money(pct * base / divisor)
        return round_money(pct * base * (sub_total - discount_amount) / (divisor * sub_total))

    taxes = [(key, group_tax(base, pct)) for key, (base, pct) in groups.items()]
    tax_total = sum((amount for _, amount in taxes), ZERO)
    added_tax = ZERO if inclusive else tax_total
    total = sub_total - discount_amount + added_tax + shipping_charge + adjustment
    return Totals(
        sub_total=round_money(sub_total),
        discount_amount=round_money(discount_amount),
        taxes=taxes,
        tax_total=round_money(tax_total),
        total=round_money(total),
    )
