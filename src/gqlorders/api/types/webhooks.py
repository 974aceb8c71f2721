"""Webhook endpoints and the delivery log: views of `gqlorders.models.webhooks` rows."""

from __future__ import annotations

import datetime

import strawberry

from gqlorders import models
from gqlorders.api.types.common import Node, global_id, is_row_of
from gqlorders.api.types.events import Event, EventType
from gqlorders.webhooks.endpoints import subscribed_types

WebhookEndpointStatus = models.WebhookEndpointStatus
strawberry.enum(WebhookEndpointStatus)
WebhookDeliveryStatus = models.WebhookDeliveryStatus
strawberry.enum(WebhookDeliveryStatus)


@strawberry.type
class WebhookEndpoint(Node):
    is_type_of = is_row_of(models.WebhookEndpoint)

    url: str
    description: str | None
    payload_query: str | None = strawberry.field(
        description="Optional GraphQL selection on the event's resource; its result is the"
        " body's `data`."
    )
    status: WebhookEndpointStatus
    disabled_reason: str | None = strawberry.field(
        description="Why it was disabled (410 Gone, too many failures, by hand)."
    )
    created_at: datetime.datetime
    id: strawberry.ID = global_id("WebhookEndpoint")

    @strawberry.field(description="Empty: every event type.")
    def event_types(self, root: strawberry.Parent[models.WebhookEndpoint]) -> list[EventType]:
        return subscribed_types(root)


@strawberry.type
class WebhookAttempt:
    at: datetime.datetime
    response_status: int | None = strawberry.field(
        description="HTTP status of the answer; null when none came (timeout, refused, DNS)."
    )
    duration_ms: int
    response_excerpt: str | None = strawberry.field(
        description="First KiB of the answer's body, or the network error."
    )


@strawberry.type
class WebhookDelivery(Node):
    """A row with its endpoint and event joined and its attempts prefetched
    (webhooks.queries)."""

    is_type_of = is_row_of(models.WebhookDelivery)

    status: WebhookDeliveryStatus
    next_attempt_at: datetime.datetime | None
    id: strawberry.ID = global_id("WebhookDelivery")

    @strawberry.field(graphql_type=WebhookEndpoint)
    def endpoint(self, root: strawberry.Parent[models.WebhookDelivery]) -> models.WebhookEndpoint:
        return root.endpoint

    @strawberry.field(graphql_type=Event)
    def event(self, root: strawberry.Parent[models.WebhookDelivery]) -> models.FeedEvent:
        return root.event

    @strawberry.field(
        description="The `webhook-id` header: the same on every attempt and every redelivery"
        " of this event to this endpoint."
    )
    def message_id(self, root: strawberry.Parent[models.WebhookDelivery]) -> str:
        return root.message_id

    @strawberry.field(description="Oldest first.", graphql_type=list[WebhookAttempt])
    def attempts(
        self, root: strawberry.Parent[models.WebhookDelivery]
    ) -> list[models.WebhookAttempt]:
        return sorted(root.attempts, key=lambda attempt: attempt.id)
