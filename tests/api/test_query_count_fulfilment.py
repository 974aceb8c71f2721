"""A page of orders with every fulfilment relation still costs a fixed, small number of SQL
statements: a page of 100 costs what a page of 10 costs (no N+1 anywhere)."""

from __future__ import annotations

from gqlorders import jobs
from gqlorders.models import SalesOrder, SalesOrderLine
from tests.fulfilment.documents import SEND_ORDER, confirm, invoice, package
from tests.support import Organization, count_queries

ORDERS_PAGE = """
query($first: Int!) {
  salesOrders(first: $first) {
    edges {
      node {
        number
        lines { item { sku tax { name } } tax { name } stockStatus }
        customer { name }
        warehouse { name }
        taxes { tax { name } amount }
        invoices { number lines { quantity } }
        packages { number lines { quantity } }
        events { type }
        pdf { state }
        emails { state }
        mergeable
        mergeBlockers
      }
    }
  }
}"""

ADJUST = """
mutation($input: AdjustStockInput!) {
  adjustStock(input: $input) { errors { field code message } }
}"""

WAREHOUSES = "{ warehouses { id } }"

# The token lookup; the page with its customers and warehouses joined in; the lines with their
# items joined in; taxes (of lines, items and order totals at once); stock levels (stockStatus);
# invoices and their lines; packages and their lines; events; e-mails; PDF documents.
STATEMENTS_PER_PAGE = 12

BULK_ORDERS = 110  # copies of a three-line order, written directly: the page of 100 is full


async def orders_in_every_state(org: Organization) -> list[str]:
    """110 bulk-written orders, then (newest, so on both pages) orders made through the API:
    drafts, confirmed ones, one invoiced, one packed and one sent by e-mail."""
    customer = await org.customer(name="Acme")
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)
    consulting = await org.item("CONSULTING", "150", kind="SERVICE")
    (warehouse,) = (await org.api.data(WAREHOUSES))["warehouses"]
    await org.api.ok(
        ADJUST,
        {"itemId": chair, "warehouseId": warehouse["id"], "quantityDelta": "5", "reason": "count"},
    )
    lines = [
        {"itemId": chair, "quantity": "2"},
        {"itemId": coffee, "quantity": "3", "taxId": vat},
        {"itemId": consulting, "quantity": "1.5"},
    ]
    template = await org.order(customer, lines)
    await bulk_copies(org.id, template["number"], BULK_ORDERS)

    orders = [await org.order(customer, lines) for _ in range(6)]
    for order in orders[:4]:
        await confirm(org, order["id"])
    await invoice(org, orders[0]["id"])
    await package(org, orders[1]["id"])
    await org.api.ok(SEND_ORDER, {"id": orders[2]["id"]})
    runner = jobs.current_runner()  # the e-mail job runs in the background: let it finish
    if runner is not None:
        await runner.drain()
    return [order["id"] for order in orders]


async def bulk_copies(organization_id: int, number: str, count: int) -> None:
    """`count` copies of an order and its lines, written with two bulk inserts."""
    order = await SalesOrder.get(organization_id=organization_id, number=number)
    lines = await SalesOrderLine.filter(sales_order_id=order.id).order_by("position")
    copied = {
        name: getattr(order, name)
        for name in order._meta.db_fields
        if name not in ("id", "number", "created_at", "updated_at")
    }
    await SalesOrder.bulk_create(SalesOrder(**copied, number=f"BULK-{n:04d}") for n in range(count))
    ids = await SalesOrder.filter(
        organization_id=organization_id, number__startswith="BULK-"
    ).values_list("id", flat=True)
    line_fields = [
        name for name in SalesOrderLine._meta.db_fields if name not in ("id", "sales_order_id")
    ]
    await SalesOrderLine.bulk_create(
        SalesOrderLine(sales_order_id=order_id, **{f: getattr(line, f) for f in line_fields})
        for order_id in ids
        for line in lines
    )


async def test_a_page_with_every_fulfilment_relation_costs_the_same_statements(
    org: Organization,
) -> None:
    # Given 117 orders, the newest confirmed, invoiced, packed or sent
    await orders_in_every_state(org)

    # When a page of 10 and a page of 100 are read with every relation
    with count_queries() as ten_statements:
        ten = await org.api.data(ORDERS_PAGE, {"first": 10})
    with count_queries() as hundred_statements:
        hundred = await org.api.data(ORDERS_PAGE, {"first": 100})

    # Then both pages are complete and reach every relation ...
    assert len(ten["salesOrders"]["edges"]) == 10
    assert len(hundred["salesOrders"]["edges"]) == 100
    nodes = [edge["node"] for edge in ten["salesOrders"]["edges"]]
    assert sum(len(node["invoices"]) for node in nodes) == 1
    assert [line["quantity"] for node in nodes for i in node["invoices"] for line in i["lines"]]
    assert sum(len(node["packages"]) for node in nodes) == 1
    assert [line["quantity"] for node in nodes for p in node["packages"] for line in p["lines"]]
    assert sum(len(node["emails"]) for node in nodes) == 1
    assert {node["pdf"]["state"] for node in nodes} == {"NOT_REQUESTED"}
    statuses = {line["stockStatus"] for node in nodes for line in node["lines"]}
    assert None in statuses and len(statuses) > 1  # a service line, and goods
    assert {node["mergeable"] for node in nodes} == {True, False}
    assert all(
        len(edge["node"]["lines"]) == 3 and edge["node"]["customer"]["name"] == "Acme"
        for edge in hundred["salesOrders"]["edges"]
    )
    # ... and each cost the same small number of statements
    assert len(ten_statements) == len(hundred_statements), hundred_statements
    assert len(hundred_statements) == STATEMENTS_PER_PAGE, hundred_statements
    assert STATEMENTS_PER_PAGE <= 12


# Issue 8's own selection: lines { item tax } customer warehouse taxes invoices packages.
ISSUE_PAGE = """
query($first: Int!) {
  salesOrders(first: $first) {
    edges {
      node {
        number
        lines { item { sku } tax { name } }
        customer { name }
        warehouse { name }
        taxes { tax { name } amount }
        invoices { number }
        packages { number }
      }
    }
  }
}"""

# The token lookup; the page with its customers and warehouses joined in; the lines with their
# items and taxes joined in (the totals' taxes are theirs); the invoices; the packages.
ISSUE_STATEMENTS = 5


async def test_the_issues_page_costs_at_most_ten_statements_for_10_or_100_orders(
    org: Organization,
) -> None:
    # Given 117 orders, the newest confirmed, invoiced, packed or sent
    await orders_in_every_state(org)

    # When a page of 10 and a page of 100 are read with the issue's relations
    with count_queries() as ten_statements:
        ten = await org.api.data(ISSUE_PAGE, {"first": 10})
    with count_queries() as hundred_statements:
        hundred = await org.api.data(ISSUE_PAGE, {"first": 100})

    # Then both are complete, and cost the same statements, no more than ten
    assert len(ten["salesOrders"]["edges"]) == 10
    assert len(hundred["salesOrders"]["edges"]) == 100
    nodes = [edge["node"] for edge in ten["salesOrders"]["edges"]]
    assert sum(len(node["invoices"]) for node in nodes) == 1
    assert sum(len(node["packages"]) for node in nodes) == 1
    assert len(ten_statements) == len(hundred_statements) == ISSUE_STATEMENTS, hundred_statements
