"""The transactional outbox (SPEC §8): a job is a row written in the transaction that causes it."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise import fields
from tortoise.models import Model


def new_token() -> str:
    return uuid.uuid4().hex


class OutboxJob(Model):
    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=50)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    # Random, set at insert: the row id repeats in another database (or in this one restored
    # from a backup), the token does not, so arq's job id `outbox:<id>:<token>` never meets a
    # job or result of another row in a shared Redis. '' only on rows done before migration 0012.
    token = fields.CharField(max_length=32, default=new_token, db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    dispatched_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)  # ran (or gave up for good): never reclaimed

    class Meta:
        table = "outbox_job"
        # Partial indexes on the rows still to run, and on the finished ones for pruning, are in
        # migration 0011 (raw SQL: tortoise's PartialIndex cannot say IS NULL).
