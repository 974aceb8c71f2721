"""An order's statuses in one place (SPEC §3): the named sets of statuses each rule allows,
and the invoiced and shipped statuses derived from line quantities.

The sets are defined beside the status enum (models/sales_orders.py), where the stock domain
reads them without loading this package; the order domain reads them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from gqlorders.models import InvoicedStatus, ShippedStatus
from gqlorders.models.sales_orders import (
    ACCEPTED,
    EDITABLE,
    LISTED_BY_DEFAULT,
    MERGEABLE,
    SENDABLE,
)

__all__ = [
    "ACCEPTED",
    "EDITABLE",
    "LISTED_BY_DEFAULT",
    "MERGEABLE",
    "SENDABLE",
    "invoiced_status",
    "shipped_status",
]


def invoiced_status(lines: Iterable[tuple[Decimal, Decimal]]) -> InvoicedStatus:
    """From (quantity, quantity invoiced) per line."""
    pairs = list(lines)
    if all(done <= 0 for _, done in pairs):
        return InvoicedStatus.NOT_INVOICED
    if all(done >= qty for qty, done in pairs):
        return InvoicedStatus.INVOICED
    return InvoicedStatus.PARTIALLY_INVOICED


def shipped_status(goods_lines: Iterable[tuple[Decimal, Decimal]]) -> ShippedStatus:
    """From (quantity, quantity shipped) per goods line; services never ship, so an order
    without goods counts as shipped."""
    pairs = list(goods_lines)
    if all(done >= qty for qty, done in pairs):
        return ShippedStatus.SHIPPED
    if all(done <= 0 for _, done in pairs):
        return ShippedStatus.NOT_SHIPPED
    return ShippedStatus.PARTIALLY_SHIPPED
