"""Issue 22: `gqlorders worker` processes SIGKILLed at each step of sending an e-mail, for real
(PostgreSQL + Redis; a mail server of the test's own, or the .eml file transport). Only a
death while the message's content is on its way may leave its outcome unknown:

- killed while rendering the PDF: the message was never claimed, and the job's rerun sends it
  once;
- killed while connecting to the mail server: the claim is given back by the sweep, and the
  new job sends it once;
- killed during DATA: FAILED, outcome unknown, never sent again by itself -- and the server
  had not taken it.

What is not waited for in real time: arq runs a dead worker's job again once its in-progress
mark expires (100 s, `arq_worker`), and the sweep acts on claims older than
`emails.STALLED_AFTER` (75 s); the tests expire the mark and age the claim instead."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from tortoise.timezone import now

from gqlorders import emails, jobs
from gqlorders.config import Settings
from gqlorders.models import EmailMessage, EmailState
from tests.support import Organization, key, postgres_only
from tests.workers.support import (
    CREATE_ORDER,
    SEND_ORDER,
    Mailbox,
    eml_file,
    free_port,
    holding_smtp_server,
    jobs_since,
    last_job_id,
    set_within,
    silent_smtp_server,
)
from tests.workers.test_arq import run_worker

pytestmark = postgres_only("`gqlorders worker` processes need PostgreSQL")

OUTCOME_UNKNOWN = (
    "sending it stopped before the outcome was known: it may or may not have been delivered; "
    "send it again if needed"
)
LINES = 20  # a PDF of a page or two: its worker, just started, first loads WeasyPrint


@contextmanager
def worker_process(
    settings: Settings, redis_url: str, smtp_url: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """A `gqlorders worker` process, SIGKILLed at the latest when the block ends."""
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "REDIS_URL": redis_url,
    }
    environment.pop("SMTP_URL", None)
    if smtp_url is not None:
        environment["SMTP_URL"] = smtp_url
    command = [str(Path(sys.executable).with_name("gqlorders")), "worker"]
    worker = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL)
    try:
        yield worker
    finally:
        worker.kill()
        worker.wait()


def kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL


async def _sent_order(org: Organization, lines: int = 1) -> tuple[int, str]:
    """An order of `lines` lines sent by e-mail through the API (relaying to Redis): the
    e-mail's key and its job's id in arq."""
    customer = await org.customer(name="Acme Furniture", email="buyer@acme.example")
    desk = await org.item("DESK", "411.50")
    order_lines = [
        {"itemId": desk, "quantity": "1", "description": f"Desk {n}"} for n in range(lines)
    ]
    order = await org.api.ok(CREATE_ORDER, {"customerId": customer, "lines": order_lines})
    before = await last_job_id()
    payload = await org.api.ok(SEND_ORDER, {"id": order["salesOrder"]["id"]})
    [job] = [row for row in await jobs_since(before) if row.job == jobs.SEND_EMAIL]
    return key(payload["salesOrder"]["emails"][0]["id"]), jobs.job_id(job)


async def _until(condition: Callable[[], Awaitable[object]], seconds: float) -> bool:
    """Whether `condition` holds within `seconds` (looked at every 10 ms)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.01)
    return False


async def _age_claim(email_id: int) -> None:
    """As if `emails.STALLED_AFTER` had passed since the dead sender's claim."""
    aged = now() - emails.STALLED_AFTER - timedelta(seconds=1)
    await EmailMessage.filter(id=email_id, state=EmailState.SENDING).update(claimed_at=aged)


async def _sweep_and_run(
    settings: Settings, arq_pool: ArqRedis, redis_url: str, smtp_url: str | None
) -> None:
    """What follows a worker's death: arq's in-progress marks of the jobs it had taken expire,
    a relay sweeps and hands on what it wrote, and a worker runs what is queued."""
    marks = [mark async for mark in arq_pool.scan_iter(f"{in_progress_key_prefix}*")]
    if marks:
        await arq_pool.delete(*marks)
    await emails.recover_stalled_sends()
    await jobs.after_request()
    await run_worker(replace(settings, redis_url=redis_url, smtp_url=smtp_url))


