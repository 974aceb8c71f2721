"""An idempotency key's fingerprint names its form ("v2:" before the sha256, issue 14 review):
a key claimed before the fingerprint's form changed keeps the first form, which a retry still
matches. The prefix needs a longer column."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0021_feed_event_type_index')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='IdempotencyKey',
            name='request_hash',
            field=fields.CharField(max_length=80),
        ),
    ]
