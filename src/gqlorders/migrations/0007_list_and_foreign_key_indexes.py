from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_outbox_done_at')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='EmailMessage',
            index=Index(fields=['sales_order_id']),
        ),
        ops.AddIndex(
            model_name='EmailMessage',
            index=Index(fields=['invoice_id']),
        ),
        ops.AddIndex(
            model_name='Invoice',
            index=Index(fields=['sales_order_id']),
        ),
        ops.AddIndex(
            model_name='InvoiceLine',
            index=Index(fields=['invoice_id']),
        ),
        ops.AddIndex(
            model_name='InvoiceLine',
            index=Index(fields=['sales_order_line_id']),
        ),
        ops.AddIndex(
            model_name='Package',
            index=Index(fields=['sales_order_id']),
        ),
        ops.AddIndex(
            model_name='PackageLine',
            index=Index(fields=['package_id']),
        ),
        ops.AddIndex(
            model_name='PackageLine',
            index=Index(fields=['sales_order_line_id']),
        ),
        ops.RemoveIndex(
            model_name='SalesOrder',
            name=None,
            fields=['organization_id', 'created_at'],
        ),
        ops.RemoveIndex(
            model_name='SalesOrder',
            name=None,
            fields=['organization_id', 'date'],
        ),
        ops.RemoveIndex(
            model_name='SalesOrder',
            name=None,
            fields=['organization_id', 'customer_id'],
        ),
        ops.AddIndex(
            model_name='SalesOrder',
            index=Index(fields=['organization_id', 'created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='SalesOrder',
            index=Index(fields=['organization_id', 'status', 'created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='SalesOrder',
            index=Index(fields=['organization_id', 'customer_id', 'created_at', 'id']),
        ),
        ops.AddIndex(
            model_name='SalesOrder',
            index=Index(fields=['organization_id', 'date', 'id']),
        ),
    ]
