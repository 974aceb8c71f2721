"""The strawberry schema: Query and the mutations of every concept, with our scalars."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types.graphql import OperationType

from gqlorders import jobs
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

logger = logging.getLogger("gqlorders.api")

MAX_QUERY_DEPTH = 12


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


def is_unexpected(error: GraphQLError) -> bool:
    """Mask only failures of our own code; GraphQL, access and input errors stay readable."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return not isinstance(original, ValueError | TypeError) or error.path is not None


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[SalesOrder, Customer, Item, Tax, Warehouse, Invoice, Package, MarketplaceConnection],
        config=StrawberryConfig(scalar_map={Decimal: DecimalScalar}),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
            lambda: MaskErrors(should_mask_error=is_unexpected),
            RunJobsAfterCommit,
        ],
    )


schema = build_schema()
