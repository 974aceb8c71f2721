"""SPEC §8 "transactional outbox": a committed change never loses its job, a rolled-back one
never enqueues any. Jobs are rows written in the change's transaction, handed on after it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.config import Settings
from gqlorders.errors import DomainError, ErrorCode
from gqlorders.models import OutboxJob
from gqlorders.orders import confirm_sales_order, lifecycle
from gqlorders.tenancy import Principal
from tests.support import Organization, key
from tests.workers.support import (
    CONFIRM_ORDER,
    ORDER,
    RENDER_PDF,
    committed,
    desk_order,
    drain,
    jobs_since,
    last_job_id,
)
from workers.jobs import FUNCTIONS


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
    written: list[str] = []

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
    await jobs.mark_done(jobs.job_id(job))


async def test_a_job_claimed_by_a_process_that_died_is_handed_out_again(
    org: Organization,
) -> None:
    # Given a confirmed order whose stock job was claimed long ago and never ran (its process
    # died between the claim and the end of the job), so committed stock is still 0.00
    order = await desk_order(org)
    desk = order["lines"][0]["item"]["id"]
    before = await last_job_id()
    async with in_transaction():
        principal = Principal(org.id, 0, frozenset(), "tests")
        await confirm_sales_order(principal, key(order["id"]))
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


async def test_the_rows_of_jobs_that_ran_a_week_ago_are_pruned(org: Organization) -> None:
    # Given three handed-on jobs: one that ran 8 days ago, one that ran yesterday, one running
    handed_on = jobs.now()
    old, recent, running = [
        await OutboxJob.create(job="pruning_test", payload={}, dispatched_at=handed_on)
        for _ in range(3)
    ]
    await OutboxJob.filter(id=old.id).update(done_at=jobs.now() - jobs.timedelta(days=8))
    await OutboxJob.filter(id=recent.id).update(done_at=jobs.now() - jobs.timedelta(days=1))

    # When the relay prunes (it does every hour)
    pruned = await jobs.prune_done()

    # Then only the row of the job that ran a week ago is gone
    remaining = await OutboxJob.filter(id__in=[old.id, recent.id, running.id]).values_list(
        "id", flat=True
    )
    assert pruned >= 1
    assert sorted(remaining) == [recent.id, running.id]
    await jobs.mark_done(jobs.job_id(running))  # (no later sweep may hand it out again)


BLOCKED = "blocked_forever"  # a job of the tests' own runner only


async def test_stopping_the_runner_cancels_a_job_past_the_grace_and_gives_its_row_back(
    swap_runner: Any, settings: Settings
) -> None:
    # Given an in-process runner running a job that never ends
    started = asyncio.Event()
    cancelled = []

    async def blocked_forever(ctx: dict[str, Any], **payload: Any) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(payload)
            raise

    runner = swap_runner(
        jobs.InProcessRunner({**FUNCTIONS, BLOCKED: blocked_forever}, {"settings": settings})
    )
    before = await last_job_id()
    await jobs.enqueue(BLOCKED, number=1)
    await runner.after_commit()
    await asyncio.wait_for(started.wait(), timeout=10)

    # When the server stops with a grace of 0.2 s
    await asyncio.wait_for(runner.stop(grace=0.2), timeout=10)

    # Then the job was cancelled, and its row is back in the outbox, not done
    assert cancelled == [{"number": 1}]
    assert runner.tasks == set()
    [row] = await jobs_since(before)
    assert (row.dispatched_at, row.done_at) == (None, None)
    await jobs.mark_done(jobs.job_id(row))  # no other runner knows the job


async def test_stopping_the_runner_lets_a_job_finishing_within_the_grace_finish(
    swap_runner: Any, settings: Settings
) -> None:
    finished = []

    async def quick(ctx: dict[str, Any], **payload: Any) -> None:
        await asyncio.sleep(0.1)
        finished.append(payload)

    runner = swap_runner(
        jobs.InProcessRunner({**FUNCTIONS, BLOCKED: quick}, {"settings": settings})
    )
    before = await last_job_id()
    await jobs.enqueue(BLOCKED, number=2)
    await runner.after_commit()

    await asyncio.wait_for(runner.stop(grace=5), timeout=10)

    assert finished == [{"number": 2}]
    [row] = await jobs_since(before)
    assert row.done_at is not None


async def _pending(job: str, **payload: Any) -> OutboxJob:
    """An outbox row nobody hands on (no runner knows `job`), until the test marks it done."""
    return await OutboxJob.create(job=job, payload=payload, dispatched_at=jobs.now())


async def test_pending_payload_values_skips_a_payload_value_that_is_not_a_number(
    settings: Settings,
) -> None:
    # Given pending jobs whose payload holds 41, "42", and "not a number" under the key
    rows = [
        await _pending("probe", email_id=41),
        await _pending("probe", email_id="42"),
        await _pending("probe", email_id="not a number"),
    ]
    try:
        # When the values with a pending job are looked for
        found = await jobs.pending_payload_values("probe", "email_id", [40, 41, 42])
    finally:
        await OutboxJob.filter(id__in=[row.id for row in rows]).update(done_at=jobs.now())

    # Then the numbers match, as numbers or text, and the rest matches nothing
    assert found == {41, 42}


async def test_pending_payload_values_looks_for_any_number_of_values(settings: Settings) -> None:
    # Given pending jobs for two values far apart
    rows = [await _pending("probe", email_id=7), await _pending("probe", email_id=39_999)]
    try:
        # When 40,000 values are looked for (more than a query takes as parameters)
        found = await jobs.pending_payload_values("probe", "email_id", range(1, 40_001))
    finally:
        await OutboxJob.filter(id__in=[row.id for row in rows]).update(done_at=jobs.now())

    assert found == {7, 39_999}


async def test_pending_payload_values_refuses_a_key_that_is_not_a_name(settings: Settings) -> None:
    with pytest.raises(ValueError) as refused:
        await jobs.pending_payload_values("probe", "email_id') or ('1", [1])

    assert str(refused.value) == "not a payload key: \"email_id') or ('1\""
