"""The HTTP connections of one endpoint: kept alive and reused, without httpcore's pool.

httpcore's connection pool looks at every connection it holds whenever a request starts or
ends: whether each has expired (for an idle one, a poll of its socket through anyio, which
builds a dict of the socket's attributes each time) and, for each idle one, how many the pool
holds (a list of them all). With a handful of connections that is most of the CPU a webhook
send costs. An endpoint's connections all go to one address, so a free list does: take an
idle connection that has not expired (one check), or open a new one; give it back once its
answer was read. httpx's transport still does the rest (its request and response, timeouts,
the mapping of httpcore's exceptions to its own): `EndpointTransport` only swaps its pool.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpcore
import httpx

KEEPALIVE_SECONDS = 5.0  # httpx's default keep-alive expiry


class _Body:
    """A response's body stream that gives its connection back when closed."""

    def __init__(self, stream: Any, done: Callable[[], None]) -> None:
        self.stream = stream
        self.done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self.stream:
            yield part

    async def aclose(self) -> None:
        try:
            if hasattr(self.stream, "aclose"):
                await self.stream.aclose()
        finally:
            self.done()


class EndpointPool:
    """httpcore's pool interface (`handle_async_request`, `aclose`) over one origin's
    connections: at most `limit` at once, the idle ones kept for the next requests."""

    def __init__(self, limit: int, ssl_context: ssl.SSLContext) -> None:
        self.slots = asyncio.Semaphore(limit)
        self.ssl_context = ssl_context
        self.idle: list[httpcore.AsyncHTTPConnection] = []
        self.closing: set[asyncio.Task[None]] = set()

    def _idle_connection(self) -> httpcore.AsyncHTTPConnection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            self._close_later(connection)
        return None

    def _close_later(self, connection: httpcore.AsyncHTTPConnection) -> None:
        task = asyncio.create_task(connection.aclose())
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    def _give_back(self, connection: httpcore.AsyncHTTPConnection) -> None:
        self.slots.release()
        if connection.is_idle() and not connection.is_closed():
            self.idle.append(connection)
        else:
            self._close_later(connection)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        waited = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(waited):
                await self.slots.acquire()
        except TimeoutError as error:
            raise httpcore.PoolTimeout("no connection to the endpoint came free") from error
        connection = self._idle_connection()
        if connection is None:
            connection = httpcore.AsyncHTTPConnection(
                origin=request.url.origin,
                ssl_context=self.ssl_context,
                keepalive_expiry=KEEPALIVE_SECONDS,
            )
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            self.slots.release()
            self._close_later(connection)
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_Body(response.stream, lambda: self._give_back(connection)),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        idle, self.idle = self.idle, []
        for connection in idle:
            await connection.aclose()
        if self.closing:
            await asyncio.gather(*list(self.closing), return_exceptions=True)


class EndpointTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on an `EndpointPool` of `limit` connections."""

    def __init__(self, limit: int, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        assert hasattr(self, "_pool"), "httpx's transport no longer keeps its pool in _pool"
        self._pool = EndpointPool(limit, ssl_context)  # type: ignore[assignment]
