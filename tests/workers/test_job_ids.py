"""Issue 13: a job is never dropped because Redis knows its id from elsewhere.

The row ids of the outbox repeat in every database; arq refuses a job id it still knows (queued,
running, or a result kept for an hour). Real Redis and a real arq worker in burst mode, as in
test_arq; each test checks the job's effect (committed stock, the e-mail and its PDF).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name, result_key_prefix
from arq.jobs import serialize_result
from tortoise.timezone import now

from gqlorders import jobs
from gqlorders.config import Settings
from gqlorders.models import OutboxJob
from tests.support import Organization
from tests.workers.support import (
    SEND_ORDER,
    Mailbox,
    attachments,
    committed,
    desk_order,
    jobs_since,
    last_job_id,
    pdf_text,
)
from tests.workers.test_arq import queued_ids, run_worker

FOREIGN_ROWS = 10  # row ids another database used too, from the next one this database writes


async def finished(pool: ArqRedis, job_id: str, queue: str) -> None:
    """arq's record of a job that ran (kept an hour, as arq does by default)."""
    result = serialize_result(jobs.RECALC_STOCK, (), {}, 1, 0, True, None, 0, 0, "", queue, job_id)
    await pool.set(result_key_prefix + job_id, result, ex=3600)  # type: ignore[arg-type]


async def waiting_job(pool: ArqRedis, job_id: str, queue: str) -> None:
    assert await pool.enqueue_job(
        jobs.RECALC_STOCK, _job_id=job_id, _queue_name=queue, organization_id=0, item_ids=[]
    )


async def another_databases_jobs(redis_url: str, first_row: int) -> dict[str, int]:
    """Fill Redis as other databases using the same row ids leave it. Old ids (`outbox:<id>`,
    arq's shared default queue): alternately a result and a queued job, from `first_row` on.
    New ids (other tokens, another installation's queue): a result and a queued job for each
    row id. Returns how many jobs each queue holds."""
    other_queue = f"gqlorders:{uuid.uuid4().hex}"
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        for row_id in range(first_row, first_row + FOREIGN_ROWS):
            old = f"outbox:{row_id}"
            if row_id % 2:
                await finished(pool, old, default_queue_name)
            else:
                await waiting_job(pool, old, default_queue_name)
            await finished(pool, f"outbox:{row_id}:{uuid.uuid4().hex}", other_queue)
            await waiting_job(pool, f"outbox:{row_id}:{uuid.uuid4().hex}", other_queue)
        return {
            default_queue_name: await pool.zcard(default_queue_name),
            other_queue: await pool.zcard(other_queue),
        }
    finally:
        await pool.aclose()


async def queue_sizes(pool: ArqRedis, queues: dict[str, int]) -> dict[str, int]:
    return {queue: await pool.zcard(queue) for queue in queues}


async def test_jobs_run_on_a_redis_holding_another_databases_jobs_with_the_same_row_ids(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given a draft order, and a Redis holding results and queued jobs of another database
    # under the row ids this one writes next, in the old form and the new
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    foreign = await another_databases_jobs(redis_url, before + 1)
    assert list(foreign.values()) == [FOREIGN_ROWS // 2, FOREIGN_ROWS]

    # When the order is sent and this installation's worker runs
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    await run_worker(replace(settings, redis_url=redis_url, smtp_url=mailbox.url))

    # Then both of its jobs ran: stock committed, the e-mail sent with its PDF
    assert await committed(org, desk) == ["3.00"]
    [message] = mailbox.messages
    assert message["To"] == "buyer@acme.example"
    [(filename, _, content)] = attachments(message)
    assert filename == "SO-00001.pdf"
    assert "1234.50" in pdf_text(content)
    rows = await jobs_since(before)
    assert [(row.job, row.done_at is not None) for row in rows] == [
        (jobs.RECALC_STOCK, True),
        (jobs.SEND_EMAIL, True),
    ]
    # And the other database's jobs were left alone, in their queues
    assert await queue_sizes(arq_pool, foreign) == foreign
    assert await queued_ids(arq_pool) == []


async def test_a_stale_claim_whose_job_ran_is_recorded_done_not_run_again(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order sent and mailed by a worker
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    mail_settings = replace(settings, redis_url=redis_url, smtp_url=mailbox.url)
    await run_worker(mail_settings)
    assert len(mailbox.messages) == 1
    # ... whose rows look as a process that died before recording them leaves them: claimed
    # long ago, not done (arq keeps their results)
    rows = await jobs_since(before)
    long_ago = now() - jobs.STALE_AFTER - timedelta(minutes=1)
    await OutboxJob.filter(id__in=[row.id for row in rows]).update(
        dispatched_at=long_ago, done_at=None
    )

    # When the relay hands them out again, and a worker runs
    assert await jobs.reclaim_stale() == 2
    await jobs.after_request()
    await run_worker(mail_settings)

    # Then arq's results were taken for what they say, the jobs ran: done, nothing queued,
    # nothing sent twice, the stock as it was
    again = await jobs_since(before)
    assert [(row.dispatched_at is not None, row.done_at is not None) for row in again] == [
        (True, True),
        (True, True),
    ]
    assert await queued_ids(arq_pool) == []
    assert len(mailbox.messages) == 1
    assert await committed(org, desk) == ["3.00"]


async def test_a_job_handed_out_again_while_still_queued_stays_dispatched_and_runs_once(
    org: Organization,
    relay: jobs.RedisRelay,
    arq_pool: ArqRedis,
    mailbox: Mailbox,
    settings: Settings,
    redis_url: str,
) -> None:
    # Given an order sent, its jobs in Redis, and their claims taken for stale before any
    # worker ran them
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    await org.api.ok(SEND_ORDER, {"id": order["id"]})
    rows = await jobs_since(before)
    long_ago = now() - jobs.STALE_AFTER - timedelta(minutes=1)
    await OutboxJob.filter(id__in=[row.id for row in rows]).update(dispatched_at=long_ago)

    # When the relay hands them out again
    assert await jobs.reclaim_stale() == 2
    await jobs.after_request()

    # Then arq refused the known ids, and the rows stay dispatched: their jobs are queued
    assert all(row.dispatched_at is not None for row in await jobs_since(before))
    assert await queued_ids(arq_pool) == sorted(jobs.job_id(row) for row in rows)

    # And a worker runs each once
    await run_worker(replace(settings, redis_url=redis_url, smtp_url=mailbox.url))
    assert len(mailbox.messages) == 1
    assert await committed(org, desk) == ["3.00"]
    assert all(row.done_at is not None for row in await jobs_since(before))


async def test_a_job_id_of_another_database_marks_no_row_done(org: Organization) -> None:
    # Given a waiting job
    before = await last_job_id()
    await jobs.enqueue(jobs.RECALC_STOCK, organization_id=org.id, item_ids=[])
    [row] = await jobs_since(before)

    # When jobs of the same row id, but not this row, finish (the old form, another token)
    await jobs.mark_done(f"outbox:{row.id}")
    await jobs.mark_done(f"outbox:{row.id}:{uuid.uuid4().hex}")

    # Then the row still waits; its own id marks it done
    assert (await OutboxJob.get(id=row.id)).done_at is None
    await jobs.mark_done(jobs.job_id(row))
    assert (await OutboxJob.get(id=row.id)).done_at is not None
