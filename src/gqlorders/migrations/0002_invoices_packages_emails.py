from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from decimal import Decimal
from gqlorders.models.emails import EmailState
from gqlorders.models.fields import ScaledDecimalField
from gqlorders.models.invoices import InvoiceStatus
from gqlorders.models.packages import PackageStatus
from gqlorders.models.sales_orders import DiscountType
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.CASCADE)),
                ('number', fields.CharField(max_length=50)),
                ('status', fields.CharEnumField(default=InvoiceStatus.DRAFT, description='DRAFT: DRAFT\nSENT: SENT\nVOID: VOID', enum_type=InvoiceStatus, max_length=8)),
                ('sales_order', fields.ForeignKeyField('models.SalesOrder', source_field='sales_order_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('date', fields.DateField()),
                ('due_date', fields.DateField()),
                ('currency', fields.CharField(max_length=3)),
                ('billing_address', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('shipping_address', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('discount_type', fields.CharEnumField(null=True, description='PERCENTAGE: PERCENTAGE\nAMOUNT: AMOUNT', enum_type=DiscountType, max_length=12)),
                ('discount_value', ScaledDecimalField(null=True, places=4)),
                ('discount_amount', ScaledDecimalField(default=Decimal('0'), db_default=0, places=2)),
                ('shipping_charge', ScaledDecimalField(default=Decimal('0'), db_default=0, places=2)),
                ('adjustment_label', fields.CharField(null=True, max_length=100)),
                ('adjustment_amount', ScaledDecimalField(null=True, places=2)),
                ('sub_total', ScaledDecimalField(default=Decimal('0'), db_default=0, places=2)),
                ('tax_totals', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('tax_total', ScaledDecimalField(default=Decimal('0'), db_default=0, places=2)),
                ('total', ScaledDecimalField(default=Decimal('0'), db_default=0, places=2)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'invoice', 'app': 'models', 'unique_together': (('organization', 'number'),), 'indexes': [Index(fields=['organization_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EmailMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='emails', on_delete=OnDelete.CASCADE)),
                ('sales_order', fields.ForeignKeyField('models.SalesOrder', source_field='sales_order_id', null=True, db_constraint=True, to_field='id', related_name='emails', on_delete=OnDelete.CASCADE)),
                ('invoice', fields.ForeignKeyField('models.Invoice', source_field='invoice_id', null=True, db_constraint=True, to_field='id', related_name='emails', on_delete=OnDelete.CASCADE)),
                ('to', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('cc', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('subject', fields.CharField(max_length=300)),
                ('body', fields.TextField(default='', unique=False)),
                ('state', fields.CharEnumField(default=EmailState.QUEUED, description='QUEUED: QUEUED\nSENT: SENT\nFAILED: FAILED', enum_type=EmailState, max_length=8)),
                ('error', fields.TextField(null=True, unique=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'email_message', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice', fields.ForeignKeyField('models.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('sales_order_line', fields.ForeignKeyField('models.SalesOrderLine', source_field='sales_order_line_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('item', fields.ForeignKeyField('models.Item', source_field='item_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('description', fields.TextField(null=True, unique=False)),
                ('quantity', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
                ('rate', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
                ('discount_percent', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
                ('tax', fields.ForeignKeyField('models.Tax', source_field='tax_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('amount', ScaledDecimalField(default=Decimal('0'), db_default=0, places=2)),
            ],
            options={'table': 'invoice_line', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Package',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='packages', on_delete=OnDelete.CASCADE)),
                ('number', fields.CharField(max_length=50)),
                ('status', fields.CharEnumField(default=PackageStatus.PACKED, description='PACKED: PACKED\nSHIPPED: SHIPPED\nDELIVERED: DELIVERED', enum_type=PackageStatus, max_length=10)),
                ('sales_order', fields.ForeignKeyField('models.SalesOrder', source_field='sales_order_id', db_constraint=True, to_field='id', related_name='packages', on_delete=OnDelete.RESTRICT)),
                ('carrier', fields.CharField(null=True, max_length=100)),
                ('tracking_number', fields.CharField(null=True, max_length=100)),
                ('shipped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'package', 'app': 'models', 'unique_together': (('organization', 'number'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PackageLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('package', fields.ForeignKeyField('models.Package', source_field='package_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('sales_order_line', fields.ForeignKeyField('models.SalesOrderLine', source_field='sales_order_line_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('quantity', ScaledDecimalField(default=Decimal('0'), db_default=0, places=4)),
            ],
            options={'table': 'package_line', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
