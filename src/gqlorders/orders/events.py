"""The audit trail of orders: every change is an event written in the change's transaction.

Every change passes here, so this is also where the organization's feed hears of it (one code
path: an order event and its feed event are written together) and where a rendered PDF is
marked stale (SPEC §8).
"""

from __future__ import annotations

from typing import Any

from gqlorders import events
from gqlorders.documents import SALES_ORDER, rerender_if_rendered
from gqlorders.events import EventType
from gqlorders.models import OrderEvent, OrderEventType, SalesOrder

# The order events the feed reports about the order itself; the others (invoiced, packed...)
# are reported by their own resource's feed event (INVOICE_CREATED...), written beside them.
FEED_TYPES = {
    OrderEventType.CREATED: EventType.SALES_ORDER_CREATED,
    OrderEventType.UPDATED: EventType.SALES_ORDER_UPDATED,
    OrderEventType.LINES_ADDED: EventType.SALES_ORDER_UPDATED,
    OrderEventType.CONFIRMED: EventType.SALES_ORDER_CONFIRMED,
    OrderEventType.SENT: EventType.SALES_ORDER_SENT,
    OrderEventType.VOIDED: EventType.SALES_ORDER_VOIDED,
    OrderEventType.MERGED: EventType.SALES_ORDER_MERGED,
    OrderEventType.MERGED_INTO: EventType.SALES_ORDER_MERGED,
    OrderEventType.CLOSED: EventType.SALES_ORDER_CLOSED,
    OrderEventType.REOPENED: EventType.SALES_ORDER_REOPENED,
}


async def record_event(
    order: SalesOrder,
    type: OrderEventType,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    new_order: bool = False,
) -> None:
    """Record the event, and its feed event when the feed reports it; `new_order` says the
    order was just created, so has no PDF yet."""
    await OrderEvent.create(sales_order_id=order.id, type=type, actor=actor, data=data)
    feed_type = FEED_TYPES.get(type)
    if feed_type is not None:
        await events.record(feed_type, order, actor)
    if not new_order:
        await rerender_if_rendered(SALES_ORDER, order.id)
