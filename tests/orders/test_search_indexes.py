"""SPEC §3 order list search on PostgreSQL: the search over number, reference number and customer
name is served by indexes -- migration 0010's pg_trgm indexes on the order's number and
reference number, 0009's on the customer's name -- for the very SQL the API sends, both the page
and totalCount.

The orders are inserted in SQL (through the API a few thousand would take minutes), two per
customer, then vacuumed and analyzed as autovacuum would. The planner cannot know how many
customers the name matches before it runs the query: they are asked first, and the order query
gets their ids, so that a rare term in no name is found from the order's own indexes even when
few customers have many orders each (before, the planner counted on ten customers' orders and
walked the list in sort order: 13 ms, bench/README.md)."""

from __future__ import annotations

from tortoise import connections

from tests.support import Organization, captured_statements, explained, postgres_only

pytestmark = postgres_only("trigram indexes exist on PostgreSQL only (SQLite searches by scanning)")

CUSTOMERS = 2_000
ORDERS = 4_000

ORDERS_QUERY = """
query($search: String) {
  salesOrders(filter: {search: $search}, sort: {field: NUMBER, direction: ASC}) {
    totalCount edges { node { number referenceNumber customer { name } } }
  }
}"""


async def _many_orders(org: Organization, customers: int = CUSTOMERS) -> None:
    """Four thousand orders (BULK-00001 ...) of `customers` customers (two orders each by
    default), of one line's worth of nothing: the search reads the order row only."""
    db = connections.get("default")
    await db.execute_query(
        "INSERT INTO customer (organization_id, name, email, currency, created_at, updated_at)"
        " SELECT $1, 'Customer ' || n, 'buyer' || n || '@shop.example', 'EUR', now(), now()"
        " FROM generate_series(1, $2) AS n",
        [org.id, customers],
    )
    await db.execute_query(
        "INSERT INTO sales_order (organization_id, number, reference_number, customer_id,"
        " status, invoiced_status, shipped_status, date, currency, warehouse_id, tax_totals,"
        " discount_amount, shipping_charge, sub_total, tax_total, total, created_at, updated_at)"
        " SELECT $1, 'BULK-' || lpad(n::text, 5, '0'), 'PO-' || n, c.id,"
        " 'CONFIRMED', 'NOT_INVOICED', 'NOT_SHIPPED', current_date, 'EUR', w.id, '[]',"
        " 0, 0, 0, 0, 0, now() - n * interval '1 minute', now()"
        " FROM generate_series(1, $2) AS n"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM customer"
        "       WHERE organization_id = $1) AS c ON c.k = (n - 1) % $3 + 1"
        " CROSS JOIN (SELECT id FROM warehouse WHERE organization_id = $1 AND is_primary) AS w",
        [org.id, ORDERS, customers],
    )
    await db.execute_script("VACUUM ANALYZE customer, sales_order")


async def test_an_order_search_uses_the_trigram_indexes(org: Organization) -> None:
    # Given four thousand orders, and three more that contain "zyxwv": one in its number, one in
    # its reference number, one in its customer's name
    await _many_orders(org)
    item = await org.item("WIDGET", "10")
    line = [{"itemId": item, "quantity": "1"}]
    plain = await org.customer(name="Plain Customer")
    zyxwv = await org.customer(name="Zyxwv Trading")
    await org.order(plain, line, number="ZYXWV-1")
    await org.order(plain, line, number="SO-2", referenceNumber="PO-zyxwv-2")
    await org.order(zyxwv, line, number="SO-3")

    # When the orders are searched for "zyxwv"
    with (
        captured_statements("customer") as customer_statements,
        captured_statements("sales_order") as statements,
    ):
        found = (await org.api.data(ORDERS_QUERY, {"search": "zyxwv"}))["salesOrders"]

    # Then exactly those three are found
    assert found == {
        "totalCount": 3,
        "edges": [
            {
                "node": {
                    "number": "SO-2",
                    "referenceNumber": "PO-zyxwv-2",
                    "customer": {"name": "Plain Customer"},
                }
            },
            {
                "node": {
                    "number": "SO-3",
                    "referenceNumber": None,
                    "customer": {"name": "Zyxwv Trading"},
                }
            },
            {
                "node": {
                    "number": "ZYXWV-1",
                    "referenceNumber": None,
                    "customer": {"name": "Plain Customer"},
                }
            },
        ],
    }
    # And the matching customers are found by the name index, once for the page and totalCount
    assert len(customer_statements) == 1
    assert "Bitmap Index Scan on customer_name_trgm" in await explained(*customer_statements[0])
    # And both order statements (the page, totalCount) read the number, reference number and
    # (organization, customer) indexes, and no order they do not need
    assert len(statements) == 2
    for sql, values in statements:
        plan = await explained(sql, values)
        assert "Bitmap Index Scan on sales_order_number_trgm" in plan, plan
        assert "Bitmap Index Scan on sales_order_reference_number_trgm" in plan, plan
        # (organization_id, customer_id, created_at, id), migration 0007
        assert "Bitmap Index Scan on idx_sales_order_organiz_df83e3" in plan, plan
        assert "Seq Scan on sales_order" not in plan, plan


async def test_a_rare_term_among_few_customers_of_many_orders_is_found_from_the_indexes(
    org: Organization,
) -> None:
    # Given twenty customers with two hundred orders each, and one order whose reference
    # number holds "qzqzq", a term in no customer's name
    await _many_orders(org, customers=20)
    item = await org.item("WIDGET", "10")
    customer = await org.customer(name="Plain Customer")
    await org.order(customer, [{"itemId": item, "quantity": "1"}], referenceNumber="PO-QZQZQ")

    # When the orders are searched for it
    with captured_statements("sales_order") as statements:
        found = (await org.api.data(ORDERS_QUERY, {"search": "qzqzq"}))["salesOrders"]

    # Then that order is found, from the number and reference number indexes alone: the page
    # does not walk the organization's orders in sort order looking for matches
    assert [edge["node"]["referenceNumber"] for edge in found["edges"]] == ["PO-QZQZQ"]
    for sql, values in statements:
        plan = await explained(sql, values)
        assert "Bitmap Index Scan on sales_order_reference_number_trgm" in plan, plan
        assert "idx_sales_order_organiz" not in plan, plan
