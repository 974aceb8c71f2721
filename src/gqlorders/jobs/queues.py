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
from typing import Any

from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix

from gqlorders.models import Installation

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


class Refusal(enum.Enum):
    """Why arq refused to enqueue a job id (`enqueue_job` returned None)."""

    QUEUED = "queued"  # the job is waiting or running: nothing to do
    FINISHED = "finished"  # arq keeps its result: the job ran
    UNKNOWN = "unknown"  # nothing left in Redis (expired meanwhile): hand it on again


async def refusal_reason(redis: Any, job_id: str) -> Refusal:
    """What arq holds under `job_id`. The job key and the in-progress key are looked at before
    the result, so that a job finishing meanwhile is seen as one or the other, not as gone."""
    if await redis.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id):
        return Refusal.QUEUED
    if await redis.exists(result_key_prefix + job_id):
        return Refusal.FINISHED
    return Refusal.UNKNOWN
