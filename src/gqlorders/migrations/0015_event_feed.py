"""The organization's event feed (events/feed.py), and catch-up by `updatedAfter`.

On PostgreSQL an event gets its place in the feed after its transaction commits, from one
sequencer at a time: a sequence for the positions, and a partial index on the events still
waiting for one (so the sequencer finds them without walking the table). SQLite needs neither:
its ids follow commit order.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

POSTGRES_ONLY = [
    "CREATE SEQUENCE IF NOT EXISTS feed_event_position",
    'CREATE INDEX IF NOT EXISTS "feed_event_unsequenced" ON "feed_event" ("id")'
    ' WHERE "position" IS NULL',
]


async def create_sequencer(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        for statement in POSTGRES_ONLY:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0014_idempotency_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FeedEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('type', fields.CharField(max_length=40)),
                ('actor', fields.CharField(null=True, max_length=200)),
                ('resource_type', fields.CharField(max_length=40)),
                ('resource_key', fields.BigIntField()),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('data', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('position', fields.BigIntField(null=True)),
            ],
            options={'table': 'feed_event', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'position']), Index(fields=['organization_id', 'id']), Index(fields=['occurred_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='SalesOrder',
            index=Index(fields=['organization_id', 'updated_at', 'id']),
        ),
        ops.RunPython(create_sequencer, ops.RunPython.noop),
    ]
