"""Tax modes (issue 21): every order, invoice and organization so far is EXCLUSIVE (net rates);
the column default says so, and nothing else changes."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from gqlorders.money import TaxMode
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0016_webhooks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Invoice',
            name='tax_mode',
            field=fields.CharEnumField(default=TaxMode.EXCLUSIVE, description='EXCLUSIVE: EXCLUSIVE\nINCLUSIVE: INCLUSIVE', db_default='EXCLUSIVE', enum_type=TaxMode, max_length=9),
        ),
        ops.AddField(
            model_name='Organization',
            name='default_tax_mode',
            field=fields.CharEnumField(default=TaxMode.EXCLUSIVE, description='EXCLUSIVE: EXCLUSIVE\nINCLUSIVE: INCLUSIVE', db_default='EXCLUSIVE', enum_type=TaxMode, max_length=9),
        ),
        ops.AddField(
            model_name='SalesOrder',
            name='tax_mode',
            field=fields.CharEnumField(default=TaxMode.EXCLUSIVE, description='EXCLUSIVE: EXCLUSIVE\nINCLUSIVE: INCLUSIVE', db_default='EXCLUSIVE', enum_type=TaxMode, max_length=9),
        ),
    ]
