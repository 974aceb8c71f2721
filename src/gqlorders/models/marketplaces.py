"""Marketplace connections and the inbox of webhook deliveries (SPEC §9)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.organizations import Organization
    from gqlorders.models.sales_orders import SalesOrder


class InboxState(StrEnum):
    RECEIVED = "RECEIVED"
    IMPORTED = "IMPORTED"
    FAILED = "FAILED"


class MarketplaceConnection(Model):
    """Where one marketplace posts an organization's order webhooks, and the secret they are
    signed with (kept as given: verifying an HMAC needs the secret itself)."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    marketplace = fields.CharField(max_length=50)
    webhook_key = fields.CharField(max_length=64, unique=True)
    webhook_secret = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "marketplace_connection"


class InboxMessage(Model):
    """A verified webhook delivery, stored before it is imported: nothing a marketplace sent
    is lost, and a failed import can be retried."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    connection: fields.ForeignKeyRelation[MarketplaceConnection] = fields.ForeignKeyField(
        "models.MarketplaceConnection", related_name=False, on_delete=fields.CASCADE
    )
    connection_id: int
    marketplace = fields.CharField(max_length=50)
    body = fields.TextField()
    state = fields.CharEnumField(InboxState, max_length=10, default=InboxState.RECEIVED)
    error: str | None = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    sales_order: fields.ForeignKeyNullableRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    sales_order_id: int | None
    received_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "inbox_message"
        indexes = (("organization_id", "state", "id"),)
