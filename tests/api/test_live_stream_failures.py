"""A shared subscription's failures stay with their cause (api/live_streams.py): a socket whose
write fails is closed alone, a stream whose task dies ends for its members with an error, and
the next subscriber with the same answers starts a stream of its own.

The failing write is Starlette's (`WebSocket.send_text`) for one client's socket, the way a
transport error would surface: our own code runs as it does in production."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.websockets import WebSocket
from tortoise.transactions import in_transaction

from gqlorders.config import Settings
from gqlorders.events import EventType, Resource, publish
from tests.live_client import LiveClient, live_client, serving
from tests.support import Organization

EVENTS = "subscription { events { node { resourceId } } }"
ORDER_2 = "U2FsZXNPcmRlcjoy"  # SalesOrder:2
INTERNAL_ERROR = {
    "data": None,
    "errors": [
        {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ],
}


class FailingWrites:
    """Make the next `next` write to the given clients' sockets raise `error`."""

    def __init__(self) -> None:
        self.ports: dict[int, BaseException] = {}

    def fail(self, client: LiveClient, error: BaseException) -> None:
        self.ports[client.socket.local_address[1]] = error


@pytest.fixture
def failing_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[FailingWrites]:
    failing = FailingWrites()
    send_text = WebSocket.send_text

    async def send_or_fail(socket: WebSocket, data: str) -> None:
        port = socket.client.port if socket.client else None
        if '"type":"next"' in data and port in failing.ports:
            raise failing.ports.pop(port)
        await send_text(socket, data)

    monkeypatch.setattr(WebSocket, "send_text", send_or_fail)
    yield failing


async def publish_event(organization_id: int, resource_id: int) -> None:
    async with in_transaction():
        await publish(
            organization_id,
            EventType.SALES_ORDER_UPDATED,
            Resource.SALES_ORDER,
            resource_id,
            {},
            None,
        )


@contextlib.asynccontextmanager
async def two_members(
    app: Starlette, settings: Settings, org: Organization
) -> AsyncIterator[tuple[str, LiveClient, LiveClient]]:
    """A server and two clients of one shared stream (`first` joined first): the URL, them."""
    async with (
        serving(app, settings) as url,
        live_client(url, org.api.token) as first,
        live_client(url, org.api.token) as second,
    ):
        await first.subscribe(EVENTS)
        await asyncio.sleep(0.2)
        await second.subscribe(EVENTS)
        await asyncio.sleep(0.2)
        yield url, first, second


async def test_a_stream_whose_task_dies_ends_for_its_members_and_is_not_joined_again(
    app: Starlette, settings: Settings, org: Organization, failing_writes: FailingWrites
) -> None:
    async with two_members(app, settings, org) as (url, first, second):
        failing_writes.fail(first, asyncio.CancelledError())  # the stream's task is cancelled

        await publish_event(org.id, 1)

        for client in (first, second):
            assert await client.receive() == {"id": "1", "type": "next", "payload": INTERNAL_ERROR}
            assert await client.receive() == {"id": "1", "type": "complete"}
        async with live_client(url, org.api.token) as later:
            await later.subscribe(EVENTS)
            await asyncio.sleep(0.2)
            await publish_event(org.id, 2)
            assert await later.next() == {"data": {"events": {"node": {"resourceId": ORDER_2}}}}


async def test_a_socket_whose_write_fails_is_closed_alone(
    app: Starlette, settings: Settings, org: Organization, failing_writes: FailingWrites
) -> None:
    async with two_members(app, settings, org) as (_, first, second):
        failing_writes.fail(first, ValueError("the transport failed"))

        await publish_event(org.id, 2)

        assert await first.closed() == (1011, "internal error")
        assert await second.next() == {"data": {"events": {"node": {"resourceId": ORDER_2}}}}
        await publish_event(org.id, 2)
        assert await second.next() == {"data": {"events": {"node": {"resourceId": ORDER_2}}}}
