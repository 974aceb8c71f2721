"""The arq worker process (`gqlorders worker`): our job functions on Redis (SPEC §8)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from functools import wraps
from typing import Any

from arq import Retry, func
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Worker
from tortoise import Tortoise

from gqlorders import events, jobs
from gqlorders.config import Settings
from gqlorders.database import connected, prepare_data_dir, tortoise_config
from gqlorders.emails import SEND_DEADLINE
from gqlorders.relay import relay_forever
from gqlorders.webhooks import policy as webhook_policy
from workers.jobs import FUNCTIONS, RENDER_ALLOWANCE
from workers.mail import QUIT_TIMEOUT
from workers.webhooks import stop_sender

# arq cuts a job short at its timeout and never runs it again, leaving its outbox row pending:
# the e-mail job must outlast its PDF render (RENDER_ALLOWANCE, after which it leaves the send
# to a new run), its send (SEND_DEADLINE), its QUIT (QUIT_TIMEOUT) and a few database writes.
# The jobs of a worker that died run again once arq's in-progress mark expires, i.e. the
# longest timeout of any job plus 10 s (arq 0.28, `Worker.in_progress_timeout_s`): keeping every
# timeout short is what makes a dead worker's jobs run again within 100 s -- and never while
# their first run may still be alive, which arq has cut short by then.
SEND_EMAIL_TIMEOUT = RENDER_ALLOWANCE + SEND_DEADLINE + timedelta(seconds=QUIT_TIMEOUT + 5)
JOB_TIMEOUT = timedelta(seconds=60)  # any other job: a stock recalculation, a PDF, an import
TIMEOUTS = {jobs.SEND_EMAIL: SEND_EMAIL_TIMEOUT}
# The worker's start and stop are ours to log: arq's INFO lines, a line per job with its
# arguments among them, stay out of the log below WARNING (observability.configure_logging).
logger = logging.getLogger("gqlorders.workers")


def _arq_job(function: jobs.JobFunction) -> WorkerCoroutine:
    """arq retries only on its own Retry (docs/architecture.md): translate ours. A job cancelled
    (the worker stopping) is not done: arq runs it again, so its outbox row stays pending."""

    @wraps(function)
    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = await function(ctx, *args, **kwargs)
        except jobs.RetryLater as retry:
            if ctx.get("job_try", 1) < jobs.MAX_TRIES:
                raise Retry(defer=retry.defer_seconds) from retry
            await jobs.mark_done(ctx["job_id"])  # arq gives up: so does the outbox
            raise
        except Exception:
            await jobs.mark_done(ctx["job_id"])  # failed for good (and recorded by the job)
            raise
        await jobs.mark_done(ctx["job_id"])
        return result

    return run


async def worker_queue(settings: Settings) -> str:
    """The queue of the installation of DATABASE_URL (`jobs.queue_name`): ARQ_QUEUE, or the
    installation's own. The worker claims it in Redis as it starts (`build_worker`); raises
    `jobs.QueueClaimedError` for an ARQ_QUEUE that is another installation's own queue."""
    async with connected(settings):
        return jobs.queue_name(await jobs.installation_id(), settings.arq_queue)


def build_worker(
    settings: Settings,
    *,
    queue: str,
    burst: bool = False,
    relay: bool = True,
    init_database: bool = True,
) -> Worker:
    """A worker for REDIS_URL taking the jobs of `queue` (`worker_queue`); it also relays the
    outbox, so jobs committed while Redis was down go out even when no API request comes. As
    it starts it claims `queue` for its database's installation, and refuses to start
    (`jobs.QueueClaimedError`, raised by `Worker.run`/`main`) if another installation owns it.

    `init_database=False` leaves the ORM to the caller, who has it open already (tests run a
    burst worker inside their own session: a second `Tortoise.init` would re-initialize that
    same context and the worker's shutdown would close it)."""
    redis_url = settings.redis_url
    assert redis_url, "the worker needs REDIS_URL"

    async def startup(ctx: dict[str, Any]) -> None:
        prepare_data_dir(settings)
        if init_database:
            await Tortoise.init(
                config=tortoise_config(settings.database_url), _enable_global_fallback=True
            )
        installation = await jobs.installation_id()
        await jobs.claim_queue(ctx["redis"], jobs.queue_name(installation, queue), installation)
        ctx["settings"] = settings
        events.configure(settings.event_retention)
        webhook_policy.configure_from(settings)
        jobs.configure(jobs.RedisRelay(redis_url, queue))
        await jobs.after_request()
        if relay:
            ctx["relay"] = asyncio.create_task(relay_forever())
        logger.info("worker started: the jobs of queue %s", queue)
        ctx["started"] = True

    async def shutdown(ctx: dict[str, Any]) -> None:
        task = ctx.get("relay")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await stop_sender()  # webhook sends in flight recorded, not sent again after a deploy
        runner = jobs.current_runner()
        if isinstance(runner, jobs.RedisRelay):
            await runner.close()
        if init_database:
            await Tortoise.close_connections()
        if ctx.get("started"):  # arq shuts down a worker whose startup failed, too
            logger.info("worker stopped")

    return Worker(
        functions=[
            func(
                _arq_job(function),
                name=name,
                max_tries=jobs.MAX_TRIES,
                timeout=TIMEOUTS.get(name),
            )
            for name, function in FUNCTIONS.items()
        ],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=queue,
        on_startup=startup,
        on_shutdown=shutdown,
        job_timeout=JOB_TIMEOUT,
        burst=burst,
        handle_signals=not burst,
        poll_delay=0.2,
    )
