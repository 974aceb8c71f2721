"""One job for all the work of a transaction: the first piece of work enqueues it, the others
join it (the job finds its work by a token its payload carries, e.g. webhook deliveries).

A savepoint rolled back takes the job's outbox row with it, though tortoise keeps the outer
transaction's connection (what the token is remembered by): so before joining, the row is
looked up in the transaction -- by its id and its own random token, since SQLite gives a
rolled-back row's id to the next row. The job exists exactly when some work under its token
commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

from gqlorders.models import OutboxJob


@dataclass(frozen=True)
class _Grouped:
    token: int
    row_id: int
    row_token: str  # the outbox row's own token: ids of rolled-back rows come again on SQLite


# The job of each open transaction that enqueued one, by job name.
_open: WeakKeyDictionary[BaseDBAsyncClient, dict[str, _Grouped]] = WeakKeyDictionary()


def _current() -> BaseDBAsyncClient | None:
    db = connections.get("default")
    return db if isinstance(db, TransactionalDBClient) else None


def group_token(job: str) -> int:
    """The token to write the current transaction's work for `job` under: that of its job
    enqueued already (`enqueue_grouped`), or a new one (outside a transaction, always)."""
    db = _current()
    grouped = _open.get(db, {}).get(job) if db is not None else None
    return grouped.token if grouped is not None else secrets.randbits(62)


async def enqueue_grouped(job: str, token: int, **payload: Any) -> None:
    """Enqueue `job` for the work written under `token` (from `group_token`), unless the
    current transaction holds that job's outbox row already. Outside a transaction: a job."""
    from gqlorders.jobs import enqueue  # the package imports this module

    db = _current()
    grouped = _open.get(db, {}).get(job) if db is not None else None
    if (
        grouped is not None
        and grouped.token == token
        and await OutboxJob.filter(id=grouped.row_id, token=grouped.row_token, job=job).exists()
    ):
        return
    row = await enqueue(job, **payload)
    if db is not None:
        _open.setdefault(db, {})[job] = _Grouped(token, row.id, row.token)
