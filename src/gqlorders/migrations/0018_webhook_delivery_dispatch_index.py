"""Webhook deliveries indexed by their dispatch token: a job reads the deliveries it holds by
token (one job per committing transaction, not a list of ids per event)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_tax_modes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='WebhookDelivery',
            index=Index(fields=['dispatch']),
        ),
    ]
