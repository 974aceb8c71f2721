"""The audit trail of an order: who changed what, when (SPEC §3)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.sales_orders import SalesOrder


class OrderEventType(StrEnum):
    """What happened to an order: the one vocabulary of its events (SPEC §3 "Every change is
    recorded as an event"). The values are stored in `order_event.type` and shown as they are
    in the API's `OrderEvent.type`: never rename one. `orders` records them
    (`orders.record_event`), `emails` records its own two."""

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
    EMAIL_FAILED = "email_failed"  # a message about the order (or its invoice) was not sent
    EMAIL_RESENT = "email_resent"


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
