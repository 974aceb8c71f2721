"""SPEC §8 "transactional outbox": a committed change never loses its job, a rolled-back one
never enqueues any. Jobs are rows written in the change's transaction, handed on after it."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.errors import DomainError, ErrorCode
from gqlorders.models import OutboxJob
from gqlorders.orders import lifecycle
from tests.support import Organization
from tests.workers.support import (
    CONFIRM_ORDER,
    ORDER,
    RENDER_PDF,
    committed,
    desk_order,
    drain,
    jobs_since,
    key,
    last_job_id,
)


async def test_a_confirmation_writes_one_stock_job_handed_on_after_the_request(
    org: Organization,
) -> None:
    # Given a draft order of 3 desks
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()

    # When it is confirmed
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    # Then one recalc_stock job was written for the desk, and handed on after the request
    [job] = await jobs_since(before)
    assert job.job == jobs.RECALC_STOCK
    assert job.payload == {"organization_id": org.id, "item_ids": [key(desk)]}
    assert job.dispatched_at is not None
    # And, a quick job, it ran in-process before the response
    assert await committed(org, desk) == ["3.00"]


async def test_a_refused_change_writes_no_job(org: Organization) -> None:
    # Given a confirmed order
    order = await desk_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    before = await last_job_id()

    # When it is confirmed again
    payload = await org.api.mutate(CONFIRM_ORDER, {"id": order["id"]})

    # Then the change is refused and no job was written
    assert [error["code"] for error in payload["errors"]] == ["INVALID_STATUS"]
    assert await jobs_since(before) == []


async def test_a_change_failing_after_its_jobs_were_written_leaves_none(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an order whose PDF is ready (so that every change also asks for a new one)
    order = await desk_order(org)
    await org.api.ok(RENDER_PDF, {"id": order["id"]})
    await drain()
    before = await last_job_id()

    # And a confirmation that fails only after its jobs are written (render_pdf when the
    # event is recorded, then recalc_stock)
    written = []

    async def enqueue_then_fail(organization_id: int, item_ids: set[int]) -> None:
        await original(organization_id, item_ids)
        written.extend(job.job for job in await jobs_since(before))
        raise DomainError.one(ErrorCode.INSUFFICIENT_STOCK, ("id",), "simulated failure")

    original = lifecycle.request_recalculation
    monkeypatch.setattr(lifecycle, "request_recalculation", enqueue_then_fail)

    # When the order is confirmed
    payload = await org.api.mutate(CONFIRM_ORDER, {"id": order["id"]})

    # Then the client gets the error; the jobs seen inside the transaction are gone with it
    assert [error["code"] for error in payload["errors"]] == ["INSUFFICIENT_STOCK"]
    assert written == [jobs.RENDER_PDF, jobs.RECALC_STOCK]
    assert await jobs_since(before) == []
    after = (await org.api.data(ORDER, {"id": order["id"]}))["salesOrder"]
    assert after["status"] == "DRAFT"
    assert after["pdf"]["state"] == "READY"


async def test_a_rolled_back_transaction_enqueues_nothing(org: Organization) -> None:
    before = await last_job_id()

    with pytest.raises(DomainError):
        async with in_transaction():
            await jobs.enqueue(jobs.RECALC_STOCK, organization_id=org.id, item_ids=[1])
            assert len(await jobs_since(before)) == 1
            raise DomainError.one(ErrorCode.INVALID, ("id",), "rolled back")

    assert await jobs_since(before) == []


async def test_a_job_is_claimed_by_one_relay_only(org: Organization) -> None:
    # Given a committed job nobody handed on yet
    before = await last_job_id()
    await jobs.enqueue(jobs.RECALC_STOCK, organization_id=org.id, item_ids=[])
    [job] = await jobs_since(before)

    # When two relays claim pending jobs at the same time
    claims = await asyncio.gather(jobs.claim_pending(), jobs.claim_pending())

    # Then exactly one of them got it, and it is marked handed on
    assert sorted(sum(row.id == job.id for row in claim) for claim in claims) == [0, 1]
    assert (await OutboxJob.get(id=job.id)).dispatched_at is not None
    # (done, as its run would mark it: a claimed job never run is handed out again after
    # STALE_AFTER by any later sweep of this shared database)
    await jobs.mark_done(f"outbox:{job.id}")


async def test_a_job_claimed_by_a_process_that_died_is_handed_out_again(
    org: Organization,
) -> None:
    # Given a confirmed order whose stock job was claimed long ago and never ran (its process
    # died between the claim and the end of the job), so committed stock is still 0.00
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    async with in_transaction():
        principal = lifecycle.Principal(org.id, 0, frozenset(), "tests")
        await lifecycle.confirm_sales_order(principal, key(order["id"]))
    [row] = await jobs_since(before)
    stale = jobs.now() - jobs.STALE_AFTER - jobs.timedelta(seconds=1)
    await OutboxJob.filter(id=row.id).update(dispatched_at=stale)
    assert await committed(org, desk) == ["0.00"]

    # When the relay sweeps (it does every few seconds)
    reclaimed = await jobs.reclaim_stale()
    await jobs.after_request()
    await drain()

    # Then the job ran after all, once, and is marked done
    assert reclaimed >= 1
    assert await committed(org, desk) == ["3.00"]
    done = await OutboxJob.get(id=row.id)
    assert done.dispatched_at is not None and done.done_at is not None


async def test_a_finished_job_is_never_handed_out_again(org: Organization) -> None:
    order = await desk_order(org)
    before = await last_job_id()
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    [row] = await jobs_since(before)
    await drain()
    stale = jobs.now() - jobs.STALE_AFTER - jobs.timedelta(seconds=1)
    await OutboxJob.filter(id=row.id).update(dispatched_at=stale)

    await jobs.reclaim_stale()

    assert (await OutboxJob.get(id=row.id)).dispatched_at == stale
