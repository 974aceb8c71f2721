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
from gqlorders.models import OrderEvent, SalesOrder

# Order events the feed reports about the order itself (the others -- "invoiced", "packed",
# ... -- are reported by their own resource's feed event, written beside them).
FEED_TYPES = {
    "created": EventType.SALES_ORDER_CREATED,
    "updated": EventType.SALES_ORDER_UPDATED,
    "lines_added": EventType.SALES_ORDER_UPDATED,
    "confirmed": EventType.SALES_ORDER_CONFIRMED,
    "sent": EventType.SALES_ORDER_SENT,
    "voided": EventType.SALES_ORDER_VOIDED,
    "merged": EventType.SALES_ORDER_MERGED,
    "merged_into": EventType.SALES_ORDER_MERGED,
    "closed": EventType.SALES_ORDER_CLOSED,
    "reopened": EventType.SALES_ORDER_REOPENED,
}


async def record_event(
    order: SalesOrder,
    type: str,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    new_order: bool = False,
) -> None:
    """Record the event; `new_order` says the order was just created, so has no PDF yet."""
    await OrderEvent.create(sales_order_id=order.id, type=type, actor=actor, data=data)
    feed_type = FEED_TYPES.get(type)
    if feed_type is not None:
        await events.record(feed_type, order, actor)
    if not new_order:
        await rerender_if_rendered(SALES_ORDER, order.id)
