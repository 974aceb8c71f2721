"""Outgoing webhooks (webhooks/): endpoints, deliveries and their attempts."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from gqlorders.models.webhooks import WebhookDeliveryStatus, WebhookEndpointStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0015_event_feed')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2000)),
                ('description', fields.CharField(null=True, max_length=500)),
                ('event_types', fields.CharField(default='', db_default='', max_length=2000)),
                ('payload_query', fields.TextField(null=True, unique=False)),
                ('query_scopes', fields.CharField(default='', db_default='', max_length=500)),
                ('secret', fields.CharField(max_length=100)),
                ('previous_secret', fields.CharField(null=True, max_length=100)),
                ('previous_secret_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=WebhookEndpointStatus.ENABLED, description='ENABLED: ENABLED\nDISABLED: DISABLED', db_default='ENABLED', enum_type=WebhookEndpointStatus, max_length=10)),
                ('disabled_reason', fields.CharField(null=True, max_length=500)),
                ('failing_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhook_endpoint', 'app': 'models', 'indexes': [Index(fields=['organization_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.ForeignKeyField('models.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('event', fields.ForeignKeyField('models.FeedEvent', source_field='event_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('message_id', fields.CharField(unique=True, max_length=40)),
                ('status', fields.CharEnumField(default=WebhookDeliveryStatus.PENDING, description='PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED', db_default='PENDING', enum_type=WebhookDeliveryStatus, max_length=10)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('dispatch', fields.BigIntField(null=True)),
                ('failures', fields.IntField(default=0, db_default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhook_delivery', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['organization_id', 'id']), Index(fields=['endpoint_id', 'id']), Index(fields=['event_id'])], 'pk_attr': 'id', 'table_description': 'One event to one endpoint. While PENDING, `next_attempt_at` is when the sweep hands it'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('delivery', fields.ForeignKeyField('models.WebhookDelivery', source_field='delivery_id', db_constraint=True, to_field='id', related_name='attempts', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('response_status', fields.IntField(null=True)),
                ('duration_ms', fields.IntField()),
                ('response_excerpt', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'webhook_attempt', 'app': 'models', 'indexes': [Index(fields=['delivery_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
