"""Master-data types: Warehouse, Tax, Customer, Item and their connections."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from gqlorders import models
from gqlorders.api.context import Info
from gqlorders.api.dataloaders import Loaded, ready
from gqlorders.api.types.common import (
    Address,
    Connection,
    ItemKind,
    Node,
    PaymentTerms,
    global_id,
    is_row_of,
)

if TYPE_CHECKING:
    from gqlorders.api.types.sales_orders import SalesOrder


@strawberry.type
class Warehouse(Node):
    is_type_of = is_row_of(models.Warehouse)

    name: str
    is_primary: bool
    id: strawberry.ID = global_id("Warehouse")


@strawberry.type
class Tax(Node):
    is_type_of = is_row_of(models.Tax)

    name: str
    percentage: Decimal
    id: strawberry.ID = global_id("Tax")


@strawberry.type
class Customer(Node):
    is_type_of = is_row_of(models.Customer)

    name: str
    email: str | None
    phone: str | None
    currency: str
    id: strawberry.ID = global_id("Customer")

    @strawberry.field
    def payment_terms(self, root: strawberry.Parent[models.Customer]) -> PaymentTerms | None:
        return PaymentTerms.of(root.payment_terms_days, root.payment_terms_label)

    @strawberry.field
    def billing_address(self, root: strawberry.Parent[models.Customer]) -> Address | None:
        return Address.of(root.billing_address)

    @strawberry.field
    def shipping_address(self, root: strawberry.Parent[models.Customer]) -> Address | None:
        return Address.of(root.shipping_address)

    @strawberry.field
    async def sales_orders(
        self,
        root: strawberry.Parent[models.Customer],
        info: Info,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Annotated[SalesOrder, strawberry.lazy("gqlorders.api.types.sales_orders")]]:
        from gqlorders.api.types.sales_orders import customer_sales_orders

        return await customer_sales_orders(info, root.id, first, after)


@strawberry.type
class StockLevel:
    warehouse: Warehouse
    on_hand: Decimal
    committed: Decimal

    @strawberry.field
    def available_for_sale(self) -> Decimal:
        return self.on_hand - self.committed


async def item_stock(info: Info, item: models.Item) -> list[StockLevel]:
    """One level per warehouse of the organization (zeros where nothing moved yet)."""
    if item.kind != models.ItemKind.GOODS:
        return []
    loaders = info.context.loaders
    warehouses = await loaders.warehouses.load(0)
    levels = {level.warehouse_id: level for level in await loaders.stock_levels.load(item.id)}
    zero = Decimal("0")
    return [
        StockLevel(
            warehouse=warehouse,
            on_hand=levels[warehouse.id].on_hand if warehouse.id in levels else zero,
            committed=levels[warehouse.id].committed if warehouse.id in levels else zero,
        )
        for warehouse in warehouses
    ]


@strawberry.type
class Item(Node):
    is_type_of = is_row_of(models.Item)

    sku: str
    name: str
    kind: ItemKind
    rate: Decimal
    unit: str | None
    reorder_level: Decimal | None
    id: strawberry.ID = global_id("Item")

    @strawberry.field(description="One per warehouse (goods only; empty for services).")
    async def stock(self, root: strawberry.Parent[models.Item], info: Info) -> list[StockLevel]:
        return await item_stock(info, root)

    @strawberry.field(graphql_type=Tax | None)
    def tax(self, root: strawberry.Parent[models.Item], info: Info) -> Loaded[models.Tax | None]:
        if root.tax_id is None:
            return None
        return ready(info.context.loaders.tax, root.tax_id)
