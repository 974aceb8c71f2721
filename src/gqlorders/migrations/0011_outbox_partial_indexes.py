"""The outbox's indexes follow what its queries ask (jobs.py), not the whole table.

The relay asks every 2 seconds, in every process, for the jobs still to run (`done_at IS NULL`:
to claim, to hand out again after 10 minutes, to ask whether a stock recalculation is pending),
and hourly for the rows of jobs done over 7 days ago (to delete them). The old index on
`(dispatched_at, id)` held every row, so handing stale jobs out again walked the entries of the
7 days of finished ones each time; the partial index holds only the rows still to run. Raw SQL
(the same on PostgreSQL and SQLite): tortoise's PartialIndex cannot say IS NULL. On PostgreSQL
`CREATE INDEX` blocks writes to the outbox (every change that enqueues a job) while it builds:
a second or so per million rows, i.e. at most 7 days of jobs.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

CREATE = [
    'CREATE INDEX IF NOT EXISTS "outbox_job_unfinished" ON "outbox_job" ("dispatched_at", "id")'
    ' WHERE "done_at" IS NULL',
    'CREATE INDEX IF NOT EXISTS "outbox_job_done" ON "outbox_job" ("done_at")'
    ' WHERE "done_at" IS NOT NULL',
]
DROP = [
    'DROP INDEX IF EXISTS "outbox_job_unfinished"',
    'DROP INDEX IF EXISTS "outbox_job_done"',
]


# One statement at a time through execute_query: on SQLite, execute_script would commit the
# migration's transaction first (sqlite3's executescript), so a failure would leave it half done.
async def create_partial_indexes(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    for statement in CREATE:
        await schema_editor.client.execute_query(statement)


async def drop_partial_indexes(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    for statement in DROP:
        await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0010_order_search_trigram_indexes")]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name="OutboxJob",
            name=None,
            fields=["dispatched_at", "id"],
        ),
        ops.RunPython(create_partial_indexes, drop_partial_indexes),
    ]
