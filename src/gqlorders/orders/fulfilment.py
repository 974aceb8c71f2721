"""Derived statuses and automatic closing after invoicing, packing or shipping (SPEC §3).

Called inside the transaction that changed line quantities, with the order row locked.
"""

from __future__ import annotations

from gqlorders.models import (
    CloseSalesOrderWhen,
    InvoicedStatus,
    Item,
    ItemKind,
    Organization,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    ShippedStatus,
)
from gqlorders.orders.events import OrderEventType, record_event
from gqlorders.orders.statuses import ACCEPTED
from gqlorders.orders.totals import apply_statuses
from gqlorders.rows import column


def closing_condition_holds(order: SalesOrder, rule: CloseSalesOrderWhen) -> bool:
    invoiced = order.invoiced_status == InvoicedStatus.INVOICED
    shipped = order.shipped_status == ShippedStatus.SHIPPED
    if rule == CloseSalesOrderWhen.INVOICED:
        return invoiced
    if rule == CloseSalesOrderWhen.SHIPPED:
        return shipped
    return invoiced and shipped


async def refresh_fulfilment(order: SalesOrder, actor: str) -> None:
    """Recompute the order's invoiced/shipped statuses from its lines, then close a confirmed
    order whose closing condition now holds, or reopen a closed one whose condition stopped
    holding (an invoice voided)."""
    lines = await SalesOrderLine.filter(sales_order_id=order.id)
    goods = set(
        await column(
            Item.filter(
                id__in={line.item_id for line in lines},
                kind=ItemKind.GOODS,
            ),
            "id",
        )
    )
    apply_statuses(order, lines, goods)
    await order.save(update_fields=["invoiced_status", "shipped_status", "updated_at"])
    await apply_closing_rule(order, actor)


async def apply_closing_rule(order: SalesOrder, actor: str) -> None:
    """Move the order between CONFIRMED and CLOSED by the organization's rule. The move is
    saved before its event is recorded, so the event's data shows the order as it now is."""
    if order.status not in ACCEPTED:
        return
    rule = await column(Organization.filter(id=order.organization_id), "close_sales_order_when")
    holds = closing_condition_holds(order, CloseSalesOrderWhen(rule[0]))
    if order.status == SalesOrderStatus.CONFIRMED and holds:
        order.status = SalesOrderStatus.CLOSED
        await order.save(update_fields=["status", "updated_at"])
        await record_event(order, OrderEventType.CLOSED, actor, {"rule": rule[0]})
    elif order.status == SalesOrderStatus.CLOSED and not holds:
        order.status = SalesOrderStatus.CONFIRMED
        await order.save(update_fields=["status", "updated_at"])
        await record_event(order, OrderEventType.REOPENED, actor)
