"""Outgoing webhooks (issue 15), as a partner sees them: a real receiver on 127.0.0.1 gets
every event it subscribed to, signed (verified with the `standardwebhooks` library exactly as
a partner would), retried, and logged; on the embedded default (in-process jobs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from tortoise.transactions import in_transaction

from gqlorders import events, jobs
from gqlorders.api import payload_queries
from gqlorders.api.schema import build_schema
from gqlorders.app import stop_background_work
from gqlorders.events.types import EventType, Resource
from gqlorders.ids import parse_id
from gqlorders.models import OutboxJob, WebhookAttempt, WebhookDelivery
from gqlorders.tenancy import Scope
from gqlorders.webhooks import addresses
from gqlorders.webhooks import delivery as delivery_module
from gqlorders.webhooks.delivery import BATCH, IN_FLIGHT, Sender
from gqlorders.webhooks.policy import DISPATCH_DEADLINE
from tests.fulfilment.documents import MERGE_ORDERS
from tests.support import MakeClient, Organization
from tests.webhooks.conftest import SHORT_SCHEDULE, configured, local_rules
from tests.webhooks.support import (
    CREATE_ENDPOINT,
    DELETE_ENDPOINT,
    DELIVERIES,
    ENDPOINTS,
    EVENTS,
    PING,
    REDELIVER,
    ROTATE_SECRET,
    UPDATE_ENDPOINT,
    Receiver,
    also_listening,
)

pytestmark = pytest.mark.usefixtures("local_policy", "relaying")

KEYED = {"Idempotency-Key": "endpoint-1"}
PAYLOAD_QUERY = "{ number total }"


async def endpoint(org: Organization, url: str, **fields: object) -> tuple[str, str]:
    """A new endpoint's id and secret."""
    created = await org.api.ok(CREATE_ENDPOINT, {"url": url, **fields})
    return created["webhookEndpoint"]["id"], created["secret"]


async def order(org: Organization) -> dict:
    """A draft order of 3 desks for Acme Furniture (1234.50)."""
    if "desk" not in org.cache:
        org.cache["customer"] = await org.customer(name="Acme Furniture")
        org.cache["desk"] = await org.item("DESK", "411.50")
    return await org.order(org.cache["customer"], [{"itemId": org.cache["desk"], "quantity": "3"}])


async def deliveries(org: Organization, **filter: object) -> list[dict]:
    data = await org.api.data(DELIVERIES, {"filter": filter or None})
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


async def settled(org: Organization, count: int = 1, seconds: float = 20) -> list[dict]:
    """The delivery log once `count` deliveries are no longer PENDING."""
    deadline = time.monotonic() + seconds
    while True:
        found = await deliveries(org)
        if len([d for d in found if d["status"] != "PENDING"]) >= count:
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)


