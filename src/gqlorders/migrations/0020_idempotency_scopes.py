"""Idempotency keys remember the scopes their first run checked (issue 14 review): a replay to a
token without one of them is refused as a run would be. Keys kept before have none recorded
and replay as before until they expire (a day at most). Not backfilled: a row does not say
which mutation it answered but in its body's JSON, and a blanket set (every write scope) would
refuse a genuine retry of a token with fewer scopes, whose order then exists unreported."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0019_feed_notify')]

    initial = False

    operations = [
        ops.AddField(
            model_name='IdempotencyKey',
            name='scopes',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
    ]
