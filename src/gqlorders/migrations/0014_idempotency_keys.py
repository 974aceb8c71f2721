"""Idempotency keys (issue 14): the first answer of each keyed mutation, per organization."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_email_data_started_at')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=255)),
                ('request_hash', fields.CharField(max_length=64)),
                ('status', fields.SmallIntField(null=True)),
                ('body', fields.BinaryField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'idempotency_key', 'app': 'models', 'unique_together': (('organization', 'key'),), 'pk_attr': 'id', 'table_description': 'A key of an organization and the answer of the mutation first sent with it.'},
            bases=['Model'],
        ),
    ]
