"""Outgoing webhooks: managing endpoints (`webhooks:write`), reading them and the delivery
log (`webhooks:read`)."""

from __future__ import annotations

import functools

import strawberry

from gqlorders import models
from gqlorders.api import payload_queries
from gqlorders.api.context import Info, require, whole_scope_set
from gqlorders.api.errors import UserError, raises_query_errors, returns_user_errors
from gqlorders.api.ids import decode_id, decode_optional_id
from gqlorders.api.types.common import Connection, connection
from gqlorders.api.types.events import EventType
from gqlorders.api.types.webhooks import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointStatus,
)
from gqlorders.tenancy import Scope
from gqlorders.webhooks import endpoints, queries
from gqlorders.webhooks.endpoints import EndpointInput


def _check_query(info: Info) -> endpoints.PayloadQueryCheck:
    return functools.partial(payload_queries.check, info.schema)


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    description: str | None = None
    event_types: list[EventType] | None = None
    payload_query: str | None = None

    def to_domain(self) -> EndpointInput:
        return EndpointInput(
            url=self.url,
            description=self.description,
            event_types=self.event_types or [],
            payload_query=self.payload_query,
        )


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    description: str | None = None
    event_types: list[EventType] | None = None
    payload_query: str | None = strawberry.field(default=None, description='"" removes it.')
    status: WebhookEndpointStatus | None = None

    def to_domain(self) -> EndpointInput:
        return EndpointInput(
            url=self.url,
            description=self.description,
            event_types=self.event_types,
            payload_query=self.payload_query,
            status=self.status,
        )


@strawberry.input
class WebhookEndpointIdInput:
    id: strawberry.ID


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.input
class WebhookDeliveryFilter:
    endpoint_id: strawberry.ID | None = None
    status: list[WebhookDeliveryStatus] | None = None
    event_id: strawberry.ID | None = None

    def to_domain(self) -> queries.DeliveryFilter:
        return queries.DeliveryFilter(
            endpoint_id=decode_optional_id(
                self.endpoint_id, "WebhookEndpoint", ("filter", "endpointId")
            ),
            statuses=self.status,
            event_id=decode_optional_id(self.event_id, "Event", ("filter", "eventId")),
        )


@strawberry.type
class WebhookEndpointPayload:
    webhook_endpoint: models.WebhookEndpoint | None = strawberry.field(
        default=None, graphql_type=WebhookEndpoint | None
    )
    secret: str | None = strawberry.field(
        default=None,
        description="Only in the answers of create and rotate: `whsec_` + base64 key, shown once.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: models.WebhookDelivery | None = strawberry.field(
        default=None, graphql_type=WebhookDelivery | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="The organization's webhook endpoints, oldest first.")
    @raises_query_errors
    async def webhook_endpoints(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        principal = require(info, Scope.WEBHOOKS_READ)
        page = await queries.list_endpoints(principal.organization_id, first=first, after=after)
        return connection(page)

    @strawberry.field(description="The delivery log, newest first.")
    @raises_query_errors
    async def webhook_deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: WebhookDeliveryFilter | None = None,
    ) -> Connection[WebhookDelivery]:
        principal = require(info, Scope.WEBHOOKS_READ)
        where = filter.to_domain() if filter else queries.DeliveryFilter()
        page = await queries.list_deliveries(
            principal.organization_id, where, first=first, after=after
        )
        return connection(page)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation
    @returns_user_errors(WebhookEndpointPayload)
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        principal = require(info, Scope.WEBHOOKS_WRITE)
        endpoint, secret = await endpoints.create_endpoint(
            principal.organization_id,
            input.to_domain(),
            whole_scope_set(info, principal),
            _check_query(info),
        )
        return WebhookEndpointPayload(webhook_endpoint=endpoint, secret=secret)

    @strawberry.mutation
    @returns_user_errors(WebhookEndpointPayload)
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        principal = require(info, Scope.WEBHOOKS_WRITE)
        endpoint = await endpoints.update_endpoint(
            principal.organization_id,
            decode_id(input.id, "WebhookEndpoint", ("id",)),
            input.to_domain(),
            whole_scope_set(info, principal),
            _check_query(info),
            principal.actor,
        )
        return WebhookEndpointPayload(webhook_endpoint=endpoint)

    @strawberry.mutation
    @returns_user_errors(WebhookEndpointPayload)
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookEndpointPayload:
        principal = require(info, Scope.WEBHOOKS_WRITE)
        endpoint = await endpoints.delete_endpoint(
            principal.organization_id, decode_id(input.id, "WebhookEndpoint", ("id",))
        )
        return WebhookEndpointPayload(webhook_endpoint=endpoint)

    @strawberry.mutation(
        description="New secret; the old one keeps signing too (two signatures per message)"
        " for 24 hours."
    )
    @returns_user_errors(WebhookEndpointPayload)
    async def rotate_webhook_secret(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookEndpointPayload:
        principal = require(info, Scope.WEBHOOKS_WRITE)
        endpoint, secret = await endpoints.rotate_secret(
            principal.organization_id, decode_id(input.id, "WebhookEndpoint", ("id",))
        )
        return WebhookEndpointPayload(webhook_endpoint=endpoint, secret=secret)

    @strawberry.mutation(
        description="Sends a WEBHOOK_ENDPOINT_TEST event to this endpoint only, now, and"
        " returns its delivery."
    )
    @returns_user_errors(WebhookDeliveryPayload)
    async def ping_webhook_endpoint(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> WebhookDeliveryPayload:
        principal = require(info, Scope.WEBHOOKS_WRITE)
        delivery_id = await endpoints.ping_endpoint(
            principal.organization_id,
            decode_id(input.id, "WebhookEndpoint", ("id",)),
            principal.actor,
        )
        delivery = await queries.get_delivery(principal.organization_id, delivery_id)
        return WebhookDeliveryPayload(delivery=delivery)

    @strawberry.mutation(
        description="Sends the delivery's event again (same messageId), also after it FAILED."
    )
    @returns_user_errors(WebhookDeliveryPayload)
    async def redeliver_webhook(
        self, info: Info, input: RedeliverWebhookInput
    ) -> WebhookDeliveryPayload:
        principal = require(info, Scope.WEBHOOKS_WRITE)
        delivery_id = await endpoints.redeliver(
            principal.organization_id,
            decode_id(input.delivery_id, "WebhookDelivery", ("deliveryId",)),
        )
        delivery = await queries.get_delivery(principal.organization_id, delivery_id)
        return WebhookDeliveryPayload(delivery=delivery)
