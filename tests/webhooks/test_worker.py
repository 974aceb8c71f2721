"""At least once, never lost: a `gqlorders worker` killed (SIGKILL) in the middle of a
delivery, then a new worker started -- the delivery arrives, with the same webhook-id.
PostgreSQL and a real Redis (a database of its own: GQLORDERS_TEST_WEBHOOK_REDIS)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from gqlorders import jobs
from gqlorders.config import Settings
from tests.support import Organization, postgres_only
from tests.webhooks.support import CREATE_ENDPOINT, DELIVERIES, Receiver

StartWorker = Callable[[str], subprocess.Popen[bytes]]  # start_worker: starts one, named

REDIS_URL = os.environ.get("GQLORDERS_TEST_WEBHOOK_REDIS", "redis://127.0.0.1:6379/11")
# The lease of an attempt (30 s) and the relay's sweep (every 2 s) after it, with room.
REDELIVERED_WITHIN = 60

pytestmark = postgres_only("`gqlorders worker` needs PostgreSQL")


@pytest.fixture
async def redis_relay(http: httpx.AsyncClient) -> AsyncIterator[str]:
    """The API configured with REDIS_URL (an emptied database of its own) for this test."""
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    previous = jobs.current_runner()
    relay = jobs.RedisRelay(REDIS_URL)
    jobs.configure(relay)
    try:
        yield REDIS_URL
    finally:
        jobs.configure(previous)
        await relay.close()
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def start_worker(settings: Settings, redis_relay: str, tmp_path: Path) -> Iterator[StartWorker]:
    """Starts `gqlorders worker` processes (WEBHOOK_ALLOW_PRIVATE=1); stops what is left."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis_relay,
        "DATA_DIR": str(tmp_path),
        "WEBHOOK_ALLOW_PRIVATE": "1",
        "LOG_FORMAT": "text",
    }
    script = Path(sys.executable).with_name("gqlorders")

    def start(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [str(script), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=40)  # (a worker stopping gives its sends 30 s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


async def arrived(receiver: Receiver, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not receiver.arrived.is_set():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def held_delivery(org: Organization, receiver: Receiver) -> str:
    """An endpoint whose receiver keeps each request waiting (until `holding` is cleared),
    and an order, whose event it is to receive: the endpoint's secret."""
    receiver.holding.set()
    created = await org.api.ok(CREATE_ENDPOINT, {"url": receiver.url})
    item = await org.item("DESK", "10")
    await org.order(await org.customer(), [{"itemId": item, "quantity": "1"}])
    return str(created["secret"])


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("local_policy")
async def test_a_delivery_cut_off_by_a_killed_worker_arrives_after_a_new_one_starts(
    org: Organization, receiver: Receiver, start_worker: StartWorker
) -> None:
    # Given an endpoint whose receiver keeps the first request waiting, and an order
    secret = await held_delivery(org, receiver)

    # When a worker is killed while it waits for the receiver's answer
    first = start_worker("first")
    assert await arrived(receiver, 60), "the first worker never sent the delivery"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    receiver.holding.clear()

    # Then a new worker delivers it, with the same webhook-id, within the attempt's lease
    started = time.monotonic()
    start_worker("second")
    cut_off, delivered = await receiver.wait_for(2, REDELIVERED_WITHIN)
    assert time.monotonic() - started < REDELIVERED_WITHIN
    assert delivered.id == cut_off.id
    assert delivered.verified(secret) == cut_off.verified(secret)
    deadline = time.monotonic() + 10
    while True:
        (edge,) = (await org.api.data(DELIVERIES))["webhookDeliveries"]["edges"]
        if edge["node"]["status"] != "PENDING" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert edge["node"]["messageId"] == cut_off.id
    assert edge["node"]["status"] == "SUCCEEDED"
    # the killed attempt left no record: it never knew its outcome
    assert [a["responseStatus"] for a in edge["node"]["attempts"]] == [200]


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("local_policy")
async def test_a_worker_stopped_mid_delivery_finishes_and_records_it_before_exiting(
    org: Organization, receiver: Receiver, start_worker: StartWorker
) -> None:
    # Given an endpoint whose receiver keeps the first request waiting, and an order
    await held_delivery(org, receiver)
    worker = start_worker("stopped")
    assert await arrived(receiver, 60), "the worker never sent the delivery"

    # When the worker is told to stop (a deploy: SIGTERM) while the receiver is still working,
    # and the receiver answers a moment later
    worker.send_signal(signal.SIGTERM)
    await asyncio.sleep(1)
    assert worker.poll() is None, "the worker exited with a send in flight"
    receiver.holding.clear()

    # Then the worker records the answer before it exits: SUCCEEDED, one attempt, one request,
    # nothing left for the sweep to send again
    exited = time.monotonic() + 20
    while worker.poll() is None:
        assert time.monotonic() < exited, "the worker did not exit"
        await asyncio.sleep(0.1)
    (edge,) = (await org.api.data(DELIVERIES))["webhookDeliveries"]["edges"]
    assert edge["node"]["status"] == "SUCCEEDED"
    assert [a["responseStatus"] for a in edge["node"]["attempts"]] == [200]
    assert len(receiver.messages) == 1
