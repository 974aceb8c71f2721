"""The database side of idempotent mutations: claiming a key, storing the answer, reading it
back. Plain functions over the `idempotency_key` table, called inside the keyed request's one
transaction (api/idempotency/runs.py), which also holds the mutation's changes.

Locks, in the order they are taken: the key's turn (a transaction advisory lock on a 64-bit
hash of the organization and the key, seeded with KEY_LOCK, PostgreSQL only, tried and never
waited for), then
the key's row (its INSERT or UPDATE), then whatever the mutation locks. Both are held until the
transaction ends. Expired keys are deleted by `IdempotencyKey.prune_expired`, which the job
relay runs (the jobs layer does not import the API).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise import connections
from tortoise.timezone import now

from gqlorders.database import execute_sql
from gqlorders.models import IdempotencyKey
from gqlorders.tenancy import Scope, parse_scopes

# Seed of the 64-bit hash that is the advisory lock of a key's turn (PostgreSQL). One bigint
# key, not a (class, 32-bit hash) pair: with 32 bits, keys of different organizations share a
# turn often enough to make one wait for the other. (A one-bigint lock never meets the
# two-integer locks of the other classes: PostgreSQL keeps the two forms apart.)
KEY_LOCK = 7_014

# Claim the key: insert its row, or take over an expired one; no row comes back when a live
# one answers for the key (replay). Times are the database's (now(): one clock for every
# server of a deployment, whatever their own clocks say). Every claim of a key takes its turn
# first: a request whose turn is taken learns that the first with its key still runs without
# waiting in the database.
# Whoever gets the turn finds any earlier holder's row committed (the lock is released after
# the commit is visible), so the INSERT never waits for another claim.
_CLAIM_POSTGRES = """
WITH turn AS MATERIALIZED (
  SELECT pg_try_advisory_xact_lock(
    hashtextextended($1::bigint::text || ':' || $2::varchar, $5::bigint)
  ) AS taken
), claimed AS (
  INSERT INTO idempotency_key (organization_id, "key", request_hash, created_at, expires_at)
  SELECT $1::bigint, $2::varchar, $3::varchar, now(), now() + $4::interval
  FROM turn WHERE turn.taken
  ON CONFLICT (organization_id, "key") DO UPDATE SET request_hash = excluded.request_hash,
    created_at = excluded.created_at, expires_at = excluded.expires_at, status = NULL,
    body = NULL
  WHERE idempotency_key.expires_at <= excluded.created_at
  RETURNING id
)
SELECT turn.taken, (SELECT id FROM claimed) AS id FROM turn
"""

# SQLite: the transaction that claims holds the single writer's lock until it ends, so a
# second request with the key begins only after the first committed or rolled back.
_CLAIM_SQLITE = """
INSERT INTO idempotency_key (organization_id, "key", request_hash, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (organization_id, "key") DO UPDATE SET request_hash = excluded.request_hash,
  created_at = excluded.created_at, expires_at = excluded.expires_at, status = NULL, body = NULL
WHERE idempotency_key.expires_at <= excluded.created_at
RETURNING id
"""


# Written by hand, not built by the ORM on every keyed request: it is a fixed statement
# (prepared once per connection).
_STORE_ANSWER = (
    "UPDATE idempotency_key SET status = $2, body = $3, scopes = $4 WHERE id = $1 RETURNING id"
)


class KeyInUse(Exception):
    """Another transaction holds the key's turn: the first request with it still runs."""


class KeyRowLost(Exception):
    """The key's row is not as this transaction left it (none to store the answer in, or a
    committed one without its answer): a broken invariant, answered as a server error, and
    the keyed request's transaction rolls back."""


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str  # of the request that was answered
    status: int
    body: bytes
    scopes: frozenset[Scope]  # the scopes its run checked


async def claim(organization_id: int, key: str, request_hash: str, ttl: timedelta) -> int | None:
    """Claim the organization's key for a request: the id of its row, now this transaction's,
    or None when a live row answers for the key (`stored_answer`). Raises KeyInUse when
    another transaction holds the key's turn (PostgreSQL): end the transaction before waiting.

    First statement of the keyed request's transaction: it takes the key's turn, then the
    row's lock (the row of an expired key is taken over), before the mutation takes any."""
    if connections.get("default").capabilities.dialect != "postgres":
        at = now()
        params: list[Any] = [organization_id, key, request_hash, at, at + ttl]
        claimed = await execute_sql(_CLAIM_SQLITE, params)
        return claimed[0]["id"] if claimed else None
    (row,) = await execute_sql(_CLAIM_POSTGRES, [organization_id, key, request_hash, ttl, KEY_LOCK])
    if not row["taken"]:
        raise KeyInUse
    return row["id"]


async def store_answer(claimed: int, status: int, body: bytes, scopes_checked: set[Scope]) -> None:
    """Keep the answer in the row `claim` gave, in the same transaction as the mutation's
    changes (whose row lock it already holds): they commit together or not at all."""
    stored = await execute_sql(
        _STORE_ANSWER, [claimed, status, body, ",".join(sorted(scopes_checked))]
    )
    if not stored:
        raise KeyRowLost(f"idempotency key row {claimed} is gone: its answer cannot be kept")


async def stored_answer(organization_id: int, key: str) -> StoredAnswer:
    """The committed answer to the organization's key, after `claim` found it live (in the
    same transaction, which holds the key's turn: no claim can take the row over meanwhile)."""
    stored = await IdempotencyKey.get(organization_id=organization_id, key=key)
    if stored.status is None or stored.body is None:  # a committed row has its answer
        raise KeyRowLost(f"idempotency key row {stored.id} was committed without its answer")
    return StoredAnswer(
        stored.request_hash, stored.status, bytes(stored.body), parse_scopes(stored.scopes)
    )
