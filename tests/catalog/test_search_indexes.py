"""SPEC §2 search on PostgreSQL: the customer and item search boxes are served by the pg_trgm
indexes of migration 0009, for the very SQL the API sends (tortoise writes `icontains` as
`UPPER(CAST(col AS VARCHAR)) LIKE UPPER(...)`: the indexes are on that expression).

The planner rightly scans a small table rather than read an index, so the organization gets
ten thousand customers and items first (inserted in SQL: through the API it would take
minutes), vacuumed and analyzed as autovacuum would."""

from __future__ import annotations

from tortoise import connections

from tests.support import Organization, captured_statements, explained, postgres_only

pytestmark = postgres_only("trigram indexes exist on PostgreSQL only (SQLite searches by scanning)")

ROWS = 10_000

CUSTOMERS = """
query($search: String) { customers(search: $search) { totalCount edges { node { name } } } }"""

ITEMS = """
query($search: String) { items(search: $search) { totalCount edges { node { sku } } } }"""


async def _many_customers_and_items(org: Organization) -> None:
    db = connections.get("default")
    await db.execute_query(
        "INSERT INTO customer (organization_id, name, email, currency, created_at, updated_at)"
        " SELECT $1, 'Customer ' || n, 'buyer' || n || '@shop.example', 'EUR', now(), now()"
        " FROM generate_series(1, $2) AS n",
        [org.id, ROWS],
    )
    await db.execute_query(
        "INSERT INTO item (organization_id, sku, name, kind, rate, created_at)"
        " SELECT $1, 'SKU-' || n, 'Item ' || n, 'GOODS', 1, now()"
        " FROM generate_series(1, $2) AS n",
        [org.id, ROWS],
    )
    await db.execute_script("VACUUM ANALYZE customer, item")


async def test_a_customer_search_uses_the_trigram_indexes(org: Organization) -> None:
    # Given an organization with ten thousand customers, one of them Zyxwv Trading
    await _many_customers_and_items(org)
    await org.customer(name="Zyxwv Trading", email="orders@zyxwv.example")

    # When the customers are searched for "zyxwv"
    with captured_statements("customer") as statements:
        found = (await org.api.data(CUSTOMERS, {"search": "zyxwv"}))["customers"]

    # Then exactly that customer is found
    assert found == {"totalCount": 1, "edges": [{"node": {"name": "Zyxwv Trading"}}]}
    # And both statements (the page, totalCount) read the name and e-mail trigram indexes
    assert len(statements) == 2
    for sql, values in statements:
        plan = await explained(sql, values)
        assert "Bitmap Index Scan on customer_name_trgm" in plan, plan
        assert "Bitmap Index Scan on customer_email_trgm" in plan, plan


async def test_an_item_search_uses_the_trigram_indexes(org: Organization) -> None:
    # Given an organization with ten thousand items, one of them ZYXWV-1
    await _many_customers_and_items(org)
    await org.item("ZYXWV-1", "9.90")

    # When the items are searched for "zyxwv"
    with captured_statements("item") as statements:
        found = (await org.api.data(ITEMS, {"search": "zyxwv"}))["items"]

    # Then exactly that item is found, and both statements read the SKU and name indexes
    assert found == {"totalCount": 1, "edges": [{"node": {"sku": "ZYXWV-1"}}]}
    assert len(statements) == 2
    for sql, values in statements:
        plan = await explained(sql, values)
        assert "Bitmap Index Scan on item_sku_trgm" in plan, plan
        assert "Bitmap Index Scan on item_name_trgm" in plan, plan
