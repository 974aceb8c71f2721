"""Running a keyed request: once per key of the organization, its answer kept with its changes
(api/idempotency/storage.py), replayed to a retry; a retry sent while the first still runs
waits for it outside the database."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from time import monotonic

from cross_web import HTTPException
from starlette.responses import Response
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.api.idempotency import storage
from gqlorders.api.idempotency.keys import KeyedRequest, Refused
from gqlorders.api.serialization import encode_response
from gqlorders.observability import request_id_var
from gqlorders.tenancy import Principal, Scope

logger = logging.getLogger("gqlorders.idempotency")

REPLAYED_HEADER = "Idempotent-Replayed"
WAIT_FOR_FIRST = timedelta(seconds=5)  # a mutation runs in milliseconds: longer is a stuck one
RETRY_AFTER_SECONDS = 5
FIRST_PAUSE = 0.01  # seconds between tries for a key in use, doubling up to LONGEST_PAUSE
LONGEST_PAUSE = 0.1
WAITING_MESSAGE = "idempotency key in use: waiting for the first request with it"

Execute = Callable[[], Awaitable[Response]]


class _Discarded(Exception):
    """The answer is not to be kept: leave the outer transaction by rolling it back, and answer
    the client with `response`, which shows none of what was rolled back."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


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


async def run_keyed(
    keyed: KeyedRequest,
    principal: Principal,
    scopes_checked: set[Scope],
    ttl: timedelta,
    execute: Execute,
) -> Response:
    """Run `execute` once per key of the principal's organization, or replay the answer it gave
    (to a principal with every scope the run checked: `execute` adds them to `scopes_checked`).

    While the first request with the key runs, wait for it holding no database connection
    (tries at growing intervals), then replay its answer, or run if it failed; after
    WAIT_FOR_FIRST, IDEMPOTENCY_KEY_IN_USE (409)."""
    attempt = functools.partial(_run_or_replay, keyed, principal, scopes_checked, ttl, execute)
    deadline = monotonic() + WAIT_FOR_FIRST.total_seconds()
    pause = FIRST_PAUSE
    while True:
        try:
            return await attempt()
        except storage.KeyInUse:
            if pause == FIRST_PAUSE:
                logger.debug(WAITING_MESSAGE)
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
    execute: Execute,
) -> Response:
    """One transaction: claim the key, execute (the domain's transactions nest as savepoints,
    and a sales order's number is taken inside it, so a rolled back creation consumes none),
    store the answer. Jobs the mutation enqueued are handed on only after the commit."""
    organization_id = principal.organization_id
    try:
        with jobs.tracking_request() as tracked, _deferring_jobs():
            async with in_transaction():
                claimed = await storage.claim(organization_id, keyed.key, keyed.request_hash, ttl)
                if claimed is None:
                    return await _replay(principal, keyed)
                response = _kept_or_discarded(await execute())
                await storage.store_answer(
                    claimed, response.status_code, bytes(response.body), scopes_checked
                )
    except storage.KeyInUse:
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
        return _json_response(body)
    if tracked.wrote:
        await jobs.after_request()
    return response


async def _replay(principal: Principal, keyed: KeyedRequest) -> Response:
    """The stored answer to `keyed`, for a caller that may have it. Nothing runs: another
    request under the key is refused, and a token without a scope the first run checked gets
    the refusal a run without a key gives it at the mutation field."""
    stored = await storage.stored_answer(principal.organization_id, keyed.key)
    if not keyed.matches(stored.request_hash):
        raise Refused(
            "IDEMPOTENCY_KEY_REUSED",
            "this idempotency key was used for another request (document, operation name or "
            "variables): use a new key for a new request",
        )
    missing = stored.scopes - principal.scopes
    if missing:
        line, column = keyed.location
        body = {
            "data": None,
            "errors": [
                {
                    "message": f"this token lacks the {min(missing).value} scope",
                    "locations": [{"line": line, "column": column}],
                    "path": [keyed.field],
                    "extensions": {"code": "FORBIDDEN"},
                }
            ],
        }
        raise _Discarded(_json_response(body))
    return Response(
        stored.body,
        status_code=stored.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


def _json_response(body: object) -> Response:
    """An answer written by the encoder of every GraphQL answer (app.py): the same bytes as
    the answer a run without a key gives."""
    return Response(encode_response(body), media_type="application/json")


def _kept_or_discarded(response: Response) -> Response:
    """The response itself when it may be kept: a payload, user errors included. Otherwise
    (a top-level error: refused scope, invalid document, server error) raises _Discarded:
    whatever the request wrote is rolled back and a retry runs, so the client gets the errors
    without the data -- which may show what was rolled back, such as the number of an order
    created before a field of its answer failed."""
    if response.status_code != 200:
        raise _Discarded(response)
    try:
        answer = json.loads(bytes(response.body))
    except ValueError:
        raise _Discarded(response) from None
    if not isinstance(answer, dict):
        raise _Discarded(response)
    if answer.get("errors"):
        if answer.get("data") is not None:
            kept = {"data": None, "errors": answer["errors"]}
            if "extensions" in answer:
                kept["extensions"] = answer["extensions"]
            response = _json_response(kept)
        raise _Discarded(response)
    return response
