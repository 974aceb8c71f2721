"""The Query root: reads, each scoped to the caller's organization in SQL."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from gqlorders import models, orders, prepared
from gqlorders.api.context import Info, require
from gqlorders.api.errors import raises_query_errors
from gqlorders.api.ids import decode_optional_id, parse_id
from gqlorders.api.mutations.marketplaces import InboxMessage, InboxState
from gqlorders.api.mutations.webhooks import WebhookQueries
from gqlorders.api.prefetch import (
    connection_nodes,
    joined_order_relations,
    prefetch_sales_orders,
)
from gqlorders.api.types.catalog import Customer, Item, Tax, Warehouse
from gqlorders.api.types.common import Connection, Node, SalesOrderStatus, connection
from gqlorders.api.types.events import EventConnection, EventFilter
from gqlorders.api.types.fulfilment import Invoice
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.api.types.settings import Settings
from gqlorders.catalog import customers, items, taxes, warehouses
from gqlorders.events import EventFilter as DomainEventFilter
from gqlorders.events import read_feed
from gqlorders.marketplaces.importing import marketplace_names
from gqlorders.organization_settings import OrganizationSettings, get_settings
from gqlorders.pagination import paginate
from gqlorders.stock.levels import low_stock_item_ids
from gqlorders.tenancy import Scope

SalesOrderSortField = orders.SalesOrderSortField
strawberry.enum(SalesOrderSortField)

NODE_LOADERS = {  # global ID type name -> Loaders attribute
    "SalesOrder": "sales_order",
    "Customer": "customer",
    "Item": "item",
    "Tax": "tax",
    "Warehouse": "warehouse",
    "Invoice": "invoice",
    "Package": "package",
    "MarketplaceConnection": "marketplace_connection",
    "Event": "event",
}


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class SalesOrderSort:
    field: SalesOrderSortField
    direction: SortDirection


@strawberry.input
class SalesOrderFilter:
    status: list[SalesOrderStatus] | None = strawberry.field(
        default=None, description="Default: every status but MERGED."
    )
    customer_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Number, reference number or customer name."
    )
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    marketplace: str | None = None
    updated_after: datetime.datetime | None = strawberry.field(
        default=None, description="Orders changed after this time (catch-up of current state)."
    )

    def to_domain(self) -> orders.SalesOrderFilter:
        return orders.SalesOrderFilter(
            statuses=self.status,
            customer_id=decode_optional_id(self.customer_id, "Customer", ("filter", "customerId")),
            search=self.search,
            date_from=self.date_from,
            date_to=self.date_to,
            marketplace=self.marketplace,
            updated_after=self.updated_after,
        )


@strawberry.type
class Query(WebhookQueries):
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        require(info, Scope.ORDERS_READ)
        parsed = parse_id(id)
        if parsed is None or parsed[0] not in NODE_LOADERS:
            return None
        loader = getattr(info.context.loaders, NODE_LOADERS[parsed[0]])
        return await loader.load(parsed[1])

    @strawberry.field(graphql_type=Settings)
    async def settings(self, info: Info) -> OrganizationSettings:
        principal = require(info, Scope.ORDERS_READ)
        return await get_settings(principal.organization_id)

    @strawberry.field(graphql_type=list[Warehouse])
    async def warehouses(self, info: Info) -> list[models.Warehouse]:
        principal = require(info, Scope.ORDERS_READ)
        return await warehouses.list_warehouses(principal.organization_id)

    @strawberry.field(graphql_type=list[Tax])
    async def taxes(self, info: Info) -> list[models.Tax]:
        principal = require(info, Scope.ORDERS_READ)
        return await taxes.list_taxes(principal.organization_id)

    @strawberry.field
    @raises_query_errors
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[Customer]:
        principal = require(info, Scope.ORDERS_READ)
        page = await customers.list_customers(
            principal.organization_id, search, first=first, after=after
        )
        return connection(page)

    @strawberry.field
    @raises_query_errors
    async def items(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[Item]:
        principal = require(info, Scope.ORDERS_READ)
        page = await items.list_items(principal.organization_id, search, first=first, after=after)
        return connection(page)

    @strawberry.field(
        description="Goods at or below their reorder level, for purchasing.",
        graphql_type=list[Item],
    )
    @raises_query_errors
    async def low_stock_items(
        self, info: Info, warehouse_id: strawberry.ID | None = None
    ) -> list[models.Item]:
        principal = require(info, Scope.ORDERS_READ)
        warehouse = decode_optional_id(warehouse_id, "Warehouse", ("warehouseId",))
        ids = await low_stock_item_ids(principal.organization_id, warehouse)
        return [item for item in await info.context.loaders.item.load_many(ids) if item]

    @strawberry.field(description="Names of the installed marketplace adapters.")
    def marketplaces(self, info: Info) -> list[str]:
        require(info, Scope.ORDERS_READ)
        return marketplace_names()

    @strawberry.field(
        description="Webhook deliveries, newest first (at most 100).",
        graphql_type=list[InboxMessage],
    )
    async def marketplace_inbox(
        self,
        info: Info,
        state: InboxState | None = None,
        first: int = 50,
    ) -> list[models.InboxMessage]:
        principal = require(info, Scope.ORDERS_READ)
        query = models.InboxMessage.filter(organization_id=principal.organization_id)
        if state is not None:
            query = query.filter(state=state)
        return await query.order_by("-id").limit(max(0, min(first, 100)))

    @strawberry.field(
        description="The organization's events, oldest first. A reader that stores `endCursor`"
        " and asks again with `after` sees every event exactly once, whatever commits"
        " concurrently. At most 1000 a page (default 100)."
    )
    @raises_query_errors
    async def events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: EventFilter | None = None,
    ) -> EventConnection:
        principal = require(info, Scope.ORDERS_READ)
        page = await read_feed(
            principal.organization_id,
            first=first,
            after=after,
            where=filter.to_domain() if filter else DomainEventFilter(),
        )
        return EventConnection.of(page)

    @strawberry.field(graphql_type=SalesOrder | None)
    async def sales_order(self, info: Info, id: strawberry.ID) -> models.SalesOrder | None:
        require(info, Scope.ORDERS_READ)
        parsed = parse_id(id)
        if parsed is None or parsed[0] != "SalesOrder":
            return None
        return await info.context.loaders.sales_order.load(parsed[1])

    @strawberry.field(graphql_type=Invoice | None)
    async def invoice(self, info: Info, id: strawberry.ID) -> models.Invoice | None:
        require(info, Scope.ORDERS_READ)
        parsed = parse_id(id)
        if parsed is None or parsed[0] != "Invoice":
            return None
        return await info.context.loaders.invoice.load(parsed[1])

    @strawberry.field
    @raises_query_errors
    async def sales_orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: SalesOrderFilter | None = None,
        sort: SalesOrderSort | None = None,
    ) -> Connection[SalesOrder]:
        principal = require(info, Scope.ORDERS_READ)
        where = filter.to_domain() if filter else orders.SalesOrderFilter()
        field = sort.field if sort else orders.SalesOrderSortField.CREATED_AT
        descending = sort.direction == SortDirection.DESC if sort else True
        # the order list (orders/queries.py), with the selected to-one relations joined in
        key = orders.sort_key(field, descending)
        nodes = connection_nodes(info)
        page = await paginate(
            await orders.filtered_sales_orders(principal.organization_id, where),
            key,
            first=first,
            after=after,
            last=last,
            before=before,
            select_related=joined_order_relations(nodes),
            fetch=prepared.fetch_by_shape,
        )
        await prefetch_sales_orders(
            info.context.loaders, principal.organization_id, page.rows, nodes
        )
        return connection(page)
