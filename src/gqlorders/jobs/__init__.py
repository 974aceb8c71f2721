"""Background jobs behind one small interface (SPEC §8; docs/architecture.md: arq may be
swapped).

`enqueue` writes an outbox row inside the caller's transaction: a committed change never
loses its job and a rolled-back one never enqueues any. After each request (and every few
seconds) the configured runner takes the committed rows:

- `InProcessRunner` (no REDIS_URL) runs the job functions in this process: quick ones before
  the response, slow ones (PDF, e-mail) in background tasks;
- `RedisRelay` hands them to arq workers on this installation's queue (`jobs.queues`). While
  Redis is unreachable the rows stay in the outbox and go out when it returns.

A job's id is `outbox:<row id>:<row token>`: the row id repeats in every other database (and
in this one restored from a backup, under a Redis that ran the newer rows it lost), the random
token set at insert does not. arq refuses an id it still knows (queued, running, or a result
kept for an hour) by returning None: the relay then asks Redis why (`hand_on`) and never
leaves a row dispatched without a job in Redis or a recorded outcome.

A process that dies holding claimed rows leaves them dispatched with nothing in Redis (it
claims, then enqueues); they are handed out again once claimed for longer than the runner's
`reclaim_after`. Behind Redis that is short: a second hand-off of a job still queued or running
is refused and diagnosed (`hand_on`), never run twice. In process there is no such check, so the
age is far longer than any job runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Protocol

from tortoise.expressions import RawSQL
from tortoise.queryset import QuerySet
from tortoise.timezone import now

# Some only re-exported: the worker and the CLI reach job plumbing through `gqlorders.jobs`.
from gqlorders.jobs.grouped import enqueue_grouped as enqueue_grouped
from gqlorders.jobs.grouped import group_token as group_token
from gqlorders.jobs.queues import QueueClaimedError, Refusal, own_queue, refusal_reason
from gqlorders.jobs.queues import claim_queue as claim_queue
from gqlorders.jobs.queues import installation_id as installation_id
from gqlorders.jobs.queues import queue_name as queue_name
from gqlorders.jobs.queues import queue_status as queue_status
from gqlorders.jobs.queues import reset_installation as reset_installation
from gqlorders.models import OutboxJob
from gqlorders.models.outbox import new_token
from gqlorders.observability import JOB_HANDOFFS_LOST
from gqlorders.rows import column

logger = logging.getLogger("gqlorders.jobs")

RECALC_STOCK = "recalc_stock"
SEND_EMAIL = "send_email"
RENDER_PDF = "render_pdf"
IMPORT_INBOX = "import_inbox"
DELIVER_WEBHOOKS = "deliver_webhooks"

MAX_TRIES = 6
STALE_AFTER = timedelta(minutes=10)  # in process: far longer than any job runs
# Behind Redis: time enough for a live relay to enqueue what it claimed (milliseconds).
HANDOFF_STALE_AFTER = timedelta(minutes=2)
KEEP_DONE = timedelta(days=7)  # how long the row of a job that ran is kept
PAYLOAD_VALUES_PER_QUERY = 500  # bounded IN lists: databases cap a query's parameters

JobFunction = Callable[..., Awaitable[Any]]


class RetryLater(Exception):
    """Raised by a job whose failure is transient (SMTP down, database busy)."""

    def __init__(self, defer_seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {defer_seconds}s")
        self.defer_seconds = defer_seconds


class RequestJobs:
    """Whether a request wrote outbox rows; shared (mutable) with the tasks it starts."""

    wrote = False


_request_jobs: ContextVar[RequestJobs | None] = ContextVar("gqlorders_request_jobs", default=None)


@contextmanager
def tracking_request() -> Iterator[RequestJobs]:
    """Note whether the block enqueues jobs: a request that did not need not poll the outbox."""
    tracked = RequestJobs()
    token = _request_jobs.set(tracked)
    try:
        yield tracked
    finally:
        _request_jobs.reset(token)


async def enqueue(job: str, **payload: Any) -> OutboxJob:
    """Record a job in the current transaction; it runs only once that transaction commits."""
    row = await OutboxJob.create(job=job, payload=payload)
    tracked = _request_jobs.get()
    if tracked is not None:
        tracked.wrote = True
    return row


def waiting() -> QuerySet[OutboxJob]:
    """Jobs to hand on: not dispatched, and not done (a stale claim handed out again whose
    first run then finished is not to run again). Served by the partial index of migration 0011,
    which holds only the rows not done."""
    return OutboxJob.filter(dispatched_at__isnull=True, done_at__isnull=True)


async def claim_pending(limit: int = 100) -> list[OutboxJob]:
    """Committed, not yet dispatched jobs, each claimed by exactly one caller."""
    claimed = []
    for row in await waiting().order_by("id").limit(limit):
        if await waiting().filter(id=row.id).update(dispatched_at=now()):
            claimed.append(row)
    return claimed


def job_id(row: OutboxJob) -> str:
    """The job's id in arq: unique in every Redis (see the module's docstring)."""
    return f"outbox:{row.id}:{row.token}"


async def mark_done(job_id: str) -> None:
    """Record that the job `outbox:<id>:<token>` ran (or gave up for good). An id of another
    form, or whose token is not the row's (a job of another database, or of this one before a
    restore), marks nothing."""
    match job_id.split(":"):
        case ["outbox", row_id, token] if row_id.isdigit() and token:
            await OutboxJob.filter(id=int(row_id), token=token).update(done_at=now())


async def pending_payload_values(job: str, key: str, values: Collection[int]) -> set[int]:
    """Of `values`, those given as `key` in the payload of a `job` not done yet: waiting in
    the outbox, in Redis, or held by a process that died (`reclaim_stale` hands it out again).
    Matched in SQL, not by reading every pending job; as text, so that a payload holding
    anything else there matches nothing instead of failing the query."""
    if not key.isidentifier():  # spliced into the SQL below
        raise ValueError(f"not a payload key: {key!r}")
    if OutboxJob._meta.db.capabilities.dialect == "postgres":
        value = RawSQL(f"\"payload\"->>'{key}'")
    else:
        value = RawSQL(f"CAST(json_extract(\"payload\", '$.{key}') AS TEXT)")
    texts = sorted({str(int(given)) for given in values})
    found: set[int] = set()
    for start in range(0, len(texts), PAYLOAD_VALUES_PER_QUERY):
        found.update(
            int(found_value)
            for found_value in await column(
                OutboxJob.filter(job=job, done_at__isnull=True)
                .annotate(payload_value=value)
                .filter(payload_value__in=texts[start : start + PAYLOAD_VALUES_PER_QUERY]),
                "payload_value",
            )
        )
    return found


async def outbox_status() -> dict[str, Any]:
    """What an operator asks first when jobs seem not to run: how many wait to be handed on,
    how many were handed on and are not done, and how long the oldest waiting one has."""
    oldest = await waiting().order_by("id").first()
    return {
        "waiting": await waiting().count(),
        "dispatched_not_done": await OutboxJob.filter(
            dispatched_at__isnull=False, done_at__isnull=True
        ).count(),
        "oldest_waiting_seconds": (
            round((now() - oldest.created_at).total_seconds(), 1) if oldest else None
        ),
    }


async def reclaim_stale(older_than: timedelta = STALE_AFTER) -> int:
    """Hand out again the jobs claimed long ago that never ran: their process died between
    the claim and the end of the job. (Jobs are idempotent; arq ignores a second hand-off of
    a job it still has.)"""
    return await OutboxJob.filter(
        dispatched_at__lt=now() - older_than, done_at__isnull=True
    ).update(dispatched_at=None)


async def prune_done(older_than: timedelta = KEEP_DONE) -> int:
    """Delete the rows of jobs that ran long ago: the outbox only needs rows still to run (and
    recent ones, for the record); without this it grows with every change forever."""
    return await OutboxJob.filter(done_at__lt=now() - older_than).delete()


async def release(rows: list[OutboxJob]) -> None:
    """Give claimed rows back to the outbox (their hand-off failed)."""
    if rows:
        await OutboxJob.filter(id__in=[row.id for row in rows]).update(dispatched_at=None)


async def renew(row: OutboxJob) -> None:
    """Give a claimed row back to the outbox under a new token: its next hand-off is a new job
    id, which arq does not refuse for what it keeps of the old one (a failed result). Only if
    the row still has the token it was claimed with."""
    await OutboxJob.filter(id=row.id, token=row.token).update(token=new_token(), dispatched_at=None)


class Runner(Protocol):
    # How long a claimed, not done row stays dispatched before it is handed out again (its
    # process died between the claim and the hand-off, or the run).
    reclaim_after: timedelta

    async def after_commit(self) -> None:
        """Hand the committed jobs on (after each request, and periodically)."""

    async def drain(self) -> None:
        """Wait until the jobs handed on by this process are done (tests)."""

    async def stop(self, grace: float) -> None:
        """Shutdown: wait up to `grace` seconds for the jobs running in this process, then
        cancel the others and wait for them to put their work back."""


async def finish_or_cancel(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """A shutdown's wait for a process's background tasks: up to `grace` seconds for them (and
    those they start meanwhile: `tasks` is the live set their owner keeps) to finish, then the
    rest cancelled and awaited, so that each can put its work back while the database is open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while tasks and (left := deadline - loop.time()) > 0:
        await asyncio.wait(list(tasks), timeout=left)
    while tasks:
        late = list(tasks)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


