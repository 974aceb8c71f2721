"""Reaching an order of the organization: loading (and locking) it, its items, its status."""

from __future__ import annotations

from gqlorders.errors import DomainError, ErrorCode, FieldPath
from gqlorders.models import SalesOrder, SalesOrderLine, SalesOrderStatus
from gqlorders.rows import column


async def get_sales_order(
    organization_id: int, order_id: int, field: FieldPath = ("id",), *, lock: bool = False
) -> SalesOrder:
    """The organization's order; with `lock`, its row stays locked until the transaction ends.

    Raises NOT_FOUND at `field` when the organization has no such order.
    """
    query = SalesOrder.filter(organization_id=organization_id, id=order_id)
    if lock:
        query = query.select_for_update()
    order = await query.first()
    if order is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such sales order")
    return order


async def order_item_ids(order_id: int) -> list[int]:
    """The items of the order's lines (one per line, repeats included)."""
    return list(await column(SalesOrderLine.filter(sales_order_id=order_id), "item_id"))


def require_status(
    order: SalesOrder,
    allowed: tuple[SalesOrderStatus, ...],
    action: str,
    field: FieldPath = ("id",),
) -> None:
    """Raise INVALID_STATUS at `field` unless the order's status is one of `allowed`."""
    if order.status not in allowed:
        raise DomainError.one(
            ErrorCode.INVALID_STATUS, field, f"a {order.status} order cannot be {action}"
        )
