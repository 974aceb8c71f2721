"""Idempotent mutations (README "Idempotent writes"): a client that sends a key with a mutation
may send it again, after a timeout or a crash, and gets the first answer instead of a second run.

The key comes in the `Idempotency-Key` header or in `@idempotent(key:)` on the mutation field
(`keys`: the HTTP and GraphQL side, no database). A keyed request runs in one outer
transaction that first claims the key (INSERT of its row), then runs the mutation (whose own
transactions become savepoints of it) and stores the answer in the row (`storage`: the SQL):
the changes and the key commit together or not at all. A concurrent request with the same key
waits until the first ends, then replays its answer, or runs if the first rolled back (`runs`).
On PostgreSQL it waits outside the database, holding no pooled connection, for at most
WAIT_FOR_FIRST (then IDEMPOTENCY_KEY_IN_USE, 409); on SQLite the single writer makes it wait
like any write.
"""

from gqlorders.api.idempotency.keys import HEADER, KeyedRequest, Refused, idempotent, keyed_request
from gqlorders.api.idempotency.runs import REPLAYED_HEADER, jobs_deferred, run_keyed

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "KeyedRequest",
    "Refused",
    "idempotent",
    "jobs_deferred",
    "keyed_request",
    "run_keyed",
]
