"""A subscription that falls LIVE_MAX_QUEUED events behind the feed ends (LIVE_LAGGED) instead
of being buffered without bound; its connection, and the connection's other subscriptions, stay
open. A client that reads nothing is closed (4504) once LIVE_MAX_QUEUED_BYTES wait for it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import replace
from urllib.parse import urlsplit

from starlette.applications import Starlette
from tortoise.transactions import in_transaction
from websockets.asyncio.client import connect

from gqlorders.config import Live, Settings
from gqlorders.events import EventType, Resource, publish
from tests.live_client import LiveClient, live_client, serving
from tests.support import Organization

EVENTS = "subscription { events { node { resourceId } } }"
WITH_DATA = "subscription { events { node { data } } }"
LARGE = {"text": "x" * 250_000}  # a quarter of a megabyte per event
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


async def test_a_client_that_reads_nothing_is_closed_once_too_many_bytes_wait(
    app: Starlette, settings: Settings, org: Organization
) -> None:
    """Forty large events (10 MB, far fewer than LIVE_MAX_QUEUED messages) for a client whose
    socket reads nothing: the kernel's buffers fill, then LIVE_MAX_QUEUED_BYTES of the rest."""
    small = replace(settings, live=Live(max_queued_bytes=500_000))
    async with serving(app, small) as url:
        address = urlsplit(url)
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # no autotuning to 32 MB
        raw.connect((address.hostname, address.port))
        raw.setblocking(False)
        async with connect(
            url,
            sock=raw,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            max_queue=1,
            max_size=None,
        ) as connection:
            client = LiveClient(connection)
            assert await client.init(org.api.token) == {"type": "connection_ack"}
            await client.subscribe(WITH_DATA)
            await asyncio.sleep(0.2)
            for _ in range(40):
                async with in_transaction():
                    await publish(
                        org.id, EventType.SALES_ORDER_UPDATED, Resource.SALES_ORDER, 1, LARGE, None
                    )

            assert await client.closed() == (4504, "the client did not keep up")
