"""A partner's receiver (a real HTTP server on 127.0.0.1) and the documents the webhook tests
send."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

ENDPOINT_FIELDS = "id url description eventTypes payloadQuery status disabledReason"
ERRORS = "errors { field code message }"

CREATE_ENDPOINT = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret {ERRORS} }}
}}"""

UPDATE_ENDPOINT = f"""
mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{ webhookEndpoint {{ {ENDPOINT_FIELDS} }} {ERRORS} }}
}}"""

DELETE_ENDPOINT = f"""
mutation($input: WebhookEndpointIdInput!) {{
  deleteWebhookEndpoint(input: $input) {{ webhookEndpoint {{ id url }} {ERRORS} }}
}}"""

ROTATE_SECRET = f"""
mutation($input: WebhookEndpointIdInput!) {{
  rotateWebhookSecret(input: $input) {{ webhookEndpoint {{ id }} secret {ERRORS} }}
}}"""

DELIVERY_FIELDS = (
    "id messageId status nextAttemptAt endpoint { id } event { id type }"
    " attempts { responseStatus durationMs responseExcerpt }"
)

PING = f"""
mutation($input: WebhookEndpointIdInput!) {{
  pingWebhookEndpoint(input: $input) {{ delivery {{ {DELIVERY_FIELDS} }} {ERRORS} }}
}}"""

REDELIVER = f"""
mutation($input: RedeliverWebhookInput!) {{
  redeliverWebhook(input: $input) {{ delivery {{ {DELIVERY_FIELDS} }} {ERRORS} }}
}}"""

ENDPOINTS = f"""
query {{ webhookEndpoints {{ edges {{ node {{ {ENDPOINT_FIELDS} }} }} }} }}"""

DELIVERIES = f"""
query($filter: WebhookDeliveryFilter) {{
  webhookDeliveries(filter: $filter) {{ edges {{ node {{ {DELIVERY_FIELDS} }} }} }}
}}"""

EVENTS = """
query($types: [EventType!]) {
  events(filter: {types: $types}) { edges { node { id type resourceId data } } }
}"""


@dataclass
class Message:
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time()

    def verified(self, secret: str) -> Any:
        """The body, verified exactly as a partner does (raises WebhookVerificationError)."""
        return Webhook(secret).verify(self.body, self.headers)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """What a partner's server received, in order. It answers the statuses of `answers` in
        turn, then `default`; while `holding` is set it keeps each request unanswered until it is
        cleared (a receiver still working when the sender dies). The next `dripping` requests get
        their answer a byte every 0.2 s (each read well within httpx's timeout). `most_at_once` is
    the most requests it was answering at one time; with `cookie` set, each answer sets it."""

    url: str = ""
    messages: list[Message] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    default: int = 200
    holding: threading.Event = field(default_factory=threading.Event)
    dripping: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    cookie: str | None = None
    at_once: int = 0
    most_at_once: int = 0
    counting: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        return self.answers.pop(0) if self.answers else self.default

    async def wait_for(self, count: int, seconds: float = 20) -> list[Message]:
        """The first `count` messages, once they came (fails after `seconds`)."""
        deadline = time.monotonic() + seconds
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} of {count} arrived"
            await asyncio.sleep(0.02)
        return self.messages[:count]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # connections kept alive, as a partner's server does

    def do_POST(self) -> None:
        receiver = self.server.receiver
        with receiver.counting:
            receiver.at_once += 1
            receiver.most_at_once = max(receiver.most_at_once, receiver.at_once)
        try:
            self._answer(receiver)
        finally:
            with receiver.counting:
                receiver.at_once -= 1

    def _answer(self, receiver: Receiver) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {key.lower(): value for key, value in self.headers.items()}
        receiver.messages.append(Message(headers, body, time.time()))
        receiver.arrived.set()
        while receiver.holding.is_set():
            time.sleep(0.01)
        if receiver.dripping > 0:
            receiver.dripping -= 1
            self._drip()
            return
        status = receiver.answer()
        answer = b'{"ok":true}' if status < 300 else b"x" * 3000  # the log keeps 1 KiB
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        if receiver.cookie is not None:
            self.send_header("set-cookie", receiver.cookie)
        self.end_headers()
        self.wfile.write(answer)

    def _drip(self, seconds: float = 60) -> None:
        """200, then its body a byte at a time, until the sender hangs up (or `seconds`)."""
        self.send_response(200)
        self.send_header("content-length", "1000000")
        self.end_headers()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a sender's connections come at once (listen's backlog)
    receiver: Receiver


@contextmanager
def receiving(path: str = "/hooks") -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1 while the block runs."""
    receiver = Receiver()
    with _serving(receiver, "127.0.0.1", 0) as port:
        receiver.url = f"http://127.0.0.1:{port}{path}"
        yield receiver


@contextmanager
def also_listening(receiver: Receiver, address: str) -> Iterator[str]:
    """The receiver on another loopback address too (same port): its URL there."""
    url = httpx.URL(receiver.url)
    assert url.port is not None
    with _serving(receiver, address, url.port):
        yield str(url.copy_with(host=address))


@contextmanager
def _serving(receiver: Receiver, address: str, port: int) -> Iterator[int]:
    server = _Server((address, port), _Handler)
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        receiver.holding.clear()
        server.shutdown()
        server.server_close()
