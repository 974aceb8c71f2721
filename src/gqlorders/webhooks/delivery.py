"""Sending deliveries: each time a job holds some (see `fanout` for who holds them).

Deliveries wait in their endpoint's lane (at most LANE_WAITING; one copy of each, the newest
job's); a lane sends a batch at a time, a few batches at once. A batch first gets its place
among the process's sends (IN_FLIGHT), then one statement claims it (only what its jobs
still hold: a lease under a token of its own), the attempts go out together (the body built
once per event, a payload query's within PAYLOAD_QUERY_SECONDS; then each send cut off at
the policy's send_deadline, all before the lease ends), and
one transaction records them all (the attempts, each delivery's outcome, the endpoint's
state): SUCCEEDED on 2xx; otherwise the next retry of the schedule, or FAILED after the last;
410 Gone disables the endpoint at once, and failing without a success for `disable_after`
does too.

An endpoint's sends share an HTTP client per host name in the process (httpx's own pool,
sized to the lane: connections kept alive and reused; the pool keys them by the address
connected to, the client by the name TLS checked). A job only hands its deliveries to the
lanes, so a slow receiver holds neither a worker's job slots nor the other endpoints'
deliveries; a failing endpoint's lane sends one batch at a time, so its retries take no more
than their share of the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from itertools import islice
from typing import Any

import httpx
from tortoise import connections
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.events.types import Resource
from gqlorders.models import (
    FeedEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from gqlorders.webhooks import addresses, endpoints, fanout, policy, signing

logger = logging.getLogger("gqlorders.webhooks")

BATCH = 16  # deliveries claimed, sent and recorded together (one endpoint's)
LANE_BATCHES = 2  # an endpoint's batches in flight, per process (one while it fails)
# An endpoint's deliveries waiting in a process; beyond it a lane remembers only the jobs
# (tokens) whose deliveries did not fit, up to LANE_JOBS_KEPT, and reads them again once half
# of it is sent (what it forgets, or what waits past its job's deadline, the sweep hands on).
LANE_WAITING = 1024
LANE_JOBS_KEPT = 10_000
PAGE = 500  # deliveries a job reads at once
CLIENTS_KEPT = 256  # endpoints whose connections a process keeps alive between batches
IN_FLIGHT = 512  # attempts in flight, per process (BATCH at a time)
BODIES_KEPT = 2048  # events whose body a process keeps for their other endpoints and retries
USER_AGENT = "gqlorders-webhooks/1"
GONE = 410
# An endpoint's payload query, before the receiver's own time: what a batch's lease leaves
# once the send has its whole deadline (5 s: one resource's query takes milliseconds).
PAYLOAD_QUERY_SECONDS = (
    policy.ATTEMPT_LEASE - policy.LEASE_MARGIN - policy.SEND_DEADLINE
).total_seconds()
NEXT_ADDRESS_AFTER = 2.0  # seconds to connect to an address of a name before its next one
# A stopping worker's wait for its batches in flight: their sends are cut off before their
# lease ends (policy.ATTEMPT_LEASE - LEASE_MARGIN), then recorded.
STOP_GRACE_SECONDS = policy.ATTEMPT_LEASE.total_seconds()

# Runs an endpoint's payloadQuery on one resource with the given scopes: (organization,
# scopes, resource type, key, selection) -> the selection's result (the API provides it).
PayloadQueryRunner = Callable[[int, frozenset[str], Resource, int, str], Awaitable[Any]]

# A batch's claim: the deliveries whose token is still their job's (pairs of id and token)
# take the attempt's token and lease, in one statement, which returns their endpoint's URL,
# secrets and payload query as they are now (a job may have read them long before: they may
# have changed). A delivery whose endpoint is no longer ENABLED is not claimed (disabling fails
# its deliveries: it is left to that).
_CLAIM = {
    "postgres": """
UPDATE "webhook_delivery" AS d SET "dispatch" = $1, "next_attempt_at" = $2
FROM "webhook_endpoint" AS e
WHERE e."id" = d."endpoint_id" AND d."status" = 'PENDING' AND e."status" = 'ENABLED'
    AND (d."id", d."dispatch") IN (SELECT * FROM unnest($3::bigint[], $4::bigint[]))
