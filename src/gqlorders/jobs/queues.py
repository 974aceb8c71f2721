"""Which arq queue is this installation's, and what arq knows of a job id (issue 13).

Several deployments may share one Redis (staging and production, two tenants). Each database
has an installation id (migration 0012); its jobs go to its own queue, `gqlorders:<installation
id>` unless ARQ_QUEUE names another, and the first worker or relay to use a queue claims it in
Redis (`gqlorders:queue-owner:<queue>` holds the installation id, with no expiry). A process
whose database is another installation than the queue's owner refuses: its workers would run
that installation's jobs against the wrong database.
"""

from __future__ import annotations

import enum
import re
import uuid
from typing import Any

from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.jobs import DeserializationError, Job
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tortoise.transactions import in_transaction

from gqlorders.models import Installation, OutboxJob
from gqlorders.models.outbox import new_token
from gqlorders.rows import column

QUEUE_PREFIX = "gqlorders:"
OWNER_KEY_PREFIX = "gqlorders:queue-owner:"
_DEFAULT_QUEUE = re.compile(rf"^{QUEUE_PREFIX}([0-9a-f]{{32}})$")


class QueueClaimedError(Exception):
    """This database and the queue it was told to use belong to different installations."""


async def installation_id() -> str:
    """This database's installation id (written once, by `gqlorders migrate`)."""
    installation = await Installation.first()
    if installation is None:
        raise QueueClaimedError("this database has no installation id: run `gqlorders migrate`")
    return installation.installation_id


async def reset_installation() -> tuple[str, str]:
    """Give this database a new installation id (`gqlorders installation reset`): for a clone
    of another installation's database (a staging database built from a production backup)
    that runs on the same Redis beside it. Returns (the old id, the new one).

    The clone's jobs not done yet are the original's too, queued (or run) on the original's
    queue by the original's workers against the original's database: here they go back to the
    outbox under new tokens, so that this installation's relay hands them to its own queue.
    The original's claim of its queue in Redis is left alone. One transaction: the id and the
    rows change together."""
    async with in_transaction():
        installation = await Installation.all().select_for_update().first()
        if installation is None:
            raise QueueClaimedError("this database has no installation id: run `gqlorders migrate`")
        old, new = installation.installation_id, uuid.uuid4().hex
        await Installation.filter(id=installation.id).update(installation_id=new)
        pending = await column(OutboxJob.filter(done_at__isnull=True), "id")
        for row_id in pending:
            await OutboxJob.filter(id=row_id).update(token=new_token(), dispatched_at=None)
    return old, new


def queue_name(installation: str, configured: str | None) -> str:
    """ARQ_QUEUE, or the installation's own queue. Refuses an ARQ_QUEUE that is another
    installation's own queue (copied from another deployment's settings)."""
    if configured is None:
        return f"{QUEUE_PREFIX}{installation}"
    named = _DEFAULT_QUEUE.match(configured)
    if named and named.group(1) != installation:
        raise QueueClaimedError(
            f"ARQ_QUEUE={configured} is the queue of installation {named.group(1)}, and this "
            f"database is installation {installation}: unset ARQ_QUEUE (this installation's "
            f"queue is {QUEUE_PREFIX}{installation}) or name a queue of its own"
        )
    return configured


def owner_key(queue: str) -> str:
    return f"{OWNER_KEY_PREFIX}{queue}"


async def claim_queue(redis: Any, queue: str, installation: str) -> None:
    """Record this installation as the owner of `queue` in Redis, or refuse if another one is.

    A database dropped and created again is a new installation: under the default queue name
    it simply gets a new queue; under a fixed ARQ_QUEUE it is refused until the old claim is
    deleted by hand (the old installation's jobs may still be queued there)."""
    key = owner_key(queue)
    while not await redis.set(key, installation, nx=True):
        owner = await redis.get(key)
        if owner is None:  # deleted between the two commands: claim again
            continue
        owner = owner.decode() if isinstance(owner, bytes) else owner
        if owner == installation:
            return
        raise QueueClaimedError(
            f"the arq queue {queue!r} on this Redis belongs to installation {owner}, and this "
            f"database is installation {installation}: its workers would run the other "
            "installation's jobs against this database. Give this deployment its own queue "
            "(unset ARQ_QUEUE, or set another), or, if installation "
            f"{owner} is gone for good, delete the Redis key {key!r}"
        )


async def own_queue(redis: Any, configured: str | None) -> str:
    """The queue of this database's installation, claimed in `redis`."""
    installation = await installation_id()
    queue = queue_name(installation, configured)
    await claim_queue(redis, queue, installation)
    return queue


async def queue_status(redis_url: str, queue: str) -> dict[str, Any]:
    """Who owns `queue` in Redis and how many jobs it holds (`gqlorders jobs status`); or that
    Redis is unreachable."""
    try:
        async with Redis.from_url(redis_url, socket_connect_timeout=2) as redis:
            owner = await redis.get(owner_key(queue))
            return {
                "queue_owner": owner.decode() if owner else None,
                "queued_in_redis": await redis.zcard(queue),
            }
    except (OSError, RedisError) as error:
        return {"queue_owner": None, "redis": f"unreachable: {error}"}


class Refusal(enum.Enum):
    """Why arq refused to enqueue a job id (`enqueue_job` returned None)."""

    QUEUED = "queued"  # the job is waiting or running: nothing to do
    SUCCEEDED = "succeeded"  # arq keeps its result, a success: the job ran
    # arq keeps a failed result: cut short at its timeout, cancelled, expired, or never run
    # because its worker died too often ("max retries exceeded"); the job's own failures are
    # recorded by the job (`arq_worker`), so this one did not take effect: run it again
    FAILED = "failed"
    UNKNOWN = "unknown"  # nothing readable left in Redis (expired meanwhile): hand it on again


async def refusal_reason(redis: Any, job_id: str) -> Refusal:
    """What arq holds under `job_id` (`redis`: an arq pool, whose deserializer reads results).
    The job key and the in-progress key are looked at before the result, so that a job
    finishing meanwhile is seen as one or the other, not as gone."""
    if await redis.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id):
        return Refusal.QUEUED
    job = Job(job_id, redis, _deserializer=getattr(redis, "job_deserializer", None))
    try:
        result = await job.result_info()
    except DeserializationError:  # a key under the id that is not arq's record of a run
        return Refusal.UNKNOWN
    if result is None:
        return Refusal.UNKNOWN
    return Refusal.SUCCEEDED if result.success else Refusal.FAILED
