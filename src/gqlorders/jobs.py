"""Background jobs behind one small interface (SPEC §8, STACK_NOTES: arq may be swapped).

`enqueue` writes an outbox row inside the caller's transaction: a committed change never
loses its job and a rolled-back one never enqueues any. After each request the configured
runner takes the committed rows: in-process (no REDIS_URL), it runs the job functions right
away; with Redis, a relay hands them to arq workers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from tortoise.timezone import now

from gqlorders.models import OutboxJob

logger = logging.getLogger("gqlorders.jobs")

RECALC_STOCK = "recalc_stock"
SEND_EMAIL = "send_email"
RENDER_PDF = "render_pdf"

JobFunction = Callable[..., Awaitable[Any]]


async def enqueue(job: str, **payload: Any) -> None:
    """Record a job in the current transaction; it runs only once that transaction commits."""
    await OutboxJob.create(job=job, payload=payload)


async def claim_pending(limit: int = 100) -> list[OutboxJob]:
    """Committed, not yet dispatched jobs, each claimed by exactly one caller."""
    claimed = []
    for row in await OutboxJob.filter(dispatched_at__isnull=True).order_by("id").limit(limit):
        if await OutboxJob.filter(id=row.id, dispatched_at__isnull=True).update(
            dispatched_at=now()
        ):
            claimed.append(row)
    return claimed


class Runner(Protocol):
    async def after_commit(self) -> None:
        """Called after each request (and periodically): hand committed jobs on."""


class InProcessRunner:
    """Runs job functions in this process: the embedded default, one command serves all."""

    def __init__(self, functions: Mapping[str, JobFunction]) -> None:
        self.functions = dict(functions)

    async def after_commit(self) -> None:
        while batch := await claim_pending():
            for row in batch:
                function = self.functions.get(row.job)
                if function is None:
                    logger.error("no function for job %s (outbox id %s)", row.job, row.id)
                    continue
                try:
                    await function({"job_id": str(row.id)}, **row.payload)
                except Exception:
                    logger.exception("job %s (outbox id %s) failed", row.job, row.id)


_runner: Runner | None = None


def configure(runner: Runner | None) -> None:
    global _runner
    _runner = runner


async def after_request() -> None:
    if _runner is not None:
        await _runner.after_commit()
