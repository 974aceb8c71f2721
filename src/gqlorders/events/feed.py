"""Recording and reading the organization's event feed (`Query.events`).

An event is written in the transaction of the change it reports, so it exists exactly when the
change does. Reading it in order is the hard part: ids are handed out when rows are written,
not when they commit, so a transaction can write event 41 and commit after another wrote and
committed 42; a reader already past 42 would never see 41. So on PostgreSQL the feed is ordered
by a position given *after* commit: `sequence()` numbers the committed events that have none
yet, one sequencer at a time (an advisory lock), in a transaction of its own. Each run's
positions are above every earlier run's and become visible together when it commits, so a
reader that keeps the last position and asks again sees every event once. Every read sequences
first, so an event is readable as soon as its change committed. (Ordering by transaction id up
to the snapshot's xmin would need no writes, but any transaction left open anywhere on the
server, in any database, would hold the whole feed back.)
SQLite commits one writer at a time, in the order of its ids: the id is the position there.

Live readers (subscriptions) are woken by `events.notify`: the feed's INSERT trigger announces
the commit (PostgreSQL; `publish` itself on SQLite), and each sequencer run announces the
organizations it gave positions to, as it commits.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Subquery
from tortoise.functions import Max
from tortoise.queryset import QuerySet
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import rows
from gqlorders.errors import DomainError, ErrorCode
from gqlorders.events import notify
from gqlorders.events.snapshots import RESOURCES
from gqlorders.events.types import EventType, Resource
from gqlorders.models import FeedEvent, InboxMessage, Invoice, Package, SalesOrder
from gqlorders.webhooks import fanout

DEFAULT_RETENTION = timedelta(days=30)
# Events are deleted this long after their cursors expire: an event sorted after a reader's
# cursor may have been written a little before it (its transaction began first).
PRUNE_MARGIN = timedelta(hours=1)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
SEQUENCER_LOCK = 7_012  # advisory lock class of the feed's sequencer
SEQUENCE_BATCH = 10_000
# Numbers a batch and notifies the organizations concerned: delivered when the positions are
# visible, at commit (events/notify.py).
_SEQUENCE = """
WITH positioned AS (
    UPDATE feed_event SET position = numbered.position
    FROM (
        SELECT id, nextval('feed_event_position') AS position
        FROM (SELECT id FROM feed_event WHERE position IS NULL ORDER BY id LIMIT $1) waiting
    ) numbered
    WHERE feed_event.id = numbered.id
    RETURNING feed_event.organization_id
)
SELECT pg_notify($2, organization_id::text) FROM (SELECT DISTINCT organization_id FROM positioned) o
"""

_retention = DEFAULT_RETENTION


def configure(retention: timedelta) -> None:
    """Set the retention (`EVENT_RETENTION`) for cursors and pruning in this process."""
    global _retention
    _retention = retention


async def publish(
    organization_id: int,
    type: EventType,
    resource: Resource,
    key: int,
    data: dict[str, Any],
    actor: str | None,
) -> None:
    """Record an event in the current transaction: it is in the feed once that commits, and
    so are its webhook deliveries."""
    event = await FeedEvent.create(
        organization_id=organization_id,
        type=type.value,
        actor=actor,
        resource_type=resource.value,
        resource_key=key,
        data=data,
    )
    await fanout.fan_out(event)
    notify.announce(organization_id)


async def record(
    event_type: EventType, row: SalesOrder | Invoice | Package | InboxMessage, actor: str | None
) -> None:
    """Publish an event about a sales order, invoice, package or inbox message, its data the
    row as it is now (events/snapshots.py)."""
    resource, data = RESOURCES[type(row)]
    await publish(row.organization_id, event_type, Resource(resource), row.pk, data(row), actor)


@dataclass(frozen=True)
class EventFilter:
    types: frozenset[EventType] | None = None
    resource: tuple[Resource, int] | None = None
    occurred_after: datetime | None = None


async def sequence() -> bool:
    """Give the committed events without a position theirs (PostgreSQL), unless another
    process is doing it right now: its positions are visible when it commits, a moment later.
    False in that case (that run may have begun before the latest commits: try again soon).
    Idempotent: a second run numbers only what was committed since, so a read run twice (a
    compiled plan's run, then the standard executor's: api/compiled) changes nothing more."""
    if _is_sqlite():
        return True
    async with in_transaction() as connection:
        locked = await connection.execute_query_dict(
            "SELECT pg_try_advisory_xact_lock($1, 0) AS locked", [SEQUENCER_LOCK]
        )
        if not locked[0]["locked"]:
            return False
        await connection.execute_query(_SEQUENCE, [SEQUENCE_BATCH, notify.CHANNEL])
        return True


def _is_sqlite() -> bool:
    return FeedEvent._meta.db.capabilities.dialect == "sqlite"


@dataclass(frozen=True)
class Position:
    """Where a reader is: after the event at this place in the feed."""

    position: int
    occurred_at: datetime

    def cursor(self) -> str:
        """`feed:<position>:<Unix seconds of the event>`, opaque to clients (base64)."""
        text = f"feed:{self.position}:{int(self.occurred_at.timestamp())}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class FeedEntry:
    event: FeedEvent
    position: Position


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    has_next_page: bool
    end_cursor: str | None  # the last entry's, or the cursor given when there is none


def parse_cursor(cursor: str, field: str = "after") -> Position:
    """The position a cursor names; INVALID when it is not one of the feed's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, position_text, seconds_text = raw.split(":")
        if kind != "feed" or not (position_text + seconds_text).isdigit():
            raise ValueError
        position, seconds = int(position_text), int(seconds_text)
        if position >= 2**63:
            raise ValueError
        occurred_at = datetime.fromtimestamp(seconds, UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError, OSError):
        raise DomainError.one(
            ErrorCode.INVALID, (field,), "not a cursor of the event feed"
        ) from None
    return Position(position, occurred_at)


