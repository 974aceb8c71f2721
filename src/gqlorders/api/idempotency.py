"""Idempotent mutations (README "Idempotent writes"): a client that sends a key with a mutation
may send it again, after a timeout or a crash, and gets the first answer instead of a second run.

The key comes in the `Idempotency-Key` header or in `@idempotent(key:)` on the mutation field.
A keyed request runs in one outer transaction that first claims the key (INSERT of its row),
then runs the mutation (whose own transactions become savepoints of it) and stores the answer
in the row: the changes and the key commit together or not at all. A concurrent request with
the same key blocks on the row's unique index entry until the first ends, then replays its
answer (or runs, if the first rolled back); on PostgreSQL the wait is bounded (WAIT_FOR_FIRST,
then IDEMPOTENCY_KEY_IN_USE, 409), on SQLite the single writer makes it wait like any write.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import strawberry
from asyncpg.exceptions import LockNotAvailableError
from cross_web import HTTPException
from graphql import (
    DirectiveLocation,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor
from starlette.responses import JSONResponse, Response
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.database import execute_sql
from gqlorders.models import IdempotencyKey
from gqlorders.observability import request_id_var

logger = logging.getLogger("gqlorders.idempotency")

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
DIRECTIVE = "idempotent"
MAX_KEY_LENGTH = 255
WAIT_FOR_FIRST = timedelta(seconds=5)  # a mutation runs in milliseconds: longer is a stuck one
RETRY_AFTER_SECONDS = 5


@strawberry.directive(
    locations=[DirectiveLocation.FIELD],
    description="Run this mutation at most once per key (1-255 printable ASCII characters): "
    "a request sent again with the same key gets the first answer. The same as the "
    "Idempotency-Key header; read before execution, so only on the mutation field.",
)
def idempotent(key: str) -> None:
    """Declared for the schema only: the HTTP view reads the key before execution, and the
    schema leaves out strawberry's directive extension (see `schema.GqlordersSchema`)."""


class Refused(Exception):
    """A keyed request refused before anything ran, answered as a GraphQL error."""

    def __init__(self, code: str, message: str, status: int = 200, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def response(self) -> Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass(frozen=True)
class KeyedRequest:
    key: str
    request_hash: str  # what a retry must match: document, operation name, variables


def keyed_request(header: str | None, data: Any, max_tokens: int) -> KeyedRequest | None:
    """The key and fingerprint of a POSTed request (its JSON, parsed), or None when it has no
    key -- or when it cannot run anything (malformed document, no operation chosen): strawberry
    then answers it as usual. Raises Refused for a malformed key, two different keys, a batch,
    or an operation that is not exactly one mutation field."""
    if header is None and not _may_name_directive(data):
        return None  # the common case, decided without parsing a document
    if isinstance(data, list):
        if header is not None or any(_has_directive(item, max_tokens) for item in data):
            raise Refused("BAD_REQUEST", "a keyed request holds one operation: send no batch")
        return None
    if not isinstance(data, dict):
        return None
    query, operation_name = data.get("query"), data.get("operationName")
    variables = data.get("variables") or {}
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    operation = _analysed(query, operation_name, max_tokens)
    if operation is None:
        return None
    key = _one_key(header, operation, variables)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise Refused(
            "BAD_REQUEST",
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} printable ASCII characters: "
            "use a UUID, say",
        )
    if not operation.one_mutation_field:
        raise Refused(
            "BAD_REQUEST",
            "a keyed request runs exactly one mutation field: send each mutation with its own key",
        )
    normalized = [operation.document, operation_name, variables]
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"))  # ASCII: any str
    return KeyedRequest(key, hashlib.sha256(canonical.encode()).hexdigest())


@dataclass(frozen=True)
class _Operation:
    """What a keyed request's document says, worked out once per document text."""

    document: str  # printed from its syntax tree: formatting and comments do not count
    one_mutation_field: bool
    directive_keys: tuple[tuple[bool, str], ...]  # (from a variable?, the key or its name)
    directive_misplaced: bool  # anywhere but on the operation's top-level fields