class InProcessRunner:
    """Runs job functions in this process: the embedded default, one command serves all."""

    reclaim_after = STALE_AFTER  # a job may still be running in another process

    def __init__(
        self,
        functions: Mapping[str, JobFunction],
        context: dict[str, Any],
        inline: frozenset[str] = frozenset({RECALC_STOCK}),
    ) -> None:
        self.functions = dict(functions)
        self.context = context
        self.inline = inline
        self.tasks: set[asyncio.Task[None]] = set()

    async def after_commit(self) -> None:
        while batch := await claim_pending():
            for row in batch:
                if row.job in self.inline:
                    await self._run(row)
                else:
                    task = asyncio.create_task(self._run(row))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)

    async def _run(self, row: OutboxJob) -> None:
        function = self.functions.get(row.job)
        if function is None:
            logger.error("no function for job %s (outbox id %s)", row.job, row.id)
            return
        wrote_jobs = False
        try:
            for attempt in range(1, MAX_TRIES + 1):
                context = {**self.context, "job_id": job_id(row), "job_try": attempt}
                try:
                    with tracking_request() as tracked:
                        await function(context, **row.payload)
                    wrote_jobs = tracked.wrote
                    break
                except RetryLater as retry:
                    logger.warning("job %s (outbox id %s): %s", row.job, row.id, retry)
                    await asyncio.sleep(retry.defer_seconds)
                except Exception:
                    logger.exception("job %s (outbox id %s) failed", row.job, row.id)
                    break
        except asyncio.CancelledError:
            # Stopped, not done (a server shutting down): back to the outbox, so that the next
            # relay pass of any process runs it again, as arq reruns a job it cancelled.
            await release([row])
            raise
        await mark_done(job_id(row))
        if wrote_jobs:  # e.g. the stock job of an imported order: run it now, not at the next poll
            await self.after_commit()

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def stop(self, grace: float) -> None:
        """Wait up to `grace` seconds for the background jobs (a send stuck in retries could
        hold a shutdown for minutes), then cancel the rest: each gives its outbox row back
        (and an e-mail its message, see `send_email`), awaited while the database is open."""
        await finish_or_cancel(self.tasks, grace)


