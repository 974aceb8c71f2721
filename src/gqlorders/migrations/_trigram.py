"""Trigram (pg_trgm) GIN indexes for substring search, shared by the migrations that add them.

(A module whose name starts with "_" is not a migration: tortoise's loader skips it.)

The search filters with `icontains`, which tortoise writes as
`UPPER(CAST(col AS VARCHAR)) LIKE UPPER('%term%')`: a B-tree cannot serve a pattern with a
leading %, a pg_trgm GIN index on that same expression can (for terms of 3 characters or more).
PostgreSQL only: SQLite has no such index. pg_trgm is a "trusted" extension (PostgreSQL 13+):
a user with CREATE on the database may create it; if this one may not (or the server lacks the
extension), the migration logs a warning with the statements for an administrator to run and
carries on: search still works, without the indexes. The indexes are outside the models' state
on purpose (a model index would be created on SQLite too). `CREATE INDEX` (not CONCURRENTLY: a
migration runs in a transaction) blocks writes to the table while it builds.
"""

import logging
from collections.abc import Sequence

from tortoise.exceptions import BaseORMException
from tortoise.migrations import operations as ops
from tortoise.transactions import in_transaction
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

logger = logging.getLogger("gqlorders.migrations")

Column = tuple[str, str, str]  # (index, table, column)


def _create_statements(columns: Sequence[Column], opclass: str) -> list[str]:
    return [
        f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" '
        f'USING gin ((UPPER(CAST("{column}" AS VARCHAR))) {opclass})'
        for index, table, column in columns
    ]


def trigram_indexes(columns: Sequence[Column], searched: str) -> ops.RunPython:
    """The operation that adds (and, backwards, drops) trigram indexes on `columns`; `searched`
    names the search in the warning when pg_trgm is not available."""

    async def add(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
        client = schema_editor.client
        if client.capabilities.dialect != "postgres":
            return
        try:
            # A savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
            async with in_transaction(client.connection_name) as savepoint:
                await savepoint.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except BaseORMException as error:
            logger.warning(
                "pg_trgm is not available (%s): %s works without indexes. "
                "To add them, run as a superuser: CREATE EXTENSION pg_trgm; %s",
                " ".join(str(error).split()),
                searched,
                "; ".join(_create_statements(columns, "gin_trgm_ops")),
            )
            return
        # The operator class lives in the extension's schema, which may not be on search_path.
        [row] = await client.execute_query_dict(
            "SELECT quote_ident(n.nspname) AS schema FROM pg_extension e"
            " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
        for statement in _create_statements(columns, f"{row['schema']}.gin_trgm_ops"):
            await client.execute_script(statement)

    async def drop(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
        client = schema_editor.client
        if client.capabilities.dialect != "postgres":
            return
        for index, _, _ in columns:
            await client.execute_script(f'DROP INDEX IF EXISTS "{index}"')

    return ops.RunPython(add, drop)
