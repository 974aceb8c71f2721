"""Deliveries: created with their event, handed to jobs, handed again when a job is lost.

A delivery is created in its event's transaction (so it exists exactly when the event does)
together with the job that sends it (the outbox), and carries the `dispatch` token of that
job: only the job holding a delivery's current token may send it. All the events of one
transaction share one token and one job (`jobs.group_token`; the job reads its deliveries by
token): a job per delivery cost a Redis hand-off and an outbox row each. When its `next_attempt_at`
passes while it is still PENDING -- the retry is due, or the job holding it never reported
(worker killed, Redis down) -- the sweep (`dispatch_due`, run by every process's relay) gives
it a new token and a new job; the old job, if it ever runs, finds its token gone and does
nothing. So a delivery is never lost, and at most one job at a time sends it.

While an attempt is in flight its batch holds the delivery under a lease (`lease_token`:
negative and even, so it is told from a job's token). A redelivery then takes nothing from
it (two sends of one webhook-id at once, and the first one's outcome lost): it marks the lease
(`resend_mark`, the odd number below it), and the batch's record hands the delivery to a new
job once the attempt in flight is logged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection

from tortoise import connections
from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.models import FeedEvent, WebhookDelivery, WebhookDeliveryStatus
from gqlorders.webhooks.policy import DISPATCH_DEADLINE

SWEEP_BATCH = 100  # deliveries per job the sweep writes

# One statement on the event's hot path (createSalesOrder...): the organization's enabled
# endpoints subscribed to the type become deliveries, through the (organization_id, status)
# index, with no round trip to read them first. A `webhook-id` is random (`msg_` + 32 hex):
# receivers deduplicate on it, across installations too.
_FAN_OUT = {
    "postgres": """
INSERT INTO "webhook_delivery" ("organization_id", "endpoint_id", "event_id", "message_id",
    "status", "next_attempt_at", "dispatch", "failures", "created_at")
SELECT "organization_id", "id", $2, 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    'PENDING', $3, $4, 0, $5
FROM "webhook_endpoint"
WHERE "organization_id" = $1 AND "status" = 'ENABLED'
    AND ("event_types" = '' OR strpos("event_types", $6) > 0)
RETURNING "id"
""",
    "sqlite": """
INSERT INTO "webhook_delivery" ("organization_id", "endpoint_id", "event_id", "message_id",
    "status", "next_attempt_at", "dispatch", "failures", "created_at")
SELECT "organization_id", "id", ?2, 'msg_' || lower(hex(randomblob(16))),
    'PENDING', ?3, ?4, 0, ?5
FROM "webhook_endpoint"
WHERE "organization_id" = ?1 AND "status" = 'ENABLED'
    AND ("event_types" = '' OR instr("event_types", ?6) > 0)
RETURNING "id"
""",
}
# The sweep's hand-off: the due deliveries among the candidates it read get its token, in one
# statement. A delivery another process took meanwhile is no longer due (its next_attempt_at
# moved on), so it is not taken twice.
_TAKE_DUE = {
    "postgres": """
UPDATE "webhook_delivery" SET "dispatch" = $1, "next_attempt_at" = $2
WHERE "id" = ANY($3::bigint[]) AND "status" = 'PENDING' AND "next_attempt_at" <= $4
RETURNING "id"
""",
    "sqlite": """
UPDATE "webhook_delivery" SET "dispatch" = ?1, "next_attempt_at" = ?2
WHERE "id" IN (SELECT "value" FROM json_each(?3)) AND "status" = 'PENDING'
    AND "next_attempt_at" <= ?4
RETURNING "id"
""",
}
# A redelivery of deliveries an attempt holds (a live lease): marked to be sent again once it
# is recorded (already marked ones stay so); returns them. The others are handed on.
_MARK_LEASED = {
    "postgres": """
UPDATE "webhook_delivery"
SET "dispatch" = CASE WHEN "dispatch" % 2 = 0 THEN "dispatch" - 1 ELSE "dispatch" END
WHERE "id" = ANY($1::bigint[]) AND "dispatch" < 0 AND "next_attempt_at" > $2
RETURNING "id"
""",
    "sqlite": """
