"""Helpers for tests: a GraphQL client over HTTP, SQL statement counting, common documents."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import pytest
from tortoise import connections

from gqlorders.ids import parse_id
from gqlorders.tenancy import Scope

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id name currency } errors { field code message } }
}"""

CREATE_ITEM = """
mutation($input: CreateItemInput!) {
  createItem(input: $input) { item { id sku rate } errors { field code message } }
}"""

CREATE_TAX = """
mutation($input: CreateTaxInput!) {
  createTax(input: $input) { tax { id name percentage } errors { field code message } }
}"""

ORDER_FIELDS = """
  id number status invoicedStatus shippedStatus date expectedShipmentDate currency
  referenceNumber deliveryMethod notes terms
  subTotal taxTotal shippingCharge total
  discount { type value amount }
  adjustment { label amount }
  taxes { tax { name } amount }
  paymentTerms { days label }
  billingAddress { attention street1 city zip country }
  shippingAddress { attention street1 city zip country }
  customer { id name }
  warehouse { id name }
  lines { id description quantity rate discountPercent amount item { sku } tax { name } }
  events { type actor data }
"""

CREATE_ORDER = f"""
mutation($input: CreateSalesOrderInput!) {{
  createSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

UPDATE_ORDER = f"""
mutation($input: UpdateSalesOrderInput!) {{
  updateSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

ORDER = f"""
query($id: ID!) {{ salesOrder(id: $id) {{ {ORDER_FIELDS} }} }}"""


class GraphQLClient:
    """Posts GraphQL documents to /graphql with a bearer token, as any client would."""

    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http = http
        self.token = token

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a request that must not fail at the GraphQL level."""
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def mutate(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """The payload of a one-mutation document called with `$input`."""
        data = await self.data(query, {"input": input})
        (payload,) = data.values()
        return payload

    async def ok(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """The payload of a mutation that must succeed (no user errors)."""
        payload = await self.mutate(query, input)
        assert payload["errors"] == [], payload["errors"]
        return payload


@dataclass
class Organization:
    id: int
    api: GraphQLClient
    cache: dict[str, Any] = field(default_factory=dict)

    async def customer(self, **fields: Any) -> str:
        input = {"name": "Acme", "email": "buyer@acme.example", **fields}
        return (await self.api.ok(CREATE_CUSTOMER, input))["customer"]["id"]

    async def item(self, sku: str, rate: str, **fields: Any) -> str:
        input = {"sku": sku, "name": sku.title(), "kind": "GOODS", "rate": rate, **fields}
        return (await self.api.ok(CREATE_ITEM, input))["item"]["id"]

    async def tax(self, name: str, percentage: str) -> str:
        return (await self.api.ok(CREATE_TAX, {"name": name, "percentage": percentage}))["tax"][
            "id"
        ]

    async def order(
        self, customer_id: str, lines: list[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        payload = await self.api.ok(
            CREATE_ORDER, {"customerId": customer_id, "lines": lines, **fields}
        )
        return payload["salesOrder"]


class MakeClient(Protocol):
    """The `make_client` fixture: a client for `org` whose token has only the given scopes."""

    async def __call__(self, org: Organization, *scopes: Scope) -> GraphQLClient: ...


def key(global_id: str) -> int:
    """The database key behind a global ID."""
    parsed = parse_id(global_id)
    assert parsed is not None, global_id
    return parsed[1]


@contextmanager
def _tortoise_log(emit: Callable[[logging.LogRecord], None]) -> Iterator[None]:
    """Call `emit` with every record of tortoise's SQL log while the block runs."""

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            emit(record)

    logger = logging.getLogger("tortoise.db_client")
    handler = Collector(level=logging.DEBUG)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect every SQL statement tortoise sends while the block runs."""
    statements: list[str] = []

    def emit(record: logging.LogRecord) -> None:
        args = record.args
        statements.append(str(args[0]) if isinstance(args, tuple) and args else record.getMessage())

    with _tortoise_log(emit):
        yield statements


@contextmanager
def captured_statements(
    table: str, verbs: tuple[str, ...] = ("SELECT",)
) -> Iterator[list[tuple[str, list[Any]]]]:
    """The statements (with their parameters) tortoise sends that start with one of `verbs` and
    name `table`: to EXPLAIN exactly what the code ran."""
    statements: list[tuple[str, list[Any]]] = []
    names = (f'FROM "{table}"', f'UPDATE "{table}"')

    def emit(record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2:
            sql, values = record.args
            if (
                isinstance(sql, str)
                and sql.lstrip().startswith(verbs)
                and any(name in sql for name in names)
            ):
                # tortoise logs the parameters as a list, or None when there are none
                parameters = values if isinstance(values, Iterable) else ()
                statements.append((sql, list(parameters)))

    with _tortoise_log(emit):
        yield statements


def postgres_only(reason: str) -> pytest.MarkDecorator:
    """Skip on the SQLite run: what the test checks exists on PostgreSQL only."""
    return pytest.mark.skipif(
        os.environ.get("GQLORDERS_TEST_DATABASE", "postgres") == "sqlite", reason=reason
    )


async def explained(sql: str, values: list[Any]) -> str:
    """The plan of a statement as it was sent, as text: EXPLAIN on PostgreSQL, EXPLAIN QUERY
    PLAN on SQLite (index names appear in both)."""
    db = connections.get("default")
    if db.capabilities.dialect == "postgres":
        rows = await db.execute_query_dict(f"EXPLAIN {sql}", values)
        return "\n".join(row["QUERY PLAN"] for row in rows)
    rows = await db.execute_query_dict(f"EXPLAIN QUERY PLAN {sql}", values)
    return "\n".join(row["detail"] for row in rows)
