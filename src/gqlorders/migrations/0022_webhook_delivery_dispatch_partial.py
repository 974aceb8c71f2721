"""The dispatch index of webhook deliveries (0018) made partial: only the deliveries a job
holds have a token (a sent or given up one has none), so the index stays the size of the work
in progress, not of the delivery log. Raw SQL (the same on PostgreSQL and SQLite): tortoise's
PartialIndex cannot say IS NOT NULL."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

CREATE = (
    'CREATE INDEX IF NOT EXISTS "webhook_delivery_dispatch" ON "webhook_delivery" ("dispatch")'
    ' WHERE "dispatch" IS NOT NULL'
)
DROP = 'DROP INDEX IF EXISTS "webhook_delivery_dispatch"'


async def create_dispatch_index(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    await schema_editor.client.execute_query(CREATE)


async def drop_dispatch_index(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    await schema_editor.client.execute_query(DROP)


class Migration(migrations.Migration):
    dependencies = [("models", "0021_feed_event_type_index")]

    initial = False

    operations = [
        ops.RemoveIndex(model_name="WebhookDelivery", name=None, fields=["dispatch"]),
        ops.RunPython(create_dispatch_index, drop_dispatch_index),
    ]
