"""The organization's event feed (`Query.events`): what changed, for integrations to follow.

Unlike `OrderEvent` (an order's audit trail, deleted with the order), a feed event outlives its
resource and is pruned by age only (`EVENT_RETENTION`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.organizations import Organization


class FeedEvent(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    type = fields.CharField(max_length=40)
    actor = fields.CharField(max_length=200, null=True)
    resource_type = fields.CharField(max_length=40)  # the GraphQL type of the resource
    resource_key = fields.BigIntField()
    occurred_at = fields.DatetimeField(auto_now_add=True)
    data: fields.JSONField[dict[str, Any]] = fields.JSONField()
    # Its place in the feed, given after its transaction committed (PostgreSQL; see
    # events/feed.py). SQLite leaves it null: its ids already follow commit order.
    position = fields.BigIntField(null=True)

    class Meta:
        table = "feed_event"
        # The events still without a position have a partial index of their own (0015). A page
        # of one type reads that type's events only (organization_id, type, position): on 10M
        # events, 1,001 index entries instead of the ~100,000 events around a rare type's page
        # (bench/README.md).
        indexes = (
            ("organization_id", "position"),
            ("organization_id", "type", "position"),
            ("organization_id", "id"),
            ("occurred_at",),
        )
