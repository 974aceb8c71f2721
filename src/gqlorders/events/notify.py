"""Wake-ups for the feed's live readers: "this organization's feed may have grown".

A wake-up carries no event: a woken reader reads the feed from its last position, so a lost or
repeated wake-up costs a read or some latency, never an event (feed.py stays the source).

On PostgreSQL the database delivers them, to every process that listens, whatever process
wrote (a server, an arq worker recalculating stock, `gqlorders import`): a trigger on the
feed's INSERT (migration 0019_feed_notify) notifies inside the event's own transaction, which
PostgreSQL delivers at commit -- never for a rolled back change, never before the change is
visible, and no statement of the app's. That announcement asks for positions; the sequencer
run that gives them notifies each organization concerned as *it* commits, and that is what
wakes the readers. Redis pub/sub (when REDIS_URL is set) would need
a publish after each commit from every writer, lost if the process dies in between, and an
installation without Redis would need this anyway: one mechanism, no extra service.
On SQLite (one process) the wake-up is in-process: `publish` wakes the readers at once (through
`announce`), and their read waits for the single connection the writing transaction holds
until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

import asyncpg
from tortoise import connections

logger = logging.getLogger("gqlorders.events")

CHANNEL = "gqlorders_feed"
POSITIONS_WANTED = "*"  # the INSERT trigger's payload; the sequencer's are organization ids
CONNECT_TIMEOUT = 5.0  # seconds: subscribers wait for the first try at most this long
RETRY_FIRST = 0.5  # seconds before the second try; doubling after each failure...
RETRY_MAX = 30.0  # ...up to this
STABLE_AFTER = 60.0  # seconds up after which a lost connection no longer counts as a failure
TRIGGER = "feed_event_notify"  # migration 0019_feed_notify's
TRIGGER_EXISTS = """
SELECT EXISTS (
  SELECT 1 FROM pg_trigger JOIN pg_class ON pg_class.oid = pg_trigger.tgrelid
  WHERE pg_trigger.tgname = $1 AND pg_class.relname = 'feed_event'
)"""

Wake = Callable[[int], None]

_wake_in_process: Wake | None = None


def wake_in_process(wake: Wake | None) -> None:
    """Who `publish` wakes on SQLite: the process's live feed (None: nobody listens)."""
    global _wake_in_process
    _wake_in_process = wake


def announce(organization_id: int) -> None:
    """Called by `publish`, inside the event's transaction: wakes the readers on SQLite (on
    PostgreSQL the feed's INSERT trigger does, at commit)."""
    if _wake_in_process is not None and connections.get("default").capabilities.dialect == "sqlite":
        _wake_in_process(organization_id)


def retry_delay(failures: int) -> float:
    """Seconds before the next try after `failures` failed ones in a row: doubling from
    RETRY_FIRST up to RETRY_MAX, less up to a fifth at random, so that the server processes of
    an installation do not all knock at once when PostgreSQL comes back."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1)) * random.uniform(0.8, 1.0)


async def listen_forever(
    database_url: str,
    positions_wanted: Callable[[], None],
    wake: Wake,
    wake_all: Callable[[], None],
    listening: Callable[[bool], None],
) -> None:
    """Hold this process's one LISTEN connection (not the pool's: the pool resets sessions),
    calling `positions_wanted` for the INSERT trigger's announcements and `wake(organization)`
    for the sequencer's. `listening(True)` once it listens (after a reconnection, `wake_all`
    too: notifications may have been missed); `listening(False)` when a try fails, after which
    it tries again with backoff. A lost connection is reconnected at once if it had been up
    STABLE_AFTER, else after the same backoff (failures count on until one stays up)."""

    def received(_connection: object, _pid: int, _channel: str, payload: object) -> None:
        if payload == POSITIONS_WANTED:
            positions_wanted()
        elif isinstance(payload, str) and payload.isdigit():
            wake(int(payload))

    failures = 0
    while True:
        connection: asyncpg.Connection | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):  # a server that accepts, then hangs
                connection = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT)
                await connection.add_listener(CHANNEL, received)
                await _check_trigger(connection)
        except Exception as error:  # unreachable, refused, a bad URL: the same to subscribers
            if connection is not None:
                connection.terminate()
            failures += 1
            delay = retry_delay(failures)
            logger.warning(
                "cannot listen for feed notifications (%s: %s); next try in %.1f s",
                type(error).__name__,
                error,
                delay,
            )
            listening(False)
            await asyncio.sleep(delay)
            continue
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
        up_since = asyncio.get_running_loop().time()
        try:
            listening(True)
            wake_all()
            positions_wanted()
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close(timeout=2))
        if asyncio.get_running_loop().time() - up_since >= STABLE_AFTER:
            failures = 0
            logger.warning("the feed's LISTEN connection was lost; reconnecting")
            continue
        # Lost soon after it was made (a server that accepts, then drops): no hot loop.
        failures += 1
        delay = retry_delay(failures)
        logger.warning("the feed's LISTEN connection was lost; reconnecting in %.1f s", delay)
        await asyncio.sleep(delay)


async def _check_trigger(connection: asyncpg.Connection) -> None:
    """A database without migration 0019's trigger announces no event: live updates would
    stall without a word (only the relay's periodic run would give positions)."""
    if not await connection.fetchval(TRIGGER_EXISTS, TRIGGER):
        logger.error(
            "the feed's trigger %s is missing (migration 0019_feed_notify): live updates will"
            " lag; run the migrations",
            TRIGGER,
        )