@lru_cache(maxsize=256)
def _analysed(query: str, operation_name: str | None, max_tokens: int) -> _Operation | None:
    """None when the document does not parse or names no operation to run (strawberry then
    refuses it, running nothing)."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        operation = operations[0] if len(operations) == 1 else None
    else:
        operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
    if operation is None:
        return None
    fields = operation.selection_set.selections
    top_level = [
        directive
        for field in fields
        if isinstance(field, FieldNode)
        for directive in field.directives or ()
        if directive.name.value == DIRECTIVE
    ]
    keys = tuple(
        (False, value.value) if isinstance(value, StringValueNode) else (True, value.name.value)
        for directive in top_level
        for value in (argument.value for argument in directive.arguments or ())
        if isinstance(value, StringValueNode | VariableNode)
    )
    return _Operation(
        document=print_ast(document),
        one_mutation_field=operation.operation == OperationType.MUTATION
        and len(fields) == 1
        and isinstance(fields[0], FieldNode),  # not a fragment, which may hold several
        directive_keys=keys,
        directive_misplaced=len(top_level) != len(_directives(document)),
    )


def _may_name_directive(data: Any) -> bool:
    """Whether a document of the request mentions the directive's name at all."""
    items = data if isinstance(data, list) else [data]
    return any(
        isinstance(item, dict) and isinstance(item.get("query"), str) and DIRECTIVE in item["query"]
        for item in items
    )


def _has_directive(item: Any, max_tokens: int) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("query"), str):
        return False
    try:
        return bool(_directives(parse(item["query"], max_tokens=max_tokens)))
    except GraphQLError:
        return False


