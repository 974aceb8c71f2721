"""Outgoing webhooks: an organization's endpoints, one delivery per event and endpoint, and
every attempt at it (the delivery log partners and support read)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.feed import FeedEvent
    from gqlorders.models.organizations import Organization


class WebhookEndpointStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookEndpoint(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=500, null=True)
    # ",SALES_ORDER_CREATED,PACKAGE_SHIPPED," (commas around each, so that the fan-out finds a
    # type with one substring test in SQL); empty for every type.
    event_types = fields.CharField(max_length=2000, default="", db_default="")
    payload_query: str | None = fields.TextField(null=True)
    # The scopes of the token that set `payload_query`: the query runs with them.
    query_scopes = fields.CharField(max_length=500, default="", db_default="")
    secret = fields.CharField(max_length=100)
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    status = fields.CharEnumField(
        WebhookEndpointStatus,
        max_length=10,
        default=WebhookEndpointStatus.ENABLED,
        db_default=WebhookEndpointStatus.ENABLED.value,
    )
    disabled_reason = fields.CharField(max_length=500, null=True)
    failing_since = fields.DatetimeField(null=True)  # first failure since the last success
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_endpoint"
        # the fan-out's lookup, on every event of the organization
        indexes = (("organization_id", "status"),)


class WebhookDelivery(Model):
    """One event to one endpoint. While PENDING, `next_attempt_at` is when the sweep hands it
    to a job again (the next retry, or the moment a job that took it counts as lost), and
    `dispatch` names the one job allowed to send it now."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name=False, on_delete=fields.CASCADE
    )
    endpoint_id: int
    event: fields.ForeignKeyRelation[FeedEvent] = fields.ForeignKeyField(
        "models.FeedEvent", related_name=False, on_delete=fields.CASCADE
    )
    event_id: int
    message_id = fields.CharField(max_length=40, unique=True)
    status = fields.CharEnumField(
        WebhookDeliveryStatus,
        max_length=10,
        default=WebhookDeliveryStatus.PENDING,
        db_default=WebhookDeliveryStatus.PENDING.value,
    )
    next_attempt_at = fields.DatetimeField(null=True)
    dispatch = fields.BigIntField(null=True)
    failures = fields.IntField(default=0, db_default=0)  # failed attempts since (re)delivery
    created_at = fields.DatetimeField(auto_now_add=True)
    attempts: fields.ReverseRelation[WebhookAttempt]

    class Meta:
        table = "webhook_delivery"
        indexes = (
            ("status", "next_attempt_at"),  # the sweep's
            ("organization_id", "id"),  # the delivery log, newest first
            ("endpoint_id", "id"),
            ("event_id",),
            # a job's deliveries (those holding its token): a partial index, migration 0018
        )


class WebhookAttempt(Model):
    id = fields.BigIntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempts", on_delete=fields.CASCADE
    )
    delivery_id: int
    at = fields.DatetimeField()
    response_status = fields.IntField(null=True)
    duration_ms = fields.IntField()
    response_excerpt: str | None = fields.TextField(null=True)

    class Meta:
        table = "webhook_attempt"
        indexes = (("delivery_id", "id"),)