RETURNING d."id", e."url", e."secret", e."previous_secret", e."previous_secret_until",
    e."payload_query", e."query_scopes"
""",
    # SQLite's RETURNING may not name the FROM tables: the endpoint is read by subqueries
    "sqlite": """
UPDATE "webhook_delivery" SET "dispatch" = ?1, "next_attempt_at" = ?2
WHERE "status" = 'PENDING' AND ("id", "dispatch") IN (
    SELECT json_extract("value", '$[0]'), json_extract("value", '$[1]') FROM json_each(?3))
    AND (SELECT "status" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id") = 'ENABLED'
RETURNING "id",
    (SELECT "url" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id") AS "url",
    (SELECT "secret" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id") AS "secret",
    (SELECT "previous_secret" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id")
        AS "previous_secret",
    (SELECT "previous_secret_until" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id")
        AS "previous_secret_until",
    (SELECT "payload_query" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id")
        AS "payload_query",
    (SELECT "query_scopes" FROM "webhook_endpoint" e WHERE e."id" = "endpoint_id")
        AS "query_scopes"
""",
}
# A batch without a success: the endpoint has been failing since its first failure after the
# last success (kept if set, read in the same statement that sets it).
_FAILING_SINCE = {
    "postgres": """
UPDATE "webhook_endpoint" SET "failing_since" = COALESCE("failing_since", $2)
WHERE "id" = $1 RETURNING "failing_since"
""",
    "sqlite": """
UPDATE "webhook_endpoint" SET "failing_since" = COALESCE("failing_since", ?2)
WHERE "id" = ?1 RETURNING "failing_since"
""",
}
# A batch's outcomes ([id, status, failures, next attempt], as JSON), for the deliveries the
# attempt still holds, in one statement.
_RECORD = {
    "postgres": """
UPDATE "webhook_delivery" AS d
SET "status" = o.status, "failures" = o.failures, "next_attempt_at" = o.retry_at,
    "dispatch" = NULL
FROM (
    SELECT (value->>0)::bigint AS id, value->>1 AS status, (value->>2)::int AS failures,
        (value->>3)::timestamptz AS retry_at
    FROM jsonb_array_elements($2::jsonb)
) AS o
WHERE d."id" = o.id AND d."dispatch" = $1
""",
    "sqlite": """
UPDATE "webhook_delivery"
SET "status" = o.status, "failures" = o.failures, "next_attempt_at" = o.retry_at,
    "dispatch" = NULL
FROM (
    SELECT json_extract("value", '$[0]') AS id, json_extract("value", '$[1]') AS status,
        json_extract("value", '$[2]') AS failures, json_extract("value", '$[3]') AS retry_at
    FROM json_each(?2)
) AS o
WHERE "webhook_delivery"."id" = o.id AND "webhook_delivery"."dispatch" = ?1
""",
}


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


@dataclass
class Lane:
    """An endpoint's deliveries waiting in this process, and its batches in flight."""

    # by id, oldest first; a copy read again (its job lost, the sweep handed it on) replaces
    # the older one, so a claim uses the newest job's token
    waiting: dict[int, WebhookDelivery] = field(default_factory=dict)
    batches: int = 0  # started, waiting for their place or in flight
    failing: bool = False  # its last batch had no success: one batch at a time
    # jobs (dispatch -> their delivery ids, if listed) whose deliveries here did not fit
    later: dict[int, list[int] | None] = field(default_factory=dict)
    refilling: bool = False

    @property
    def idle(self) -> bool:
        return not (self.waiting or self.batches or self.later or self.refilling)

    def remember(self, dispatch: int, delivery_ids: Collection[int] | None) -> None:
        if dispatch in self.later or len(self.later) < LANE_JOBS_KEPT:
            self.later[dispatch] = None if delivery_ids is None else list(delivery_ids)

    def add(self, delivery: WebhookDelivery) -> bool:
        """Wait here, unless LANE_WAITING others do."""
        if delivery.id not in self.waiting and len(self.waiting) >= LANE_WAITING:
            return False
        self.waiting[delivery.id] = delivery
        return True

    def take(self) -> list[WebhookDelivery]:
        """The next batch: the BATCH oldest."""
        return [self.waiting.pop(key) for key in list(islice(self.waiting, BATCH))]


@dataclass(frozen=True)
class Sent:
    delivery: WebhookDelivery
    at: datetime
    outcome: Outcome


class Sender:
    """A process's webhook sender: one HTTP client, a lane per endpoint."""

    def __init__(self, run_query: PayloadQueryRunner) -> None:
        self.run_query = run_query
        self.ssl_context = httpx.create_ssl_context()  # read once: the CA bundle is large
        # by endpoint id and host name: a TLS connection is never reused for another name
        self.clients: OrderedDict[tuple[int, str], httpx.AsyncClient] = OrderedDict()
        self.places = asyncio.Semaphore(IN_FLIGHT // BATCH)  # batches sending at once
        self.lanes: dict[int, Lane] = {}
        self.bodies: OrderedDict[int, bytes] = OrderedDict()  # event id -> its plain body
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False  # set by stop(): no batch starts any more
        self._stopped: asyncio.Task[None] | None = None  # stop()'s work, done once

    async def submit(self, dispatch: int, delivery_ids: Collection[int] | None = None) -> None:
        """Queue the deliveries the job (`dispatch`) still holds (of `delivery_ids`, if given)
        in their endpoints' lanes, and return: the attempts go on in this process's tasks."""
        if self.stopping:  # the job's deliveries stay its own: made due for the sweep
            await _make_due(dispatch, delivery_ids)
            return
        held = WebhookDelivery.filter(dispatch=dispatch, status=WebhookDeliveryStatus.PENDING)
        if delivery_ids is not None:
            held = held.filter(id__in=list(delivery_ids))
        after = 0
        while True:
            page = await (
                held.filter(id__gt=after).select_related("endpoint", "event").order_by("id")
            ).limit(PAGE)
            endpoint_ids = set()
            if self.stopping:  # (a refill reading a long job when the stop came)
                await _make_due(dispatch, delivery_ids)
                return
            for delivery in page:
                lane = self.lanes.setdefault(delivery.endpoint_id, Lane())
                if lane.add(delivery):
                    endpoint_ids.add(delivery.endpoint_id)
                else:  # read again once the lane has room
                    lane.remember(dispatch, delivery_ids)
            for endpoint_id in endpoint_ids:
                self._start_batches(endpoint_id)
            if len(page) < PAGE or not endpoint_ids:  # full lanes remember the job
                return
            after = page[-1].id

    def _start_batches(self, endpoint_id: int) -> None:
        if self.stopping:
            return
        lane = self.lanes[endpoint_id]
        limit = 1 if lane.failing else LANE_BATCHES
        wanted = -(-len(lane.waiting) // BATCH)
        while lane.batches < min(limit, wanted):
            lane.batches += 1
            self._track(self._run_batch(endpoint_id))

    async def _run_batch(self, endpoint_id: int) -> None:
        """Take the lane's next batch once there is room for it (before its claim: a lease
        starts only when its sends can), send it."""
        lane = self.lanes[endpoint_id]
        batch: list[WebhookDelivery] = []
        try:
            async with self.places:
                if self.stopping:  # not claimed: the lane's deliveries are still their jobs'
                    return
                batch = lane.take()
                if batch:
                    lane.failing = not await self.send_batch(batch)
        except Exception:  # the leases run out and the sweep hands the deliveries on again
            logger.exception("webhook deliveries %s: batch failed", [d.id for d in batch])
        finally:
            lane.batches -= 1
            if (
                lane.later
                and not lane.refilling
                and not self.stopping
                and len(lane.waiting) <= LANE_WAITING // 2
            ):
                lane.refilling = True
                self._track(self._refill(endpoint_id))
            if lane.waiting:
                self._start_batches(endpoint_id)
            elif lane.idle:
                del self.lanes[endpoint_id]

    async def _refill(self, endpoint_id: int) -> None:
        """Read again the jobs whose deliveries did not fit in the lane, while it has room."""
        lane = self.lanes[endpoint_id]
        try:
            while lane.later and len(lane.waiting) < LANE_WAITING and not self.stopping:
                dispatch = next(iter(lane.later))
                await self.submit(dispatch, lane.later.pop(dispatch))
        except Exception:  # what it did not read, the sweep hands on
            logger.exception("webhook endpoint %s: reading its deliveries failed", endpoint_id)
        finally:
            lane.refilling = False
            if lane.idle:
                del self.lanes[endpoint_id]

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Wait for the attempts in flight (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """A process's shutdown, the database still open: no batch starts any more, and the
        batches in flight get `grace` seconds to be sent and recorded (their sends end before
        their lease does), so that a deploy neither cuts receivers off mid-answer nor sends
        them those deliveries again once the leases run out. What waits in the lanes was never
        claimed: it is made due at once, for any process's sweep to hand on (instead of when
        its job's deadline passes). What still runs after `grace` is cancelled (its lease runs
        out: sent again, at least once). A second call waits for the first's work."""
        self.stopping = True
        if self._stopped is None:
            self._stopped = asyncio.create_task(self._stop(grace))
        await asyncio.shield(self._stopped)

    async def _stop(self, grace: float) -> None:
        try:
            if self.tasks:
                logger.info("waiting up to %.0f s for the webhook sends in flight", grace)
            await jobs.finish_or_cancel(self.tasks, grace)
            await self._hand_back_waiting()
        finally:
            await self.close()

    async def _hand_back_waiting(self) -> None:
        """What the lanes hold unclaimed (their waiting deliveries, and the jobs remembered
        for later) made due now for the sweep, where their job still holds them."""
        by_job: dict[int, list[int] | None] = {}
        for lane in self.lanes.values():
            for delivery in lane.waiting.values():
                listed = by_job.setdefault(delivery.dispatch, [])
                if listed is not None:
                    listed.append(delivery.id)
            for dispatch in lane.later:
                by_job[dispatch] = None  # everything its job holds
        self.lanes.clear()
        for dispatch, ids in by_job.items():
            await _make_due(dispatch, ids)

    async def close(self) -> None:
        clients, self.clients = list(self.clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()

    def client(self, endpoint_id: int, host: str) -> httpx.AsyncClient:
        """The HTTP client for this endpoint and host name, made on first use (its pool holds
        a lane's sends at once, so a send never waits for a connection); the clients least
        recently sent to, of endpoints with nothing waiting, are closed beyond CLIENTS_KEPT."""
        key = (endpoint_id, host)
        client = self.clients.pop(key, None)
        if client is None:
            client = httpx.AsyncClient(
                verify=self.ssl_context,
                timeout=httpx.Timeout(policy.TIMEOUT_SECONDS, pool=None),
                limits=httpx.Limits(
                    max_connections=LANE_BATCHES * BATCH,
                    max_keepalive_connections=LANE_BATCHES * BATCH,
                ),
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment: the checked address is the peer
                cookies=_no_cookies(),  # a receiver's Set-Cookie is never sent back
            )
        self.clients[key] = client
        if len(self.clients) <= CLIENTS_KEPT:
            return client
        for idle in [other for other in self.clients if other[0] not in self.lanes]:
            if len(self.clients) <= CLIENTS_KEPT:
                break
            self._track(self.clients.pop(idle).aclose())
        return client

    async def send_batch(self, batch: list[WebhookDelivery]) -> bool:
        """Claim, send and record one endpoint's batch; False when none of it succeeded."""
        loop = asyncio.get_running_loop()
        # the sends end before the lease does (it starts in the claim, after this)
        deadline = loop.time() + (policy.ATTEMPT_LEASE - policy.LEASE_MARGIN).total_seconds()
        lease = fanout.lease_token()
        claimed = await claim(batch, lease)
        if not claimed:
            return True  # nothing sent: nothing learnt of the endpoint
        sent = await asyncio.gather(*(self.attempt(delivery, deadline) for delivery in claimed))
        await record(sent, lease)
        return any(one.outcome.succeeded for one in sent)

    async def attempt(self, delivery: WebhookDelivery, deadline: float) -> Sent:
        """Build the body (the payload query within PAYLOAD_QUERY_SECONDS), then sign and POST
        it within the policy's send_deadline -- the receiver's own time, whatever the query
        took, as the batch's `deadline` (event loop time) leaves room for both; whatever
        fails, or takes longer, is a failed attempt, its excerpt saying which part (its
        duration: the query's when the query failed, else the receiver's)."""
        loop = asyncio.get_running_loop()
        at, started = now(), loop.time()

        def failed(since: float, excerpt: str) -> Sent:
            return Sent(delivery, at, Outcome(None, round((loop.time() - since) * 1000), excerpt))

        query_limit = min(deadline, started + PAYLOAD_QUERY_SECONDS)
        try:
            async with asyncio.timeout_at(query_limit):
                body = await self.body(delivery.event, delivery.endpoint)
        except TimeoutError:  # our database, slow: said in the log as in the attempt
            logger.warning("webhook delivery %s: its payload query timed out", delivery.id)
            return failed(started, f"payload query: no result within {query_limit - started:.1f} s")
        except Exception as error:  # ours to fix: logged
            logger.exception("webhook delivery %s: its body failed", delivery.id)
            excerpt = f"payload query: {_reason(error)}"
            return failed(started, excerpt[: policy.EXCERPT_BYTES])
        posting = loop.time()
        limit = min(deadline, posting + policy.current().send_deadline.total_seconds())
        if limit <= posting:  # (the lease is over: never a send with no time, blamed on it)
            return failed(started, "no time left in the attempt's lease for the send")
        try:
            async with asyncio.timeout_at(limit):
                outcome = await self.send(delivery, body)
        except TimeoutError:
            return failed(posting, f"timed out: no complete answer within {limit - posting:.1f} s")
        except Exception as error:  # the signing failed: ours to fix
            logger.exception("webhook delivery %s: attempt failed", delivery.id)
            return failed(posting, _reason(error))
        return Sent(delivery, at, outcome)

    async def send(self, delivery: WebhookDelivery, body: bytes) -> Outcome:
        endpoint: WebhookEndpoint = delivery.endpoint
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
        return await self.post(endpoint.id, endpoint.url, body, headers)

    async def body(self, event: FeedEvent, endpoint: WebhookEndpoint) -> bytes:
        """The body for this endpoint: its payloadQuery's result at delivery time, or the
        event's data (built once per event, for every endpoint and retry in this process)."""
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
            return body_of(event, data)
        body = self.bodies.get(event.id)
        if body is None:
            body = self.bodies[event.id] = body_of(event, event.data)
            if len(self.bodies) > BODIES_KEPT:
                self.bodies.popitem(last=False)
        return body

    async def post(
        self, endpoint_id: int, url: str, body: bytes, headers: dict[str, str]
    ) -> Outcome:
        """POST to the URL's checked addresses in the resolver's order, the name kept for Host
        and TLS (SNI and the certificate's check): the next address when one cannot be
        connected to (nothing was sent to it: a name with an unreachable IPv6 address, or one
        of several servers down), each but the last given NEXT_ADDRESS_AFTER seconds to
        connect, so that a silent one leaves the attempt time for the others; redirects are not
        followed, at most EXCERPT_BYTES are read. Whatever goes wrong is the attempt's failed
        outcome (logged, retried), never lost; the outcome of the last address tried, with
        the others' errors before it."""
        started = time.monotonic()

        def outcome(status: int | None, excerpt: str | None) -> Outcome:
            return Outcome(status, round((time.monotonic() - started) * 1000), excerpt)

        allow_private = policy.current().allow_private
        try:
            parsed = addresses.parse_url(url, allow_private)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            found = await addresses.resolve(parsed.host, port, allow_private)
            client = self.client(endpoint_id, parsed.host)
            unreachable: list[str] = []  # "address: error" of those skipped
            for address in found[:-1]:
                try:
                    status, excerpt = await _post_to(
                        client, parsed, address, body, headers, NEXT_ADDRESS_AFTER
                    )
                    return outcome(status, excerpt)
                except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                    unreachable.append(f"{address}: {_reason(error)}")
                    logger.debug(  # (the host, not the URL: a URL may hold a secret)
                        "webhook endpoint %s: %s at %s not connected: %s",
                        endpoint_id,
                        parsed.host,
                        address,
                        _reason(error),
                    )
            try:
                status, excerpt = await _post_to(client, parsed, found[-1], body, headers)
            except httpx.HTTPError as error:
                if not unreachable:  # the name's only address: the error alone, as ever
                    raise
                tried = "; ".join([*unreachable, f"{found[-1]}: {_reason(error)}"])
                return outcome(None, tried[: policy.EXCERPT_BYTES])
            return outcome(status, excerpt)
        except addresses.RefusedURL as error:
            return outcome(None, f"refused: {error}"[: policy.EXCERPT_BYTES])
        except httpx.HTTPError as error:
            return outcome(None, _reason(error))
        except Exception as error:  # a bug of ours or a library's: still a recorded attempt
            # (the endpoint, not its URL: a URL may hold a partner's secret)
            logger.exception("webhook POST for endpoint %s failed unexpectedly", endpoint_id)
            return outcome(None, _reason(error))


async def _post_to(
    client: httpx.AsyncClient,
    url: httpx.URL,
    address: str,
    body: bytes,
    headers: dict[str, str],
    connect_within: float = policy.TIMEOUT_SECONDS,
) -> tuple[int, str | None]:
    """POST to one address of `url`'s host: the answer's status and its first EXCERPT_BYTES."""
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    async with client.stream(
        "POST",
        url.copy_with(host=address),
        content=body,
        headers={**headers, "host": url.netloc.decode("ascii")},
        extensions=extensions,
        timeout=httpx.Timeout(policy.TIMEOUT_SECONDS, connect=connect_within, pool=None),
    ) as response:
        excerpt = bytearray()
        async for chunk in response.aiter_bytes():
            excerpt += chunk
            if len(excerpt) >= policy.EXCERPT_BYTES:
                break
    text = bytes(excerpt[: policy.EXCERPT_BYTES]).decode("utf-8", errors="replace")
    return response.status_code, text or None


async def claim(batch: list[WebhookDelivery], lease: int) -> list[WebhookDelivery]:
    """Of `batch`, the deliveries still held by the jobs that queued them, now held by this
    attempt (`lease`) until ATTEMPT_LEASE is over: one statement."""
    db = connections.get("default")
    dialect = db.capabilities.dialect
    if dialect == "postgres":
        held: Any = [[d.id for d in batch], [d.dispatch for d in batch]]
    else:
        held = [json.dumps([[d.id, d.dispatch] for d in batch])]
    until = now() + policy.ATTEMPT_LEASE
    rows = await db.execute_query_dict(_CLAIM[dialect], [lease, until, *held])
    claimed = {row["id"]: row for row in rows}
    taken = []
    for delivery in batch:  # a delivery queued twice (its job ran again) is sent once
        row = claimed.pop(delivery.id, None)
        if row is None:
            continue
        endpoint: WebhookEndpoint = delivery.endpoint
        endpoint.url, endpoint.secret = row["url"], row["secret"]
        endpoint.previous_secret = row["previous_secret"]
        endpoint.previous_secret_until = _datetime(row["previous_secret_until"])
        endpoint.payload_query = row["payload_query"]
        endpoint.query_scopes = row["query_scopes"]
        taken.append(delivery)
    return taken


async def record(sent: list[Sent], lease: int) -> None:
    """Log a batch's attempts (one endpoint's) and decide what follows for each: done, the
    next retry, FAILED; then for the endpoint: disabled (410 Gone; failing for
    `disable_after`), failing since, or not failing. One transaction; a delivery handed on
    meanwhile (its lease gone: redelivered, or swept) keeps what came after."""
    if not sent:
        return
    rules = policy.current()
    at = now()
    outcomes = []
    for one in sent:
        status, failures, retry_at = WebhookDeliveryStatus.SUCCEEDED, one.delivery.failures, None
        if not one.outcome.succeeded:
            failures += 1
            delay = rules.retry_delay(failures)
            if delay is None:
                status = WebhookDeliveryStatus.FAILED
            else:
                status, retry_at = WebhookDeliveryStatus.PENDING, (at + delay).isoformat(" ")
        outcomes.append([one.delivery.id, status.value, failures, retry_at])
    endpoint: WebhookEndpoint = sent[-1].delivery.endpoint
    async with in_transaction() as db:
        await WebhookAttempt.bulk_create(
            [
                WebhookAttempt(
                    delivery_id=one.delivery.id,
                    at=one.at,
                    response_status=one.outcome.status,
                    duration_ms=one.outcome.duration_ms,
                    response_excerpt=one.outcome.excerpt,
                )
                for one in sent
            ]
        )
        await db.execute_query(_RECORD[db.capabilities.dialect], [lease, json.dumps(outcomes)])
        await _send_again(sent, lease)
        if any(one.outcome.status == GONE for one in sent):
            await endpoints.disable_endpoint(
                endpoint.id, f"the endpoint answered {GONE} Gone", None
            )
        elif any(one.outcome.succeeded for one in sent):
            # read now, not from the endpoint loaded with the job: a failure may have set it
            await WebhookEndpoint.filter(id=endpoint.id, failing_since__isnull=False).update(
                failing_since=None
            )
        else:
            first = min(one.at for one in sent)
            (row,) = await db.execute_query_dict(
                _FAILING_SINCE[db.capabilities.dialect], [endpoint.id, first]
            )
            failing_since = _datetime(row["failing_since"]) or first
            if max(one.at for one in sent) - failing_since >= rules.disable_after:
                await endpoints.disable_endpoint(
                    endpoint.id,
                    f"failing for {_days(rules.disable_after)} without a success",
                    None,
                )


async def _send_again(sent: list[Sent], lease: int) -> None:
    """The deliveries redelivered while this attempt held them (their lease marked): sent again
    by a new job, as a redelivery is (PENDING, no failure counted)."""
    marked = WebhookDelivery.filter(
        id__in=[one.delivery.id for one in sent], dispatch=fanout.resend_mark(lease)
    )
    again = [delivery.id for delivery in await marked.only("id")]
    if again:
        await WebhookDelivery.filter(id__in=again).update(
            status=WebhookDeliveryStatus.PENDING, failures=0
        )
        await fanout.hand_on(again)


async def _make_due(dispatch: int, delivery_ids: Collection[int] | None) -> None:
    """The deliveries job `dispatch` still holds (of `delivery_ids`, if given) due now, so
    that any process's sweep hands them on (a stopping sender will not send them) instead of
    when the job's deadline passes. One another process took meanwhile has another token: left
    alone. A failure only leaves them to that deadline."""
    held = WebhookDelivery.filter(dispatch=dispatch, status=WebhookDeliveryStatus.PENDING)
    chunks: list[list[int] | None] = [None]
    if delivery_ids is not None:
        listed, size = list(delivery_ids), jobs.PAYLOAD_VALUES_PER_QUERY
        chunks = [listed[at : at + size] for at in range(0, len(listed), size)]
    for chunk in chunks:
        try:
            await (held if chunk is None else held.filter(id__in=chunk)).update(
                next_attempt_at=now()
            )
        except Exception:
            logger.exception("webhook deliveries of job %s: not made due at shutdown", dispatch)


def _datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp column as asyncpg returns it, or as SQLite stores it (ISO text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: its policy allows no domain."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")[: policy.EXCERPT_BYTES]


def _days(span: Any) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{span.total_seconds():g} seconds"
