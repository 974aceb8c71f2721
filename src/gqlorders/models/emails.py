"""E-mails sent to customers (SPEC §8): each send request is a row with its delivery state."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.invoices import Invoice
    from gqlorders.models.organizations import Organization
    from gqlorders.models.sales_orders import SalesOrder


class EmailState(StrEnum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"  # claimed by a job: a rerun of the job never sends it again
    SENT = "SENT"
    FAILED = "FAILED"

    def shown(self) -> EmailState:
        """The state as clients see it: SENDING is internal (a job holds the message), shown
        as QUEUED."""
        return EmailState.QUEUED if self is EmailState.SENDING else self


class EmailMessage(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="emails", on_delete=fields.CASCADE
    )
    organization_id: int
    sales_order: fields.ForeignKeyNullableRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    sales_order_id: int | None
    invoice: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="emails", null=True, on_delete=fields.CASCADE
    )
    invoice_id: int | None
    to: fields.JSONField[list[str]] = fields.JSONField()
    cc: fields.JSONField[list[str]] = fields.JSONField(default=list)
    subject = fields.CharField(max_length=300)
    body = fields.TextField(default="")
    state = fields.CharEnumField(EmailState, max_length=8, default=EmailState.QUEUED)
    attempts = fields.IntField(default=0, db_default=0)
    error: str | None = fields.TextField(null=True)
    # When a job last claimed it (QUEUED -> SENDING): a SENDING message claimed long ago was
    # left by a process that died mid-send, and the sweep settles it (emails/sending.py).
    claimed_at = fields.DatetimeField(null=True)
    # When this claim's content started to go out (SMTP DATA): before that, nothing can have
    # been delivered, and the sweep sends a stalled message again instead of failing it.
    data_started_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "email_message"
        indexes = (("sales_order_id",), ("invoice_id",), ("state", "claimed_at"))
