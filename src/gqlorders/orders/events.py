"""The audit trail of orders: every change is an event written in the change's transaction.

Every change passes here, so this is also where a rendered PDF is marked stale (SPEC §8).
"""

from __future__ import annotations

from typing import Any

from gqlorders.documents import SALES_ORDER, rerender_if_rendered
from gqlorders.models import OrderEvent


async def record_event(
    sales_order_id: int,
    type: str,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    new_order: bool = False,
) -> None:
    """Record the event; `new_order` says the order was just created, so has no PDF yet."""
    await OrderEvent.create(sales_order_id=sales_order_id, type=type, actor=actor, data=data)
    if not new_order:
        await rerender_if_rendered(SALES_ORDER, sales_order_id)
