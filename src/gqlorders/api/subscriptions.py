"""Live updates (README "Live updates"): the Subscription root, and what a WebSocket connection
may hold (graphql-transport-ws on /graphql).

The token comes in `connection_init`'s payload and is checked again every LIVE_TOKEN_RECHECK:
a revoked token's connection closes. The feed itself is followed by `events.live`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    PongMessage,
    SubscribeMessage,
)

from gqlorders import models
from gqlorders.api.context import Context, Info, bearer_token, require
from gqlorders.api.errors import graphql_error, query_error
from gqlorders.api.ids import decode_id
from gqlorders.api.types.events import EventEdge, EventFilter
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.config import Live
from gqlorders.errors import DomainError
from gqlorders.events import EventFilter as DomainEventFilter
from gqlorders.events import FeedEntry, Resource
from gqlorders.events.live import LiveFeedStopped, SlowConsumer
from gqlorders.tenancy import Principal, Scope, authenticate

# Close codes (graphql-transport-ws's own are 44xx: 4400 bad message, 4401 subscribe before
# connection_init, 4408 no connection_init in time, 4409 a subscription id in use).
CLOSE_FORBIDDEN = 4403  # a missing, unknown or revoked token
CLOSE_NO_PONG = 4408  # the client did not answer the last ping
CLOSE_TOO_MANY_SUBSCRIPTIONS = 4413  # LIVE_MAX_SUBSCRIPTIONS on one connection
CLOSE_TOO_MANY_CONNECTIONS = 4503  # LIVE_MAX_CONNECTIONS of one organization (this process)
CLOSE_SLOW_CONSUMER = 4504  # LIVE_MAX_QUEUED events waiting: the client does not keep up


class Refused(Exception):
    """A connection refused after its token was accepted: closed with this code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def connection_token(context: Context) -> str | None:
    """The bearer token of `connection_init`'s payload ({"Authorization": "Bearer …"}), or of
    the handshake's Authorization header (clients that can set one)."""
    params = context.connection_params or {}
    header = next((v for k, v in params.items() if k.lower() == "authorization"), None)
    if isinstance(header, str):
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return bearer_token(context.request) if context.request is not None else None


class ConnectionCounts:
    """Open connections by organization, in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: Counter[int] = Counter()

    def take(self, organization_id: int) -> None:
        if self.open[organization_id] >= self.limit:
            raise Refused(
                CLOSE_TOO_MANY_CONNECTIONS,
                f"this organization has {self.limit} connections open here already",
            )
        self.open[organization_id] += 1

    def give_back(self, organization_id: int) -> None:
        self.open[organization_id] -= 1
        if self.open[organization_id] <= 0:
            del self.open[organization_id]


async def accept_connection(context: Context, counts: ConnectionCounts) -> None:
    """`connection_init`: authenticate (else 4403), then count the connection (else 4503)."""
    token = connection_token(context)
    principal = await authenticate(token) if token else None
    if principal is None:
        raise ConnectionRejectionError({"message": "a valid bearer token is required"})
    counts.take(principal.organization_id)
    context.principal = principal
    context.token_given = True
    context.fresh_loaders()


class LiveConnection(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, with our limits, pings and token checks."""

    view: Any  # app.GraphQLApp: its `live_settings` and `connection_counts`
    context: Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings: Live = self.view.live_settings
        self.counted: Principal | None = None
        self.watch: asyncio.Task[None] | None = None
        self.pong_due = False
        self.closing: asyncio.Task[None] | None = None
        self.context.close_connection = self.close

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except Refused as refused:
            await self.websocket.close(refused.code, refused.reason)
            return
        if self.connection_acknowledged:
            self.counted = self.context.principal
            self.watch = asyncio.create_task(self.keep_watch())

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and len(self.operations) >= self.settings.max_subscriptions:
            reason = f"at most {self.settings.max_subscriptions} subscriptions on one connection"
            await self.websocket.close(CLOSE_TOO_MANY_SUBSCRIPTIONS, reason)
            return
        await super().handle_subscribe(message)

    async def handle_pong(self, message: PongMessage) -> None:
        self.pong_due = False

    async def keep_watch(self) -> None:
        """Ping every LIVE_KEEPALIVE (no pong since the last one: closed), and close when the
        token is revoked (checked every LIVE_TOKEN_RECHECK)."""
        keepalive = self.settings.keepalive.total_seconds()
        recheck = self.settings.token_recheck.total_seconds()
        step = min(keepalive, recheck)
        since_ping = since_check = 0.0
        token = connection_token(self.context)
        while True:
            await asyncio.sleep(step)
            since_ping += step
            since_check += step
            if since_check >= recheck:
                since_check = 0.0
                if token is None or await authenticate(token) is None:
                    await self.websocket.close(CLOSE_FORBIDDEN, "the token was revoked")
                    return
            if since_ping >= keepalive:
                since_ping = 0.0
                if self.pong_due:
                    await self.websocket.close(CLOSE_NO_PONG, "no pong to the last ping")
                    return
                self.pong_due = True
                await self.send_message({"type": "ping"})

    def close(self, code: int, reason: str) -> None:
        """Close the socket from outside the handler's task (the feed's reader, say)."""
        if self.closing is None:
            self.closing = asyncio.create_task(self.websocket.close(code, reason))

    async def shutdown(self) -> None:
        if self.watch is not None:
            self.watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watch
        if self.counted is not None:
            self.view.connection_counts.give_back(self.counted.organization_id)
            self.counted = None
        await super().shutdown()


