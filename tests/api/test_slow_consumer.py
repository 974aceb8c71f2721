"""A subscriber that falls behind is disconnected (4504) instead of buffered without bound."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from gqlorders.config import Live, Settings
from gqlorders.events import EventType, Resource, publish
from tests.live_client import live_client, serving
from tests.support import Organization

EVENTS = "subscription { events { cursor } }"


async def test_more_events_waiting_than_allowed_closes_with_4504(
    app: Starlette, settings: Settings, org: Organization
) -> None:
    small = replace(settings, live=Live(max_queued=3))
    async with serving(app, small) as url, live_client(url, org.api.token) as client:
        await client.subscribe(EVENTS)
        # Four events at once, one more than may wait, until the subscription has started.
        writer = asyncio.create_task(commit_batches(org.id, size=4))

        assert await client.closed() == (4504, "the client did not keep up")
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def commit_batches(organization_id: int, size: int) -> None:
    while True:
        async with in_transaction():
            for n in range(size):
                await publish(
                    organization_id,
                    EventType.SALES_ORDER_UPDATED,
                    Resource.SALES_ORDER,
                    n,
                    {},
                    None,
                )
        await asyncio.sleep(0.1)
