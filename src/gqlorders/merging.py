"""Merging two orders of one customer (SPEC §4): what forbids an order from any merge."""

from __future__ import annotations

from gqlorders.errors import ErrorCode
from gqlorders.models import SalesOrder, SalesOrderStatus

MERGEABLE_STATUSES = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED)


def merge_blockers(order: SalesOrder) -> list[ErrorCode]:
    """Reasons this order cannot take part in any merge right now, whatever the other order."""
    blockers = []
    if order.status not in MERGEABLE_STATUSES:
        blockers.append(ErrorCode.INVALID_STATUS)
    if order.marketplace is not None:
        blockers.append(ErrorCode.MERGE_MARKETPLACE_ORDER)
    return blockers
