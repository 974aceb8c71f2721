"""An order's statuses in one place (SPEC §3): the named sets of statuses each rule allows,
and the invoiced and shipped statuses derived from line quantities.

This module imports only the models, so that the stock domain, which the order commands
ask for recalculations, can read the sets without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from gqlorders.models import InvoicedStatus, SalesOrderStatus, ShippedStatus

# SPEC §3: draft and confirmed orders can be edited; they are also the ones that can be voided
# (while nothing is invoiced or shipped).
EDITABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED)
# SPEC §3, §5, §6, §7: confirmed orders, and those closed since, are in force: their goods are
# committed (§7), they are invoiced (§5) and packed (§6), and the automatic closing moves them
# between the two (§3).
ACCEPTED = (SalesOrderStatus.CONFIRMED, SalesOrderStatus.CLOSED)
# SPEC §3: an order can be e-mailed unless void or merged; sending a draft confirms it.
SENDABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED, SalesOrderStatus.CLOSED)
# SPEC §4: only orders that are both drafts or both confirmed merge.
MERGEABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED)
# SPEC §4: a merged order leaves the default lists.
LISTED_BY_DEFAULT = tuple(s for s in SalesOrderStatus if s != SalesOrderStatus.MERGED)


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
