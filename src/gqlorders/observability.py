"""Request ids, structured JSON logs and Prometheus metrics (SPEC §10, operations)."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
organization_var: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "organization_id", default=None
)

REQUESTS = Counter(
    "gqlorders_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
DURATION = Histogram(
    "gqlorders_http_request_duration_seconds", "Time to answer a request", ["route"]
)
JOBS = Counter("gqlorders_jobs_total", "Background jobs run", ["job", "outcome"])
JOB_HANDOFFS_LOST = Counter(
    "gqlorders_job_handoffs_lost_total",
    "Jobs arq refused to enqueue with nothing of them left in Redis: put back in the outbox",
    ["job"],
)
COMPILED_QUERIES = Counter(
    "gqlorders_compiled_queries_total",
    "Persisted queries answered by their compiled plan (api/compiled)",
)
COMPILED_FALLBACKS = Counter(
    "gqlorders_compiled_fallbacks_total",
    "Persisted queries handed to the standard executor instead of their plan, by reason",
    ["reason"],
)
# Set at scrape time from the database by whichever process answers /metrics.
OUTBOX_PENDING = Gauge(
    "gqlorders_outbox_pending", "Committed jobs not yet handed on", multiprocess_mode="mostrecent"
)
OUTBOX_LAG = Gauge(
    "gqlorders_outbox_lag_seconds",
    "Age of the oldest job not yet handed on",
    multiprocess_mode="mostrecent",
)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch
# Our loggers ("gqlorders.*") log from LOG_LEVEL up; every library's stay at WARNING unless
# LOG_LEVEL is DEBUG (their INFO is their own business: httpx logs each request with its full
# URL, a partner's webhook URL may carry a secret; arq a line per job with its arguments;
# WeasyPrint seven per PDF). Those named here are let through at INFO, operators need them:
# uvicorn's start and stop ("Uvicorn running on ...", "Application shutdown complete.").
LIBRARIES_AT_INFO = ("uvicorn.error",)
OUR_LOGGER = "gqlorders"
TEXT_FORMAT = "%(levelname)s: %(name)s: %(message)s"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(Exception):
    """A streamed body went over the limit: the application stops reading and gets a 413."""


@contextmanager
def metrics_shared_between_processes(parent: Path) -> Iterator[None]:
    """While several server processes run: each writes its metrics into this run's directory
    (`parent`/serve-<pid>, removed at the end, and left-overs of runs whose supervisor died are
    removed at the start: another instance on the same DATA_DIR keeps its own), and /metrics
    sums them all. An operator's PROMETHEUS_MULTIPROC_DIR is used as it is (theirs to empty)."""
    if os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    parent.mkdir(parents=True, exist_ok=True)
    for earlier in parent.glob("serve-*"):
        pid = earlier.name.removeprefix("serve-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(earlier, ignore_errors=True)
    directory = parent / f"serve-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    os.environ[MULTIPROCESS_DIR] = str(directory)
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def metrics_exposition() -> bytes:
    """The Prometheus text of this process, or of all server processes when they share."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and organization when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := request_id_var.get()) is not None:
            entry["request_id"] = request_id
        if (organization := organization_var.get()) is not None:
            entry["organization_id"] = organization
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Log to stderr, as JSON lines (LOG_FORMAT=json) or text: ours from `level` up
    (Settings.log_level, LOG_LEVEL), libraries' from WARNING (LIBRARIES_AT_INFO from INFO),
    everyone's from DEBUG when `level` is DEBUG."""
    ours = logging.getLevelNamesMapping()[level]
    debug = ours == logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else max(logging.WARNING, ours))
    logging.getLogger(OUR_LOGGER).setLevel(ours)
    for name in LIBRARIES_AT_INFO:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else max(logging.INFO, ours))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ours says more (gqlorders.access)


access_log = logging.getLogger("gqlorders.access")


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane), logs and measures it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request_token = request_id_var.set(request_id)
        organization_token = organization_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            DURATION.labels(route).observe(elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(request_token)
            organization_var.reset(organization_token)


def _route(scope: Scope) -> str:
    """A low-cardinality label: the first path segment."""
    path: str = scope.get("path", "/")
    return "/" + path.strip("/").split("/", 1)[0]


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, before anything reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt  # paths that enforce their own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _too_large(send)


async def _too_large(send: Send) -> None:
    body = json.dumps(
        {"errors": [{"message": "request body too large", "extensions": {"code": "TOO_LARGE"}}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
