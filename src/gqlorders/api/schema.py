"""The strawberry schema: Query and the mutations of every concept, with our scalars."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeGuard

import strawberry
from graphql import ASTValidationRule
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.extensions.directives import DirectivesExtension, DirectivesExtensionSync
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.graphql import OperationType
from tortoise.models import Model

from gqlorders import jobs
from gqlorders.api import idempotency
from gqlorders.api.input_values import use_input_plans
from gqlorders.api.limits import ErrorPolicy, cached_parsing, request_limits
from gqlorders.api.mutations.catalog import CatalogMutations
from gqlorders.api.mutations.emails import EmailMutations
from gqlorders.api.mutations.fulfilment import FulfilmentMutations
from gqlorders.api.mutations.marketplaces import MarketplaceConnection, MarketplaceMutations
from gqlorders.api.mutations.sales_orders import SalesOrderMutations
from gqlorders.api.mutations.settings import SettingsMutations
from gqlorders.api.mutations.stock import StockMutations
from gqlorders.api.mutations.webhooks import WebhookMutations
from gqlorders.api.queries import Query
from gqlorders.api.scalars import DecimalScalar
from gqlorders.api.subscriptions import Subscription
from gqlorders.api.types.catalog import Customer, Item, Tax, Warehouse
from gqlorders.api.types.events import Event
from gqlorders.api.types.fulfilment import Invoice, Package
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.config import Limits

# Types a resolver returns that are never awaitable (checked before anything slower).
_PLAIN = frozenset({type(None), bool, int, float, str, list, dict, tuple, Decimal, date, datetime})


@strawberry.type
class Mutation(
    SettingsMutations,
    CatalogMutations,
    StockMutations,
    SalesOrderMutations,
    FulfilmentMutations,
    EmailMutations,
    MarketplaceMutations,
    WebhookMutations,
):
    pass


class RunJobsAfterCommit(SchemaExtension):
    """Hand the jobs a request's transactions committed to the runner, once it has executed."""

    async def on_execute(self) -> AsyncIterator[None]:
        if idempotency.jobs_deferred():  # a keyed request: after its outer transaction commits
            yield
            return
        with jobs.tracking_request() as tracked:
            yield
        if self.execution_context.operation_type == OperationType.MUTATION and tracked.wrote:
            await jobs.after_request()


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """Whether the executor must await a resolver's result: never for a tortoise row.

    Rows define `__await__` (awaiting one gives the row itself), so by default the executor
    treats every order, line, item or customer a resolver returns as pending: a coroutine to
    complete it and a gather per object -- most of a page's execution time.
    """
    if type(value) in _PLAIN or isinstance(value, Model | Enum):
        return False
    return optimized_is_awaitable(value)


class RowAwareExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with `is_awaitable` that knows rows are values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = is_awaitable


class GqlordersSchema(strawberry.Schema):
    """Strawberry's schema without the extension it adds for custom directives: that one wraps
    every resolver (execution several times slower), and our only one, @idempotent, is read by
    the HTTP view before execution."""

    limit_rules: tuple[type[ASTValidationRule], ...] = ()  # depth and aliases (api/compiled)

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        return [
            extension
            for extension in super().get_extensions(sync)
            if not isinstance(extension, DirectivesExtension | DirectivesExtensionSync)
        ]


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    limits = limits or Limits()
    # the limiters' validation rules, made once so that validation results can be cached
    depth_rules = QueryDepthLimiter(max_depth=limits.max_depth).validation_rules
    alias_rules = MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules
    built = GqlordersSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            SalesOrder,
            Customer,
            Item,
            Tax,
            Warehouse,
            Invoice,
            Package,
            MarketplaceConnection,
            Event,
        ],
        directives=[idempotency.idempotent],
        execution_context_class=RowAwareExecutionContext,
        config=StrawberryConfig(
            scalar_map={Decimal: DecimalScalar},
            batching_config={"max_operations": limits.max_batch},
        ),
        # Few extensions: strawberry runs each one's hooks on every request (each costs tens
        # of microseconds), so the limits live inside the parsing and validation ones.
        extensions=[
            ErrorPolicy,
            cached_parsing(limits.max_tokens),
            request_limits([*depth_rules, *alias_rules], limits.max_cost),
            RunJobsAfterCommit,
        ],
    )
    built.limit_rules = (*depth_rules, *alias_rules)
    use_input_plans(built)
    return built


schema = build_schema()
