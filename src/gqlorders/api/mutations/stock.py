"""adjustStock: change what is on hand in a warehouse, with a reason."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from gqlorders import models
from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.ids import decode_id
from gqlorders.api.types.catalog import Item
from gqlorders.stock.levels import adjust_stock
from gqlorders.tenancy import Scope


@strawberry.input
class AdjustStockInput:
    item_id: strawberry.ID
    warehouse_id: strawberry.ID
    quantity_delta: Decimal
    reason: str


@strawberry.type
class StockPayload:
    item: models.Item | None = strawberry.field(default=None, graphql_type=Item | None)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StockMutations:
    @strawberry.mutation
    @returns_user_errors(StockPayload)
    async def adjust_stock(self, info: Info, input: AdjustStockInput) -> StockPayload:
        principal = require(info, Scope.INVENTORY_WRITE)
        item = await adjust_stock(
            principal,
            decode_id(input.item_id, "Item", ("itemId",)),
            decode_id(input.warehouse_id, "Warehouse", ("warehouseId",)),
            input.quantity_delta,
            input.reason,
        )
        return StockPayload(item=item)
