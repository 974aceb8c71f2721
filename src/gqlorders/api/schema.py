"""The strawberry schema: Query and the mutations of every concept, with our scalars."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types.graphql import OperationType

from gqlorders import jobs
from gqlorders.api.limits import ErrorPolicy, cost_limiter
from gqlorders.api.mutations.catalog import CatalogMutations
from gqlorders.api.mutations.fulfilment import FulfilmentMutations
from gqlorders.api.mutations.marketplaces import MarketplaceConnection, MarketplaceMutations
from gqlorders.api.mutations.sales_orders import SalesOrderMutations
from gqlorders.api.mutations.settings import SettingsMutations
from gqlorders.api.mutations.stock import StockMutations
from gqlorders.api.queries import Query
from gqlorders.api.scalars import DecimalScalar
from gqlorders.api.types.catalog import Customer, Item, Tax, Warehouse
from gqlorders.api.types.fulfilment import Invoice, Package
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.config import Limits


@strawberry.type
class Mutation(
    SettingsMutations,
    CatalogMutations,
    StockMutations,
    SalesOrderMutations,
    FulfilmentMutations,
    MarketplaceMutations,
):
    pass


class RunJobsAfterCommit(SchemaExtension):
    """Hand the jobs a request's transactions committed to the runner, once it has executed."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        if self.execution_context.operation_type == OperationType.MUTATION:
            await jobs.after_request()


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    limits = limits or Limits()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[SalesOrder, Customer, Item, Tax, Warehouse, Invoice, Package, MarketplaceConnection],
        config=StrawberryConfig(
            scalar_map={Decimal: DecimalScalar},
            batching_config={"max_operations": limits.max_batch},
        ),
        extensions=[
            ErrorPolicy,
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: QueryDepthLimiter(max_depth=limits.max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
            cost_limiter(limits.max_cost),
            RunJobsAfterCommit,
        ],
    )


schema = build_schema()
