"""The starlette application: /graphql, /documents, /webhooks, /healthz.

The one place the API, the database and the job runner are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET
from tortoise import connections
from tortoise.timezone import now

from gqlorders import documents, events, jobs
from gqlorders.api import idempotency, persisted_queries
from gqlorders.api.compiled import CompiledQueries
from gqlorders.api.context import Context, bearer_token, context_for
from gqlorders.api.ids import encode_id, parse_id
from gqlorders.api.live_streams import SharedStreams
from gqlorders.api.schema import build_schema
from gqlorders.api.serialization import encode_response
from gqlorders.api.subscriptions import (
    ConnectionCounts,
    LiveConnection,
    TokenChecks,
    accept_connection,
)
from gqlorders.config import Settings, load_settings
from gqlorders.database import connected
from gqlorders.emails import requeue_waiting
from gqlorders.events import live
from gqlorders.marketplaces.importing import receive_webhook
from gqlorders.models import DocumentState
from gqlorders.observability import (
    OUTBOX_LAG,
    OUTBOX_PENDING,
    BodyLimitMiddleware,
    RequestContextMiddleware,
    configure_logging,
    metrics_exposition,
)
from gqlorders.relay import relay_forever
from gqlorders.tenancy import Scope, authenticate
from gqlorders.webhooks import policy as webhook_policy
from workers.jobs import FUNCTIONS, document_hash
from workers.webhooks import STOP_GRACE_SECONDS, stop_sender

# Strawberry logs a traceback for every denied request; denials are answered, not failures.
logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)

DOCUMENT_KINDS = {  # URL segment -> (global ID type, document kind)
    "sales-orders": ("SalesOrder", documents.SALES_ORDER),
    "invoices": ("Invoice", documents.INVOICE),
}
RENDERING_RETRY_AFTER_SECONDS = 2  # a PDF renders in well under a second once a worker has it
NOT_STORED = {"Cache-Control": "no-store"}  # a document's 404 or 503 may change any moment
STATIC = Path(__file__).parent / "static"  # GraphiQL's page and its vendored assets (no CDN)


REQUEST_KEYS = {"query": str, "variables": dict, "operationName": str, "extensions": dict}
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024  # a marketplace webhook's body at most
# The POST being answered (GraphQLApp._run), for strawberry's own parsing of its body.
_POSTED: ContextVar[Posted | None] = ContextVar("gqlorders_posted", default=None)


def check_request_shape(data: Any) -> None:
    """A GraphQL request is an object (or a non-empty batch of them) with typed members;
    anything else is a 400 before strawberry looks at it."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise HTTPException(400, "An empty batch has no operation to run")
    for item in items:
        if not isinstance(item, dict):
            raise HTTPException(400, "A GraphQL request must be a JSON object")
        for key, kind in REQUEST_KEYS.items():
            value = item.get(key)
            if value is not None and not isinstance(value, kind):
                raise HTTPException(400, f"'{key}' must be a {kind.__name__}")