def _directives(document: DocumentNode) -> list[DirectiveNode]:
    found: list[DirectiveNode] = []

    class Collect(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value == DIRECTIVE:
                found.append(node)

    visit(document, Collect())
    return found


def _one_key(header: str | None, operation: _Operation, variables: Any) -> str | None:
    """The request's key: the header's, the directive's, or None; Refused when they differ or
    when the directive is anywhere but on the operation's top-level field."""
    if operation.directive_misplaced:
        raise Refused("BAD_REQUEST", "put @idempotent on the mutation field itself, once")
    keys: set[object] = {header} if header is not None else set()
    for from_variable, value in operation.directive_keys:
        keys.add(variables.get(value) if from_variable and isinstance(variables, dict) else value)
    if len(keys) > 1:
        raise Refused(
            "BAD_REQUEST",
            "the Idempotency-Key header and @idempotent(key:) differ: send the key once",
        )
    key = next(iter(keys), None)
    if key is None or isinstance(key, str):
        return key
    raise Refused("BAD_REQUEST", "@idempotent(key:) takes a string")


_jobs_deferred: ContextVar[bool] = ContextVar("gqlorders_idempotent_jobs_deferred", default=False)


def jobs_deferred() -> bool:
    """Whether the executing request's jobs are handed on by `run_keyed`, after the outer
    transaction commits (before, they are not committed: a runner must not see them)."""
    return _jobs_deferred.get()


@contextmanager
def _deferring_jobs() -> Iterator[None]:
    token = _jobs_deferred.set(True)
    try:
        yield
    finally:
        _jobs_deferred.reset(token)


# Claim the key: insert its row, or take over an expired one. Against a row another transaction
# inserted and has not committed, the INSERT waits for it to end: committed, no row comes back
# (replay); rolled back, the row is ours. On PostgreSQL the wait is bounded by lock_timeout,
# set for this statement (`bounded_wait`) and reset by its RETURNING (a NULL value resets), so
# that the mutation's own lock waits are as without a key.
_CLAIM_POSTGRES = """
INSERT INTO idempotency_key (organization_id, "key", request_hash, created_at, expires_at)
SELECT $1::bigint, $2::varchar, $3::varchar, $4::timestamptz, $5::timestamptz
FROM (SELECT set_config('lock_timeout', $6, true)) AS bounded_wait
ON CONFLICT (organization_id, "key") DO UPDATE SET request_hash = excluded.request_hash,
  created_at = excluded.created_at, expires_at = excluded.expires_at, status = NULL, body = NULL
WHERE idempotency_key.expires_at <= excluded.created_at
RETURNING id, set_config('lock_timeout', NULL, true)
"""

_CLAIM_SQLITE = """
INSERT INTO idempotency_key (organization_id, "key", request_hash, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (organization_id, "key") DO UPDATE SET request_hash = excluded.request_hash,
  created_at = excluded.created_at, expires_at = excluded.expires_at, status = NULL, body = NULL
WHERE idempotency_key.expires_at <= excluded.created_at
RETURNING id
"""


async def _claim(organization_id: int, keyed: KeyedRequest, ttl: timedelta) -> int | None:
    """The id of the key's row, now ours; None when a live row answers for the key."""
    at = now()
    params: list[Any] = [organization_id, keyed.key, keyed.request_hash, at, at + ttl]
    if IdempotencyKey._meta.db.capabilities.dialect == "postgres":
        wait_ms = int(WAIT_FOR_FIRST.total_seconds() * 1000)
        claimed = await execute_sql(_CLAIM_POSTGRES, [*params, str(wait_ms)])
    else:
        claimed = await execute_sql(_CLAIM_SQLITE, params)
    return claimed[0]["id"] if claimed else None


async def _stored_answer(organization_id: int, keyed: KeyedRequest) -> Response:
    stored = await IdempotencyKey.get(organization_id=organization_id, key=keyed.key)
    if stored.request_hash != keyed.request_hash:
        raise Refused(
            "IDEMPOTENCY_KEY_REUSED",
            "this idempotency key was used for another request (document, operation name or "
            "variables): use a new key for a new request",
        )
    assert stored.status is not None and stored.body is not None  # committed with its answer
    return Response(
        bytes(stored.body),
        status_code=stored.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


class _Discarded(Exception):
    """The answer is not to be kept: leave the outer transaction by rolling it back."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def _keepable(response: Response) -> bool:
    """Answers with a payload, user errors included; not a top-level error (refused scope,
    invalid document, server error): whatever it wrote is rolled back, and a retry runs."""
    if response.status_code != 200:
        return False
    try:
        answer = json.loads(bytes(response.body))
    except ValueError:
        return False
    return isinstance(answer, dict) and not answer.get("errors")


async def run_keyed(
    keyed: KeyedRequest,
    organization_id: int,
    ttl: timedelta,
    execute: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `execute` once per key of the organization, or replay the answer it gave.

    One transaction: claim the key, execute (the domain's transactions nest as savepoints, and
    a sales order's number is taken inside it, so a rolled back creation consumes none), store
    the answer. Jobs the mutation enqueued are handed on only after the commit."""
    try:
        with jobs.tracking_request() as tracked, _deferring_jobs():
            async with in_transaction():
                claimed = await _claim(organization_id, keyed, ttl)
                if claimed is None:
                    return await _stored_answer(organization_id, keyed)
                response = await execute()
                if not _keepable(response):
                    raise _Discarded(response)
                await IdempotencyKey.filter(id=claimed).update(
                    status=response.status_code, body=bytes(response.body)
                )
    except _Discarded as discarded:
        return discarded.response
    except Refused as refused:
        return refused.response()
    except LockNotAvailableError:
        return Refused(
            "IDEMPOTENCY_KEY_IN_USE",
            "a request with this idempotency key is still running: retry after a few seconds "
            "to get its answer",
            status=409,
            retry_after=RETRY_AFTER_SECONDS,
        ).response()
    except HTTPException:  # a malformed request: strawberry's own answer (400)
        raise
    except Exception:
        # The transaction failed (the database refused, the connection dropped): nothing of it
        # is kept, so the client may retry with the key. Answered as ErrorPolicy answers any
        # unexpected error.
        logger.exception("a keyed request failed; nothing of it was kept")
        body = {
            "errors": [
                {
                    "message": "Internal server error: nothing was kept; send the request "
                    "again with the same key.",
                    "extensions": {
                        "code": "INTERNAL_SERVER_ERROR",
                        "requestId": request_id_var.get(),
                    },
                }
            ]
        }
        return JSONResponse(body)
    if tracked.wrote:
        await jobs.after_request()
    return response
