"""A webhook endpoint's `payloadQuery`: a selection on the event's resource (`{ number total
customer { name } }`), run through the real schema with the scopes of the token that saved it,
so a partner gets exactly what that query would answer over HTTP -- checked when saved with
the same limits (depth, aliases, tokens, cost) as any request."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError, Source, TokenKind, print_ast
from graphql.language.parser import Parser

from gqlorders.api.context import Context
from gqlorders.events.types import Resource
from gqlorders.ids import encode_id
from gqlorders.tenancy import Principal, Scope
from gqlorders.webhooks.delivery import PayloadQueryRunner

logger = logging.getLogger("gqlorders.webhooks")

MAX_TOKENS = 2000
# `node` answers every queryable resource; the inline fragment gives the selection its type.
WRAPPER = "query WebhookPayload($id: ID!) {{ node(id: $id) {{ ... on {type} {selection} }} }}"


def canonical(selection: str) -> str:
    """The selection set alone, parsed on its own and printed again: nothing in it can close
    the wrapper's braces and add an operation of its own."""
    try:
        parser = Parser(Source(selection), no_location=True, max_tokens=MAX_TOKENS)
        parser.expect_token(TokenKind.SOF)
        node = parser.parse_selection_set()
        parser.expect_token(TokenKind.EOF)
    except GraphQLError as error:
        raise ValueError(
            f"not a selection set such as {{ number total }}: {error.message}"
        ) from None
    return " ".join(print_ast(node).split())


def _principal(organization_id: int, scopes: frozenset[str]) -> Principal:
    return Principal(
        organization_id=organization_id,
        token_id=0,
        scopes=frozenset(Scope(scope) for scope in scopes if scope in Scope.__members__.values()),
        actor="webhooks",
    )


async def _execute(
    schema: strawberry.Schema,
    organization_id: int,
    scopes: frozenset[str],
    resource: Resource,
    key: int,
    selection: str,
) -> Any:
    return await schema.execute(
        WRAPPER.format(type=resource.value, selection=selection),
        variable_values={"id": encode_id(resource.value, key)},
        context_value=Context(request=None, principal=_principal(organization_id, scopes)),
    )


async def check(
    schema: strawberry.Schema, selection: str, resource: Resource, scopes: frozenset[str]
) -> str:
    """The selection in canonical form, if it runs on `resource` with these scopes; else
    ValueError with the schema's or the limits' messages."""
    text = canonical(selection)
    result = await _execute(schema, 0, scopes, resource, 0, text)  # no row has key 0
    if result.errors:
        raise ValueError("; ".join(error.message for error in result.errors))
    return text


def runner(schema: strawberry.Schema) -> PayloadQueryRunner:
    """The `PayloadQueryRunner` of webhooks.delivery: the selection's result (null when the
    resource is gone or the query fails now, e.g. a field since removed: logged)."""

    async def run(
        organization_id: int, scopes: frozenset[str], resource: Resource, key: int, selection: str
    ) -> Any:
        result = await _execute(schema, organization_id, scopes, resource, key, selection)
        if result.errors:
            logger.warning("payloadQuery on %s %s failed: %s", resource, key, result.errors)
            return None
        return (result.data or {}).get("node")

    return run
