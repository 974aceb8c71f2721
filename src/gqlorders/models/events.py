"""The audit trail of an order: who changed what, when (SPEC §3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.sales_orders import SalesOrder


class OrderEvent(Model):
    id = fields.BigIntField(primary_key=True)
    sales_order: fields.ForeignKeyRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="events", on_delete=fields.CASCADE
    )
    sales_order_id: int
    type = fields.CharField(max_length=50)
    at = fields.DatetimeField(auto_now_add=True)
    actor = fields.CharField(max_length=200, null=True)
    data: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)

    class Meta:
        table = "order_event"
        indexes = (("sales_order_id", "at"),)
