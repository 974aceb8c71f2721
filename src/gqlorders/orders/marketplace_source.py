"""An order's marketplace origin (SPEC §9): an imported order is created once per external id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class AlreadyImported(Exception):
    """A concurrent import created the same marketplace order first: the importer then
    treats the payload as a re-delivery of that order."""


@dataclass(frozen=True)
class MarketplaceSource:
    """Where an imported order comes from (SPEC §9); it arrives confirmed, in its currency."""

    marketplace: str
    external_id: str
    updated_at: datetime
    currency: str
    totals: dict[str, str]


def totals_differ(reported: dict[str, str], total: Decimal, tax_total: Decimal) -> bool:
    """Whether the marketplace's figures differ from ours: its total, or its tax without the
    tax on shipping (which is in the marketplace's tax total but on none of our lines; a gross
    order's total agrees even when each line's tax was rounded there and each group's here).
    Totals stored before the shipping tax was kept count it as 0."""
    shipping_tax = Decimal(reported.get("shippingTax", "0"))
    return Decimal(reported["total"]) != total or (
        Decimal(reported["tax"]) - shipping_tax != tax_total
    )
