"""Marketplace mutations and types: imports by sync jobs, webhook connections, the inbox."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from gqlorders import models
from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.ids import decode_id
from gqlorders.api.types.common import Node, global_id, is_row_of
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.marketplaces import importing
from gqlorders.tenancy import Scope

InboxState = models.InboxState
strawberry.enum(InboxState)


@strawberry.type
class MarketplaceConnection(Node):
    """The marketplace posts its signed order webhooks to `webhookUrl` (a path on this
    server); the signature is checked with the connection's secret by the marketplace's own
    scheme. A valid delivery answers 202; a missing or wrong signature 401, storing nothing."""

    is_type_of = is_row_of(models.MarketplaceConnection)

    marketplace: str
    id: strawberry.ID = global_id("MarketplaceConnection")

    @strawberry.field
    def webhook_url(self, root: strawberry.Parent[models.MarketplaceConnection]) -> str:
        return importing.webhook_path(root)


@strawberry.type
class InboxMessage:
    """A webhook delivery: IMPORTED, or FAILED with its error until retried."""

    marketplace: str
    state: InboxState
    error: str | None
    attempts: int
    received_at: datetime
    id: strawberry.ID = global_id("InboxMessage")

    @strawberry.field(graphql_type=SalesOrder | None)
    async def sales_order(
        self, root: strawberry.Parent[models.InboxMessage], info: Info
    ) -> models.SalesOrder | None:
        if root.sales_order_id is None:
            return None
        return await info.context.loaders.sales_order.load(root.sales_order_id)


@strawberry.input
class ImportMarketplaceOrderInput:
    marketplace: str
    payload: JSON


@strawberry.input
class ConnectMarketplaceInput:
    marketplace: str
    webhook_secret: str


@strawberry.input
class InboxMessageIdInput:
    id: strawberry.ID


@strawberry.type
class ImportMarketplaceOrderPayload:
    sales_order: models.SalesOrder | None = strawberry.field(
        default=None, graphql_type=SalesOrder | None
    )
    created: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MarketplaceConnectionPayload:
    connection: models.MarketplaceConnection | None = strawberry.field(
        default=None, graphql_type=MarketplaceConnection | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InboxMessagePayload:
    message: models.InboxMessage | None = strawberry.field(
        default=None, graphql_type=InboxMessage | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MarketplaceMutations:
    @strawberry.mutation(description="Import (or re-deliver) one order in the marketplace's shape.")
    @returns_user_errors(ImportMarketplaceOrderPayload)
    async def import_marketplace_order(
        self, info: Info, input: ImportMarketplaceOrderInput
    ) -> ImportMarketplaceOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        result = await importing.import_order(principal, input.marketplace, input.payload)
        return ImportMarketplaceOrderPayload(sales_order=result.order, created=result.created)

    @strawberry.mutation
    @returns_user_errors(MarketplaceConnectionPayload)
    async def connect_marketplace(
        self, info: Info, input: ConnectMarketplaceInput
    ) -> MarketplaceConnectionPayload:
        principal = require(info, Scope.SETTINGS_WRITE)
        connection = await importing.connect_marketplace(
            principal.organization_id, input.marketplace, input.webhook_secret
        )
        return MarketplaceConnectionPayload(connection=connection)

    @strawberry.mutation(description="Import a failed webhook delivery again.")
    @returns_user_errors(InboxMessagePayload)
    async def retry_inbox_message(
        self, info: Info, input: InboxMessageIdInput
    ) -> InboxMessagePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        message = await importing.retry_inbox_message(
            principal.organization_id, decode_id(input.id, "InboxMessage", ("id",))
        )
        return InboxMessagePayload(message=message)