async def _state(email_id: int) -> tuple[EmailState, str | None]:
    email = await EmailMessage.get(id=email_id)
    return email.state, email.error


async def test_a_worker_killed_while_rendering_over_smtp_loses_nothing(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order of 20 lines sent by e-mail, and a worker that took its job
    email_id, job_id = await _sent_order(org, LINES)
    with worker_process(settings, redis_url, mailbox.url) as worker:
        started = await _until(lambda: arq_pool.exists(in_progress_key_prefix + job_id), 45)
        assert started, "the worker never took the job"
        # When it is SIGKILLed while rendering the PDF (the message not claimed yet)
        kill(worker)
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.claimed_at, email.attempts) == (EmailState.QUEUED, None, 0)

    # When the job runs again
    await _sweep_and_run(settings, arq_pool, redis_url, mailbox.url)

    # Then the e-mail went out once: SENT after one attempt
    assert len(mailbox.messages) == 1
    assert await _state(email_id) == (EmailState.SENT, None)
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_a_worker_killed_while_rendering_to_files_loses_nothing(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order of 20 lines sent by e-mail (no SMTP_URL: .eml files), and a worker
    # that took its job
    email_id, job_id = await _sent_order(org, LINES)
    outbox = settings.data_dir / "outbox"
    with worker_process(settings, redis_url, None) as worker:
        started = await _until(lambda: arq_pool.exists(in_progress_key_prefix + job_id), 45)
        assert started, "the worker never took the job"
        # When it is SIGKILLed while rendering the PDF
        kill(worker)
    assert await _state(email_id) == (EmailState.QUEUED, None)
    assert not (await eml_file(outbox, email_id)).exists()

    # When the job runs again
    await _sweep_and_run(settings, arq_pool, redis_url, None)

    # Then the file was written once: SENT
    assert (await eml_file(outbox, email_id)).exists()
    assert await _state(email_id) == (EmailState.SENT, None)


async def test_a_worker_killed_while_connecting_loses_nothing(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order sent by e-mail, and a worker sending it to a mail server that takes the
    # connection and never greets
    email_id, _ = await _sent_order(org)
    with (
        silent_smtp_server() as mail_server,
        worker_process(settings, redis_url, mail_server.url) as worker,
    ):
        connected = await set_within(mail_server.connected, 45)
        assert connected, "the worker never reached the mail server"
        # When it is SIGKILLed while connecting
        kill(worker)
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.data_started_at) == (EmailState.SENDING, None)

    # When its claim is stale, the relay sweeps and a worker runs what is queued (the killed
    # job and the sweep's new one)
    await _age_claim(email_id)
    await _sweep_and_run(settings, arq_pool, redis_url, mailbox.url)

    # Then the e-mail went out once: SENT
    assert len(mailbox.messages) == 1
    assert await _state(email_id) == (EmailState.SENT, None)


async def test_a_worker_killed_during_data_leaves_the_outcome_unknown(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order sent by e-mail, and a worker sending it to a mail server that holds back
    # its answer to the message's content
    email_id, _ = await _sent_order(org)
    refusal = "451 4.4.2 the sender went away"
    with (
        holding_smtp_server(free_port(), refusal=refusal) as held,
        worker_process(settings, redis_url, held.url) as worker,
    ):
        arrived = await set_within(held.arrived, 45)
        assert arrived, "the message never reached the mail server"
        # When the worker is SIGKILLed during DATA (the server then does not take it)
        kill(worker)
    email = await EmailMessage.get(id=email_id)
    assert email.state == EmailState.SENDING
    assert email.data_started_at is not None

    # When its claim is stale, the relay sweeps and a worker runs what is queued
    await _age_claim(email_id)
    await _sweep_and_run(settings, arq_pool, redis_url, mailbox.url)

    # Then it is FAILED, outcome unknown, and was not sent again
    assert held.messages == []
    assert mailbox.messages == []
    assert await _state(email_id) == (EmailState.FAILED, OUTCOME_UNKNOWN)
