from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gqlorders.models.marketplaces import InboxState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0004_documents_and_email_attempts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MarketplaceConnection',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('marketplace', fields.CharField(max_length=50)),
                ('webhook_key', fields.CharField(unique=True, max_length=64)),
                ('webhook_secret', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'marketplace_connection', 'app': 'models', 'pk_attr': 'id', 'table_description': "Where one marketplace posts an organization's order webhooks, and the secret they are"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('connection', fields.ForeignKeyField('models.MarketplaceConnection', source_field='connection_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('marketplace', fields.CharField(max_length=50)),
                ('body', fields.TextField(unique=False)),
                ('state', fields.CharEnumField(default=InboxState.RECEIVED, description='RECEIVED: RECEIVED\nIMPORTED: IMPORTED\nFAILED: FAILED', enum_type=InboxState, max_length=10)),
                ('error', fields.TextField(null=True, unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('sales_order', fields.ForeignKeyField('models.SalesOrder', source_field='sales_order_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'inbox_message', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'state', 'id'])], 'pk_attr': 'id', 'table_description': 'A verified webhook delivery, stored before it is imported: nothing a marketplace sent'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Customer',
            name='marketplace_identity',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddIndex(
            model_name='Customer',
            index=Index(fields=['organization_id', 'email']),
        ),
        ops.AddIndex(
            model_name='Customer',
            index=Index(fields=['organization_id', 'marketplace_identity']),
        ),
        ops.AddField(
            model_name='SalesOrder',
            name='marketplace_totals',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='SalesOrder',
            name='marketplace_updated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddConstraint(
            model_name='SalesOrder',
            constraint=UniqueConstraint(fields=('organization', 'marketplace', 'external_id'), name=None),
        ),
    ]
