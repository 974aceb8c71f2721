"""Fixtures for the background-work tests (SPEC §8): a real SMTP server (aiosmtpd), a real
Redis database for arq, and job runners swapped in for one test at a time.

Every fixture that swaps the job runner depends on `http` first, so that the session app (and
its in-process runner) exists before, and is put back after.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from gqlorders import jobs
from gqlorders.config import Settings
from tests.workers.ports import ReservedPort
from tests.workers.support import HeldEmails, Mailbox, free_port, smtp_server
from workers.jobs import FUNCTIONS

# A database of its own, flushed before and after each test that uses it.
REDIS_URL = os.environ.get("GQLORDERS_TEST_REDIS", "redis://127.0.0.1:6379/5")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """An SMTP server for this test only."""
    with smtp_server(free_port()) as box:
        yield box


@pytest.fixture
def smtp_down() -> Iterator[str]:
    """An SMTP URL where no server listens, for the whole test: the port stays bound (and not
    listening, so connections to it are refused) rather than free for any socket to take."""
    with ReservedPort() as down:
        yield f"smtp://127.0.0.1:{down.port}"


@pytest.fixture
async def swap_runner(http: httpx.AsyncClient) -> AsyncIterator[Any]:
    """Configure other runners for one test; the session app's runner comes back after."""
    previous = jobs.current_runner()
    swapped: list[Any] = []

    def swap(runner: jobs.Runner) -> jobs.Runner:
        swapped.append(runner)
        jobs.configure(runner)
        return runner

    try:
        yield swap
    finally:
        current = jobs.current_runner()
        if current is not previous and current not in swapped:
            swapped.append(current)  # e.g. the relay an arq worker configured at startup
        for runner in swapped:
            await runner.drain()
            if isinstance(runner, jobs.RedisRelay):
                await runner.close()
        jobs.configure(previous)


@pytest.fixture
def mail_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """The test settings, with the SMTP server of `mailbox`."""
    return replace(settings, smtp_url=mailbox.url)


@pytest.fixture
async def mailing(swap_runner: Any, mail_settings: Settings) -> jobs.InProcessRunner:
    """The in-process runner (the default without REDIS_URL), mailing through `mailbox`."""
    return swap_runner(jobs.InProcessRunner(FUNCTIONS, {"settings": mail_settings}))


@pytest.fixture
async def held_emails(swap_runner: Any, settings: Settings) -> HeldEmails:
    """The in-process runner, except that e-mail jobs are only recorded, not run."""
    held = HeldEmails()
    functions = {**FUNCTIONS, jobs.SEND_EMAIL: held.send_email}
    swap_runner(jobs.InProcessRunner(functions, {"settings": settings}))
    return held


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The URL of an empty Redis database (a real Redis: the tests need one running)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    except (OSError, RedisConnectionError) as error:
        await client.aclose()
        pytest.fail(f"Redis is needed at {REDIS_URL} (scripts/ensure-services starts it): {error}")
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
async def arq_pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    """arq's view of this installation's queue, to look at and add jobs as the API or a
    duplicate would."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    pool.default_queue_name = await jobs.own_queue(pool, None)
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest.fixture
def relay(swap_runner: Any, redis_url: str) -> jobs.RedisRelay:
    """The API configured as with REDIS_URL: committed jobs go to Redis after each request."""
    return swap_runner(jobs.RedisRelay(redis_url))
