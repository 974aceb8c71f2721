"""Trigram indexes for the order search (PostgreSQL only), as 0009 did for customers and items.

The order list's search matches the order's number and reference number with `icontains`
(`UPPER(CAST(col AS VARCHAR)) LIKE UPPER('%term%')`): these two indexes are on that very
expression. Its third column, the customer's name, is served by 0009's `customer_name_trgm`
(orders/queries.py asks for the matching customers by themselves, in a subquery the index
answers). SQLite has no such index: nothing to do there.

Like 0009: pg_trgm is created if missing (in a savepoint); without the privilege the migration
logs the statements for an administrator and carries on, and the search works unindexed. The
indexes stay outside the models' state (a model index would be created on SQLite too).
`CREATE INDEX` (not CONCURRENTLY: a migration runs in a transaction) blocks writes to
sales_order while it builds (150 ms for 60,000 orders, so seconds per million).
"""

import logging

from tortoise import migrations
from tortoise.exceptions import BaseORMException
from tortoise.migrations import operations as ops
from tortoise.transactions import in_transaction

logger = logging.getLogger("gqlorders.migrations")

# (index, table, column): the order's own columns list_sales_orders searches.
SEARCHED_COLUMNS = [
    ("sales_order_number_trgm", "sales_order", "number"),
    ("sales_order_reference_number_trgm", "sales_order", "reference_number"),
]


def create_index_statements(opclass: str) -> list[str]:
    return [
        f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" '
        f'USING gin ((UPPER(CAST("{column}" AS VARCHAR))) {opclass})'
        for index, table, column in SEARCHED_COLUMNS
    ]


async def add_trigram_indexes(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    try:
        # A savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
        async with in_transaction(client.connection_name) as savepoint:
            await savepoint.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except BaseORMException as error:
        logger.warning(
            "pg_trgm is not available (%s): the order search works without indexes. "
            "To add them, run as a superuser: CREATE EXTENSION pg_trgm; %s",
            " ".join(str(error).split()),
            "; ".join(create_index_statements("gin_trgm_ops")),
        )
        return
    # The operator class lives in the extension's schema, which may not be on search_path.
    [row] = await client.execute_query_dict(
        "SELECT quote_ident(n.nspname) AS schema FROM pg_extension e"
        " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    )
    for statement in create_index_statements(f"{row['schema']}.gin_trgm_ops"):
        await client.execute_script(statement)


async def drop_trigram_indexes(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for index, _, _ in SEARCHED_COLUMNS:
        await client.execute_script(f'DROP INDEX IF EXISTS "{index}"')


class Migration(migrations.Migration):
    dependencies = [("models", "0009_search_trigram_indexes")]

    initial = False

    operations = [
        ops.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
