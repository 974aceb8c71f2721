"""Idempotent mutations (README "Idempotent writes"): a client that sends a key with a mutation
may send it again, after a timeout or a crash, and gets the first answer instead of a second run.

The key comes in the `Idempotency-Key` header or in `@idempotent(key:)` on the mutation field.
A keyed request runs in one outer transaction that first claims the key (INSERT of its row),
then runs the mutation (whose own transactions become savepoints of it) and stores the answer
in the row: the changes and the key commit together or not at all. A concurrent request with
the same key waits until the first ends, then replays its answer (or runs, if the first rolled
back). On PostgreSQL it waits outside the database, holding no pooled connection, for at most
WAIT_FOR_FIRST (then IDEMPOTENCY_KEY_IN_USE, 409); on SQLite the single writer makes it wait
like any write.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from time import monotonic
from typing import Any

import strawberry
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
from gqlorders.tenancy import Principal, Scope, parse_scopes

logger = logging.getLogger("gqlorders.idempotency")

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
DIRECTIVE = "idempotent"
MAX_KEY_LENGTH = 255
WAIT_FOR_FIRST = timedelta(seconds=5)  # a mutation runs in milliseconds: longer is a stuck one
RETRY_AFTER_SECONDS = 5
FIRST_PAUSE = 0.01  # seconds between tries for a key in use, doubling up to LONGEST_PAUSE
LONGEST_PAUSE = 0.1
KEY_LOCK = 7_014  # advisory lock class of the keys' turns (PostgreSQL)


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


def keyed_request(header: str | None, body: bytes, max_tokens: int) -> KeyedRequest | None:
    """The key and fingerprint of a POSTed request, or None when it has no key -- or when it
    cannot run anything (malformed JSON or document, no operation chosen): strawberry then
    answers it as usual. Raises Refused for a malformed key, two different keys, a batch, or an
    operation that is not exactly one mutation field."""
    if header is None and DIRECTIVE.encode() not in body:
        return None  # the common case, decided without parsing
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, RecursionError, json.JSONDecodeError):
        return None
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
        for value in (argument.value for argument in directive.arguments)
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
    keys = {header} if header is not None else set()
    for from_variable, value in operation.directive_keys:
        keys.add(variables.get(value) if from_variable and isinstance(variables, dict) else value)
    if len(keys) > 1:
        raise Refused(
            "BAD_REQUEST",
            "the Idempotency-Key header and @idempotent(key:) differ: send the key once",
        )
    key = next(iter(keys), None)
    if key is not None and not isinstance(key, str):
        raise Refused("BAD_REQUEST", "@idempotent(key:) takes a string")
    return key


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


# Claim the key: insert its row, or take over an expired one; no row comes back when a live
# one answers for the key (replay). Every claim of a key takes its turn first (a transaction
# advisory lock on the organization and the key, tried, never waited for): a request whose
# turn is taken learns that the first with its key still runs without waiting in the database,
# and waits outside it (`run_keyed`). Whoever gets the turn finds any earlier holder's row
# committed (the lock is released after the commit is visible), so the INSERT never waits.
_CLAIM_POSTGRES = """
WITH turn AS MATERIALIZED (
  SELECT pg_try_advisory_xact_lock($6, hashtext($1::bigint::text || ':' || $2::varchar)) AS taken
), claimed AS (
  INSERT INTO idempotency_key (organization_id, "key", request_hash, created_at, expires_at)
  SELECT $1::bigint, $2::varchar, $3::varchar, $4::timestamptz, $5::timestamptz
  FROM turn WHERE turn.taken
  ON CONFLICT (organization_id, "key") DO UPDATE SET request_hash = excluded.request_hash,
    created_at = excluded.created_at, expires_at = excluded.expires_at, status = NULL,
    body = NULL
  WHERE idempotency_key.expires_at <= excluded.created_at
  RETURNING id
)
SELECT turn.taken, (SELECT id FROM claimed) AS id FROM turn
"""

# SQLite: the transaction that claims holds the single writer's lock until it ends, so a
# second request with the key begins only after the first committed or rolled back.
_CLAIM_SQLITE = """
INSERT INTO idempotency_key (organization_id, "key", request_hash, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (organization_id, "key") DO UPDATE SET request_hash = excluded.request_hash,
  created_at = excluded.created_at, expires_at = excluded.expires_at, status = NULL, body = NULL
WHERE idempotency_key.expires_at <= excluded.created_at
RETURNING id
"""


class _InUse(Exception):
    """The first request with the key still runs: leave the transaction (and give its
    connection back to the pool), wait, and try again."""


async def _claim(organization_id: int, keyed: KeyedRequest, ttl: timedelta) -> int | None:
    """The id of the key's row, now ours; None when a live row answers for the key. Raises
    _InUse when another transaction holds the key's turn (PostgreSQL)."""
    at = now()
    params: list[Any] = [organization_id, keyed.key, keyed.request_hash, at, at + ttl]
    if IdempotencyKey._meta.db.capabilities.dialect != "postgres":
        claimed = await execute_sql(_CLAIM_SQLITE, params)
        return claimed[0]["id"] if claimed else None
    (claim,) = await execute_sql(_CLAIM_POSTGRES, [*params, KEY_LOCK])
    if not claim["taken"]:
        raise _InUse
    return claim["id"]


async def _stored_answer(
    principal: Principal, keyed: KeyedRequest, execute: Callable[[], Awaitable[Response]]
) -> Response:
    """The stored answer to `keyed`, for a caller that may have it: a token without a scope the
    first run checked gets the refusal a run gives it (the request is run, and discarded)."""
    stored = await IdempotencyKey.get(organization_id=principal.organization_id, key=keyed.key)
    missing = set(parse_scopes(stored.scopes)) - principal.scopes
    if missing:
        _kept_or_discarded(await execute())  # refused (_Discarded), as without a key
    if stored.request_hash != keyed.request_hash:
        raise Refused(
            "IDEMPOTENCY_KEY_REUSED",
            "this idempotency key was used for another request (document, operation name or "
            "variables): use a new key for a new request",
        )
    if missing:  # the run needed none of them this time; the answer did
        body = {
            "data": None,
            "errors": [
                {
                    "message": f"this token lacks the {min(missing).value} scope",
                    "extensions": {"code": "FORBIDDEN"},
                }
            ],
        }
        raise _Discarded(JSONResponse(body))
    assert stored.status is not None and stored.body is not None  # committed with its answer
    return Response(
        bytes(stored.body),
        status_code=stored.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


class _Discarded(Exception):
    """The answer is not to be kept: leave the outer transaction by rolling it back, and answer
    the client with `response`, which shows none of what was rolled back."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def _kept_or_discarded(response: Response) -> Response:
    """The response itself when it may be kept: a payload, user errors included. Otherwise
    (a top-level error: refused scope, invalid document, server error) raises _Discarded:
    whatever the request wrote is rolled back and a retry runs, so the client gets the errors
    without the data -- which may show what was rolled back, such as the number of an order
    created before a field of its answer failed."""
    if response.status_code != 200:
        raise _Discarded(response)
    try:
        answer = json.loads(response.body)
    except ValueError:
        raise _Discarded(response) from None
    if not isinstance(answer, dict):
        raise _Discarded(response)
    if answer.get("errors"):
        if answer.get("data") is not None:
            response = JSONResponse({"data": None, "errors": answer["errors"]})
        raise _Discarded(response)
    return response


async def run_keyed(
    keyed: KeyedRequest,
    principal: Principal,
    scopes_checked: set[Scope],
    ttl: timedelta,
    execute: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `execute` once per key of the principal's organization, or replay the answer it gave
    (to a principal with every scope the run checked: `execute` adds them to `scopes_checked`).

    While the first request with the key runs, wait for it holding no database connection
    (tries at growing intervals), then replay its answer, or run if it failed; after
    WAIT_FOR_FIRST, IDEMPOTENCY_KEY_IN_USE (409)."""
    deadline = monotonic() + WAIT_FOR_FIRST.total_seconds()
    pause = FIRST_PAUSE
    while True:
        try:
            return await _run_or_replay(keyed, principal, scopes_checked, ttl, execute)
        except _InUse:
            if monotonic() + pause > deadline:
                return Refused(
                    "IDEMPOTENCY_KEY_IN_USE",
                    "a request with this idempotency key is still running: retry after a few "
                    "seconds to get its answer",
                    status=409,
                    retry_after=RETRY_AFTER_SECONDS,
                ).response()
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)


async def _run_or_replay(
    keyed: KeyedRequest,
    principal: Principal,
    scopes_checked: set[Scope],
    ttl: timedelta,
    execute: Callable[[], Awaitable[Response]],
) -> Response:
    """One transaction: claim the key, execute (the domain's transactions nest as savepoints,
    and a sales order's number is taken inside it, so a rolled back creation consumes none),
    store the answer. Jobs the mutation enqueued are handed on only after the commit."""
    try:
        with jobs.tracking_request() as tracked, _deferring_jobs():
            async with in_transaction():
                claimed = await _claim(principal.organization_id, keyed, ttl)
                if claimed is None:
                    return await _stored_answer(principal, keyed, execute)
                response = _kept_or_discarded(await execute())
                await IdempotencyKey.filter(id=claimed).update(
                    status=response.status_code,
                    body=bytes(response.body),
                    scopes=",".join(sorted(scopes_checked)),
                )
    except _InUse:
        raise  # not a failure: run_keyed waits and tries again
    except _Discarded as discarded:
        return discarded.response
    except Refused as refused:
        return refused.response()
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
