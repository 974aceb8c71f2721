"""The first answer to a keyed mutation, kept so that a retry gets it again (README
"Idempotent writes")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model
from tortoise.timezone import now

if TYPE_CHECKING:
    from gqlorders.models.organizations import Organization


class IdempotencyKey(Model):
    """A key of an organization and the answer of the mutation first sent with it.

    The row is written by the transaction that runs the keyed mutation, with its answer, so a
    committed row always has one: `status` and `body` are null only while that transaction is
    open (its unique index entry is what a concurrent retry waits on)."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    key = fields.CharField(max_length=255)
    # sha256 of the normalized request: "v2:" and base64, or (keys claimed before) 64 hex digits
    request_hash = fields.CharField(max_length=64)
    status = fields.SmallIntField(null=True)  # the answer's HTTP status
    body = fields.BinaryField(null=True)  # the answer's bytes, replayed as they are
    # The scopes the first run checked (comma-separated): a replay to a token without one of
    # them is refused as a run would be, not given the answer.
    scopes = fields.CharField(max_length=200, default="", db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("organization", "key"),)

    @classmethod
    async def prune_expired(cls) -> int:
        """Delete the keys past their expiry (an expired key already counts as new); run with
        the outbox's hourly prune (relay.relay_forever)."""
        return await cls.filter(expires_at__lt=now()).delete()
