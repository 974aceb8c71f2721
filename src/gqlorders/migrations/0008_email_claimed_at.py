from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index
from tortoise.timezone import now
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps


async def stamp_messages_claimed_before_the_upgrade(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    """A message already SENDING was claimed at an unknown time: count it as claimed now, so
    that the sweep marks it FAILED, outcome unknown, once the usual time has passed
    (emails.fail_stalled_sends)."""
    EmailMessage = apps.get_model("models", "EmailMessage")
    await (
        EmailMessage.filter(state="SENDING", claimed_at__isnull=True)
        .using_db(schema_editor.client)
        .update(claimed_at=now())
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0007_list_and_foreign_key_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='EmailMessage',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='EmailMessage',
            index=Index(fields=['state', 'claimed_at']),
        ),
        ops.RunPython(stamp_messages_claimed_before_the_upgrade, ops.RunPython.noop),
    ]
