"""The event feed filtered by type reads that type's events only: an index on (organization,
type, position) beside (organization, position) (issue 14 review: on 10M events a page of a
rare type otherwise reads ~100,000 events; bench/events.py --plan-rows)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0020_idempotency_scopes')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='FeedEvent',
            index=Index(fields=['organization_id', 'type', 'position']),
        ),
    ]