@dataclass(slots=True)
class Posted:
    """A POSTed GraphQL body and its JSON, parsed once per request."""

    body: bytes
    data: Any
    resolved: bool  # its persisted query's document is in (a single request)
    taken: bool = False  # strawberry has parsed the body: it got `data`


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = LiveConnection

    def __init__(self, schema: Any, settings: Settings, **options: Any) -> None:
        super().__init__(
            schema,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=None,  # LiveConnection counts subscriptions
            **options,
        )
        self.settings = settings
        self.live_settings = settings.live
        self.connection_counts = ConnectionCounts(
            settings.live.max_connections, settings.live.max_process_connections
        )
        self.live: live.LiveFeed | None = None  # while the app runs (its lifespan)
        self.token_checks = TokenChecks(settings.live.token_recheck.total_seconds())
        self.live_streams = SharedStreams(self.schema, self.encode_json, lambda: self.live)
        self.persisted_queries = persisted_queries.build_store(settings.redis_url)
        self.compiled = CompiledQueries(
            schema, schema.limit_rules, settings.limits.max_tokens, settings.limits.max_cost
        )

    async def run(
        self, request: Request | Any, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        """A POST with an idempotency key runs once per key (api/idempotency/); without a
        token it is answered as without a key (UNAUTHENTICATED). A persisted query's hash is
        resolved first (api/persisted_queries.py), so that a keyed one is keyed too."""
        try:
            return await self._run(request, context, root_value)
        except persisted_queries.Refused as refused:
            return refused.response()

    async def _run(self, request: Request | Any, context: Any, root_value: Any) -> Any:
        if (
            not isinstance(request, Request)
            or request.method != "POST"
            or "json" not in request.headers.get("content-type", "").lower()
        ):
            return await super().run(request, context, root_value)
        posted = await self._posted(request)
        token = _POSTED.set(posted)
        try:
            return await self._run_posted(request, context, root_value, posted.data)
        finally:
            _POSTED.reset(token)

    async def _posted(self, request: Request) -> Posted:
        """The POSTed JSON parsed once, checked, and a single request's persisted query
        resolved once (a batch's are, item by item, after strawberry has checked its size)."""
        body = await request.body()
        data = self.parse_json(body)
        check_request_shape(data)
        if isinstance(data, list):
            return Posted(body, data, resolved=False)
        data["query"] = await persisted_queries.resolve(
            self.persisted_queries, data.get("query"), data.get("extensions")
        )
        return Posted(body, data, resolved=True)

    async def _run_posted(self, request: Request, context: Any, root_value: Any, data: Any) -> Any:
        try:
            keyed = idempotency.keyed_request(
                request.headers.get(idempotency.HEADER), data, self.settings.limits.max_tokens
            )
        except idempotency.Refused as refused:
            return refused.response()
        if keyed is None:
            return await super().run(request, context, root_value)
        context = await self.get_context(request, None)
        if context.principal is None:
            return await super().run(request, context, root_value)
        return await idempotency.run_keyed(
            keyed,
            context.principal,
            context.scopes_checked,
            self.settings.idempotency_ttl,
            lambda: super(GraphQLApp, self).run(request, context, root_value),
        )

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A persisted query runs its compiled plan (api/compiled) when it can, which answers
        exactly as the standard executor; anything else, and whatever the plan hands back,
        runs the standard way."""
        query = request_data.query
        if isinstance(query, str) and self._compiled_may_run(request_adapter.method, request_data):
            result = await self.compiled.execute(
                query,
                request_data.variables,
                request_data.operation_name,
                context,
                root_value,
            )
            if result is not None:
                return result
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    def _compiled_may_run(self, method: str, request_data: GraphQLRequestData) -> bool:
        extensions = request_data.extensions
        return (
            isinstance(request_data.query, str)
            and isinstance(extensions, dict)
            and "persistedQuery" in extensions
            and (method == "POST" or (method == "GET" and self.allow_queries_via_get))
        )

    def encode_json(self, data: object) -> str:
        """WebSocket messages: text frames, as graphql-transport-ws clients expect (bytes
        would go out as binary frames)."""
        return encode_response(data).decode()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """HTTP answers: both executors' are written by the same encoder (orjson), as bytes."""
        response = Response(
            encode_response(response_data), status_code=200, media_type="application/json"
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        response.status_code = sub_response.status_code or response.status_code
        return response

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET naming a persisted query is a read whatever its Accept (Apollo sends */*)."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    @property
    def graphql_ide_html(self) -> str:
        """Strawberry's GraphiQL page, loading React and GraphiQL from /static/graphiql/."""
        return (STATIC / "graphiql.html").read_text(encoding="utf-8")

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = await context_for(request)
        if isinstance(request, WebSocket):
            context.live = self.live
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        await accept_connection(context, self.connection_counts)
        return UNSET  # a `connection_ack` without payload

    def decode_json(self, data: str | bytes) -> object:
        """Strict JSON: invalid UTF-8 or absurd nesting is invalid JSON too, which strawberry
        answers as the client's error (an HTTP 400; 4400 closes a WebSocket). The body of the
        POST being answered was parsed already (`_posted`): strawberry gets that."""
        posted = _POSTED.get()
        if posted is not None and data is posted.body:
            posted.taken = True
            return posted.data
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            return json.loads(text)
        except (UnicodeDecodeError, RecursionError) as error:
            raise json.JSONDecodeError(str(error), "", 0) from error

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        posted = _POSTED.get()
        if posted is not None and posted.taken and posted.resolved:
            return data
        if isinstance(data, list):
            return [await self._with_persisted_query(item) for item in data]
        return await self._with_persisted_query(data)

    async def _with_persisted_query(self, data: GraphQLRequestData) -> GraphQLRequestData:
        query = await persisted_queries.resolve(self.persisted_queries, data.query, data.extensions)
        return dataclasses.replace(data, query=query)


async def healthz(request: Request) -> Response:
    """The process is up (liveness)."""
    return JSONResponse({"status": "ok"})


def readyz_for(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def readyz(request: Request) -> Response:
        """The database answers, and Redis too when it is configured (readiness)."""
        checks: dict[str, str] = {}
        try:
            await connections.get("default").execute_query("SELECT 1")
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unreachable: {type(error).__name__}"
        if settings.redis_url:
            try:
                client = Redis.from_url(settings.redis_url, socket_connect_timeout=1)
                async with client:
                    await client.ping()
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"unreachable: {type(error).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    return readyz


async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, durations, jobs, and the outbox's backlog."""
    pending = await jobs.waiting().order_by("id").first()
    OUTBOX_PENDING.set(await jobs.waiting().count())
    OUTBOX_LAG.set((now() - pending.created_at).total_seconds() if pending else 0)
    return Response(metrics_exposition(), media_type=CONTENT_TYPE_LATEST)


async def download_document(request: Request) -> Response:
    """A rendered PDF, to a token of the record's organization only (401 / 404 otherwise).
    While it is being rendered (asked for, or no longer what its record shows) the answer is
    503 with Retry-After: there will be a PDF, not yet; a 404 would tell clients to give up."""
    token = bearer_token(request)
    principal = await authenticate(token) if token else None
    if principal is None or not principal.has(Scope.ORDERS_READ):
        return JSONResponse({"error": "a valid bearer token is required"}, status_code=401)
    kind = DOCUMENT_KINDS.get(request.path_params["kind"])
    parsed = parse_id(request.path_params["id"])
    if kind is None or parsed is None or parsed[0] != kind[0]:
        return JSONResponse({"error": "not found"}, status_code=404, headers=NOT_STORED)
    found = await documents.download(
        principal.organization_id, kind[1], parsed[1], current_hash=document_hash
    )
    if found.availability == documents.Availability.READY:
        assert found.path is not None
        # (the URL stays when the record changes: a browser must ask again, not reuse it)
        return FileResponse(
            found.path, media_type="application/pdf", headers={"Cache-Control": "private, no-cache"}
        )
    if found.availability == documents.Availability.RENDERING:
        if found.render_requested:
            await jobs.after_request()
        return JSONResponse(
            {"error": "being rendered: try again shortly", "state": DocumentState.PENDING.value},
            status_code=503,
            headers={"Retry-After": str(RENDERING_RETRY_AFTER_SECONDS), **NOT_STORED},
        )
    error = "not found"
    if found.availability == documents.Availability.FAILED:
        error = f"not found: rendering failed: {found.error}"
    return JSONResponse({"error": error}, status_code=404, headers=NOT_STORED)


async def webhook(request: Request) -> Response:
    """A marketplace's order webhook: verified, stored in the inbox, imported by a job."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
    headers = {key.lower(): value for key, value in request.headers.items()}
    message = await receive_webhook(request.path_params["key"], bytes(body), headers)
    if message is None:
        return JSONResponse({"error": "missing or invalid signature"}, status_code=401)
    await jobs.after_request()
    return JSONResponse({"received": encode_id("InboxMessage", message.id)}, status_code=202)


async def stop_background_work(runner: jobs.Runner) -> None:
    """A server's shutdown, after uvicorn's drain of the connections (up to 30 s), the
    database still open: within STOP_GRACE_SECONDS in all, the jobs running in this process
    first, then the webhook sends in flight (their jobs are done: Sender.stop), so that no
    job hands deliveries to a sender that has stopped. With REDIS_URL no job runs here, and
    no sender was ever made."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_GRACE_SECONDS
    await runner.stop(grace=STOP_GRACE_SECONDS - 5)
    await stop_sender(grace=max(deadline - loop.time(), 5))


# Container objects allocated between two collections of the youngest generation (Python's
# default: 700). A page of 100 orders allocates ~30,000 (rows, their dicts, the answer's) that
# all live until the answer is written: at 700 the collector walked them ~30 times a request,
# ~0.7 ms of a page's ~11 ms of CPU (bench/README.md, "Fourth pass: rows and loaders").
YOUNG_COLLECTION_THRESHOLD = 20_000


def settle_garbage_collector() -> None:
    """For a long-lived server process once started: what exists now (modules, the schema,
    the ORM's metadata and pool) is moved out of the collector's sight (a full collection no
    longer walks it every few hundred requests: bench/create_orders.py p99 at 10 clients
    85 -> 38 ms), and the youngest generation is collected every YOUNG_COLLECTION_THRESHOLD
    allocations instead of every 700 (the older ones as by default)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def build_runner(settings: Settings) -> jobs.Runner:
    if settings.redis_url:
        return jobs.RedisRelay(settings.redis_url, settings.arq_queue)
    return jobs.InProcessRunner(FUNCTIONS, {"settings": settings})


def create_app(
    settings: Settings | None = None,
    *,
    manage_database: bool = True,
    freeze_after_startup: bool = False,
) -> Starlette:
    """The ASGI app. Tests that open the database themselves pass `manage_database=False`.

    `freeze_after_startup` (the served app): `settle_garbage_collector` once started. Not for
    tests: a process building many apps would keep every one of them."""
    settings = settings or load_settings()
    runner = build_runner(settings)
    jobs.configure(runner)
    events.configure(settings.event_retention)
    webhook_policy.configure_from(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if manage_database:
                await stack.enter_async_context(connected(settings))
                try:
                    await requeue_waiting()
                except Exception:  # the next start tries again: serve meanwhile
                    logging.getLogger("gqlorders.app").exception("requeueing e-mails failed")
            graphql.live = await stack.enter_async_context(
                live.running(
                    settings.live.listen_url or settings.database_url,
                    is_sqlite=settings.is_sqlite,
                    max_queued=settings.live.max_queued,
                )
            )
            relay = asyncio.create_task(relay_forever())
            if freeze_after_startup:
                settle_garbage_collector()
            try:
                yield
            finally:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
                await stop_background_work(runner)

    graphql = GraphQLApp(build_schema(settings.limits), settings, graphql_ide="graphiql")
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Mount("/static/graphiql", StaticFiles(directory=STATIC / "graphiql")),
            Route("/documents/{kind}/{id}.pdf", download_document),
            Route("/webhooks/{key}", webhook, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz_for(settings)),
            Route("/metrics", metrics),
        ],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.limits.max_body_bytes,
                exempt=("/webhooks/",),  # marketplace orders can be larger: see webhook()
            ),
        ],
        lifespan=lifespan,
    )
    app.state.graphql = graphql
    return app


def served_app() -> Starlette:
    """The app `gqlorders serve` runs, built in each server process from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings, freeze_after_startup=True)
