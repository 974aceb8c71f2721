"""Following the feed live (GraphQL subscriptions): one reader per organization per process,
fanning out to that organization's subscribers.

Each organization with subscribers in this process has one `OrganizationReader`: woken by
`events.notify`, it reads the feed from its last position and hands every entry to each
subscriber's bounded queue. A thousand subscribers cost one read per wake-up, not a thousand.

The seam between replay and live (`follow(after=...)`): a subscriber joins its reader first,
then replays from its cursor with `read_feed` until caught up, then takes the entries its reader
queued meanwhile, skipping those at or before the last position it replayed. Positions are
given in increasing order and become visible together, so every event after the cursor was
either visible to the replay's last read or is read later by the reader, which had not read
past it when the subscriber joined: none is missed, none is repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from gqlorders.events import feed, notify
from gqlorders.events.feed import EventFilter, FeedEntry
from gqlorders.events.types import EventType

logger = logging.getLogger("gqlorders.events")

PAGE = feed.MAX_PAGE_SIZE
SEQUENCE_RETRY = 0.02  # seconds between tries while another process holds the sequencer
SEQUENCE_TRIES = 50  # then the relay's periodic run (relay.relay_forever) does it


class SlowConsumer(Exception):
    """The subscriber fell more than its queue's size behind: it is dropped, not buffered."""


class LiveFeedStopped(Exception):
    """The server is shutting down."""


class LiveUnavailable(Exception):
    """This process cannot follow the feed now (no LISTEN connection, no database): the
    subscription ends rather than wait for wake-ups that would not come."""


def matches(entry: FeedEntry, where: EventFilter) -> bool:
    """`read_feed`'s filter, for entries read without it (the reader reads everything)."""
    event = entry.event
    if where.types and EventType(event.type) not in where.types:
        return False
    if where.resource is not None and (
        event.resource_type != where.resource[0].value or event.resource_key != where.resource[1]
    ):
        return False
    return where.occurred_after is None or event.occurred_at > where.occurred_after


@dataclass(eq=False)
class Subscriber:
    where: EventFilter
    queue: asyncio.Queue[FeedEntry | Exception]
    failed: bool = False

    def offer(self, entry: FeedEntry) -> None:
        if self.failed or not matches(entry, self.where):
            return
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.fail(SlowConsumer())

    def fail(self, error: Exception) -> None:
        """End the subscriber's stream with `error` (after nothing: it is dropped)."""
        self.failed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(error)


@dataclass(eq=False)
class OrganizationReader:
    organization_id: int
    subscribers: set[Subscriber] = field(default_factory=set)
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    position: int = 0
    task: asyncio.Task[None] | None = None
    failed: bool = False  # could not find where the feed ends: its subscribers get LiveUnavailable

    async def run(self) -> None:
        try:
            self.position = await feed.end_position(self.organization_id)
        except Exception:
            logger.exception("starting a live reader failed")
            self.failed = True
            return
        finally:
            self.ready.set()
        while True:
            await self.woken.wait()
            self.woken.clear()
            try:
                await self.read()
            except Exception:  # the database is away: the next wake-up reads again
                logger.exception("reading the feed for live subscribers failed")
                self.woken.set()
                await asyncio.sleep(1)

    async def read(self) -> None:
        while True:
            page = await feed.read_feed(
                self.organization_id, first=PAGE, after=feed.cursor_at(self.position)
            )
            for entry in page.entries:
                self.position = entry.position.position
                for subscriber in list(self.subscribers):
                    subscriber.offer(entry)
            if not page.has_next_page:
                return


