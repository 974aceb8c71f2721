"""A list costs a fixed number of SQL statements, however long the page (no N+1 queries)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support import Organization, count_queries

ORDERS_PAGE = """
query($first: Int!) {
  salesOrders(first: $first) {
    totalCount
    edges {
      node {
        number
        customer { name }
        warehouse { name }
        lines { item { sku tax { name } } tax { name } amount }
        taxes { tax { name } amount }
        events { type }
      }
    }
  }
}"""

# One statement each: the token lookup, the page of orders (its customers and warehouses joined
# in), its count, the lines (their items and taxes joined in) and the events. The taxes of items
# and order totals are the lines' taxes here: no statement of their own. Reads never look at the
# job outbox: only mutations enqueue jobs.
STATEMENTS_PER_PAGE = 5

ORDER_COUNT = 50
CHUNK = 10


async def fifty_orders(org: Organization) -> None:
    """50 orders of 3 lines over 2 items and 2 taxes, spread over 3 customers."""
    customers = [await org.customer(name=name) for name in ("Acme", "Globex", "Initech")]
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)

    async def order(n: int) -> dict[str, Any]:
        return await org.order(
            customers[n % 3],
            [
                {"itemId": chair, "quantity": str(1 + n % 4)},
                {"itemId": coffee, "quantity": "2"},
                {"itemId": chair, "quantity": "1", "taxId": reduced},
            ],
        )

    for start in range(0, ORDER_COUNT, CHUNK):
        await asyncio.gather(*(order(n) for n in range(start, start + CHUNK)))


async def test_a_page_of_orders_costs_the_same_statements_whatever_its_size(
    org: Organization,
) -> None:
    # Given 50 orders reaching customers, warehouses, lines, items, taxes and events
    await fifty_orders(org)

    # When a page of 10 and a page of 50 are read with every relation
    with count_queries() as ten_statements:
        ten = await org.api.data(ORDERS_PAGE, {"first": 10})
    with count_queries() as fifty_statements:
        fifty = await org.api.data(ORDERS_PAGE, {"first": 50})

    # Then both pages were complete, and each cost the same small number of statements
    assert len(ten["salesOrders"]["edges"]) == 10
    assert len(fifty["salesOrders"]["edges"]) == 50
    assert ten["salesOrders"]["totalCount"] == fifty["salesOrders"]["totalCount"] == 50
    assert len(ten_statements) == len(fifty_statements), fifty_statements
    assert len(fifty_statements) == STATEMENTS_PER_PAGE, fifty_statements


async def test_every_relation_of_a_page_is_resolved(org: Organization) -> None:
    await fifty_orders(org)

    data = await org.api.data(ORDERS_PAGE, {"first": 50})

    nodes = [edge["node"] for edge in data["salesOrders"]["edges"]]
    assert len({node["number"] for node in nodes}) == 50
    assert {node["customer"]["name"] for node in nodes} == {"Acme", "Globex", "Initech"}
    assert {node["warehouse"]["name"] for node in nodes} == {"Primary warehouse"}
    assert all(node["events"] == [{"type": "created"}] for node in nodes)
    first_lines = [
        (line["item"]["sku"], line["item"]["tax"]["name"], line["tax"]["name"])
        for line in nodes[0]["lines"]
    ]
    assert first_lines == [
        ("CHAIR", "VAT 20%", "VAT 20%"),
        ("COFFEE", "VAT 5.5%", "VAT 5.5%"),
        ("CHAIR", "VAT 20%", "VAT 5.5%"),
    ]
    # each order: 20 % of the first chair line, 5.5 % of the coffee and the second chair
    assert all(
        [tax["tax"]["name"] for tax in node["taxes"]] == ["VAT 20%", "VAT 5.5%"] for node in nodes
    )
