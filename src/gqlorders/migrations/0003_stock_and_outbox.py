from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from decimal import Decimal
from gqlorders.models.fields import ScaledDecimalField
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_invoices_packages_emails')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OutboxJob',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.CharField(max_length=50)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('dispatched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_job', 'app': 'models', 'indexes': [Index(fields=['dispatched_at', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StockLevel',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('item', fields.ForeignKeyField('models.Item', source_field='item_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('warehouse', fields.ForeignKeyField('models.Warehouse', source_field='warehouse_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('on_hand', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
                ('committed', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
            ],
            options={'table': 'stock_level', 'app': 'models', 'unique_together': (('item', 'warehouse'),), 'pk_attr': 'id', 'table_description': 'On hand is changed by movements, committed only by the recalculation.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StockMovement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('item', fields.ForeignKeyField('models.Item', source_field='item_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('warehouse', fields.ForeignKeyField('models.Warehouse', source_field='warehouse_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('quantity', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
                ('reason', fields.CharField(max_length=300)),
                ('package', fields.ForeignKeyField('models.Package', source_field='package_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('actor', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'stock_movement', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'item_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Why on hand changed: an adjustment (with its reason) or a shipped package.'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='SalesOrderLine',
            index=Index(fields=['item_id', 'sales_order_id']),
        ),
    ]
