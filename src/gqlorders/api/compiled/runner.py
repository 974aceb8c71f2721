"""The compiled path's entry: plans cached per document, the limits checked, and every
request it cannot answer exactly as the standard executor handed back (None), counted."""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.execution.values import get_variable_values
from graphql.validation import ASTValidationRule, specified_rules
from strawberry.types import ExecutionResult

from gqlorders.api.compiled.execution import Abandoned, Run, execute
from gqlorders.api.compiled.planning import DocumentPlan, Unsupported, plan_document
from gqlorders.api.limits import MAX_CACHED_QUERY, operation_cost, request_problems
from gqlorders.observability import COMPILED_FALLBACKS, COMPILED_QUERIES

DOCUMENTS = 256  # plans kept, most recently used
NOT_COUNTED = frozenset({"not a query"})  # a persisted mutation is no compiler's miss
COSTS = 64  # costs kept per document (one per set of page-size variables)

# The schema's extensions (api/schema.py) and what the compiled path does in their place: it
# bypasses them all, so any other one (tracing, masking...) would silently skip persisted
# queries. CompiledQueries refuses a schema with another list.
REPRODUCED_EXTENSIONS = {
    "ErrorPolicy": "a plan answers only with data: any error falls back",
    "CachedParsing": "parsed once per document with the same token limit",
    "RequestLimits": "the same request_problems, the cost once per document and page sizes",
    "RunJobsAfterCommit": "queries only: a plan never runs a mutation",
}

logger = logging.getLogger("gqlorders.api.compiled")


class UnknownExtensions(Exception):
    """The schema has an extension the compiled path does not reproduce."""


class CompiledQueries:
    """Compiled execution of the persisted queries of one schema."""

    def __init__(
        self,
        schema: strawberry.Schema,
        limit_rules: Sequence[type[ASTValidationRule]],
        max_tokens: int,
        max_cost: int,
    ) -> None:
        extensions = [getattr(e, "__name__", type(e).__name__) for e in schema.extensions]
        if extensions != list(REPRODUCED_EXTENSIONS):
            raise UnknownExtensions(
                f"the schema's extensions {extensions} are not those compiled execution "
                f"reproduces {list(REPRODUCED_EXTENSIONS)}: teach api/compiled the new one"
            )
        self.schema = schema
        self.graphql_schema = schema._schema
        self.rules = (*specified_rules, *limit_rules)  # what RequestLimits validates with
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        self.documents: OrderedDict[tuple[str, str | None], DocumentPlan | Unsupported] = (
            OrderedDict()
        )

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Any,
        root_value: Any,
    ) -> ExecutionResult | None:
        """The result the standard executor would give, or None: let it answer."""
        try:
            result = await self._execute(
                query, variables or {}, operation_name, context, root_value
            )
        except (Unsupported, Abandoned) as refused:
            if refused.reason not in NOT_COUNTED:
                COMPILED_FALLBACKS.labels(refused.reason).inc()
            return None
        except Exception:  # a resolver's error: the standard path reports it as it does
            COMPILED_FALLBACKS.labels("error").inc()
            logger.debug("compiled execution failed; the standard executor answers", exc_info=True)
            return None
        COMPILED_QUERIES.inc()
        return result

    async def _execute(
        self,
        query: str,
        variables: dict[str, Any],
        operation_name: str | None,
        context: Any,
        root_value: Any,
    ) -> ExecutionResult:
        document = self._document(query, operation_name)
        coerced = get_variable_values(
            self.graphql_schema, document.operation.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            raise Unsupported("variables")
        if self.schema.config.default_resolver is not getattr:  # plans read attributes directly
            raise Unsupported("default resolver")
        cost = self._cost(document, variables)
        if request_problems(
            self.graphql_schema, document.document, variables, self.rules, self.max_cost, cost=cost
        ):
            raise Unsupported("limits")
        plan = document.variant(self.graphql_schema, coerced)
        run = Run(
            self.graphql_schema,
            self.schema.config,
            self.schema.schema_converter.scalar_registry,
            document,
            coerced,
            _own_loaders(context),
            root_value,
        )
        data = await execute(run, plan)
        return ExecutionResult(data=data, errors=None, extensions={})

    def _document(self, query: str, operation_name: str | None) -> DocumentPlan:
        """The document's plan, kept for the next request; a refusal is kept as its reason
        and raised anew each time (a kept exception would gather every request's frames in its
        traceback, and with them their contexts). Documents too long for the parse cache are
        not planned: they would make the kept plans' memory unbounded."""
        if len(query) > MAX_CACHED_QUERY:
            raise Unsupported("too long")
        key = (query, operation_name)
        document = self.documents.get(key)
        if document is None:
            try:
                document = plan_document(
                    self.graphql_schema, query, operation_name, self.rules, self.max_tokens
                )
            except Unsupported as unsupported:
                document = unsupported
            except GraphQLError:
                document = Unsupported("invalid")
            self.documents[key] = document
            while len(self.documents) > DOCUMENTS:
                self.documents.popitem(last=False)
        else:
            self.documents.move_to_end(key)
        if isinstance(document, Unsupported):
            raise Unsupported(document.reason)
        return document

    def _cost(self, document: DocumentPlan, variables: dict[str, Any]) -> int:
        """The limiter's cost, computed once per plan and page sizes."""
        key = tuple(repr(variables.get(name)) for name in document.page_variables)
        cost = document.costs.get(key)
        if cost is None:
            cost = operation_cost(self.graphql_schema, document.document, variables)
            if len(document.costs) < COSTS:
                document.costs[key] = cost
        return cost


def _own_loaders(context: Any) -> Any:
    """The request's context with loaders of the plan's own: what an abandoned run loaded
    (or left half-loaded) is never seen by the standard executor's run that follows, nor by the
    other operations of a batch, which share the request's context and run beside it. The rest
    is the request's own (its principal, and the scopes checked that a keyed answer keeps)."""
    if not dataclasses.is_dataclass(context) or isinstance(context, type):
        raise Unsupported("context")
    return dataclasses.replace(context)  # loaders are made anew (Context.__post_init__)
