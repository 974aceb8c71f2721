"""On PostgreSQL, a page of customers reads each customer's first orders and no more: each
customer's page is one short scan of the (organization, customer, created_at, id) index, cut
off by a LIMIT, so a customer with thousands of orders costs what one with four does.

The orders are inserted in SQL (through the API thousands would take minutes), vacuumed and
analyzed as autovacuum would, and the very statement the API sends is explained and run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tortoise import connections

from tests.support import Organization, captured_statements, postgres_only

pytestmark = postgres_only(
    "SQLite has no LATERAL: it pages each customer's orders with a window function"
)

FIRST = 3
BIG_CUSTOMER_ORDERS = 2_000

CUSTOMERS_WITH_ORDERS = """
query($first: Int!) {
  customers(first: 10) {
    edges {
      node {
        name
        salesOrders(first: $first) { edges { node { number } } pageInfo { hasNextPage } }
      }
    }
  }
}"""

CUSTOMER_INDEX = "(organization_id, customer_id, created_at, id)"

Node = dict[str, Any]  # a node of a JSON query plan


async def _customers_with_orders(org: Organization, orders: dict[str, int]) -> None:
    """Customers named as `orders` says, each with that many orders: `<name>-1` the newest."""
    db = connections.get("default")
    for name, count in orders.items():
        await db.execute_query(
            "INSERT INTO customer (organization_id, name, email, currency, created_at, updated_at)"
            " VALUES ($1, $2, 'buyer@shop.example', 'EUR', now(), now())",
            [org.id, name],
        )
        await db.execute_query(
            "INSERT INTO sales_order (organization_id, number, status, invoiced_status,"
            " shipped_status, date, currency, tax_totals, customer_id, warehouse_id, created_at,"
            " updated_at)"
            " SELECT $1, $2 || '-' || n, 'DRAFT', 'NOT_INVOICED', 'NOT_SHIPPED', current_date,"
            " 'EUR', '[]', c.id, w.id, now() - n * interval '1 minute', now()"
            " FROM generate_series(1, $3) AS n, customer c, warehouse w"
            " WHERE c.organization_id = $1 AND c.name = $2 AND w.organization_id = $1",
            [org.id, name, count],
        )
    await db.execute_script("VACUUM ANALYZE customer, sales_order")


async def _analyzed_plan(sql: str, values: list[Any]) -> Node:
    rows = await connections.get("default").execute_query_dict(
        f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values
    )
    plan = rows[0]["QUERY PLAN"]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _nodes(plan: Node, parent: Node | None = None) -> Iterator[tuple[Node, Node | None]]:
    """Every node of `plan` with its parent node."""
    yield plan, parent
    for child in plan.get("Plans", []):
        yield from _nodes(child, plan)


async def _indexes_of(table: str) -> dict[str, str]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", [table]
    )
    return {row["indexname"]: row["indexdef"] for row in rows}


def _rows_read_per_loop(node: Node) -> float:
    """What a scan took from its table or index in one loop, kept rows and filtered ones."""
    return (
        node["Actual Rows"]
        + node.get("Rows Removed by Filter", 0)
        + node.get("Rows Removed by Index Recheck", 0)
    )


async def test_a_customers_orders_are_read_no_further_than_its_page(org: Organization) -> None:
    # Given a customer with 2,000 orders, one with 2 and one with none
    await _customers_with_orders(
        org, {"Big Buyer": BIG_CUSTOMER_ORDERS, "Small Buyer": 2, "New Buyer": 0}
    )

    # When the page of customers is read with each one's first 3 orders
    with captured_statements("sales_order") as statements:
        data = await org.api.data(CUSTOMERS_WITH_ORDERS, {"first": FIRST})

    # Then each customer has its newest orders, and the big one has more
    pages = {
        edge["node"]["name"]: (
            [order["node"]["number"] for order in edge["node"]["salesOrders"]["edges"]],
            edge["node"]["salesOrders"]["pageInfo"]["hasNextPage"],
        )
        for edge in data["customers"]["edges"]
    }
    assert pages == {
        "Big Buyer": (["Big Buyer-1", "Big Buyer-2", "Big Buyer-3"], True),
        "New Buyer": ([], False),
        "Small Buyer": (["Small Buyer-1", "Small Buyer-2"], False),
    }
    # And the one statement that read the orders took at most first + 1 rows of each customer
    # in any scan of the orders table or its indexes, not the big customer's 2,000
    assert len(statements) == 1
    plan = await _analyzed_plan(*statements[0])
    indexes = await _indexes_of("sales_order")
    scans = [
        (node, parent)
        for node, parent in _nodes(plan)
        if node.get("Relation Name") == "sales_order" or node.get("Index Name") in indexes
    ]
    assert scans, plan
    for node, _ in scans:
        assert _rows_read_per_loop(node) <= FIRST + 1, json.dumps(plan, indent=1)
    # through one scan of the customer index per customer, each cut off by a LIMIT
    (customer_index,) = [name for name, sql in indexes.items() if sql.endswith(CUSTOMER_INDEX)]
    per_customer = [
        (node["Actual Loops"], parent and parent["Node Type"])
        for node, parent in scans
        if node.get("Index Name") == customer_index
    ]
    assert per_customer == [(3, "Limit")], json.dumps(plan, indent=1)
