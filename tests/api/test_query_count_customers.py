"""A page of customers with each one's sales orders costs a fixed number of SQL statements, and
each customer's nested connection is exactly what the order list gives for that customer."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fulfilment.documents import MERGE_ORDERS
from tests.support import Organization, count_queries

CUSTOMERS_WITH_ORDERS = """
query($first: Int!) {
  customers(first: $first) {
    edges {
      node {
        salesOrders(first: 3) {
          totalCount
          edges { node { number total lines { item { sku } } } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
}"""

# The same connection fields, asked of every customer of a page, of one customer, and of the
# order list filtered by customer.
CONNECTION = """
  totalCount
  edges { cursor node { number status total lines { item { sku } } } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
"""

CUSTOMERS_PAGE = f"""
query($first: Int!, $orders: Int!, $after: String) {{
  customers(first: $first) {{
    edges {{ node {{ id name salesOrders(first: $orders, after: $after) {{ {CONNECTION} }} }} }}
  }}
}}"""

ONE_CUSTOMER = f"""
query($id: ID!, $orders: Int!, $after: String) {{
  node(id: $id) {{
    ... on Customer {{ salesOrders(first: $orders, after: $after) {{ {CONNECTION} }} }}
  }}
}}"""

ORDER_LIST = f"""
query($customer: ID!, $orders: Int!, $after: String) {{
  salesOrders(first: $orders, after: $after, filter: {{ customerId: $customer }}) {{ {CONNECTION} }}
}}"""

# The token lookup, the page of customers, the first 3 orders of each customer of the page (one
# statement: a LATERAL page per customer on PostgreSQL, a window query on SQLite), their counts
# (one GROUP BY) and the orders' lines with their items joined in.
STATEMENTS_PER_PAGE = 5

CUSTOMER_COUNT = 50


async def fifty_customers(org: Organization) -> dict[str, str]:
    """Customers C01..C50 (name -> id); C(n) has (n - 1) % 5 orders: none, 1, 2, 3 or 4, of
    1 to 4 chairs and a coffee, made in turns so that customers' orders interleave. Of the 4
    orders of C05, the second is merged into the first: C05 shows 3 orders, C10 shows 4."""
    names = [f"C{n:02}" for n in range(1, CUSTOMER_COUNT + 1)]
    ids = dict(zip(names, await asyncio.gather(*(org.customer(name=name) for name in names))))
    chair = await org.item("CHAIR", "89.90")
    coffee = await org.item("COFFEE", "24.80")
    made: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for turn in range(4):
        buyers = [name for n, name in enumerate(names) if n % 5 > turn]
        orders = await asyncio.gather(
            *(
                org.order(
                    ids[name],
                    [
                        {"itemId": chair, "quantity": str(1 + (turn + n) % 4)},
                        {"itemId": coffee, "quantity": "1"},
                    ],
                )
                for n, name in enumerate(buyers)
            )
        )
        for name, order in zip(buyers, orders):
            made[name].append(order)
    first, second = made["C05"][:2]
    await org.api.ok(MERGE_ORDERS, {"ids": [first["id"], second["id"]]})
    return ids


def connections_by_customer(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {edge["node"]["id"]: edge["node"]["salesOrders"] for edge in data["customers"]["edges"]}


async def listed(org: Organization, customer: str, orders: int, after: str | None) -> dict:
    """What the order list, filtered by customer, gives for the same page."""
    variables = {"customer": customer, "orders": orders, "after": after}
    return (await org.api.data(ORDER_LIST, variables))["salesOrders"]


async def test_a_page_of_customers_with_their_orders_costs_the_same_statements_whatever_its_size(
    org: Organization,
) -> None:
    # Given 50 customers with 0 to 4 orders each
    await fifty_customers(org)

    # When a page of 10 customers and a page of 50 are read, each with its first 3 orders,
    # their count, lines and items
    with count_queries() as ten_statements:
        ten = await org.api.data(CUSTOMERS_WITH_ORDERS, {"first": 10})
    with count_queries() as fifty_statements:
        fifty = await org.api.data(CUSTOMERS_WITH_ORDERS, {"first": 50})

    # Then both pages were complete, and each cost the same 5 statements
    assert len(ten["customers"]["edges"]) == 10
    assert len(fifty["customers"]["edges"]) == 50
    orders = [len(edge["node"]["salesOrders"]["edges"]) for edge in fifty["customers"]["edges"]]
    assert orders == [0, 1, 2, 3, 3] * 10
    assert len(ten_statements) == STATEMENTS_PER_PAGE, ten_statements
    assert len(fifty_statements) == STATEMENTS_PER_PAGE, fifty_statements


async def test_each_customers_orders_are_those_the_order_list_gives_for_that_customer(
    org: Organization,
) -> None:
    # Given 50 customers with 0 to 4 orders each, one of them with a merged order
    ids = await fifty_customers(org)

    # When every customer's first 3 orders are read through the customer page
    page = await org.api.data(CUSTOMERS_PAGE, {"first": 50, "orders": 3})
    nested = connections_by_customer(page)

    # Then each is, field for field and cursor for cursor, the order list of that customer
    assert list(nested) == list(ids.values())
    for customer, connection in nested.items():
        assert connection == await listed(org, customer, 3, None), customer
    # a customer without orders has an empty connection
    assert nested[ids["C01"]] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    # a customer with 4 orders shows the newest 3, and that there is more
    four = nested[ids["C10"]]
    assert [four["totalCount"], len(four["edges"]), four["pageInfo"]["hasNextPage"]] == [4, 3, True]
    # the merged order is hidden: what remains of C05's 4 orders fits the page
    merged = nested[ids["C05"]]
    assert [merged["totalCount"], len(merged["edges"])] == [3, 3]
    assert merged["pageInfo"]["hasNextPage"] is False
    assert {edge["node"]["status"] for edge in merged["edges"]} == {"DRAFT"}


async def test_a_nested_end_cursor_gives_the_rest_of_each_customers_orders(
    org: Organization,
) -> None:
    # Given 50 customers with 0 to 4 orders each, and the first 2 orders of each
    ids = await fifty_customers(org)
    page = await org.api.data(CUSTOMERS_PAGE, {"first": 50, "orders": 2})
    first_pages = connections_by_customer(page)

    # When the end cursor of C10's first page is passed back, for C10 alone and for the
    # whole page of customers
    cursor = first_pages[ids["C10"]]["pageInfo"]["endCursor"]
    alone = await org.api.data(ONE_CUSTOMER, {"id": ids["C10"], "orders": 2, "after": cursor})
    whole = await org.api.data(CUSTOMERS_PAGE, {"first": 50, "orders": 2, "after": cursor})

    # Then C10 gets the rest of its orders, and every customer gets its orders after that
    # cursor, as the order list gives them
    rest = alone["node"]["salesOrders"]
    assert rest == await listed(org, ids["C10"], 2, cursor)
    assert [rest["totalCount"], len(rest["edges"])] == [4, 2]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True
    seen = {edge["cursor"] for edge in first_pages[ids["C10"]]["edges"]}
    assert seen.isdisjoint(edge["cursor"] for edge in rest["edges"])
    for customer, connection in connections_by_customer(whole).items():
        assert connection == await listed(org, customer, 2, cursor), customer
