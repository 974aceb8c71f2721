"""Running a coroutine at once, in the caller, until it first has to wait.

A shared subscription's result goes to a thousand sockets; a task per socket per message to
write it was a quarter of the fan-out's CPU (bench/README.md "live"), while uvicorn's send
almost never waits: it hands the frame to the transport unless the transport is paused (the
client does not read). So the write starts in the caller, and only one that has to wait is
finished by a task -- what Python 3.12's eager task factory does, for one call site.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from typing import Any


def start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coroutine` until it first waits: None when it finished by then, else the task
    that finishes it."""
    try:
        waiting_for = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(coroutine, waiting_for))


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
        except (Exception, asyncio.CancelledError) as error:
            step = functools.partial(coroutine.throw, error)
        else:
            step = functools.partial(coroutine.send, None)
        try:
            waiting_for = step()
        except StopIteration:
            return
