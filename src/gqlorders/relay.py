"""The relay every server process and every `gqlorders worker` runs: it hands on the outbox's
jobs that no request handed on, and does the chores that keep background state moving.

It sits above the packages whose chores it runs (`emails`, `events`, `webhooks`), which
themselves enqueue through `jobs`: so `jobs` imports none of them, and no import goes back up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.timezone import now

from gqlorders import emails, events, jobs
from gqlorders.models import IdempotencyKey
from gqlorders.webhooks.fanout import dispatch_due

REQUEUE_EMAILS_EVERY = timedelta(minutes=5)
PRUNE_EVERY = timedelta(hours=1)

logger = logging.getLogger("gqlorders.jobs")  # the outbox's logger, as before the move


@dataclass
class RelayPasses:
    """When a process's relay last did its slower chores."""

    requeued_at: datetime | None = None
    pruned_at: datetime | None = None


async def relay_forever(interval: float = 2.0) -> None:
    """Every `interval` seconds, `relay_pass`; failures are logged and the next pass tries
    again. (The first e-mail requeue comes after REQUEUE_EMAILS_EVERY: a server has just done
    one as it started.)"""
    done = RelayPasses(requeued_at=now())
    while True:
        await asyncio.sleep(interval)
        try:
            await relay_pass(done)
        except Exception:
            logger.exception("the outbox relay failed; trying again")


async def relay_pass(done: RelayPasses | None = None) -> None:
    """Pick up jobs no request handed on (Redis was down, another process committed them, a
    process died holding them: after the runner's `reclaim_after`); settle the e-mails whose
    sender died mid-send (sent again, or FAILED if their content was on its way: never sent
    twice, SPEC §8); every few minutes give a job to a QUEUED e-mail left without one (e.g.
    its job gave up while rendering); give the feed's new events their place; hand due webhook
    deliveries on; and, hourly, prune the rows of old jobs, expired idempotency keys and the
    feed's expired events."""
    done = done or RelayPasses()
    runner = jobs.current_runner()
    await jobs.reclaim_stale(runner.reclaim_after if runner is not None else jobs.STALE_AFTER)
    await emails.recover_stalled_sends()
    if done.requeued_at is None or now() - done.requeued_at >= REQUEUE_EMAILS_EVERY:
        await emails.requeue_waiting()
        done.requeued_at = now()
    await events.sequence()  # a feed event no reader has asked for yet gets its place
    await dispatch_due()  # webhook retries, and deliveries whose job was lost
    await jobs.after_request()
    if done.pruned_at is None or now() - done.pruned_at >= PRUNE_EVERY:
        await jobs.prune_done()
        await IdempotencyKey.prune_expired()
        await events.prune_expired()
        done.pruned_at = now()