class LiveFeed:
    """This process's live readers, by organization."""

    def __init__(self, max_queued: int) -> None:
        self.max_queued = max_queued
        self.readers: dict[int, OrganizationReader] = {}
        self.positions_wanted = asyncio.Event()
        self.stopped = False
        self.listening: bool | None = None  # None: the first try is under way (PostgreSQL)
        self.listening_known = asyncio.Event()

    def set_listening(self, listening: bool) -> None:
        """Whether wake-ups reach this process; when they stop, every subscription ends
        (LiveUnavailable) and new ones are refused until they come again."""
        self.listening = listening
        self.listening_known.set()
        if not listening:
            for reader in self.readers.values():
                for subscriber in reader.subscribers:
                    subscriber.fail(LiveUnavailable())

    def wake(self, organization_id: int) -> None:
        reader = self.readers.get(organization_id)
        if reader is not None:
            reader.woken.set()

    def wake_all(self) -> None:
        for reader in self.readers.values():
            reader.woken.set()

    def want_positions(self) -> None:
        """Events committed (PostgreSQL): sequence them, if anyone here is waiting for them."""
        if self.readers:
            self.positions_wanted.set()

    async def sequence_forever(self) -> None:
        """Give positions promptly after commits; if another process holds the sequencer, its
        run may have begun before the commit: try again shortly."""
        while True:
            await self.positions_wanted.wait()
            self.positions_wanted.clear()
            for _ in range(SEQUENCE_TRIES):
                try:
                    if await feed.sequence():
                        break
                except Exception:
                    logger.exception("sequencing the feed failed")
                await asyncio.sleep(SEQUENCE_RETRY)

    async def _join(self, organization_id: int, subscriber: Subscriber) -> None:
        if self.stopped:
            raise LiveFeedStopped
        await self.listening_known.wait()
        if not self.listening:
            raise LiveUnavailable
        reader = self.readers.get(organization_id)
        if reader is None:
            reader = self.readers[organization_id] = OrganizationReader(organization_id)
            reader.task = asyncio.create_task(reader.run())
        reader.subscribers.add(subscriber)
        await reader.ready.wait()
        if reader.failed:
            self._leave(organization_id, subscriber)
            if self.readers.get(organization_id) is reader:  # the next subscriber tries again
                del self.readers[organization_id]
            raise LiveUnavailable

    def _leave(self, organization_id: int, subscriber: Subscriber) -> None:
        reader = self.readers.get(organization_id)
        if reader is None:
            return
        reader.subscribers.discard(subscriber)
        if not reader.subscribers:
            del self.readers[organization_id]
            if reader.task is not None:
                reader.task.cancel()

    async def follow(
        self,
        organization_id: int,
        *,
        after: str | None,
        where: EventFilter,
    ) -> AsyncIterator[FeedEntry]:
        """Every event after the cursor (or from now on, without one), then each one as it
        commits. Raises SlowConsumer when the caller falls `max_queued` events behind,
        LiveFeedStopped at shutdown, LiveUnavailable when wake-ups cannot reach this process,
        and DomainError for a bad or expired cursor."""
        subscriber = Subscriber(where, asyncio.Queue(self.max_queued))
        await self._join(organization_id, subscriber)
        try:
            replayed: int | None = None
            cursor = after
            while cursor is not None:
                page = await feed.read_feed(organization_id, first=PAGE, after=cursor, where=where)
                for entry in page.entries:
                    replayed = entry.position.position
                    yield entry
                cursor = page.end_cursor if page.has_next_page else None
            while True:
                item = await subscriber.queue.get()
                if isinstance(item, Exception):
                    raise item
                if replayed is None or item.position.position > replayed:
                    yield item
        finally:
            self._leave(organization_id, subscriber)

    async def stop(self) -> None:
        """End every subscription (LiveFeedStopped) and every reader."""
        self.stopped = True
        readers = list(self.readers.values())
        for reader in readers:
            for subscriber in reader.subscribers:
                subscriber.fail(LiveFeedStopped())
            if reader.task is not None:
                reader.task.cancel()
        for reader in readers:
            if reader.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader.task


@contextlib.asynccontextmanager
async def running(
    database_url: str, *, is_sqlite: bool, max_queued: int
) -> AsyncIterator[LiveFeed]:
    """This process's live feed, woken in-process on SQLite, by LISTEN/NOTIFY on PostgreSQL
    (`database_url`: where to LISTEN)."""
    live = LiveFeed(max_queued)
    tasks: list[asyncio.Task[None]] = []
    if is_sqlite:
        notify.wake_in_process(live.wake)
        live.set_listening(True)
    else:
        tasks.append(asyncio.create_task(live.sequence_forever()))
        listening = notify.listen_forever(
            database_url, live.want_positions, live.wake, live.wake_all, live.set_listening
        )
        tasks.append(asyncio.create_task(listening))
    try:
        yield live
    finally:
        await live.stop()
        if is_sqlite:
            notify.wake_in_process(None)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
