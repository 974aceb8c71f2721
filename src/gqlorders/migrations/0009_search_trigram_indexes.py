"""Trigram indexes for the customer and item search (PostgreSQL only).

The search box filters with `icontains`, which tortoise writes as
`UPPER(CAST(col AS VARCHAR)) LIKE UPPER('%term%')`: a B-tree cannot serve a pattern with a
leading %, a pg_trgm GIN index on that same expression can (for terms of 3 characters or
more). SQLite has no such index: nothing to do there.

pg_trgm is a "trusted" extension (PostgreSQL 13+): a user with CREATE on the database may
create it. If this one may not (or the extension is not installed on the server), the
migration logs a warning with the statements for an administrator to run, and carries on:
search still works, without the indexes. These indexes are outside the models' state on
purpose (a model index would be created on SQLite too).
"""

import logging

from tortoise import migrations
from tortoise.exceptions import BaseORMException
from tortoise.migrations import operations as ops
from tortoise.transactions import in_transaction

logger = logging.getLogger("gqlorders.migrations")

# (index, table, column): the columns list_customers and list_items search.
SEARCHED_COLUMNS = [
    ("customer_name_trgm", "customer", "name"),
    ("customer_email_trgm", "customer", "email"),
    ("item_sku_trgm", "item", "sku"),
    ("item_name_trgm", "item", "name"),
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
            "pg_trgm is not available (%s): customer and item search work without indexes. "
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
    dependencies = [('models', '0008_email_claimed_at')]

    initial = False

    operations = [
        ops.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
