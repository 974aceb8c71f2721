"""The stock indicator of an order line (SPEC §3): can its warehouse serve what remains?"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class StockStatus(StrEnum):
    IN_STOCK = "IN_STOCK"
    PARTIALLY_AVAILABLE = "PARTIALLY_AVAILABLE"
    OUT_OF_STOCK = "OUT_OF_STOCK"


def line_stock_status(
    remaining: Decimal, available: Decimal, committed_by_line: bool
) -> StockStatus:
    """`remaining` is the line's unshipped quantity and `available` its warehouse's available
    quantity; a line already committed counts its own commitment as available to itself."""
    if remaining <= 0:
        return StockStatus.IN_STOCK
    usable = available + (remaining if committed_by_line else Decimal(0))
    if usable >= remaining:
        return StockStatus.IN_STOCK
    if usable > 0:
        return StockStatus.PARTIALLY_AVAILABLE
    return StockStatus.OUT_OF_STOCK
