"""Jobs handed to arq that did not take effect go out again, and soon (review of issue 13).

- arq keeps a *failed* result too (a job cut short at its timeout, cancelled, or never run
  because its worker was killed too often): the relay does not take it for a job that ran;
- rows a relay claimed and died before enqueueing are handed out again after two minutes
  (behind Redis a second hand-off is checked, `RedisRelay.hand_on`), not ten;
- a refusal with nothing readable left in Redis puts the row back, logged and counted.

Real Redis and a real arq worker in burst mode (`test_arq.run_worker`); each test checks the
jobs' effects: committed stock, the e-mail in the SMTP sink.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.constants import result_key_prefix, retry_key_prefix
from arq.jobs import Job
from prometheus_client import REGISTRY
from tortoise.timezone import now

from gqlorders import jobs
from gqlorders.config import Settings
from gqlorders.models import OutboxJob
from tests.support import Organization
from tests.workers.ports import ReservedPort
from tests.workers.support import (
    CONFIRM_ORDER,
    SEND_ORDER,
    Mailbox,
    committed,
    desk_order,
    jobs_since,
    last_job_id,
)
from tests.workers.test_arq import queued_ids, run_worker


@pytest.fixture(autouse=True)
async def no_claims_of_earlier_tests() -> None:
    """The outbox is global and the reclaim under test acts on every row: rows that earlier
    tests' relays claimed (handed to a Redis flushed since) are recorded done first, so that
    this test's worker runs this test's jobs only."""
    await OutboxJob.filter(dispatched_at__isnull=False, done_at__isnull=True).update(done_at=now())


@pytest.fixture
def redis_down() -> Iterator[str]:
    """A Redis URL where nothing listens while the test runs."""
    with ReservedPort() as port:
        yield f"redis://127.0.0.1:{port.port}/0"


async def confirmed_while_redis_is_down(
    org: Organization, swap_runner: Any, redis_down: str
) -> tuple[str, OutboxJob]:
    """A draft order of 3 desks confirmed through a relay to a Redis that is down: the desk's
    ID, and the order's stock job, waiting in the outbox."""
    swap_runner(jobs.RedisRelay(redis_down))
    order = await desk_order(org)
    before = await last_job_id()
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    [row] = await jobs_since(before)
    assert row.dispatched_at is None
    return order["lines"][0]["item"]["id"], row


async def age_claims(rows: list[OutboxJob], age: timedelta) -> None:
    await OutboxJob.filter(id__in=[row.id for row in rows]).update(dispatched_at=now() - age)


async def test_a_job_arq_recorded_as_failed_runs_again_under_a_new_id(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order sent, its stock and e-mail jobs in Redis, each already taken by as many
    # workers as arq allows, all of them killed (arq's count of tries at its maximum)
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    rows = await jobs_since(before)
    for row in rows:
        await arq_pool.set(retry_key_prefix + jobs.job_id(row), jobs.MAX_TRIES)
    mail_settings = replace(settings, redis_url=redis_url, smtp_url=mailbox.url)

    # When a worker takes them, arq gives up on them without running them: failed results
    await run_worker(mail_settings)
    for row in rows:
        result = await Job(jobs.job_id(row), arq_pool).result_info()
        assert result is not None
        assert (result.success, str(result.result)) == (False, "max 6 retries exceeded")
    assert await committed(org, desk) == ["0.00"]
    assert mailbox.messages == []

    # When their claims are old enough to be handed out again, and the relay runs
    await age_claims(rows, jobs.HANDOFF_STALE_AFTER + timedelta(seconds=1))
    assert await jobs.reclaim_stale(relay.reclaim_after) == 2
    await jobs.after_request()

    # Then each went out under a new job id (not recorded done from the failed result) ...
    again = await jobs_since(before)
    assert [row.token != old.token for row, old in zip(again, rows, strict=True)] == [True, True]
    assert all(row.dispatched_at is not None and row.done_at is None for row in again)
    assert await queued_ids(arq_pool) == sorted(jobs.job_id(row) for row in again)

    # ... and a worker runs them: the stock committed, the e-mail sent once
    await run_worker(mail_settings)
    assert await committed(org, desk) == ["3.00"]
    assert [message["To"] for message in mailbox.messages] == ["buyer@acme.example"]
    assert all(row.done_at is not None for row in await jobs_since(before))


async def test_rows_a_dead_relay_claimed_go_out_after_two_minutes(
    org: Organization,
    swap_runner: Any,
    arq_pool: ArqRedis,
    settings: Settings,
    redis_url: str,
    redis_down: str,
) -> None:
    # Given an order confirmed while Redis was down: its stock job waits in the outbox
    desk, row = await confirmed_while_redis_is_down(org, swap_runner, redis_down)
    # ... claimed by a relay that died before enqueueing it: dispatched, nothing in Redis
    assert row.id in [claimed.id for claimed in await jobs.claim_pending()]
    relay = swap_runner(jobs.RedisRelay(redis_url))

    # When the relay runs while the claim is fresh, the row is left to its relay
    assert relay.reclaim_after == timedelta(minutes=2)
    assert await jobs.reclaim_stale(relay.reclaim_after) == 0

    # When the claim is two minutes old and the relay runs
    await age_claims([row], relay.reclaim_after + timedelta(seconds=1))
    assert await jobs.reclaim_stale(relay.reclaim_after) == 1
    await jobs.after_request()

    # Then the job is in Redis, and a worker commits the stock
    assert await queued_ids(arq_pool) == [jobs.job_id(row)]
    await run_worker(replace(settings, redis_url=redis_url))
    assert await committed(org, desk) == ["3.00"]
    assert (await OutboxJob.get(id=row.id)).done_at is not None


def test_in_process_a_claim_is_handed_out_again_only_after_ten_minutes() -> None:
    # No check of a second hand-off there: a job may still be running in another process
    assert jobs.InProcessRunner.reclaim_after == timedelta(minutes=10)


async def test_a_refused_job_with_nothing_readable_in_redis_goes_out_again_and_is_counted(
    org: Organization,
    swap_runner: Any,
    arq_pool: ArqRedis,
    settings: Settings,
    redis_url: str,
    redis_down: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an order confirmed while Redis was down: its stock job waits in the outbox
    desk, row = await confirmed_while_redis_is_down(org, swap_runner, redis_down)
    # ... and, under its job id, a key arq counts (so it refuses the id) that holds nothing
    # readable of a job: what is left when the job's record is lost between the two looks
    await arq_pool.set(result_key_prefix + jobs.job_id(row), b"not a job result")
    lost = {"job": jobs.RECALC_STOCK}
    lost_before = REGISTRY.get_sample_value("gqlorders_job_handoffs_lost_total", lost) or 0

    # When Redis is back and the relay hands the job on
    swap_runner(jobs.RedisRelay(redis_url))
    with caplog.at_level(logging.WARNING, logger="gqlorders.jobs"):
        await jobs.after_request()

    # Then the refusal is logged and counted, and the row went out again under a new id
    assert f"arq refused job {jobs.job_id(row)} and holds nothing of it" in caplog.text
    assert REGISTRY.get_sample_value("gqlorders_job_handoffs_lost_total", lost) == lost_before + 1
    again = await OutboxJob.get(id=row.id)
    assert again.token != row.token
    assert again.dispatched_at is not None
    assert await queued_ids(arq_pool) == [jobs.job_id(again)]

    # And a worker runs it: the stock committed
    await run_worker(replace(settings, redis_url=redis_url))
    assert await committed(org, desk) == ["3.00"]
    assert (await OutboxJob.get(id=row.id)).done_at is not None
