"""Live updates (README "Live updates"): the Subscription root, and what a WebSocket connection
may hold (graphql-transport-ws on /graphql).

The token comes in `connection_init`'s payload and is checked again every LIVE_TOKEN_RECHECK:
a revoked token's connection closes. The feed itself is followed by `events.live`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    PongMessage,
    SubscribeMessage,
)

from gqlorders import models
from gqlorders.api.context import Context, Info, bearer_token, require
from gqlorders.api.eager import start_eagerly
from gqlorders.api.errors import graphql_error, query_error
from gqlorders.api.ids import decode_id
from gqlorders.api.live_streams import CLOSE_INTERNAL_ERROR, Member
from gqlorders.api.types.events import EventEdge, EventFilter
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.config import Live
from gqlorders.errors import DomainError
from gqlorders.events import EventFilter as DomainEventFilter
from gqlorders.events import FeedEntry, Resource
from gqlorders.events.live import LiveFeedStopped, LiveUnavailable, SlowConsumer
from gqlorders.tenancy import Principal, Scope, authenticate, hash_token

logger = logging.getLogger("gqlorders.live")

# Close codes (graphql-transport-ws's own are 44xx: 4400 bad message, 4401 subscribe before
# connection_init, 4408 no connection_init in time, 4409 a subscription id in use).
CLOSE_TRY_AGAIN_LATER = 1013  # LIVE_MAX_PROCESS_CONNECTIONS: RFC 6455's "overloaded, retry"
CLOSE_FORBIDDEN = 4403  # a missing, unknown or revoked token
CLOSE_NO_PONG = 4408  # the client did not answer the last ping
CLOSE_TOO_MANY_SUBSCRIPTIONS = 4413  # LIVE_MAX_SUBSCRIPTIONS on one connection
CLOSE_TOO_MANY_CONNECTIONS = 4503  # LIVE_MAX_CONNECTIONS of one organization (this process)
CLOSE_SLOW_CONSUMER = 4504  # LIVE_MAX_QUEUED(_BYTES) waiting: the client does not keep up


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
    """Open connections in this process: all of them, and by organization."""

    def __init__(self, limit: int, process_limit: int) -> None:
        self.limit = limit
        self.process_limit = process_limit
        self.in_process = 0
        self.open: Counter[int] = Counter()

    def enter(self) -> bool:
        """A socket was accepted: False when the process has as many as it may hold."""
        if self.in_process >= self.process_limit:
            return False
        self.in_process += 1
        return True

    def leave(self) -> None:
        self.in_process -= 1

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


class TokenChecks:
    """This process's recent token rechecks, shared by its connections: a thousand sockets of
    one token cost one query per LIVE_TOKEN_RECHECK, not a thousand. A result is reused for
    a fifth of the recheck interval: a connection checking every interval may get a result
    made that much before, so a revoked token's sockets close within 1.2 intervals of the
    revocation (12 s by default), plus the query's time. Kept by the token's hash, as the
    database keeps tokens: no secret outlives its connection here."""

    def __init__(self, recheck: float) -> None:
        self.reuse_for = recheck / 5
        self.checks: dict[str, tuple[float, asyncio.Task[bool]]] = {}

    async def valid(self, token: str) -> bool:
        now = time.monotonic()
        key = hash_token(token)
        check = self.checks.get(key)
        if check is None or now - check[0] >= self.reuse_for:
            self._forget_older_than(now - self.reuse_for)
            task = asyncio.create_task(self._check(token))
            task.add_done_callback(_retrieve_failure)  # its waiters may all have gone
            check = self.checks[key] = (now, task)
        return await asyncio.shield(check[1])

    @staticmethod
    async def _check(token: str) -> bool:
        return await authenticate(token) is not None

    def _forget_older_than(self, moment: float) -> None:
        for key in [key for key, (at, _) in self.checks.items() if at < moment]:
            del self.checks[key]


def _retrieve_failure(task: asyncio.Task[bool]) -> None:
    """A failed check is logged by the connection that waits for it (token_still_valid); one
    that nobody waits for any more is logged here, not as "never retrieved" at collection."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.debug("a token recheck failed", exc_info=error)


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