class RedisRelay:
    """Moves committed outbox rows to arq (SPEC §8), on this installation's queue: `queue`
    (ARQ_QUEUE), or `gqlorders:<installation id>`."""

    reclaim_after = HANDOFF_STALE_AFTER  # `hand_on` tells a job still in Redis from a lost one

    def __init__(self, redis_url: str, queue: str | None = None) -> None:
        self.redis_url = redis_url
        self.configured_queue = queue
        self.queue: str | None = None  # known once claimed in Redis
        self._pool: Any = None

    async def _arq(self) -> Any:
        from arq import create_pool
        from arq.connections import RedisSettings

        if self._pool is None:
            settings = RedisSettings.from_dsn(self.redis_url)
            settings.conn_retries = 0
            pool = await create_pool(settings)
            try:
                self.queue = await own_queue(pool, self.configured_queue)
            except BaseException:
                await pool.aclose()
                raise
            self._pool = pool
        return self._pool

    async def after_commit(self) -> None:
        while batch := await claim_pending():
            sent = 0
            try:
                pool = await self._arq()
                for row in batch:
                    await self.hand_on(pool, row)
                    sent += 1
            except Exception as error:  # unreachable, read-only, out of memory...: retry later
                waiting = len(batch) - sent
                log = logger.error if isinstance(error, QueueClaimedError) else logger.warning
                log("Redis refused, %d job(s) wait in the outbox: %s", waiting, error)
                await release(batch[sent:])
                await self.close()
                return

    async def hand_on(self, pool: Any, row: OutboxJob) -> None:
        """Enqueue the claimed row's job. When arq refuses its id, the row stays dispatched
        only if the job is in Redis, and is done only if arq holds its successful result; a
        failed result (timed out, cancelled, its worker died too often) or nothing at all
        (counted: something removed the job from Redis meanwhile) puts the row back under a
        new job id, and this pass of the relay hands it on again."""
        arq_id = job_id(row)
        if await pool.enqueue_job(row.job, _job_id=arq_id, _queue_name=self.queue, **row.payload):
            return
        refusal = await refusal_reason(pool, arq_id)
        if refusal is Refusal.SUCCEEDED:
            await mark_done(arq_id)
        elif refusal is Refusal.FAILED:
            logger.warning("arq holds a failed run of job %s: handed on again as a new job", arq_id)
            await renew(row)
        elif refusal is Refusal.UNKNOWN:
            logger.warning("arq refused job %s and holds nothing of it: back to the outbox", arq_id)
            JOB_HANDOFFS_LOST.labels(row.job).inc()
            await renew(row)

    async def drain(self) -> None:
        """Jobs run in the workers: nothing to wait for in this process."""

    async def stop(self, grace: float) -> None:
        """Jobs run in the workers: nothing to stop in this process."""

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await pool.aclose()
            except Exception:
                logger.debug("closing the Redis pool failed", exc_info=True)


_runner: Runner | None = None


def configure(runner: Runner | None) -> None:
    global _runner
    _runner = runner


def current_runner() -> Runner | None:
    return _runner


async def after_request() -> None:
    """Hand on committed jobs. Never fails the request: its change is committed already, and
    whatever is not handed on now the periodic relay picks up."""
    if _runner is None:
        return
    try:
        await _runner.after_commit()
    except Exception:
        logger.exception("handing on jobs failed; the relay will retry")
