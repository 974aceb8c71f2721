"""Request limits and error policy of the GraphQL endpoint (SPEC §10).

Depth, aliases and tokens use strawberry's validators; the cost budget is ours: every field
costs 1 and a connection's selection is counted `first` (or `last`) times, with variables
resolved, so `customers(first: 100) { ... salesOrders(first: 100) { ... } }` is refused before
anything runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from gqlorders.observability import request_id_var
from gqlorders.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

logger = logging.getLogger("gqlorders.api")

MAX_FRAGMENT_NESTING = 20
# Parsing and validating a document depend on nothing but its text, the schema and the rules
# (the limits are fixed per schema), so clients that repeat their queries -- all of them -- pay
# for both once. Bounded, and only for documents of a sane size.
CACHE_SIZE = 256
MAX_CACHED_QUERY = 20_000  # characters


def _page_argument(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return min(int(value.value), MAX_PAGE_SIZE)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            if isinstance(given, int) and not isinstance(given, bool):
                return min(given, MAX_PAGE_SIZE)
    return None


def selection_cost(
    schema: GraphQLSchema,
    selection_set: SelectionSetNode | None,
    parent: Any,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    seen: frozenset[str] = frozenset(),
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            child = None
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                definition = parent.fields.get(selection.name.value)
                child = get_named_type(definition.type) if definition else None
            multiplier = _page_argument(selection, variables)
            if multiplier is None:
                is_connection = child is not None and child.name.endswith("Connection")
                multiplier = DEFAULT_PAGE_SIZE if is_connection else 1
            inner = selection_cost(
                schema, selection.selection_set, child, fragments, variables, seen
            )
            total += 1 + max(multiplier, 1) * inner
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = schema.get_type(condition.name.value) if condition else parent
            total += selection_cost(
                schema, selection.selection_set, target, fragments, variables, seen
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            target = schema.get_type(fragment.type_condition.name.value)
            total += selection_cost(
                schema, fragment.selection_set, target, fragments, variables, seen | {name}
            )
    return total


def operation_cost(schema: GraphQLSchema, document: Any, variables: dict[str, Any]) -> int:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    roots = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }
    return sum(
        selection_cost(schema, d.selection_set, roots.get(d.operation.value), fragments, variables)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def fragment_problem(document: Any) -> str | None:
    """An unknown fragment, or fragments spread inside each other too deeply: refused before
    any validator walks them (strawberry's depth limiter fails on both)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    nesting: dict[str, int] = {}

    def spreads(selection_set: SelectionSetNode | None) -> Iterator[str]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            else:
                yield from spreads(getattr(selection, "selection_set", None))

    def depth(name: str, path: frozenset[str]) -> int:
        if name in nesting:
            return nesting[name]
        if name in path or len(path) > MAX_FRAGMENT_NESTING:
            return len(path)  # a cycle: graphql's own rule names it
        inner = [depth(child, path | {name}) for child in spreads(fragments[name].selection_set)]
        nesting[name] = 1 + max(inner, default=0)
        return nesting[name]

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            for name in spreads(definition.selection_set):
                if name not in fragments:
                    return f"Unknown fragment '{name}'."
    for name in fragments:
        if depth(name, frozenset()) > MAX_FRAGMENT_NESTING:
            return f"fragments are spread inside each other more than {MAX_FRAGMENT_NESTING} deep"
    return None


@lru_cache(maxsize=CACHE_SIZE)
def _parse(query: str, **options: Any) -> DocumentNode:
    return parse(query, **options)


def parse_limited(query: str, max_tokens: int, **options: Any) -> DocumentNode:
    """The query parsed with the token limit, the same text parsed once (when of a sane size);
    GraphQLError for a syntax error or a document over the limit."""
    if len(query) <= MAX_CACHED_QUERY:
        return _parse(query, max_tokens=max_tokens, **options)
    return parse(query, max_tokens=max_tokens, **options)


@lru_cache(maxsize=CACHE_SIZE)
def _validate(schema: GraphQLSchema, document: DocumentNode, rules: tuple) -> list[GraphQLError]:
    return validate_document(schema, document, rules)


@lru_cache(maxsize=CACHE_SIZE)
def _fragment_problem(document: DocumentNode) -> str | None:
    return fragment_problem(document)


def request_problems(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any],
    rules: Sequence[type[ASTValidationRule]],
    max_cost: int,
    *,
    cost: int | None = None,
    cached: bool = True,
) -> list[GraphQLError]:
    """Why the endpoint refuses this request, in the order it checks: fragments spread too
    deep or unknown, a cost over the budget (`cost` when the caller has it already), then
    validation with `rules` (graphql's and the limits' depth and aliases). The standard path
    (RequestLimits) and the compiled one (api/compiled) both ask here. `cached`: the document is
    of a size whose checks are kept (per document object, rules and schema)."""
    problem = _fragment_problem(document) if cached else fragment_problem(document)
    if problem is not None:
        return [GraphQLError(problem, extensions={"code": "BAD_REQUEST"})]
    if cost is None:
        cost = operation_cost(schema, document, variables)
    if cost > max_cost:
        return [
            GraphQLError(
                f"query cost {cost} exceeds the limit of {max_cost}: ask for "
                "smaller pages or fewer fields",
                extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost},
            )
        ]
    rules = tuple(rules)
    if cached:
        return list(_validate(schema, document, rules))
    return validate_document(schema, document, rules)


def cached_parsing(max_tokens: int) -> type[SchemaExtension]:
    class CachedParsing(SchemaExtension):
        """Parse with the token limit, and reuse the parsed document of a query text seen before
        (a syntax error or a document over the limit is left to strawberry's own parsing, so it
        is reported exactly as without the cache)."""

        def on_parse(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = max_tokens
            query = context.query
            if context.graphql_document is None and query and len(query) <= MAX_CACHED_QUERY:
                with contextlib.suppress(GraphQLError):
                    context.graphql_document = parse_limited(query, **context.parse_options)
            yield

    return CachedParsing


def request_limits(
    limit_rules: Sequence[type[ASTValidationRule]], max_cost: int
) -> type[SchemaExtension]:
    class RequestLimits(SchemaExtension):
        """The request's checks (request_problems) in place of strawberry's validation: the
        cost budget before validation with the limits' rules as well, results kept per
        document, the cost computed with every request's variables."""

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            context.validation_rules = (*context.validation_rules, *limit_rules)
            document = context.graphql_document
            if document is not None and context.pre_execution_errors is None:
                variables = context.variables if isinstance(context.variables, dict) else {}
                cached = context.query is not None and len(context.query) <= MAX_CACHED_QUERY
                context.pre_execution_errors = request_problems(
                    context.schema._schema,
                    document,
                    variables,
                    context.validation_rules,
                    max_cost,
                    cached=cached,
                )
            yield

    return RequestLimits


class ErrorPolicy(SchemaExtension):
    """Errors clients can act on keep their message and get a code; anything unexpected is
    logged with the request id and answered as INTERNAL_SERVER_ERROR, with no detail."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._public(error) for error in result.errors]

    def _public(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            extensions = dict(error.extensions or {})
            extensions.setdefault("code", "BAD_REQUEST")
            return GraphQLError(
                error.message, nodes=error.nodes, path=error.path, extensions=extensions
            )
        if error.path is None and isinstance(original, ValueError | TypeError):
            # a malformed input value (a Decimal that is not a number, say)
            return GraphQLError(
                error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"}
            )
        request_id = request_id_var.get()
        logger.error(
            "unexpected error in %s", ".".join(map(str, error.path or [])), exc_info=original
        )
        return GraphQLError(
            "Internal server error.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