async def _refuse_if_expired(organization_id: int, start: Position, order: str) -> None:
    """EVENT_CURSOR_EXPIRED when events after the cursor may have been deleted: when its own
    event is gone. (Pruning deletes by age and keeps each organization's newest event, so the
    cursor of a reader of a quiet feed stays good however long nothing happens.)"""
    if start.occurred_at >= now() - _retention:
        return
    if await FeedEvent.filter(organization_id=organization_id, **{order: start.position}).exists():
        return
    raise DomainError.one(
        ErrorCode.EVENT_CURSOR_EXPIRED,
        ("after",),
        f"events are kept {_describe(_retention)} and some after this cursor may be deleted:"
        " catch up with salesOrders(filter: {updatedAfter}) and read the feed again from its"
        " start",
    )


def _describe(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


async def end_position(organization_id: int) -> int:
    """The position of the organization's last readable event (0 without any): where a live
    reader starts."""
    await sequence()
    if _is_sqlite():
        last = await FeedEvent.filter(organization_id=organization_id).order_by("-id").first()
        return last.id if last else 0
    return await _last_position(organization_id)


async def _last_position(organization_id: int) -> int:
    """The organization's highest position this statement's snapshot shows (0 without any).
    Every event at or below it stays visible to any later snapshot: a sequencer run's
    positions are above every earlier run's, and runs take turns."""
    last = (
        await FeedEvent.filter(organization_id=organization_id, position__isnull=False)
        .order_by("-position")
        .first()
    )
    return last.position if last and last.position is not None else 0


def cursor_at(position: int) -> str:
    """A fresh cursor after `position`, for a reader that is live (it cannot have expired)."""
    return Position(position, now()).cursor()


async def read_feed(
    organization_id: int,
    *,
    first: int | None = None,
    after: str | None = None,
    where: EventFilter = EventFilter(),
) -> FeedPage:
    """The organization's events after the cursor, oldest first (see the module's docstring
    for why none is ever skipped)."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise DomainError.one(
            ErrorCode.INVALID, ("first",), f"first must be between 0 and {MAX_PAGE_SIZE}"
        )
    order = _order()
    start = None
    if after is not None:
        start = parse_cursor(after)
        await _refuse_if_expired(organization_id, start, order)
    await sequence()
    queries = page_queries(organization_id, start.position if start else None, where, size)
    if len(queries) == 1:
        events = await rows.fetch(queries[0])
    else:  # each type's events in order: merged, the first size + 1 are the page's
        # Each statement sees a snapshot of its own: all read up to the last position one
        # snapshot showed, or a sequencer run committing between two of them could show one
        # type's later events without another's earlier ones, which the cursor would skip.
        last = await _last_position(organization_id)
        pages = [await rows.fetch(query.filter(position__lte=last)) for query in queries]
        merged = heapq.merge(*pages, key=lambda event: getattr(event, order))
        events = list(itertools.islice(merged, size + 1))
    entries = [
        FeedEntry(event, Position(getattr(event, order), event.occurred_at))
        for event in events[:size]
    ]
    return FeedPage(
        entries=entries,
        has_next_page=len(events) > size,
        end_cursor=entries[-1].position.cursor() if entries else after,
    )


def page_queries(
    organization_id: int, after: int | None, where: EventFilter, size: int
) -> list[QuerySet[FeedEvent]]:
    """The statements of a page: the organization's events after the position `after` (from
    the start if None) that `where` selects, oldest first, one more than `size` (to tell
    whether there is a next page). One statement, or on PostgreSQL one per type when the filter
    names several: `type IN (...)` cannot read the (organization, type, position) index in
    position order and would sort every matching event after the cursor, while each type's own
    statement is an ordered range scan of it that stops after `size` + 1; `read_feed` merges
    them. bench/events.py explains them on a large table."""
    types = sorted(where.types) if where.types else []
    if len(types) > 1 and _order() == "position":
        return [_page_query(organization_id, after, where, [one], size) for one in types]
    return [_page_query(organization_id, after, where, types, size)]


def _page_query(
    organization_id: int, after: int | None, where: EventFilter, types: list[EventType], size: int
) -> QuerySet[FeedEvent]:
    order = _order()
    query = FeedEvent.filter(organization_id=organization_id)
    if order == "position":
        query = query.filter(position__isnull=False)
    if after is not None:
        query = query.filter(**{f"{order}__gt": after})
    if len(types) == 1:
        query = query.filter(type=types[0].value)
    elif types:
        query = query.filter(type__in=[one.value for one in types])
    if where.resource is not None:
        query = query.filter(resource_type=where.resource[0].value, resource_key=where.resource[1])
    if where.occurred_after is not None:
        query = query.filter(occurred_at__gt=where.occurred_after)
    return query.order_by(order).limit(size + 1)


def _order() -> str:
    """What orders the feed, and what cursors name: the position (PostgreSQL) or the id."""
    return "id" if _is_sqlite() else "position"


async def prune_expired() -> int:
    """Delete the events past their retention (with the margin above), except each
    organization's newest, which its readers' cursors point at; returns how many."""
    order = _order()
    newest = Subquery(
        FeedEvent.annotate(newest=Max(order)).group_by("organization_id").values("newest")
    )
    return await FeedEvent.filter(
        occurred_at__lt=now() - _retention - PRUNE_MARGIN, **{f"{order}__not_in": newest}
    ).delete()
