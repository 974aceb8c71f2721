"""The feed's wake-up for live readers comes from the database (PostgreSQL): a trigger on the
feed's INSERT notifies `gqlorders_feed` instead of a `SELECT pg_notify` the app sent after each
event (one statement less per mutation that records events; events/notify.py).

Statement-level, with a transition table: the payload is a constant ("positions wanted": readers
read the feed, the notification carries no event), so one per statement is all a row would say,
and PostgreSQL folds identical notifications of a transaction into one anyway. The transition
table only spares a notification -- a sequencer run in every listening process -- for an INSERT
that inserted nothing. Delivered at commit, never for a rolled back change, whichever process
or tool wrote the events. SQLite keeps its in-process wake-up.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

CREATE = [
    """
    CREATE OR REPLACE FUNCTION gqlorders_feed_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM inserted) THEN
            PERFORM pg_notify('gqlorders_feed', '*');
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS feed_event_notify ON feed_event",
    """
    CREATE TRIGGER feed_event_notify AFTER INSERT ON feed_event
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION gqlorders_feed_notify()
    """,
]
DROP = [
    "DROP TRIGGER IF EXISTS feed_event_notify ON feed_event",
    "DROP FUNCTION IF EXISTS gqlorders_feed_notify()",
]


async def _run_on_postgres(schema_editor: BaseSchemaEditor, statements: list[str]) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        for statement in statements:
            await schema_editor.client.execute_script(statement)


async def create_trigger(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    await _run_on_postgres(schema_editor, CREATE)


async def drop_trigger(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    await _run_on_postgres(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [('models', '0018_webhook_delivery_dispatch_index')]

    initial = False

    operations = [
        ops.RunPython(create_trigger, drop_trigger),
    ]
