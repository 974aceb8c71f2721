"""Running a coroutine at once, in the caller, until it first has to wait.

A shared subscription's result goes to a thousand sockets; a task per socket per message to
write it was a quarter of the fan-out's CPU (bench/README.md "live"), while uvicorn's send
almost never waits: it hands the frame to the transport unless the transport is paused (the
client does not read). So the write starts in the caller, and only one that has to wait is
finished by a task -- what Python 3.12's eager tasks do, and use there.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Coroutine
from typing import Any

if sys.version_info >= (3, 12):

    def start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run `coroutine` until it first waits: None when it finished by then (its failure
        raised here), else the task that finishes it."""
        task = asyncio.Task(coroutine, loop=asyncio.get_running_loop(), eager_start=True)
        if not task.done():
            return task
        if not task.cancelled():
            task.result()
        return None

else:

    def start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run `coroutine` until it first waits: None when it finished by then (its failure
        raised here), else the task that finishes it."""
        try:
            waiting_for = coroutine.send(None)
        except StopIteration:
            return None
        task = asyncio.ensure_future(_finish(coroutine, waiting_for))
        task.add_done_callback(functools.partial(_close_if_cancelled, coroutine))
        return task


def _close_if_cancelled(coroutine: Coroutine[Any, Any, None], task: asyncio.Task[None]) -> None:
    """A task cancelled before it first ran never resumed the coroutine: close it, so that
    its `finally` runs now rather than when it is collected (a no-op on a finished one)."""
    if task.cancelled():
        coroutine.close()


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_for: Any) -> None:
    """Wait for what the coroutine waits for, then resume it, until it returns -- as a task
    steps a coroutine: a failure of that wait, or this task's cancellation, is thrown into
    it."""
    while True:
        try:
            if waiting_for is None:  # a bare `yield`: asyncio.sleep(0)
                await asyncio.sleep(0)
            else:
                # A future handed up by `await` is marked as such; a task clears the mark when
                # it takes the future, and so must we before awaiting it here.
                waiting_for._asyncio_future_blocking = False
                await waiting_for
        except BaseException as error:  # whatever it is, thrown into the coroutine, as a task does
            step = functools.partial(coroutine.throw, error)
        else:
            step = functools.partial(coroutine.send, None)
        try:
            waiting_for = step()
        except StopIteration:
            return