UPDATE "webhook_delivery"
SET "dispatch" = CASE WHEN "dispatch" % 2 = 0 THEN "dispatch" - 1 ELSE "dispatch" END
WHERE "id" IN (SELECT "value" FROM json_each(?1)) AND "dispatch" < 0 AND "next_attempt_at" > ?2
RETURNING "id"
""",
}


def subscription_key(event_types: str) -> str:
    """`WebhookEndpoint.event_types` holds `,A,B,`: a type is subscribed when `,A,` is in it."""
    return f",{event_types},"


def _token() -> int:
    return secrets.randbits(62)


def lease_token() -> int:
    """An attempt's hold on its batch: negative and even (a job's token is positive)."""
    return -2 * (secrets.randbits(60) + 1)


def resend_mark(lease: int) -> int:
    """The lease's form once a redelivery asked for another send after the attempt's."""
    return lease - 1


async def fan_out(event: FeedEvent) -> None:
    """In the event's transaction: a delivery for each of the organization's enabled endpoints
    subscribed to the event's type, sent by the transaction's one job (enqueued with its
    first deliveries; again after a savepoint that held it was rolled back). Outside a
    transaction each event has its own job."""
    db = connections.get("default")
    at = now()
    token = jobs.group_token(jobs.DELIVER_WEBHOOKS)
    rows = await db.execute_query_dict(
        _FAN_OUT[db.capabilities.dialect],
        [
            event.organization_id,
            event.id,
            at + DISPATCH_DEADLINE,
            token,
            at,
            subscription_key(event.type),
        ],
    )
    if rows:
        await jobs.enqueue_grouped(jobs.DELIVER_WEBHOOKS, token, dispatch=token)


async def deliver(organization_id: int, endpoint_id: int, event: FeedEvent) -> WebhookDelivery:
    """A delivery of `event` to this one endpoint, sent by its own job (a ping)."""
    token = _token()
    delivery = await WebhookDelivery.create(
        organization_id=organization_id,
        endpoint_id=endpoint_id,
        event=event,
        message_id="msg_" + secrets.token_hex(16),
        next_attempt_at=now() + DISPATCH_DEADLINE,
        dispatch=token,
    )
    await jobs.enqueue(jobs.DELIVER_WEBHOOKS, delivery_ids=[delivery.id], dispatch=token)
    return delivery


async def dispatch(delivery_ids: Collection[int]) -> None:
    """Send these PENDING deliveries again (a redelivery): handed to a new job now, any job
    that held them before no longer may send them; one an attempt holds (in flight) is sent
    again once that attempt is recorded, never at the same time. In the caller's transaction."""
    db = connections.get("default")
    dialect = db.capabilities.dialect
    ids = sorted(delivery_ids)
    rows = await db.execute_query_dict(
        _MARK_LEASED[dialect], [ids if dialect == "postgres" else json.dumps(ids), now()]
    )
    leased = {row["id"] for row in rows}
    free = [delivery_id for delivery_id in ids if delivery_id not in leased]
    if free:
        await hand_on(free)


async def hand_on(delivery_ids: Collection[int]) -> None:
    """Hand these PENDING deliveries to a new job now, whoever held them. In the caller's
    transaction."""
    token = _token()
    await WebhookDelivery.filter(id__in=list(delivery_ids)).update(
        dispatch=token, next_attempt_at=now() + DISPATCH_DEADLINE
    )
    await jobs.enqueue(jobs.DELIVER_WEBHOOKS, delivery_ids=sorted(delivery_ids), dispatch=token)


async def dispatch_due(limit: int = 1000) -> int:
    """The sweep: hand the due PENDING deliveries (retries, and those of lost jobs) to new
    jobs; returns how many. Each is taken by a conditional update, so two processes sweeping
    at once never both hand on the same one."""
    at = now()
    due = WebhookDelivery.filter(status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=at)
    candidates = await due.order_by("next_attempt_at").limit(limit).values_list("id", flat=True)
    if not candidates:
        return 0
    token = _token()
    async with in_transaction() as db:
        dialect = db.capabilities.dialect
        ids = list(candidates) if dialect == "postgres" else json.dumps(candidates)
        rows = await db.execute_query_dict(
            _TAKE_DUE[dialect], [token, at + DISPATCH_DEADLINE, ids, at]
        )
        taken = sorted(row["id"] for row in rows)
        for start in range(0, len(taken), SWEEP_BATCH):
            await jobs.enqueue(
                jobs.DELIVER_WEBHOOKS,
                delivery_ids=taken[start : start + SWEEP_BATCH],
                dispatch=token,
            )
    return len(taken)
