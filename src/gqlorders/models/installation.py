"""This database's identity among the installations that may share one Redis (issue 13)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Installation(Model):
    """This database's identity: one row, written by migration 0012 with a random id.

    It names the arq queue and claims it in Redis, so that installations sharing a Redis never
    take each other's jobs. A restored backup keeps it (its rows are the same rows); a clone
    run beside its original is given a new one (`gqlorders installation reset`)."""

    id = fields.IntField(primary_key=True)
    installation_id = fields.CharField(max_length=32, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "installation"
