"""When a send's content started to go out (issue 22): a message left SENDING before that is
sent again; only one left after it is FAILED, outcome unknown. A message already SENDING at the
upgrade has no such mark and nobody knows how far its sender got: it is stamped as started, so
that the sweep treats it as before (FAILED, outcome unknown, never sent twice)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.timezone import now
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps


async def stamp_messages_sending_at_the_upgrade(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    EmailMessage = apps.get_model("models", "EmailMessage")
    await (
        EmailMessage.filter(state="SENDING")
        .using_db(schema_editor.client)
        .update(data_started_at=now())
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0012_installation_and_job_tokens")]

    initial = False

    operations = [
        ops.AddField(
            model_name="EmailMessage",
            name="data_started_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(stamp_messages_sending_at_the_upgrade, ops.RunPython.noop),
    ]
