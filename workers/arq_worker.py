"""The arq worker process (`gqlorders worker`): our job functions on Redis (SPEC §8)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from functools import wraps
from typing import Any

from arq import Retry, func
from arq.connections import RedisSettings
from arq.worker import Worker
from tortoise import Tortoise

from gqlorders import events, jobs
from gqlorders.config import Settings
from gqlorders.database import prepare_data_dir, tortoise_config
from gqlorders.emails import SEND_DEADLINE
from gqlorders.webhooks import policy as webhook_policy
from workers.jobs import FUNCTIONS
from workers.mail import SMTP_TIMEOUT

# arq cuts a job short at its timeout (300 s by default) and never runs it again, leaving its
# outbox row pending for good: the e-mail job must outlast its PDF render (no limit of its own;
# a few seconds at most in practice, 3 minutes allowed here), its send (SEND_DEADLINE) and its
# QUIT (SMTP_TIMEOUT). Still well under `jobs.STALE_AFTER`.
SEND_EMAIL_TIMEOUT = timedelta(minutes=3) + SEND_DEADLINE + timedelta(seconds=SMTP_TIMEOUT)
TIMEOUTS = {jobs.SEND_EMAIL: SEND_EMAIL_TIMEOUT}


def _arq_job(function: jobs.JobFunction) -> jobs.JobFunction:
    """arq retries only on its own Retry (STACK_NOTES): translate ours. A job cancelled (the
    worker stopping) is not done: arq runs it again, so its outbox row stays pending."""

    @wraps(function)
    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        try:
            result = await function(ctx, **kwargs)
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


def build_worker(
    settings: Settings, *, burst: bool = False, relay: bool = True, init_database: bool = True
) -> Worker:
    """A worker for REDIS_URL; it also relays the outbox, so jobs committed while Redis was
    down go out even when no API request comes.

    `init_database=False` leaves the ORM to the caller, who has it open already (tests run a
    burst worker inside their own session: a second `Tortoise.init` would re-initialize that
    same context and the worker's shutdown would close it)."""
    assert settings.redis_url, "the worker needs REDIS_URL"

    async def startup(ctx: dict[str, Any]) -> None:
        prepare_data_dir(settings)
        if init_database:
            await Tortoise.init(
                config=tortoise_config(settings.database_url), _enable_global_fallback=True
            )
        ctx["settings"] = settings
        events.configure(settings.event_retention)
        webhook_policy.configure_from(settings)
        jobs.configure(jobs.RedisRelay(settings.redis_url))  # type: ignore[arg-type]
        await jobs.after_request()
        if relay:
            ctx["relay"] = asyncio.create_task(jobs.relay_forever())

    async def shutdown(ctx: dict[str, Any]) -> None:
        task = ctx.get("relay")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runner = jobs.current_runner()
        if isinstance(runner, jobs.RedisRelay):
            await runner.close()
        if init_database:
            await Tortoise.close_connections()

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
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        handle_signals=not burst,
        poll_delay=0.2,
    )
