"""A graphql-transport-ws client over a real WebSocket (the `websockets` package), and the
test app served by uvicorn inside the test's own event loop, so that it shares the test's
database connections."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gqlorders.config import Settings
from gqlorders.events import live
from tests.live_server import free_port

WAIT = 10.0  # seconds: a bound for a loaded machine, not an expected latency


class LiveClient:
    """One connection: `init` with a token, then `subscribe` and read `next` payloads."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def init(self, token: str | None, **payload: Any) -> dict[str, Any]:
        if token is not None:
            payload["Authorization"] = f"Bearer {token}"
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next message, answering pings on the way as any client library does."""
        while True:
            frame = await asyncio.wait_for(self.socket.recv(), timeout)
            assert isinstance(frame, str), "graphql-transport-ws messages are text frames"
            message = json.loads(frame)
            if message["type"] != "ping":
                return message
            await self.send({"type": "pong"})

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        id = str(next(self.ids))
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": id, "type": "subscribe", "payload": payload})
        return id

    async def next(self, timeout: float = WAIT) -> dict[str, Any]:
        """The payload of the next `next` message (any other message fails the test)."""
        message = await self.receive(timeout)
        assert message["type"] == "next", message
        return message["payload"]

    async def closed(self, timeout: float = WAIT) -> tuple[int, str]:
        """Wait for the server to close the socket: (code, reason)."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.receive(timeout)
        assert self.socket.close_code is not None
        return self.socket.close_code, self.socket.close_reason or ""


@contextlib.asynccontextmanager
async def live_client(url: str, token: str | None = None) -> AsyncIterator[LiveClient]:
    """A connection, acknowledged when a token is given."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        client = LiveClient(socket)
        if token is not None:
            ack = await client.init(token)
            assert ack == {"type": "connection_ack"}, ack
        yield client


@contextlib.asynccontextmanager
async def serving(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    """Serve `app` on a free port in this loop, with the live feed its lifespan would start;
    the WebSocket URL of /graphql."""
    graphql = app.state.graphql
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws_per_message_deflate=settings.live.per_message_deflate,
    )
    server = uvicorn.Server(config)
    async with live.running(
        settings.database_url, is_sqlite=settings.is_sqlite, max_queued=settings.live.max_queued
    ) as feed:
        graphql.live = feed
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)
            yield f"ws://127.0.0.1:{port}/graphql"
        finally:
            server.should_exit = True
            await task
            graphql.live = None
