"""The audit trail of orders: every change is an event written in the change's transaction."""

from __future__ import annotations

from typing import Any

from gqlorders.models import OrderEvent


async def record_event(
    sales_order_id: int, type: str, actor: str, data: dict[str, Any] | None = None
) -> None:
    await OrderEvent.create(sales_order_id=sales_order_id, type=type, actor=actor, data=data)