async def _entries(
    info: Info, after: str | None, where: DomainEventFilter
) -> AsyncIterator[FeedEntry]:
    """The caller's organization's feed, live; ends quietly when the connection is being
    closed (slow consumer) or the server stops."""
    context = info.context
    principal = require(info, Scope.ORDERS_READ)
    if context.live is None or context.close_connection is None:
        raise graphql_error("BAD_REQUEST", "subscriptions run over WebSocket only")
    close = context.close_connection
    try:
        async for entry in context.live.follow(
            principal.organization_id,
            after=after,
            where=where,
            on_overflow=lambda: close(CLOSE_SLOW_CONSUMER, "the client did not keep up"),
        ):
            context.fresh_loaders()
            yield entry
    except DomainError as error:
        raise query_error(error) from None
    except (SlowConsumer, LiveFeedStopped):
        return


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The organization's events as they commit. With `after` (a feed cursor),"
        " first every event since that cursor, then the live ones, with none missed or"
        " repeated in between."
    )
    async def events(
        self, info: Info, after: str | None = None, filter: EventFilter | None = None
    ) -> AsyncGenerator[EventEdge, None]:
        try:
            where = filter.to_domain() if filter else DomainEventFilter()
        except DomainError as error:
            raise query_error(error) from None
        async for entry in _entries(info, after, where):
            yield EventEdge(cursor=entry.position.cursor(), node=entry.event)

    @strawberry.subscription(
        description="The order after each committed change; completes when it is deleted or"
        " merged away.",
        graphql_type=SalesOrder,
    )
    async def sales_order_changed(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[models.SalesOrder, None]:
        require(info, Scope.ORDERS_READ)
        try:
            key = decode_id(id, "SalesOrder", ("id",))
        except DomainError as error:
            raise query_error(error) from None
        if await info.context.loaders.sales_order.load(key) is None:
            raise graphql_error("NOT_FOUND", "no such SalesOrder")
        where = DomainEventFilter(resource=(Resource.SALES_ORDER, key))
        async for _ in _entries(info, None, where):
            order = await info.context.loaders.sales_order.load(key)
            if order is None:
                return
            yield order
            if order.status == models.SalesOrderStatus.MERGED:
                return
