"""An installation identity and a random token per outbox row: arq's job ids must be unique in
every Redis the database ever meets (issue 13), not only inside this database.

The installation id is drawn here, when `gqlorders migrate` runs on this database (never in a
later migration: it names this installation's arq queue; only `gqlorders installation reset`
changes it). Rows not done yet get a token each and go back to the outbox (no longer
dispatched), so that the first relay hands them out at once under the new job id, on the new
queue: their jobs of the old form wait on arq's default queue, which no worker reads any more.
Rows done keep '' (the column's default): they never get a job id again.
"""

import uuid

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

from gqlorders.models.outbox import new_token


def _placeholder(schema_editor: BaseSchemaEditor, n: int) -> str:
    return "?" if schema_editor.client.capabilities.dialect == "sqlite" else f"${n}"


async def identify_installation(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    await client.execute_query(
        'INSERT INTO "installation" ("id", "installation_id", "created_at") '
        f"VALUES (1, {_placeholder(schema_editor, 1)}, CURRENT_TIMESTAMP)",
        [uuid.uuid4().hex],
    )
    _, pending = await client.execute_query(
        "SELECT \"id\" FROM \"outbox_job\" WHERE \"done_at\" IS NULL AND \"token\" = ''"
    )
    for row in pending:
        await client.execute_query(
            f'UPDATE "outbox_job" SET "token" = {_placeholder(schema_editor, 1)}, '
            f'"dispatched_at" = NULL WHERE "id" = {_placeholder(schema_editor, 2)}',
            [new_token(), row["id"]],
        )


async def forget_installation(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    await schema_editor.client.execute_query('DELETE FROM "installation"')


class Migration(migrations.Migration):
    dependencies = [("models", "0011_outbox_partial_indexes")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Installation",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("installation_id", fields.CharField(unique=True, max_length=32)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "installation",
                "app": "models",
                "pk_attr": "id",
                "table_description": "This database's identity: one row, written by migration "
                "0012 with a random id.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="OutboxJob",
            name="token",
            field=fields.CharField(default=new_token, db_default="", max_length=32),
        ),
        ops.RunPython(identify_installation, forget_installation),
    ]
