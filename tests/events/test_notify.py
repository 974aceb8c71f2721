"""Feed wake-ups (events/notify.py): the LISTEN connection's retries -- quick at first, then
backing off to a cap, each a little early at random so that server processes do not retry in
step -- and the feed's INSERT trigger that notifies it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid

import asyncpg
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from gqlorders.config import Settings
from gqlorders.events import EventType, Resource, publish
from gqlorders.events.notify import (
    CHANNEL,
    POSITIONS_WANTED,
    TRIGGER_EXISTS,
    listen_forever,
    retry_delay,
)
from tests.live_server import POSTGRES_URL, on_postgres_admin
from tests.support import Organization, postgres_only


@pytest.mark.parametrize(
    ("failures", "longest"), [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)]
)
def test_each_failed_try_doubles_the_wait_up_to_30_seconds(failures: int, longest: float) -> None:
    delays = {retry_delay(failures) for _ in range(200)}

    assert min(delays) >= 0.8 * longest
    assert max(delays) <= longest
    assert len(delays) > 1  # jittered


@postgres_only("the feed's INSERT trigger exists on PostgreSQL only (SQLite wakes in-process)")
async def test_the_feed_trigger_notifies_once_per_committed_transaction_of_events(
    settings: Settings, org: Organization
) -> None:
    """Migration 0019_feed_notify: nothing for an INSERT of no row or a rolled back event; one
    notification for a transaction that recorded two (PostgreSQL folds identical ones)."""
    received: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(settings.database_url)
    try:
        await listener.add_listener(CHANNEL, lambda *args: received.put_nowait(args[3]))
        connection = connections.get("default")
        await connection.execute_query(
            "INSERT INTO feed_event (organization_id, type, resource_type, resource_key,"
            " occurred_at, data) SELECT id, 'X', 'SalesOrder', 1, now(), '{}' FROM organization"
            " WHERE false"
        )
        with contextlib.suppress(RuntimeError):
            async with in_transaction():
                await record_one(org.id, 1)
                raise RuntimeError("rolled back")
        async with in_transaction():
            await record_one(org.id, 2)
            await record_one(org.id, 3)
        await connection.execute_query("SELECT pg_notify($1, 'end')", [CHANNEL])

        # Delivered in commit order: everything the trigger sent comes before the end.
        announcements = []
        while (payload := await asyncio.wait_for(received.get(), 10)) != "end":
            if not payload.isdigit():  # the sequencer's (organization ids) are not the trigger's
                announcements.append(payload)
    finally:
        await listener.close()

    assert announcements == [POSITIONS_WANTED]


async def record_one(organization_id: int, key: int) -> None:
    await publish(
        organization_id, EventType.SALES_ORDER_UPDATED, Resource.SALES_ORDER, key, {}, None
    )


@postgres_only("the feed's trigger exists on PostgreSQL only")
@pytest.mark.parametrize("migrated", [True, False], ids=["migrated", "without-0019"])
async def test_listening_on_a_database_without_the_feed_trigger_logs_an_error(
    settings: Settings, caplog: pytest.LogCaptureFixture, migrated: bool
) -> None:
    """Without migration 0019 no event would be announced: live updates would stall unsaid."""
    name = f"gqlorders_notify_{uuid.uuid4().hex[:12]}"
    if not migrated:
        await on_postgres_admin(f'CREATE DATABASE "{name}"')
    url = settings.database_url if migrated else f"{POSTGRES_URL}/{name}"
    listening: asyncio.Queue[bool] = asyncio.Queue()
    try:
        listener = asyncio.create_task(
            listen_forever(url, lambda: None, lambda _: None, lambda: None, listening.put_nowait)
        )
        assert await asyncio.wait_for(listening.get(), 10) is True
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    finally:
        if not migrated:
            await on_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    missing = (
        "the feed's trigger feed_event_notify is missing (migration 0019_feed_notify): live"
        " updates will lag; run the migrations"
    )
    assert errors == ([] if migrated else [missing])


@postgres_only("the LISTEN connection exists on PostgreSQL only")
async def test_a_listen_connection_lost_soon_after_it_was_made_is_reopened_after_a_backoff(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that accepts, then drops the connection, is not knocked at in a hot loop."""
    listening: asyncio.Queue[bool] = asyncio.Queue()
    listener = asyncio.create_task(
        listen_forever(
            settings.database_url, lambda: None, lambda _: None, lambda: None, listening.put_nowait
        )
    )
    try:
        assert await asyncio.wait_for(listening.get(), 10) is True
        admin = connections.get("default")
        await admin.execute_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = $1 AND pid <> pg_backend_pid()",
            [TRIGGER_EXISTS],  # the listener's last statement
        )
        assert await asyncio.wait_for(listening.get(), 10) is True  # listening again, after:
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert re.fullmatch(
        r"the feed's LISTEN connection was lost; reconnecting in 0\.\d s", warnings[0]
    ), warnings