async def first_attempt(org: Organization, seconds: float = 20) -> dict:
    """The newest delivery's first attempt, once it was recorded."""
    deadline = time.monotonic() + seconds
    while not (attempts := (await deliveries(org))[0]["attempts"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    return attempts[0]


async def lane_filled(org: Organization, receiver: Receiver, item: int | None = None) -> None:
    """With the receiver holding every request, 40 STOCK_LEVEL_LOW events of one transaction
    (about `item`, else items 0 to 39): two batches of 16 in flight, the last 8 waiting in the
    endpoint's lane."""
    receiver.holding.set()
    async with in_transaction():
        for n in range(40):
            key = n if item is None else item
            await events.publish(
                int(org.id), EventType.STOCK_LEVEL_LOW, Resource.ITEM, key, {"n": n}, None
            )
    await receiver.wait_for(2 * 16)


async def test_a_created_order_reaches_the_endpoint_signed_with_the_events_data(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint subscribed to every event type
    endpoint_id, secret = await endpoint(org, receiver.url, description="ERP")
    assert secret.startswith("whsec_")

    # When an order is created
    created = await order(org)

    # Then the partner receives one message, which verifies with the secret
    (message,) = await receiver.wait_for(1)
    body = message.verified(secret)
    (event,) = [
        edge["node"]
        for edge in (await org.api.data(EVENTS, {"types": ["SALES_ORDER_CREATED"]}))["events"][
            "edges"
        ]
    ]
    assert body["type"] == "SALES_ORDER_CREATED"
    assert body["data"] == event["data"]
    assert body["data"]["number"] == created["number"] == "SO-00001"
    assert body["data"]["total"] == "1234.50"
    assert datetime.fromisoformat(body["timestamp"]) <= datetime.now(UTC)
    assert message.headers["content-type"] == "application/json"
    assert len(message.headers["webhook-signature"].split(" ")) == 1

    # And the delivery log shows it delivered, with the same webhook-id, in one attempt
    (delivery,) = await settled(org)
    assert delivery["messageId"] == message.id
    assert message.id.startswith("msg_")
    assert (delivery["status"], delivery["nextAttemptAt"]) == ("SUCCEEDED", None)
    assert delivery["endpoint"]["id"] == endpoint_id
    assert delivery["event"] == {"id": event["id"], "type": "SALES_ORDER_CREATED"}
    assert [(a["responseStatus"], a["responseExcerpt"]) for a in delivery["attempts"]] == [
        (200, '{"ok":true}')
    ]


async def test_a_partner_refuses_a_tampered_body_and_an_old_timestamp(
    org: Organization, receiver: Receiver
) -> None:
    # Given a message received from an endpoint
    _, secret = await endpoint(org, receiver.url)
    await order(org)
    (message,) = await receiver.wait_for(1)
    message.verified(secret)

    # Then one changed byte, another secret or a timestamp 6 minutes off are refused
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(message.body.replace(b"1234.50", b"1234.51"), message.headers)
    other = "whsec_" + "A" * 43 + "="
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(message.body, message.headers)
    old = int(message.headers["webhook-timestamp"]) - 360
    at = datetime.fromtimestamp(old, UTC)
    replayed = {
        **message.headers,
        "webhook-timestamp": str(old),
        "webhook-signature": Webhook(secret).sign(message.id, at, message.body),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(message.body, replayed)


async def test_only_the_subscribed_types_are_delivered(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint for confirmations only
    _, secret = await endpoint(org, receiver.url, eventTypes=["SALES_ORDER_CONFIRMED"])

    # When an order is created, then confirmed
    created = await order(org)
    await org.api.ok(
        "mutation($input: SalesOrderIdInput!) { confirmSalesOrder(input: $input)"
        " { errors { code } } }",
        {"id": created["id"]},
    )

    # Then only the confirmation arrives
    (message,) = await receiver.wait_for(1)
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == 1
    body = message.verified(secret)
    assert (body["type"], body["data"]["status"]) == ("SALES_ORDER_CONFIRMED", "CONFIRMED")


async def test_the_events_of_one_transaction_go_out_together_with_one_job(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint for merges, and two drafts of one customer
    _, secret = await endpoint(org, receiver.url, eventTypes=["SALES_ORDER_MERGED"])
    first, second = await order(org), await order(org)
    last_job = await OutboxJob.all().order_by("-id").first()

    # When they are merged: one transaction, a SALES_ORDER_MERGED event for each order
    await org.api.ok(MERGE_ORDERS, {"ids": [first["id"], second["id"]]})

    # Then both events arrive, each once, and a single job sent them
    messages = await receiver.wait_for(2)
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == 2
    bodies = [message.verified(secret) for message in messages]
    assert sorted((b["type"], b["data"]["number"]) for b in bodies) == [
        ("SALES_ORDER_MERGED", "SO-00001"),
        ("SALES_ORDER_MERGED", "SO-00002"),
    ]
    assert len({message.id for message in messages}) == 2
    # (a transaction's job names its deliveries by token alone; the sweep's jobs, which may
    # still be handing on earlier tests' deliveries, list theirs)
    since = await OutboxJob.filter(job=jobs.DELIVER_WEBHOOKS, id__gt=last_job.id if last_job else 0)
    assert len([job for job in since if "delivery_ids" not in job.payload]) == 1
    assert sorted(d["status"] for d in await settled(org, 2)) == ["SUCCEEDED", "SUCCEEDED"]


async def test_a_receiver_that_does_not_answer_holds_up_no_other_endpoint(
    org: Organization, receiver: Receiver, other_receiver: Receiver
) -> None:
    # Given two endpoints, the first of which keeps every request unanswered
    stuck_id, _ = await endpoint(org, receiver.url)
    healthy_id, secret = await endpoint(org, other_receiver.url)
    receiver.holding.set()

    # When an order is created
    created = await order(org)

    # Then the other endpoint receives it while the first still holds its request
    (message,) = await other_receiver.wait_for(1)
    assert message.verified(secret)["data"]["number"] == created["number"]
    await receiver.wait_for(1)
    by_endpoint = {d["endpoint"]["id"]: d["status"] for d in await settled(org, 1)}
    assert by_endpoint == {stuck_id: "PENDING", healthy_id: "SUCCEEDED"}

    # And once the first answers, its delivery succeeds too
    receiver.holding.clear()
    assert [d["status"] for d in await settled(org, 2)] == ["SUCCEEDED", "SUCCEEDED"]


async def test_a_failed_delivery_is_retried_with_the_same_webhook_id(
    org: Organization, receiver: Receiver
) -> None:
    # Given a receiver that answers 500 twice, then 200
    receiver.answers = [500, 503]
    _, secret = await endpoint(org, receiver.url)

    # When an order is created
    await order(org)

    # Then the message comes three times, the same, the retries after the short schedule
    messages = await receiver.wait_for(3)
    assert len({m.id for m in messages}) == 1
    assert [m.verified(secret)["type"] for m in messages] == ["SALES_ORDER_CREATED"] * 3
    first_retry = messages[1].received_at - messages[0].received_at
    assert SHORT_SCHEDULE[0].total_seconds() * 0.8 <= first_retry < 5
    (delivery,) = await settled(org)
    assert delivery["status"] == "SUCCEEDED"
    assert [a["responseStatus"] for a in delivery["attempts"]] == [500, 503, 200]
    excerpts = [a["responseExcerpt"] for a in delivery["attempts"]]
    assert [len(e) for e in excerpts] == [1024, 1024, 11]


async def test_after_the_last_retry_a_delivery_fails_and_can_be_redelivered(
    org: Organization, receiver: Receiver
) -> None:
    # Given a receiver that answers 500 to the first attempt and every retry
    receiver.answers = [500] * (1 + len(SHORT_SCHEDULE))
    await endpoint(org, receiver.url)
    await order(org)

    # Then after the schedule the delivery is FAILED, with every attempt logged
    (delivery,) = await settled(org)
    assert (delivery["status"], delivery["nextAttemptAt"]) == ("FAILED", None)
    assert [a["responseStatus"] for a in delivery["attempts"]] == [500] * 4

    # When it is redelivered (the receiver now answers 200)
    payload = await org.api.ok(REDELIVER, {"deliveryId": delivery["id"]})
    assert payload["delivery"]["status"] == "PENDING"

    # Then it is sent again with the same webhook-id, and succeeds
    messages = await receiver.wait_for(5)
    assert {m.id for m in messages} == {delivery["messageId"]}
    (delivery,) = await settled(org)
    assert delivery["status"] == "SUCCEEDED"
    assert [a["responseStatus"] for a in delivery["attempts"]] == [500] * 4 + [200]

    # And a delivered one is sent again too, when asked
    await org.api.ok(REDELIVER, {"deliveryId": delivery["id"]})
    assert (await receiver.wait_for(6))[5].id == delivery["messageId"]


async def test_410_gone_disables_the_endpoint_at_once_and_reports_it(
    org: Organization, receiver: Receiver, other_receiver: Receiver
) -> None:
    # Given an endpoint that answers 410, and another that follows the endpoint events
    receiver.answers = [410]
    gone_id, _ = await endpoint(org, receiver.url)
    _, watcher_secret = await endpoint(
        org, other_receiver.url, eventTypes=["WEBHOOK_ENDPOINT_DISABLED"]
    )

    # When an order is created
    await order(org)

    # Then the endpoint is disabled after that one attempt, with the reason
    (disabled,) = await other_receiver.wait_for(1)
    body = disabled.verified(watcher_secret)
    reason = "the endpoint answered 410 Gone"
    assert body["type"] == "WEBHOOK_ENDPOINT_DISABLED"
    assert body["data"] == {
        "id": gone_id,
        "url": receiver.url,
        "status": "DISABLED",
        "disabledReason": reason,
    }
    listed = (await org.api.data(ENDPOINTS))["webhookEndpoints"]["edges"]
    assert [(e["node"]["status"], e["node"]["disabledReason"]) for e in listed] == [
        ("DISABLED", reason),
        ("ENABLED", None),
    ]
    (delivery,) = await deliveries(org, endpointId=gone_id)
    assert delivery["status"] == "FAILED"
    assert [a["responseStatus"] for a in delivery["attempts"]] == [410]

    # And later events are not sent to it; enabled again, it receives them
    await order(org)
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == 1
    await org.api.ok(UPDATE_ENDPOINT, {"id": gone_id, "status": "ENABLED"})
    await order(org)
    assert len(await receiver.wait_for(2)) == 2


async def test_an_endpoint_failing_for_the_whole_disable_period_is_disabled(
    org: Organization, receiver: Receiver
) -> None:
    # Given endpoints are disabled after failing for 1 s (5 days in production)
    rules = local_rules(disable_after=timedelta(seconds=1))
    receiver.default = 500
    with configured(rules):
        endpoint_id, _ = await endpoint(org, receiver.url)

        # When its receiver keeps failing
        await order(org)

        # Then after the period it is disabled, and says why
        deadline = time.monotonic() + 20
        while True:
            (node,) = [
                e["node"] for e in (await org.api.data(ENDPOINTS))["webhookEndpoints"]["edges"]
            ]
            if node["status"] == "DISABLED" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert (node["id"], node["status"]) == (endpoint_id, "DISABLED")
    assert node["disabledReason"] == "failing for 1 seconds without a success"
    events = (await org.api.data(EVENTS, {"types": ["WEBHOOK_ENDPOINT_DISABLED"]}))["events"]
    assert [e["node"]["data"]["disabledReason"] for e in events["edges"]] == [
        node["disabledReason"]
    ]


async def test_after_a_rotation_both_secrets_sign_each_message(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint whose secret is rotated
    endpoint_id, old = await endpoint(org, receiver.url)
    rotated = await org.api.ok(ROTATE_SECRET, {"id": endpoint_id})
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old

    # When an event is delivered
    await order(org)

    # Then it carries two signatures, and verifies with either secret
    (message,) = await receiver.wait_for(1)
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    assert message.verified(old)["type"] == message.verified(new)["type"] == "SALES_ORDER_CREATED"

    # And after a second rotation the oldest secret no longer signs
    newest = (await org.api.ok(ROTATE_SECRET, {"id": endpoint_id}))["secret"]
    await order(org)
    message = (await receiver.wait_for(2))[1]
    message.verified(new)
    message.verified(newest)
    with pytest.raises(WebhookVerificationError):
        message.verified(old)


async def test_a_payload_query_is_the_bodys_data(org: Organization, receiver: Receiver) -> None:
    # Given an endpoint whose payloadQuery selects a few fields of the order and its customer
    _, secret = await endpoint(
        org,
        receiver.url,
        eventTypes=["SALES_ORDER_CREATED"],
        payloadQuery="{ number total customer { name } lines { quantity item { sku } } }",
    )

    # When an order is created
    await order(org)

    # Then the body's data is exactly that query's result
    (message,) = await receiver.wait_for(1)
    assert message.verified(secret) == {
        "type": "SALES_ORDER_CREATED",
        "timestamp": json.loads(message.body)["timestamp"],
        "data": {
            "number": "SO-00001",
            "total": "1234.50",
            "customer": {"name": "Acme Furniture"},
            "lines": [{"quantity": "3.00", "item": {"sku": "DESK"}}],
        },
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"payloadQuery": "{ number nope }"},
            "Cannot query field 'nope' on type 'SalesOrder'. Did you mean 'notes'?",
        ),
        (
            {"payloadQuery": "{ id } } mutation { deleteSalesOrder(input: {id: 1}) { id }"},
            "not a selection set such as { number total }:"
            " Syntax Error: Expected <EOF>, found '}'.",
        ),
        (
            {
                "payloadQuery": "{ customer { salesOrders(first: 100) { edges { node {"
                " customer { salesOrders(first: 100) { edges { node { number } } } } } } } } }"
            },
            "query cost 30403 exceeds the limit of 25000: ask for smaller pages or fewer fields",
        ),
        (
            {"eventTypes": [], "payloadQuery": "{ number }"},
            "a payloadQuery selects fields of one type: subscribe to events about sales orders,"
            " invoices, packages or items only (eventTypes)",
        ),
    ],
)
async def test_a_payload_query_is_checked_when_saved(
    org: Organization, receiver: Receiver, fields: dict, message: str
) -> None:
    input = {"url": receiver.url, "eventTypes": ["SALES_ORDER_CREATED"], **fields}
    payload = await org.api.mutate(CREATE_ENDPOINT, input)
    assert payload["webhookEndpoint"] is None
    assert payload["errors"] == [
        {"field": ["input", "payloadQuery"], "code": "INVALID", "message": message}
    ]


async def test_a_ping_goes_to_its_endpoint_only(
    org: Organization, receiver: Receiver, other_receiver: Receiver
) -> None:
    # Given two endpoints for every event type
    endpoint_id, secret = await endpoint(org, receiver.url)
    await endpoint(org, other_receiver.url)

    # When the first is pinged
    payload = await org.api.ok(PING, {"id": endpoint_id})

    # Then it alone receives a WEBHOOK_ENDPOINT_TEST, the delivery the ping returned
    (message,) = await receiver.wait_for(1)
    assert message.id == payload["delivery"]["messageId"]
    assert message.verified(secret)["type"] == "WEBHOOK_ENDPOINT_TEST"
    assert message.verified(secret)["data"]["id"] == endpoint_id
    await asyncio.sleep(0.3)
    assert other_receiver.messages == []


async def test_one_organizations_endpoints_never_receive_anothers_events(
    org: Organization, other_org: Organization, receiver: Receiver, other_receiver: Receiver
) -> None:
    # Given an endpoint in each organization
    ours, _ = await endpoint(org, receiver.url)
    _, theirs_secret = await endpoint(other_org, other_receiver.url)

    # When the other organization creates an order
    await order(other_org)

    # Then only its endpoint receives it, and only it sees the delivery
    (message,) = await other_receiver.wait_for(1)
    assert message.verified(theirs_secret)["data"]["number"] == "SO-00001"
    await asyncio.sleep(0.3)
    assert receiver.messages == []
    assert await deliveries(org) == []
    assert len(await deliveries(other_org)) == 1

    # And the other organization cannot see, change, ping or delete ours
    for document, input in [
        (UPDATE_ENDPOINT, {"id": ours, "url": other_receiver.url}),
        (PING, {"id": ours}),
        (ROTATE_SECRET, {"id": ours}),
        (DELETE_ENDPOINT, {"id": ours}),
    ]:
        payload = await other_org.api.mutate(document, input)
        assert payload["errors"] == [
            {"field": ["input", "id"], "code": "NOT_FOUND", "message": "no such WebhookEndpoint"}
        ]
    (delivery,) = await deliveries(other_org)
    payload = await org.api.mutate(REDELIVER, {"deliveryId": delivery["id"]})
    assert payload["errors"][0]["code"] == "NOT_FOUND"
    listed = (await other_org.api.data(ENDPOINTS))["webhookEndpoints"]["edges"]
    assert [e["node"]["url"] for e in listed] == [other_receiver.url]


async def test_managing_endpoints_needs_webhooks_write_and_reading_them_webhooks_read(
    org: Organization, make_client: MakeClient, receiver: Receiver
) -> None:
    # Given tokens with some scopes, and the organization's first token (all of them)
    endpoint_id, _ = await endpoint(org, receiver.url)
    reader = await make_client(org, Scope.ORDERS_READ, Scope.WEBHOOKS_READ)
    orders_only = await make_client(org, Scope.ORDERS_READ, Scope.ORDERS_WRITE)

    # Then reading needs webhooks:read, managing webhooks:write
    listed = (await reader.data(ENDPOINTS))["webhookEndpoints"]["edges"]
    assert [e["node"]["id"] for e in listed] == [endpoint_id]
    for client, document, variables, scope in [
        (orders_only, ENDPOINTS, None, "webhooks:read"),
        (orders_only, DELIVERIES, None, "webhooks:read"),
        (reader, CREATE_ENDPOINT, {"input": {"url": receiver.url}}, "webhooks:write"),
        (reader, PING, {"input": {"id": endpoint_id}}, "webhooks:write"),
    ]:
        body = await client.execute(document, variables)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert body["errors"][0]["message"] == f"this token lacks the {scope} scope"


async def test_a_keyed_creation_is_replayed_only_to_a_token_with_every_scope_it_ran_with(
    org: Organization, make_client: MakeClient, receiver: Receiver
) -> None:
    """The endpoint's payload query is checked, and later run, with the creating token's every
    scope: another token of the organization with webhooks:write alone must not get the first
    answer (and its secret) back by sending the same key."""
    # Given an endpoint created with a key by a token with every scope
    input = {"url": receiver.url, "eventTypes": ["SALES_ORDER_CONFIRMED"]}
    variables = {"input": {**input, "payloadQuery": PAYLOAD_QUERY}}
    body = {"query": CREATE_ENDPOINT, "variables": variables}
    first = await org.api.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {org.api.token}", **KEYED}
    )
    assert first.json()["data"]["createWebhookEndpoint"]["secret"]
    writer = await make_client(org, Scope.WEBHOOKS_WRITE)

    # When a token with webhooks:write alone sends the same request with the same key
    replay = await writer.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {writer.token}", **KEYED}
    )

    # Then it is refused, shown no secret, and nothing more is created
    answer = replay.json()
    assert answer["data"] is None
    assert [error["extensions"]["code"] for error in answer["errors"]] == ["FORBIDDEN"]
    assert "idempotent-replayed" not in replay.headers
    assert len((await org.api.data(ENDPOINTS))["webhookEndpoints"]["edges"]) == 1


async def test_update_and_delete(org: Organization, receiver: Receiver) -> None:
    endpoint_id, _ = await endpoint(org, receiver.url)
    updated = await org.api.ok(
        UPDATE_ENDPOINT,
        {
            "id": endpoint_id,
            "description": "ERP",
            "eventTypes": ["PACKAGE_SHIPPED", "SALES_ORDER_CONFIRMED"],
        },
    )
    assert updated["webhookEndpoint"] == {
        "id": endpoint_id,
        "url": receiver.url,
        "description": "ERP",
        "eventTypes": ["PACKAGE_SHIPPED", "SALES_ORDER_CONFIRMED"],
        "payloadQuery": None,
        "status": "ENABLED",
        "disabledReason": None,
    }
    disabled = await org.api.ok(UPDATE_ENDPOINT, {"id": endpoint_id, "status": "DISABLED"})
    assert (
        disabled["webhookEndpoint"]["status"],
        disabled["webhookEndpoint"]["disabledReason"],
    ) == (
        "DISABLED",
        "disabled by hand",
    )
    deleted = await org.api.ok(DELETE_ENDPOINT, {"id": endpoint_id})
    assert deleted["webhookEndpoint"] == {"id": endpoint_id, "url": receiver.url}
    assert (await org.api.data(ENDPOINTS))["webhookEndpoints"]["edges"] == []


async def test_a_new_address_for_the_endpoint_gets_a_connection_of_its_own(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint that received a message on 127.0.0.1 (its connection kept alive)
    endpoint_id, secret = await endpoint(org, receiver.url)
    await order(org)
    await receiver.wait_for(1)

    # When its URL moves to 127.0.0.2 (as a name's round-robin answer or a new URL does)
    with also_listening(receiver, "127.0.0.2") as moved:
        await org.api.ok(UPDATE_ENDPOINT, {"id": endpoint_id, "url": moved})
        created = await order(org)

        # Then the next message goes there, on the first attempt
        second = (await receiver.wait_for(2))[1]
    assert second.headers["host"] == httpx.URL(moved).netloc.decode()
    assert second.verified(secret)["data"]["number"] == created["number"]
    by_number = {d["event"]["id"]: d for d in await settled(org, 2)}
    assert [[a["responseStatus"] for a in d["attempts"]] for d in by_number.values()] == [
        [200],
        [200],
    ]


async def test_an_address_that_refuses_connections_is_skipped_for_the_names_next_one(
    org: Organization, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receiver's name that resolves to two addresses, the first refusing connections
    # (as a name with an unreachable IPv6 address, or one of its servers down)
    resolve = addresses.resolve

    async def two_addresses(host: str, port: int, allow_private: bool) -> list[str]:
        if host == "receiver.test":
            return ["127.0.0.3", "127.0.0.1"]  # nothing listens on 127.0.0.3
        return await resolve(host, port, allow_private)

    monkeypatch.setattr(addresses, "resolve", two_addresses)
    named = httpx.URL(receiver.url).copy_with(host="receiver.test")
    _, secret = await endpoint(org, str(named))

    # When an event is delivered
    created = await order(org)

    # Then it reaches the name's second address on the first attempt, still for its name
    [message] = await receiver.wait_for(1)
    assert message.headers["host"] == named.netloc.decode()
    assert message.verified(secret)["data"]["number"] == created["number"]
    [delivery] = await settled(org)
    assert [a["responseStatus"] for a in delivery["attempts"]] == [200]


async def test_an_attempt_on_a_name_none_of_whose_addresses_answers_lists_each_address(
    org: Organization, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a name that resolves to two addresses, neither of which accepts connections
    async def two_closed(host: str, port: int, allow_private: bool) -> list[str]:
        return ["127.0.0.3", "127.0.0.4"]

    monkeypatch.setattr(addresses, "resolve", two_closed)
    await endpoint(org, str(httpx.URL(receiver.url).copy_with(host="receiver.test")))

    # When an event is delivered
    await order(org)

    # Then the attempt fails, its error naming each address tried, in order
    attempt = await first_attempt(org)
    assert attempt["responseStatus"] is None
    excerpt = attempt["responseExcerpt"]
    assert excerpt.startswith("127.0.0.3: ConnectError"), excerpt
    assert "; 127.0.0.4: ConnectError" in excerpt, excerpt
    assert receiver.messages == []


class _RolledBack(Exception):
    pass


async def test_events_after_a_rolled_back_savepoint_are_sent_by_a_job_of_their_own(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint for every event type
    _, secret = await endpoint(org, receiver.url)
    org_id = int(org.id)

    # When a transaction's first event is in a savepoint that is rolled back (a keyed
    # mutation's transaction nests the domain's), and a second event follows in it
    async with in_transaction():
        with contextlib.suppress(_RolledBack):
            async with in_transaction():
                await events.publish(
                    org_id, EventType.STOCK_LEVEL_LOW, Resource.ITEM, 1, {"n": 1}, None
                )
                raise _RolledBack
        # (another job enqueued in between: on SQLite it takes the rolled-back row's id)
        await jobs.enqueue(jobs.RECALC_STOCK, organization_id=org_id, item_ids=[])
        await events.publish(org_id, EventType.STOCK_LEVEL_LOW, Resource.ITEM, 2, {"n": 2}, None)

    # Then the second event is sent at once (not left for the sweep), the first never
    (message,) = await receiver.wait_for(1, seconds=DISPATCH_DEADLINE.total_seconds() / 3)
    assert message.verified(secret)["data"] == {"n": 2}
    (delivery,) = await settled(org)
    assert delivery["status"] == "SUCCEEDED"


async def test_the_payload_query_does_not_eat_into_the_receivers_time(
    org: Organization, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given sends are cut off after 1 s, and bodies that take 1.2 s to build (a slow payload
    # query)
    build = Sender.body

    async def slow(self: Sender, event: object, endpoint: object) -> bytes:
        await asyncio.sleep(1.2)
        return await build(self, event, endpoint)  # type: ignore[arg-type]

    monkeypatch.setattr(Sender, "body", slow)
    with configured(local_rules(send_deadline=timedelta(seconds=1))):
        await endpoint(
            org, receiver.url, eventTypes=["SALES_ORDER_CREATED"], payloadQuery=PAYLOAD_QUERY
        )
        await order(org)

        # Then the receiver, which answers at once, still has its second: delivered
        [delivery] = await settled(org)
    assert [(a["responseStatus"], a["responseExcerpt"]) for a in delivery["attempts"]] == [
        (200, '{"ok":true}')
    ]


async def test_a_payload_query_over_its_time_fails_the_attempt_before_any_request(
    org: Organization, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given bodies that take longer than the payload query's time (shortened to 0.3 s)
    monkeypatch.setattr(delivery_module, "PAYLOAD_QUERY_SECONDS", 0.3)
    build = Sender.body

    async def slow(self: Sender, event: object, endpoint: object) -> bytes:
        await asyncio.sleep(1)
        return await build(self, event, endpoint)  # type: ignore[arg-type]

    monkeypatch.setattr(Sender, "body", slow)
    await endpoint(
        org, receiver.url, eventTypes=["SALES_ORDER_CREATED"], payloadQuery=PAYLOAD_QUERY
    )
    await order(org)

    # Then the attempt fails saying so, and the receiver got nothing
    attempt = await first_attempt(org)
    assert (attempt["responseStatus"], attempt["responseExcerpt"]) == (
        None,
        "payload query: no result within 0.3 s",
    )
    assert receiver.messages == []


async def test_a_receiver_drip_feeding_its_answer_is_cut_off_and_retried(
    org: Organization, receiver: Receiver
) -> None:
    # Given sends are cut off after 1 s (20 s in production), and a receiver that drip-feeds
    # its first answer (a byte every 0.2 s: no single read of it times out)
    rules = local_rules(send_deadline=timedelta(seconds=1))
    receiver.dripping = 1
    with configured(rules):
        _, secret = await endpoint(org, receiver.url, eventTypes=["SALES_ORDER_MERGED"])
        first, second = await order(org), await order(org)

        # When two events of one transaction go out together
        await org.api.ok(MERGE_ORDERS, {"ids": [first["id"], second["id"]]})

        # Then the drip-fed attempt counts as failed after 1 s, the other is recorded as
        # delivered beside it, and the retry delivers the first
        found = await settled(org, 2)
    attempts = sorted(
        ([(a["responseStatus"], a["responseExcerpt"]) for a in d["attempts"]] for d in found),
        key=len,
    )
    timed_out = (None, "timed out: no complete answer within 1.0 s")
    assert attempts == [[(200, '{"ok":true}')], [timed_out, (200, '{"ok":true}')]]
    assert [d["status"] for d in found] == ["SUCCEEDED", "SUCCEEDED"]
    messages = await receiver.wait_for(3)
    assert len({m.id for m in messages}) == 2
    assert {m.verified(secret)["type"] for m in messages} == {"SALES_ORDER_MERGED"}


async def test_a_delivery_handed_on_while_it_waits_is_sent_as_its_newest_job_read_it(
    org: Organization, receiver: Receiver, other_receiver: Receiver
) -> None:
    # Given an endpoint whose receiver holds every request, and 40 events of one transaction:
    # two batches of 16 in flight, the last 8 waiting in the endpoint's lane
    endpoint_id, secret = await endpoint(org, receiver.url)
    await lane_filled(org, receiver)

    # When the endpoint moves to another receiver and a waiting delivery is redelivered (a
    # new job reads it again, as the sweep does with a lane's late ones)
    await org.api.ok(UPDATE_ENDPOINT, {"id": endpoint_id, "url": other_receiver.url})
    last = (await deliveries(org))[0]  # newest first: the 40th event's, still waiting
    await org.api.ok(REDELIVER, {"deliveryId": last["id"]})
    await asyncio.sleep(0.5)  # its job runs in the background
    receiver.holding.clear()

    # Then it is sent once, to the new URL (as are the others still waiting)
    moved = await other_receiver.wait_for(40 - 32)
    assert sorted(m.verified(secret)["data"]["n"] for m in moved) == list(range(32, 40))
    assert last["messageId"] in {m.id for m in moved}
    assert last["messageId"] not in {m.id for m in receiver.messages}


async def test_a_batch_waiting_for_room_to_send_is_not_claimed_meanwhile(
    org: Organization, receiver: Receiver
) -> None:
    # Given one endpoint more than a process sends batches at once, all at a receiver that
    # holds every request
    places = IN_FLIGHT // BATCH
    for _ in range(places + 1):
        await endpoint(org, receiver.url)
    receiver.holding.set()

    # When an event goes to all of them (a batch each)
    await events.publish(int(org.id), EventType.STOCK_LEVEL_LOW, Resource.ITEM, 1, {}, None)

    # Then as many are sent as there are places; the last waits unclaimed (its job's deadline
    # stands, the sweep's, not a lease running while it cannot be sent)
    await receiver.wait_for(places)
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == places
    sent = {m.id for m in receiver.messages}
    logged = await WebhookDelivery.filter(organization_id=int(org.id))
    (waiting,) = [d for d in logged if d.message_id not in sent]
    assert waiting.next_attempt_at == waiting.created_at + DISPATCH_DEADLINE

    # And once the receiver answers, it is sent too, each delivery once
    receiver.holding.clear()
    messages = await receiver.wait_for(places + 1)
    assert {m.id for m in messages} == {d.message_id for d in logged}


async def test_a_redelivery_while_the_first_send_is_in_flight_is_sent_after_it(
    org: Organization, receiver: Receiver
) -> None:
    # Given a delivery whose first send the receiver holds
    await endpoint(org, receiver.url)
    receiver.holding.set()
    await order(org)
    await receiver.wait_for(1)

    # When it is redelivered meanwhile, and another process runs the newest delivery job
    (delivery,) = await deliveries(org)
    payload = await org.api.ok(REDELIVER, {"deliveryId": delivery["id"]})
    assert payload["delivery"]["status"] == "PENDING"
    newest = await OutboxJob.filter(job=jobs.DELIVER_WEBHOOKS).order_by("-id").first()
    assert newest is not None
    other_process = Sender(payload_queries.runner(build_schema()))
    await other_process.submit(**newest.payload)
    await other_process.drain()
    await other_process.close()

    # Then nothing more is sent while the first send is in flight
    assert len(receiver.messages) == 1

    # And once the receiver answers, it is sent again, never two at once, both logged
    receiver.holding.clear()
    messages = await receiver.wait_for(2)
    assert [m.id for m in messages] == [delivery["messageId"]] * 2
    assert receiver.most_at_once == 1
    deadline = time.monotonic() + 20
    while len((found := (await deliveries(org))[0])["attempts"]) < 2:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)
    assert found["status"] == "SUCCEEDED"
    assert [a["responseStatus"] for a in found["attempts"]] == [200, 200]
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == 2


async def test_a_delivery_waiting_while_its_endpoint_changes_is_sent_as_it_is_now(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint whose receiver holds every request, and 40 events about an item in one
    # transaction: two batches of 16 in flight, the last 8 waiting in the endpoint's lane
    (_, desk) = parse_id(await org.item("DESK", "411.50")) or ("", 0)
    endpoint_id, secret = await endpoint(org, receiver.url, eventTypes=["STOCK_LEVEL_LOW"])
    await lane_filled(org, receiver, desk)

    # When its payloadQuery changes meanwhile
    await org.api.ok(UPDATE_ENDPOINT, {"id": endpoint_id, "payloadQuery": "{ sku }"})
    receiver.holding.clear()

    # Then the waiting ones are sent with the query's result, those in flight were not
    messages = await receiver.wait_for(40)
    bodies = [m.verified(secret)["data"] for m in messages]
    assert sorted(data["n"] for data in bodies[:32]) == list(range(32))
    assert bodies[32:] == [{"sku": "DESK"}] * 8


async def test_a_delivery_waiting_while_its_endpoint_is_disabled_is_not_sent(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint whose receiver holds every request, 32 deliveries in flight, 8 waiting
    endpoint_id, _ = await endpoint(org, receiver.url)
    await lane_filled(org, receiver)

    # When the endpoint is disabled meanwhile
    await org.api.ok(UPDATE_ENDPOINT, {"id": endpoint_id, "status": "DISABLED"})
    receiver.holding.clear()

    # Then the waiting ones are never sent: FAILED, without an attempt
    logged = WebhookAttempt.filter(delivery__organization_id=int(org.id))
    deadline = time.monotonic() + 20
    while await logged.count() < 32:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == 32
    sent = {m.id for m in receiver.messages}
    found = await WebhookDelivery.filter(organization_id=int(org.id))
    waiting = [d.status.value for d in found if d.message_id not in sent]
    assert waiting == ["FAILED"] * 8


async def test_a_receivers_cookie_is_never_sent_back(org: Organization, receiver: Receiver) -> None:
    # Given a receiver whose answers set a cookie
    receiver.cookie = "session=abc; Path=/"
    await endpoint(org, receiver.url)

    # When two orders are created one after the other
    await order(org)
    await receiver.wait_for(1)
    await order(org)

    # Then neither request carries a cookie
    messages = await receiver.wait_for(2)
    assert [m.headers.get("cookie") for m in messages] == [None, None]


async def test_a_stopping_server_records_its_sends_in_flight_and_hands_the_waiting_ones_on(
    org: Organization, receiver: Receiver
) -> None:
    # Given an endpoint whose receiver holds every request, and 40 events of one transaction:
    # two batches of 16 in flight, the last 8 waiting in the endpoint's lane
    _, secret = await endpoint(org, receiver.url)
    await lane_filled(org, receiver)

    # When the server stops (its jobs in process) while the receiver is still working, and
    # the receiver answers a moment later
    runner = jobs.current_runner()
    assert runner is not None
    stopping = asyncio.create_task(stop_background_work(runner))
    await asyncio.sleep(0.5)
    assert not stopping.done(), "the server stopped with sends in flight"
    receiver.holding.clear()
    await asyncio.wait_for(stopping, 10)

    # Then the 32 in flight were answered and recorded before it stopped, each sent once,
    # and the 8 it never claimed were not sent by it
    assert len(receiver.messages) == 32
    statuses = await WebhookDelivery.filter(endpoint__organization_id=int(org.id)).values_list(
        "status", flat=True
    )
    assert sorted(statuses) == ["PENDING"] * 8 + ["SUCCEEDED"] * 32

    # And those 8 were made due at once: the sweep hands them on well before their job's
    # deadline, and each arrives once
    messages = await receiver.wait_for(40, seconds=DISPATCH_DEADLINE.total_seconds() / 4)
    assert sorted(m.verified(secret)["data"]["n"] for m in messages) == list(range(40))
    assert len({m.id for m in messages}) == 40
    await asyncio.sleep(0.3)
    assert len(receiver.messages) == 40
