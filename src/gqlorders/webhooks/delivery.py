"""Sending deliveries: one attempt each time a job holds one (see `fanout` for who holds it).

An attempt claims the delivery (its job's token still current), builds the body, signs it,
POSTs it to an address checked just before (SSRF), and records the outcome: SUCCEEDED on 2xx;
otherwise the next retry of the schedule, or FAILED after the last; 410 Gone disables the
endpoint at once, and failing without a success for `disable_after` does too.

The sends of a process share one HTTP client (connections reused per endpoint address) and
run as tasks of their own, a few at a time per endpoint: a job only hands them over, so a
slow receiver holds neither a worker's job slots nor the other endpoints' deliveries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders.events.types import Resource
from gqlorders.models import (
    FeedEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from gqlorders.webhooks import addresses, endpoints, policy, signing

logger = logging.getLogger("gqlorders.webhooks")

PER_ENDPOINT = 16  # attempts in flight to one endpoint, per process
IN_FLIGHT = 512  # attempts in flight, per process
USER_AGENT = "gqlorders-webhooks/1"
GONE = 410

# Runs an endpoint's payloadQuery on one resource with the given scopes: (organization,
# scopes, resource type, key, selection) -> the selection's result (the API provides it).
PayloadQueryRunner = Callable[[int, frozenset[str], Resource, int, str], Awaitable[Any]]


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (refused, timeout, DNS, SSRF refusal)
    duration_ms: int
    excerpt: str | None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body_of(event: FeedEvent, data: Any) -> bytes:
    """`{"type", "timestamp", "data"}`, compact JSON: the bytes that are signed and sent."""
    message = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def signing_keys(endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    """The current secret, and the previous one during its rotation overlap."""
    keys = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until > at:
        keys.append(endpoint.previous_secret)
    return keys


class Sender:
    """A process's webhook sender: one HTTP client, its attempts in flight."""

    def __init__(self, run_query: PayloadQueryRunner) -> None:
        self.run_query = run_query
        self.client = httpx.AsyncClient(
            timeout=policy.TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the checked address is the peer
            limits=httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=100),
        )
        self.total = asyncio.Semaphore(IN_FLIGHT)
        self.per_endpoint: defaultdict[int, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(PER_ENDPOINT)
        )
        self.tasks: set[asyncio.Task[None]] = set()

    async def submit(self, delivery_ids: Collection[int], dispatch: int) -> None:
        """Start an attempt for each of these deliveries the job (`dispatch`) still holds,
        and return: the attempts go on in this process's tasks."""
        held = await WebhookDelivery.filter(
            id__in=list(delivery_ids), dispatch=dispatch, status=WebhookDeliveryStatus.PENDING
        ).select_related("endpoint", "event")
        for delivery in held:
            task = asyncio.create_task(self.attempt(delivery))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Wait for the attempts in flight (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.client.aclose()

    async def attempt(self, delivery: WebhookDelivery) -> None:
        endpoint: WebhookEndpoint = delivery.endpoint
        async with self.per_endpoint[endpoint.id], self.total:
            try:
                await self._attempt(delivery, endpoint)
            except Exception:  # the lease runs out and the sweep hands it on again
                logger.exception("webhook delivery %s: attempt failed", delivery.id)

    async def _attempt(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> None:
        ours = WebhookDelivery.filter(
            id=delivery.id, dispatch=delivery.dispatch, status=WebhookDeliveryStatus.PENDING
        )
        if not await ours.update(next_attempt_at=now() + policy.ATTEMPT_LEASE):
            return  # redelivered, swept to another job, or done meanwhile
        event: FeedEvent = delivery.event
        data = event.data
        resource = Resource(event.resource_type)
        if endpoint.payload_query and resource in endpoints.QUERYABLE:
            scopes = frozenset(filter(None, endpoint.query_scopes.split(",")))
            data = await self.run_query(
                endpoint.organization_id,
                scopes,
                resource,
                event.resource_key,
                endpoint.payload_query,
            )
        body = body_of(event, data)
        at = now()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signing.signature_header(
                signing_keys(endpoint, at), delivery.message_id, at, body
            ),
        }
        outcome = await self.post(endpoint.url, body, headers)
        await record(delivery, endpoint, at, outcome)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """POST to the URL's checked address, the name kept for Host and TLS (SNI and the
        certificate's check); redirects are not followed, at most EXCERPT_BYTES are read."""
        started = time.monotonic()

        def outcome(status: int | None, excerpt: str | None) -> Outcome:
            return Outcome(status, round((time.monotonic() - started) * 1000), excerpt)

        allow_private = policy.current().allow_private
        try:
            parsed = addresses.parse_url(url, allow_private)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            address = (await addresses.resolve(parsed.host, port, allow_private))[0]
            extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
            async with self.client.stream(
                "POST",
                parsed.copy_with(host=address),
                content=body,
                headers={**headers, "host": parsed.netloc.decode("ascii")},
                extensions=extensions,
            ) as response:
                excerpt = bytearray()
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= policy.EXCERPT_BYTES:
                        break
            text = bytes(excerpt[: policy.EXCERPT_BYTES]).decode("utf-8", errors="replace")
            return outcome(response.status_code, text or None)
        except addresses.RefusedURL as error:
            return outcome(None, f"refused: {error}"[: policy.EXCERPT_BYTES])
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}".rstrip(": ")
            return outcome(None, reason[: policy.EXCERPT_BYTES])


async def record(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, at: datetime, outcome: Outcome
) -> None:
    """Log the attempt and decide what follows: done, the next retry, FAILED, or the
    endpoint disabled (410 Gone; failing for `disable_after`)."""
    rules = policy.current()
    ours = WebhookDelivery.filter(id=delivery.id, dispatch=delivery.dispatch)
    async with in_transaction():
        await WebhookAttempt.create(
            delivery_id=delivery.id,
            at=at,
            response_status=outcome.status,
            duration_ms=outcome.duration_ms,
            response_excerpt=outcome.excerpt,
        )
        if outcome.succeeded:
            await ours.update(
                status=WebhookDeliveryStatus.SUCCEEDED, next_attempt_at=None, dispatch=None
            )
            # read now, not from the endpoint loaded with the job: a failure may have set it
            await WebhookEndpoint.filter(id=endpoint.id, failing_since__isnull=False).update(
                failing_since=None
            )
            return
        failures = delivery.failures + 1
        delay = rules.retry_delay(failures)
        if delay is None:
            await ours.update(
                status=WebhookDeliveryStatus.FAILED,
                failures=failures,
                next_attempt_at=None,
                dispatch=None,
            )
        else:
            await ours.update(failures=failures, next_attempt_at=now() + delay, dispatch=None)
        if outcome.status == GONE:
            await endpoints.disable_endpoint(
                endpoint.id, f"the endpoint answered {GONE} Gone", None
            )
            return
        await WebhookEndpoint.filter(id=endpoint.id, failing_since__isnull=True).update(
            failing_since=at
        )
        failing_since = endpoint.failing_since or at
        if at - failing_since >= rules.disable_after:
            await endpoints.disable_endpoint(
                endpoint.id, f"failing for {_days(rules.disable_after)} without a success", None
            )


def _days(span: Any) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{span.total_seconds():g} seconds"
