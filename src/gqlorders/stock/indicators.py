"""The stock indicator of an order line (SPEC §3): can its warehouse serve what remains?"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from gqlorders.models import SalesOrder, SalesOrderLine, StockLevel
from gqlorders.models.sales_orders import ACCEPTED


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


def available_in(levels: Iterable[StockLevel], warehouse_id: int) -> Decimal:
    """Available for sale in one warehouse: on hand minus committed (SPEC §7)."""
    return sum(
        (level.on_hand - level.committed for level in levels if level.warehouse_id == warehouse_id),
        Decimal(0),
    )


def order_line_stock_status(
    line: SalesOrderLine, order: SalesOrder, levels: Iterable[StockLevel]
) -> StockStatus:
    """The indicator of a goods line of `order`, given its item's stock levels."""
    return line_stock_status(
        line.quantity - line.quantity_shipped,
        available_in(levels, order.warehouse_id),
        committed_by_line=order.status in ACCEPTED,
    )