def _is_subscribe_payload(payload: object) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and isinstance(payload.get("variables") or {}, dict)
        and isinstance(payload.get("operationName") or "", str)
    )


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
        self.outbox: deque[str] = deque()  # shared streams' messages, waiting for the socket
        self.queued_bytes = 0  # their characters
        self.writer: asyncio.Task[None] | None = None  # only while the outbox is not empty

    async def handle(self) -> None:
        """Refuse a socket over LIVE_MAX_PROCESS_CONNECTIONS at once, with 1013 (try again
        later): graphql-ws clients reconnect after it with backoff, where 4429 (its "too many
        initialisation requests") is fatal to them."""
        counts: ConnectionCounts = self.view.connection_counts
        if not counts.enter():
            reason = f"this server process has {counts.process_limit} connections open"
            await self.websocket.close(CLOSE_TRY_AGAIN_LATER, f"{reason}: try again later")
            return
        try:
            await super().handle()
        finally:
            counts.leave()

    async def handle_message(self, message: Message) -> None:
        """Strawberry's, with a message that is JSON but no protocol message (not an object, a
        payload or an id of the wrong type) closed with 4400 like any other bad message, not
        1011."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.handle_invalid_message("a message must be a JSON object with a type")
            return
        if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
            await self.handle_invalid_message("Failed to parse message")
            return
        if message["type"] == "subscribe" and not _is_subscribe_payload(message.get("payload")):
            await self.handle_invalid_message("Failed to parse message")
            return
        await super().handle_message(message)

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
        """A subscription joins the shared stream of its answers (api/live_streams.py); the
        rest (queries, mutations, a document that does not parse) runs as strawberry runs it."""
        if self.connection_acknowledged and len(self.operations) >= self.settings.max_subscriptions:
            reason = f"at most {self.settings.max_subscriptions} subscriptions on one connection"
            await self.websocket.close(CLOSE_TOO_MANY_SUBSCRIPTIONS, reason)
            return
        payload = message["payload"]
        query, operation = payload["query"], payload.get("operationName")
        principal = self.context.principal
        if (
            not self.connection_acknowledged
            or message["id"] in self.operations
            or principal is None
            or not self.is_subscription(query, operation)
        ):
            await super().handle_subscribe(message)
            return
        member = Member(self, message["id"])
        # strawberry's own table of the connection's operations (typed as its Operation): a
        # member answers what it asks of one (cleanup, the limit, shutdown) without a task
        self.operations[message["id"]] = member  # type: ignore[assignment]
        self.view.live_streams.join(member, principal, query, payload.get("variables"), operation)

    def is_subscription(self, query: str, operation: str | None) -> bool:
        """Whether the document parses and the operation to run is a subscription."""
        try:
            document = parse(query, max_tokens=self.view.settings.limits.max_tokens)
        except GraphQLError:
            return False
        definition = get_operation_ast(document, operation)
        return definition is not None and definition.operation == OperationType.SUBSCRIPTION

    async def cleanup_operation(self, operation_id: str) -> None:
        """The client's `complete`, or the connection's end: a member leaves its stream."""
        operation = self.operations.get(operation_id)
        if isinstance(operation, Member):
            del self.operations[operation_id]
            operation.leave()
            return
        await super().cleanup_operation(operation_id)

    def finished(self, id: str) -> None:
        """A shared stream ended (its last message is on its way): the id is free again."""
        self.operations.pop(id, None)

    def deliver(self, text: str) -> None:
        """Send a shared stream's message, in order, without making the stream wait: a client
        with LIVE_MAX_QUEUED messages, or LIVE_MAX_QUEUED_BYTES, waiting is closed (4504)
        instead."""
        if self.closing is not None:
            return
        if (
            len(self.outbox) >= self.settings.max_queued
            or self.queued_bytes >= self.settings.max_queued_bytes
        ):
            self.drop_outbox()
            self.close(CLOSE_SLOW_CONSUMER, "the client did not keep up")
            return
        self.outbox.append(text)
        self.queued_bytes += len(text)
        if self.writer is None:
            self.writer = start_eagerly(self.write_outbox())

    def drop_outbox(self) -> None:
        self.outbox.clear()
        self.queued_bytes = 0

    async def write_outbox(self) -> None:
        socket = self.context.request
        assert isinstance(socket, WebSocket)
        try:
            while self.outbox:
                text = self.outbox.popleft()
                self.queued_bytes -= len(text)
                await socket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):  # closed meanwhile
            self.drop_outbox()
        except Exception:  # this socket's failure: its stream's other members go on
            logger.exception("writing to a live connection failed: closing it")
            self.drop_outbox()
            self.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self.writer = None

    async def handle_pong(self, message: PongMessage) -> None:
        self.pong_due = False

    async def keep_watch(self) -> None:
        """Ping every LIVE_KEEPALIVE (no pong since the last one: closed), and close when the
        token is revoked (checked every LIVE_TOKEN_RECHECK)."""
        keepalive = self.settings.keepalive.total_seconds()
        recheck = self.settings.token_recheck.total_seconds()
        clock = asyncio.get_running_loop().time
        next_ping, next_check = clock() + keepalive, clock() + recheck  # each on its own beat
        token = connection_token(self.context)
        while True:
            await asyncio.sleep(max(0.0, min(next_ping, next_check) - clock()))
            if clock() >= next_check:
                next_check = clock() + recheck
                if token is None or not await self.token_still_valid(token):
                    await self.websocket.close(CLOSE_FORBIDDEN, "the token was revoked")
                    return
            if clock() >= next_ping:
                next_ping = clock() + keepalive
                if self.pong_due:
                    await self.websocket.close(CLOSE_NO_PONG, "no pong to the last ping")
                    return
                self.pong_due = True
                await self.send_message({"type": "ping"})

    async def token_still_valid(self, token: str) -> bool:
        """The recheck; a database that does not answer leaves the connection as it is (it
        delivers nothing meanwhile) rather than end this watch, and with it the pings."""
        try:
            return await self.view.token_checks.valid(token)
        except Exception:
            logger.warning("rechecking a live connection's token failed", exc_info=True)
            return True

    def close(self, code: int, reason: str) -> None:
        """Close the socket from outside the handler's task (the feed's reader, say)."""
        if self.closing is None:
            self.closing = asyncio.create_task(self.websocket.close(code, reason))

    async def shutdown(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
        self.drop_outbox()
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
    """The caller's organization's feed, live; ends quietly when the server stops, with
    LIVE_LAGGED when this subscription fell LIVE_MAX_QUEUED events behind the feed (a slow
    database, not a slow client: its sockets and their other subscriptions stay open)."""
    context = info.context
    principal = require(info, Scope.ORDERS_READ)
    if context.live is None or context.close_connection is None:
        raise graphql_error("BAD_REQUEST", "subscriptions run over WebSocket only")
    if after is not None and context.unshare is not None:
        context.unshare()  # it replays first: a newcomer would miss the replay
    try:
        async for entry in context.live.follow(principal.organization_id, after=after, where=where):
            context.fresh_loaders()
            yield entry
    except DomainError as error:
        raise query_error(error) from None
    except SlowConsumer:
        raise graphql_error(
            "LIVE_LAGGED",
            "this subscription fell too far behind the feed: resubscribe with `after` (the"
            " last cursor received) to miss nothing",
        ) from None
    except LiveFeedStopped:
        return
    except LiveUnavailable:
        raise graphql_error(
            "UNAVAILABLE",
            "live updates are unavailable right now: subscribe again later (with `after`, to"
            " miss nothing)",
        ) from None


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
