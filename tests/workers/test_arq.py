"""SPEC §8 with REDIS_URL: the API hands committed jobs to Redis, arq workers run them.

Real Redis (a database of its own, see conftest) and a real arq worker in burst mode, sharing
the test session's database connection (`init_database=False`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job

from gqlorders import jobs
from gqlorders.config import Settings
from gqlorders.errors import DomainError, ErrorCode
from gqlorders.models import EmailMessage, OutboxJob
from gqlorders.orders import lifecycle
from tests.support import Organization
from tests.workers.ports import ReservedPort
from tests.workers.support import (
    CONFIRM_ORDER,
    ORDER,
    SEND_ORDER,
    HeldEmails,
    Mailbox,
    attachments,
    committed,
    desk_order,
    jobs_since,
    last_job_id,
    pdf_text,
    smtp_server,
)
from workers.arq_worker import build_worker


@pytest.fixture
def redis_down() -> Iterator[ReservedPort]:
    """A port where no Redis listens (nor anything else) while the test runs."""
    with ReservedPort() as port:
        yield port


async def run_worker(settings: Settings) -> None:
    """One arq worker in burst mode: it runs what is queued, then stops."""
    queue = jobs.queue_name(await jobs.installation_id(), settings.arq_queue)
    worker = build_worker(settings, queue=queue, burst=True, relay=False, init_database=False)
    try:
        await asyncio.wait_for(worker.main(), timeout=30)
    finally:
        await worker.close()


async def queued_ids(pool: ArqRedis) -> list[str]:
    return sorted(job.job_id for job in await pool.queued_jobs())  # type: ignore[misc]


async def _order(org: Organization, order_id: str) -> dict:
    return (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]


async def test_a_sent_order_is_mailed_by_an_arq_worker(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given a draft order, with the API relaying to Redis
    order = await desk_order(org)
    before = await last_job_id()

    # When it is sent
    await org.api.ok(SEND_ORDER, {"id": order["id"]})

    # Then its jobs went to Redis after the request, keyed by their outbox rows; none ran here
    rows = await jobs_since(before)
    assert [row.job for row in rows] == [jobs.RECALC_STOCK, jobs.SEND_EMAIL]
    assert all(row.dispatched_at is not None for row in rows)
    assert await queued_ids(arq_pool) == sorted(jobs.job_id(row) for row in rows)
    [queued] = (await _order(org, order["id"]))["emails"]
    assert queued["state"] == "QUEUED"
    assert mailbox.messages == []

    # When an arq worker runs
    await run_worker(replace(settings, redis_url=redis_url, smtp_url=mailbox.url))

    # Then the e-mail went out once, with the order's PDF, and is SENT
    [message] = mailbox.messages
    assert message["To"] == "buyer@acme.example"
    assert message["Subject"] == "Sales order SO-00001"
    [(filename, content_type, content)] = attachments(message)
    assert (filename, content_type) == ("SO-00001.pdf", "application/pdf")
    text = pdf_text(content)
    assert "SO-00001" in text
    assert "1234.50" in text
    [sent] = (await _order(org, order["id"]))["emails"]
    assert (sent["state"], sent["error"]) == ("SENT", None)
    assert sent["sentAt"] is not None
    assert await queued_ids(arq_pool) == []


async def test_jobs_wait_in_the_outbox_while_redis_is_down(
    org: Organization,
    swap_runner: Any,
    arq_pool: ArqRedis,
    settings: Settings,
    redis_url: str,
    redis_down: ReservedPort,
) -> None:
    # Given the API relaying to a Redis that is down, and a draft order of 3 desks
    swap_runner(jobs.RedisRelay(f"redis://127.0.0.1:{redis_down.port}/0"))
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()

    # When the order is confirmed
    payload = await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    # Then the change is committed and answered; its stock job waits in the outbox
    assert payload["salesOrder"]["status"] == "CONFIRMED"
    [row] = await jobs_since(before)
    assert row.job == jobs.RECALC_STOCK
    assert row.dispatched_at is None
    assert await committed(org, desk) == ["0.00"]

    # When Redis is reachable again and the relay runs (after a request, or periodically)
    swap_runner(jobs.RedisRelay(redis_url))
    await jobs.after_request()

    # Then the job is handed to Redis, and a worker runs it
    assert (await OutboxJob.get(id=row.id)).dispatched_at is not None
    assert await queued_ids(arq_pool) == [jobs.job_id(row)]
    await run_worker(replace(settings, redis_url=redis_url))
    assert await committed(org, desk) == ["3.00"]
    result = await Job(jobs.job_id(row), arq_pool).result_info()
    assert result is not None
    assert result.success


async def test_a_worker_relays_what_the_outbox_holds_when_it_starts(
    org: Organization,
    swap_runner: Any,
    arq_pool: ArqRedis,
    settings: Settings,
    redis_url: str,
    redis_down: ReservedPort,
) -> None:
    # Given a committed job that could not reach Redis
    swap_runner(jobs.RedisRelay(f"redis://127.0.0.1:{redis_down.port}/0"))
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    [row] = await jobs_since(before)
    assert row.dispatched_at is None

    # When a worker starts (no API request comes)
    await run_worker(replace(settings, redis_url=redis_url))

    # Then it handed the job on and ran it
    assert (await OutboxJob.get(id=row.id)).dispatched_at is not None
    assert await committed(org, desk) == ["3.00"]


async def test_a_rolled_back_change_sends_no_job_to_redis(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a confirmation that fails after its stock job was written
    order = await desk_order(org)
    before = await last_job_id()
    original = lifecycle.request_recalculation

    async def enqueue_then_fail(organization_id: int, item_ids: set[int]) -> None:
        await original(organization_id, item_ids)
        raise DomainError.one(ErrorCode.INSUFFICIENT_STOCK, ("id",), "simulated failure")

    monkeypatch.setattr(lifecycle, "request_recalculation", enqueue_then_fail)

    # When the order is confirmed
    payload = await org.api.mutate(CONFIRM_ORDER, {"id": order["id"]})

    # Then nothing was left in the outbox, nor sent to Redis
    assert [error["code"] for error in payload["errors"]] == ["INSUFFICIENT_STOCK"]
    assert await jobs_since(before) == []
    assert await queued_ids(arq_pool) == []


async def test_an_email_job_delivered_twice_sends_one_email(
    org: Organization,
    held_emails: HeldEmails,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given a queued order e-mail
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids

    # When arq gets its job twice (two deliveries, two job ids) and a worker runs both
    for job_id in ("first delivery", "second delivery"):
        assert await arq_pool.enqueue_job(jobs.SEND_EMAIL, email_id=email_id, _job_id=job_id)
    await run_worker(replace(settings, redis_url=redis_url, smtp_url=mailbox.url))

    # Then both jobs succeeded, and one e-mail went out
    for job_id in ("first delivery", "second delivery"):
        result = await Job(job_id, arq_pool).result_info()
        assert result is not None
        assert result.success
    [message] = mailbox.messages
    assert message["Subject"] == "Sales order SO-00001"
    [sent] = (await _order(org, order["id"]))["emails"]
    assert sent["state"] == "SENT"
    assert (await EmailMessage.get(id=email_id)).attempts == 1


async def test_arq_retries_an_email_until_the_mail_server_is_back(
    org: Organization,
    held_emails: HeldEmails,
    arq_pool: ArqRedis,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given a queued order e-mail, and a mail server that is down
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    down = ReservedPort()  # refuses connections, and no other socket can take the port
    port = down.port
    worker_settings = replace(settings, redis_url=redis_url, smtp_url=f"smtp://127.0.0.1:{port}")

    # When a worker runs the e-mail job
    await arq_pool.enqueue_job(jobs.SEND_EMAIL, email_id=email_id, _job_id="retried")
    worker = asyncio.create_task(run_worker(worker_settings))
    try:
        # Then its first try fails: QUEUED with the error, retried by arq 5 s later
        for _ in range(400):  # generous: a loaded machine starts workers slowly
            email = await EmailMessage.get(id=email_id)
            if email.attempts and email.state != "SENDING":  # its first try has ended
                break
            await asyncio.sleep(0.1)
        assert (email.state, email.attempts) == ("QUEUED", 1)
        assert email.error and str(port) in email.error

        # And once the mail server is up, the retry delivers it
        down.release()
        with smtp_server(port) as mailbox:
            await worker
    finally:
        down.release()
        worker.cancel()
    [message] = mailbox.messages
    assert message["Subject"] == "Sales order SO-00001"
    email = await EmailMessage.get(id=email_id)
    assert (email.state, email.attempts, email.error) == ("SENT", 2, None)
    result = await Job("retried", arq_pool).result_info()
    assert result is not None
    assert (result.success, result.job_try) == (True, 2)


async def test_the_worker_turns_retry_later_into_an_arq_retry(
    org: Organization, held_emails: HeldEmails, smtp_down: str, settings: Settings
) -> None:
    order = await desk_order(org)
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    [email_id] = held_emails.email_ids
    worker = build_worker(
        replace(settings, redis_url="redis://localhost/0"), queue="q"
    )  # not started

    function = worker.functions[jobs.SEND_EMAIL]
    with pytest.raises(Retry) as retry:
        await function.coroutine(
            {"settings": replace(settings, smtp_url=smtp_down)}, email_id=email_id
        )

    assert retry.value.defer_score == 5000
    assert function.max_tries == jobs.MAX_TRIES


def test_the_email_job_outlasts_its_render_send_deadline_and_quit(settings: Settings) -> None:
    # A shorter timeout would cut a send short with its outbox row never done; a longer one
    # (of any job) would keep a dead worker's jobs waiting longer before they run again
    worker = build_worker(
        replace(settings, redis_url="redis://localhost/0"), queue="q"
    )  # not started

    assert worker.functions[jobs.SEND_EMAIL].timeout_s == 90  # 30 + 45 + 10 + 5
    assert worker.job_timeout_s == 60  # every other job
    assert worker.in_progress_timeout_s == 100  # a dead worker's jobs run again after 100 s


def test_the_worker_command_needs_redis_url(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environment["DATA_DIR"] = str(tmp_path)
    command = Path(sys.executable).with_name("gqlorders")

    finished = subprocess.run(
        [str(command), "worker"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode != 0
    assert "REDIS_URL" in finished.stderr
    assert "Traceback" not in finished.stderr
