"""A subscription that falls LIVE_MAX_QUEUED events behind the feed ends (LIVE_LAGGED) instead
of being buffered without bound; its connection, and the connection's other subscriptions, stay
open."""

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

EVENTS = "subscription { events { node { resourceId } } }"
LAGGED = {
    "data": None,
    "errors": [
        {
            "message": "this subscription fell too far behind the feed: resubscribe with"
            " `after` (the last cursor received) to miss nothing",
            "extensions": {"code": "LIVE_LAGGED"},
        }
    ],
}
ORDER_7 = "U2FsZXNPcmRlcjo3"  # SalesOrder:7


async def test_a_subscription_more_events_behind_than_allowed_ends_alone(
    app: Starlette, settings: Settings, org: Organization
) -> None:
    small = replace(settings, live=Live(max_queued=3))
    async with serving(app, small) as url, live_client(url, org.api.token) as client:
        lagging = await client.subscribe(EVENTS)
        # Four events at once, one more than may wait, until the subscription has started.
        writer = asyncio.create_task(commit_batches(org.id, size=4))
        message = await client.receive()
        while message["type"] == "next" and message["payload"].get("data"):
            message = await client.receive()  # events it kept up with, before a batch
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer

        assert message == {"id": lagging, "type": "next", "payload": LAGGED}
        assert await client.receive() == {"id": lagging, "type": "complete"}
        again = await client.subscribe(EVENTS)  # the same connection
        await asyncio.sleep(0.2)
        await commit_batches(org.id, size=1, times=1, resource_id=7)
        assert await client.receive() == {
            "id": again,
            "type": "next",
            "payload": {"data": {"events": {"node": {"resourceId": ORDER_7}}}},
        }


async def commit_batches(
    organization_id: int, size: int, times: int | None = None, resource_id: int = 1
) -> None:
    done = 0
    while times is None or done < times:
        async with in_transaction():
            for _ in range(size):
                await publish(
                    organization_id,
                    EventType.SALES_ORDER_UPDATED,
                    Resource.SALES_ORDER,
                    resource_id,
                    {},
                    None,
                )
        done += 1
        await asyncio.sleep(0.1)
