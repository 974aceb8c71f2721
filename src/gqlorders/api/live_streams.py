"""Subscriptions executed once for every subscriber with the same answers (README "Live
updates"; bench/README.md "live").

Subscribers of one organization with the same scopes, document, variables and operation name
get the same results: one strawberry stream (`SharedStream`) runs for all of them, with a
context of their organization and scopes, and each result is encoded once; its bytes go to
every member's socket with only the subscription id put in front. A member is a few slots, not
a task, a generator and a queue: `LiveConnection.deliver` queues the text on its connection,
whose writer task exists only while something waits to be sent.

A stream joined late gives the newcomer the results from then on -- what a subscription of its
own would give, as long as it has no `after` (one with `after` replays first): the resolver
says so with `Context.unshare`, and such a stream takes no newcomer once started.

Failures stay with their cause: a connection that fails to take a message is closed alone
(1011); a stream whose task dies is forgotten at once (a newcomer starts a new one) and its
members get an internal error, then `complete`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from graphql import GraphQLError
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from gqlorders.api.context import Context
from gqlorders.tenancy import Principal, Scope

if TYPE_CHECKING:
    from strawberry.schema import BaseSchema

    from gqlorders.events.live import LiveFeed

logger = logging.getLogger("gqlorders.live")

CLOSE_INTERNAL_ERROR = 1011  # RFC 6455: the server met an unexpected condition

StreamKey = tuple[int, frozenset[Scope], str, str, str | None]


def stream_key(
    principal: Principal, query: str, variables: dict[str, Any] | None, operation: str | None
) -> StreamKey:
    """What decides a subscription's answers: organization, scopes, document, variables and
    operation name (a token's other traits -- who it is, its name -- change no answer)."""
    canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    return (principal.organization_id, principal.scopes, query, canonical, operation)


class Receiver(Protocol):
    """What a member's connection does for it (api/subscriptions.LiveConnection)."""

    def deliver(self, text: str) -> None: ...

    def finished(self, id: str) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Member:
    """One subscription of one connection, in a shared stream."""

    __slots__ = ("connection", "id", "prefix", "stream")
    task = None  # strawberry's Operation has one; `shutdown` skips a None

    def __init__(self, connection: Receiver, id: str) -> None:
        self.connection = connection
        self.id = id
        self.prefix = '{"id":' + json.dumps(id) + ',"type":'
        self.stream: SharedStream | None = None

    def message(self, type_and_payload: str) -> str:
        """The member's message: `type_and_payload` is `"next","payload":{...}}` and the like."""
        return self.prefix + type_and_payload

    def leave(self) -> None:
        if self.stream is not None:
            self.stream.leave(self)
            self.stream = None


class SharedStream:
    """One execution of a subscription for all its members."""

    __slots__ = ("key", "members", "streams", "task")

    def __init__(self, streams: SharedStreams, key: StreamKey) -> None:
        self.streams = streams
        self.key = key
        self.members: dict[Member, None] = {}  # in joining order
        self.task: asyncio.Task[None] | None = None

    def unshare(self) -> None:
        """The subscription replays before going live: no newcomer may join it."""
        self.streams.forget(self)

    def leave(self, member: Member) -> None:
        self.members.pop(member, None)
        if not self.members:
            self.streams.forget(self)
            if self.task is not None:
                self.task.cancel()

    def close_members(self, code: int, reason: str) -> None:
        for member in list(self.members):
            member.connection.close(code, reason)

    def ended(self, task: asyncio.Task[None]) -> None:
        """The stream's task is done: members still in it (its task failed or was cancelled
        other than by the last member leaving) get an error and `complete`, not silence."""
        if task.cancelled():
            failure: BaseException | None = asyncio.CancelledError()
        else:
            failure = task.exception()
        if not self.members:
            return
        logger.error("a shared subscription ended abnormally", exc_info=failure)
        self.send('"next","payload":' + self.streams.encode(_internal_error()) + "}")
        self.finish('"complete"}')

    def send(self, type_and_payload: str) -> None:
        for member in list(self.members):  # a write that fails may end a connection
            _deliver(member, member.message(type_and_payload))

    def finish(self, type_and_payload: str) -> None:
        """The last message of every member (`complete` or `error`): the stream is over."""
        self.streams.forget(self)
        members, self.members = self.members, {}
        for member in members:
            member.stream = None
            member.connection.finished(member.id)
            _deliver(member, member.message(type_and_payload))

    async def run(
        self,
        principal: Principal,
        query: str,
        variables: dict[str, Any] | None,
        operation: str | None,
    ) -> None:
        context = Context(request=None, principal=principal, token_given=True)
        context.live = self.streams.live()
        context.close_connection = self.close_members
        context.unshare = self.unshare
        encode = self.streams.encode
        try:
            await self._stream(context, query, variables, operation, encode)
        finally:
            self.streams.forget(self)  # however it ends, no newcomer joins a stream that is over

    async def _stream(
        self,
        context: Context,
        query: str,
        variables: dict[str, Any] | None,
        operation: str | None,
        encode: Callable[[object], str],
    ) -> None:
        try:
            results = await self.streams.schema.stream(
                query, variable_values=variables, context_value=context, operation_name=operation
            )
            async with aclosing(results):
                try:
                    async for result in results:
                        if isinstance(result, PreExecutionError):
                            errors = [error.formatted for error in result.errors or ()]
                            self.finish('"error","payload":' + encode(errors) + "}")
                            return
                        if not isinstance(result, ExecutionResult):
                            continue  # incremental results: the schema has no @defer or @stream
                        self.send('"next","payload":' + encode(_payload(result)) + "}")
                finally:
                    # The source is over: a newcomer joining while it closes (which may wait)
                    # would get nothing but `complete`.
                    self.streams.forget(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("a shared subscription failed")
            self.send('"next","payload":' + encode(_internal_error()) + "}")
        self.finish('"complete"}')


def _stream_principal(key: StreamKey) -> Principal:
    """Whom a shared stream runs as: the key's organization and scopes, and no one's identity
    (no token, no actor), as its members' tokens differ in nothing else that it may use."""
    organization_id, scopes, *_ = key
    return Principal(organization_id=organization_id, token_id=0, scopes=scopes, actor="")


def _deliver(member: Member, text: str) -> None:
    """Hand `text` to the member's connection; a connection that fails to take it is closed
    alone (1011), and the stream goes on for the others."""
    try:
        member.connection.deliver(text)
    except Exception:
        logger.exception("a live connection failed to take a message: closing it")
        member.connection.close(CLOSE_INTERNAL_ERROR, "internal error")


def _internal_error() -> dict[str, Any]:
    """A `next` payload for a failure of ours, as api/limits.ErrorPolicy answers one."""
    code = {"code": "INTERNAL_SERVER_ERROR"}
    return {
        "data": None,
        "errors": [GraphQLError("Internal server error.", extensions=code).formatted],
    }


def _payload(result: ExecutionResult) -> dict[str, Any]:
    """A `next` message's payload, as strawberry's own Operation.send_next makes it."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


class SharedStreams:
    """This process's shared streams, by what decides their answers."""

    def __init__(
        self,
        schema: BaseSchema,
        encode: Callable[[object], str],
        live: Callable[[], LiveFeed | None],
    ) -> None:
        self.schema = schema
        self.encode = encode
        self.live = live  # the app's live feed, while it runs
        self.streams: dict[StreamKey, SharedStream] = {}

    def join(
        self,
        member: Member,
        principal: Principal,
        query: str,
        variables: dict[str, Any] | None,
        operation: str | None,
    ) -> None:
        key = stream_key(principal, query, variables, operation)
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = SharedStream(self, key)
            shared = _stream_principal(key)
            stream.task = asyncio.create_task(stream.run(shared, query, variables, operation))
            stream.task.add_done_callback(stream.ended)
        stream.members[member] = None
        member.stream = stream

    def forget(self, stream: SharedStream) -> None:
        if self.streams.get(stream.key) is stream:
            del self.streams[stream.key]
