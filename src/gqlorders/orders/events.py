"""The audit trail of orders: every change is an event written in the change's transaction.

Every change passes here, so this is also where a rendered PDF is marked stale (SPEC §8).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from gqlorders.documents import SALES_ORDER, rerender_if_rendered
from gqlorders.models import OrderEvent


class OrderEventType(StrEnum):
    """What happened to an order: the one vocabulary of its events (SPEC §3 "Every change is
    recorded as an event"). The values are stored in `order_event.type` and shown as they are
    in the API's `OrderEvent.type`: never rename one."""

    CREATED = "created"
    UPDATED = "updated"
    LINES_ADDED = "lines_added"
    CONFIRMED = "confirmed"
    SENT = "sent"
    CLOSED = "closed"  # the automatic closing rule holds
    REOPENED = "reopened"  # it stopped holding (an invoice voided)
    VOIDED = "voided"
    MERGED = "merged"  # on the survivor of a merge
    MERGED_INTO = "merged_into"  # on the order merged into it
    INVOICED = "invoiced"
    INVOICE_SENT = "invoice_sent"
    INVOICE_VOIDED = "invoice_voided"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


async def record_event(
    sales_order_id: int,
    type: OrderEventType,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    new_order: bool = False,
) -> None:
    """Record the event; `new_order` says the order was just created, so has no PDF yet."""
    await OrderEvent.create(sales_order_id=sales_order_id, type=type, actor=actor, data=data)
    if not new_order:
        await rerender_if_rendered(SALES_ORDER, sales_order_id)
