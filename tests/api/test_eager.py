"""start_eagerly (api/eager.py): a socket write runs in the caller unless it has to wait; one
that waits is finished by a task, in order, and cancelling that task reaches the write."""

from __future__ import annotations

import asyncio

import pytest

from gqlorders.api.eager import start_eagerly


async def test_a_coroutine_that_never_waits_runs_to_its_end_at_once() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert start_eagerly(write()) is None
    assert done == ["written"]


async def test_a_coroutine_that_waits_is_finished_by_a_task_once_it_may_go_on() -> None:
    writable = asyncio.Event()
    done: list[str] = []

    async def write() -> None:
        done.append("started")
        await writable.wait()
        await asyncio.sleep(0)
        done.append("written")

    task = start_eagerly(write())
    assert done == ["started"]
    assert task is not None
    await asyncio.sleep(0.01)
    assert not task.done()  # still waiting, as the write would for a paused transport

    writable.set()
    await task

    assert done == ["started", "written"]


@pytest.mark.parametrize("started", [True, False], ids=["after-it-ran", "before-it-ran"])
async def test_cancelling_the_task_cancels_the_waiting_coroutine(started: bool) -> None:
    done: list[str] = []

    async def write() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            done.append("cleaned up")

    task = start_eagerly(write())
    assert task is not None
    if started:
        await asyncio.sleep(0)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["cleaned up"]


async def test_a_failure_before_the_first_wait_is_raised_to_the_caller() -> None:
    async def write() -> None:
        raise ValueError("at once")

    with pytest.raises(ValueError, match="at once"):
        start_eagerly(write())


async def test_a_failure_after_a_wait_is_the_tasks() -> None:
    async def write() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("later")

    task = start_eagerly(write())
    assert task is not None

    with pytest.raises(ValueError, match="later"):
        await task
