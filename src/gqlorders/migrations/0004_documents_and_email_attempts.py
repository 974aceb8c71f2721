from tortoise import migrations
from tortoise.migrations import operations as ops
from gqlorders.models.documents import DocumentState
from gqlorders.models.emails import EmailState
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_stock_and_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Document',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('sales_order', fields.OneToOneField('models.SalesOrder', source_field='sales_order_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('invoice', fields.OneToOneField('models.Invoice', source_field='invoice_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default=DocumentState.PENDING, description='PENDING: PENDING\nREADY: READY\nFAILED: FAILED', enum_type=DocumentState, max_length=8)),
                ('content_hash', fields.CharField(null=True, max_length=64)),
                ('path', fields.CharField(null=True, max_length=500)),
                ('error', fields.TextField(null=True, unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'document', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The PDF of one order or invoice: the file is named by the hash of what it shows, so a'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='EmailMessage',
            name='state',
            field=fields.CharEnumField(default=EmailState.QUEUED, description='QUEUED: QUEUED\nSENDING: SENDING\nSENT: SENT\nFAILED: FAILED', enum_type=EmailState, max_length=8),
        ),
        ops.AddField(
            model_name='EmailMessage',
            name='attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
