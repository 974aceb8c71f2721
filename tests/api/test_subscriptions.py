"""Live updates over graphql-transport-ws (README "Live updates"): the organization's events as
they commit, replayed from a cursor then live with none missed or repeated, one order's
changes; the same tokens, scopes and request limits as HTTP; one organization never sees
another's events. Through a real WebSocket against the app, served in the test's loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from gqlorders.config import Settings
from gqlorders.events import EventType, Resource, publish
from gqlorders.tenancy import Scope, create_token
from tests.live_client import live_client, serving
from tests.support import Organization

EVENTS = """
subscription($after: String, $filter: EventFilter) {
  events(after: $after, filter: $filter) {
    cursor node { type resourceId data resource { ... on SalesOrder { number status } } }
  }
}"""
ORDER_CHANGED = """
subscription($id: ID!) { salesOrderChanged(id: $id) { id status } }"""
FEED = """
query($after: String) {
  events(first: 1000, after: $after) { edges { cursor } pageInfo { endCursor } }
}"""
CONFIRM = """
mutation($input: SalesOrderIdInput!) {
  confirmSalesOrder(input: $input) { salesOrder { status } errors { code } }
}"""
VOID = """
mutation($input: SalesOrderIdInput!) { voidSalesOrder(input: $input) { errors { code } } }"""
DELETE = """
mutation($input: SalesOrderIdInput!) { deleteSalesOrder(input: $input) { errors { code } } }"""
ORDERS_ONLY = {"filter": {"types": ["SALES_ORDER_CREATED"]}}


@pytest.fixture(scope="module")
async def url(app: Starlette, settings: Settings) -> AsyncIterator[str]:
    async with serving(app, settings) as url:
        yield url


async def new_order(org: Organization) -> dict[str, Any]:
    customer = org.cache.get("customer") or await org.customer()
    item = org.cache.get("item") or await org.item("CHAIR", "10.00")
    org.cache.update(customer=customer, item=item)
    return await org.order(customer, [{"itemId": item, "quantity": "1"}])


async def end_cursor(org: Organization) -> str | None:
    """Where the organization's feed ends now."""
    return (await org.api.data(FEED))["events"]["pageInfo"]["endCursor"]


async def test_a_created_order_arrives_with_its_event(url: str, org: Organization) -> None:
    async with live_client(url, org.api.token) as client:
        await client.subscribe(EVENTS, ORDERS_ONLY)
        await asyncio.sleep(0.2)  # subscribed: from now on (no `after`)

        order = await new_order(org)

        edge = (await client.next())["data"]["events"]
        assert edge["node"]["type"] == "SALES_ORDER_CREATED"
        assert edge["node"]["resourceId"] == order["id"]
        assert edge["node"]["resource"] == {"number": order["number"], "status": "DRAFT"}
        assert edge["node"]["data"]["number"] == order["number"]
        assert edge["cursor"] == await end_cursor(org)


async def test_one_organization_never_receives_anothers_events(
    url: str, org: Organization, other_org: Organization
) -> None:
    async with (
        live_client(url, org.api.token) as mine,
        live_client(url, other_org.api.token) as theirs,
    ):
        await mine.subscribe(EVENTS, ORDERS_ONLY)
        await theirs.subscribe(EVENTS, ORDERS_ONLY)
        await asyncio.sleep(0.2)

        my_order = await new_order(org)
        their_order = await new_order(other_org)

        assert (await mine.next())["data"]["events"]["node"]["resourceId"] == my_order["id"]
        received = (await theirs.next())["data"]["events"]["node"]["resourceId"]
        assert received == their_order["id"]  # the first it gets is its own


async def test_replay_then_live_misses_and_repeats_nothing_while_events_commit(
    url: str, org: Organization
) -> None:
    """300 events before the cursor's reader connects, 200 more committed one by one while it
    replays: it gets all 500 after the cursor, in the feed's order, each once."""

    async def commit(numbers: range) -> None:
        for n in numbers:
            async with in_transaction():
                await publish(
                    org.id, EventType.SALES_ORDER_UPDATED, Resource.SALES_ORDER, n, {"n": n}, None
                )

    await commit(range(-1, 0))
    start = await end_cursor(org)
    await commit(range(300))
    async with live_client(url, org.api.token) as client:
        writer = asyncio.create_task(commit(range(300, 500)))
        await client.subscribe(EVENTS, {"after": start})
        received = [(await client.next())["data"]["events"] for _ in range(500)]
        await writer
        await commit(range(500, 501))
        last = (await client.next())["data"]["events"]

    assert [edge["node"]["data"]["n"] for edge in received] == list(range(500))
    assert last["node"]["data"]["n"] == 500
    feed = await org.api.data(FEED, {"after": start})
    assert [edge["cursor"] for edge in received] + [last["cursor"]] == [
        edge["cursor"] for edge in feed["events"]["edges"]
    ]


async def test_an_orders_changes_arrive_as_they_commit(url: str, org: Organization) -> None:
    order = await new_order(org)
    other = await new_order(org)
    async with live_client(url, org.api.token) as client:
        await client.subscribe(ORDER_CHANGED, {"id": order["id"]})
        await asyncio.sleep(0.2)

        await org.api.ok(CONFIRM, {"id": other["id"]})  # another order: nothing
        await org.api.ok(CONFIRM, {"id": order["id"]})
        confirmed = await client.next()
        await org.api.ok(VOID, {"id": order["id"]})
        voided = await client.next()

    assert confirmed == {"data": {"salesOrderChanged": {"id": order["id"], "status": "CONFIRMED"}}}
    assert voided == {"data": {"salesOrderChanged": {"id": order["id"], "status": "VOID"}}}


async def test_a_deleted_order_completes_its_subscription(url: str, org: Organization) -> None:
    order = await new_order(org)
    async with live_client(url, org.api.token) as client:
        id = await client.subscribe(ORDER_CHANGED, {"id": order["id"]})
        await asyncio.sleep(0.2)

        await org.api.ok(DELETE, {"id": order["id"]})

        assert await client.receive() == {"id": id, "type": "complete"}


async def test_another_organizations_order_is_not_found(
    url: str, org: Organization, other_org: Organization
) -> None:
    theirs = await new_order(other_org)
    async with live_client(url, org.api.token) as client:
        await client.subscribe(ORDER_CHANGED, {"id": theirs["id"]})
        answer = await client.next()

    assert answer["data"] is None
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["NOT_FOUND"]


async def test_without_a_valid_token_the_connection_closes_with_4403(
    url: str, org: Organization
) -> None:
    for payload in ({}, {"Authorization": "Bearer gqo_nonsense"}, {"Authorization": "Basic x"}):
        async with live_client(url) as client:
            await client.send({"type": "connection_init", "payload": payload})
            assert await client.closed() == (4403, "Forbidden")


async def test_a_token_without_orders_read_is_refused(url: str, org: Organization) -> None:
    token = await create_token(org.id, frozenset({Scope.INVENTORY_WRITE}))
    async with live_client(url, token) as client:
        await client.subscribe(EVENTS)
        answer = await client.next()

    assert answer["data"] is None
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]


async def test_the_request_limits_of_http_apply(url: str, org: Organization) -> None:
    inner = "id"
    for _ in range(3):  # each round 4 levels deeper: 13 in all
        inner = f"customer {{ salesOrders(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    deep = f'subscription {{ salesOrderChanged(id: "x") {{ {inner} }} }}'
    aliases = "subscription { " + " ".join(f"e{n}: events {{ cursor }}" for n in range(31)) + " }"
    async with live_client(url, org.api.token) as client:
        await client.subscribe(deep)
        too_deep = await client.receive()
        await client.subscribe(aliases)
        too_many = await client.receive()

    assert too_deep["type"] == "error", too_deep
    assert too_deep["payload"][0]["message"] == "'anonymous' exceeds maximum operation depth of 12"
    assert too_many["type"] == "error", too_many
    assert "aliases" in too_many["payload"][0]["message"]


async def test_an_expired_or_foreign_cursor_is_refused(url: str, org: Organization) -> None:
    async with live_client(url, org.api.token) as client:
        await client.subscribe(EVENTS, {"after": "not-a-cursor"})
        answer = await client.next()

    assert [e["extensions"]["code"] for e in answer["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("{not json", "WebSocket message must be valid JSON"),
        (
            '{"type": "connection_init", "payload": {"a": [[[',
            "WebSocket message must be valid JSON",
        ),
        ("[" * 100_000 + "]" * 100_000, "WebSocket message must be valid JSON"),
        (b"\xff\xfe", "WebSocket message type must be text"),
        ('["connection_init"]', "a message must be a JSON object with a type"),
        ('"ping"', "a message must be a JSON object with a type"),
        ('{"type": "subscribe", "id": "1", "payload": "query"}', "Failed to parse message"),
        ('{"type": "subscribe", "id": "1", "payload": {"query": 5}}', "Failed to parse message"),
        (
            '{"type": "subscribe", "id": ["1"], "payload": {"query": "{ a }"}}',
            "Failed to parse message",
        ),
        (
            '{"type": "subscribe", "id": {"a": 1}, "payload": {"query": "{ a }"}}',
            "Failed to parse message",
        ),
        ('{"type": "subscribe", "payload": {"query": "{ a }"}}', "Failed to parse message"),
        ('{"type": "complete", "id": ["1"]}', "Failed to parse message"),
        (
            '{"type": "subscribe", "id": "1", "payload": {"query": "{ a }", "variables": [1]}}',
            "Failed to parse message",
        ),
    ],
)
async def test_a_message_that_is_not_protocol_json_closes_with_4400(
    url: str, org: Organization, message: str | bytes, reason: str
) -> None:
    async with live_client(url, org.api.token) as client:
        await client.socket.send(message)

        assert await client.closed() == (4400, reason)


SIMPLE = "subscription($filter: EventFilter) { events(filter: $filter) { node { resourceId } } }"


async def test_only_subscriptions_with_the_same_answers_share_one_execution(
    url: str, app: Starlette, org: Organization, other_org: Organization
) -> None:
    """Same organization, scopes, document and variables: one execution for both (another
    token of the same scopes included). Fewer scopes, other variables, another organization:
    each its own. Each subscriber gets its own id on every message, and only its events."""
    same_scopes = await create_token(org.id, name="another")  # every scope, as org.api.token's
    fewer_scopes = await create_token(org.id, frozenset({Scope.ORDERS_READ}))
    orders_only = {"filter": {"types": ["SALES_ORDER_CREATED"]}}
    async with (
        live_client(url, org.api.token) as first,
        live_client(url, same_scopes) as second,
        live_client(url, fewer_scopes) as third,
        live_client(url, org.api.token) as filtered,
        live_client(url, other_org.api.token) as foreign,
    ):
        await first.subscribe(SIMPLE)
        await second.subscribe("query { __typename }")  # id 1: not a subscription, not shared
        await second.receive()
        await second.receive()
        await second.subscribe(SIMPLE)  # id 2
        await third.subscribe(SIMPLE)
        await filtered.subscribe(SIMPLE, orders_only)
        await foreign.subscribe(SIMPLE)
        await asyncio.sleep(0.2)

        streams = app.state.graphql.live_streams.streams
        assert sorted(
            (organization, len(stream.members), variables)
            for (organization, _, _, variables, _), stream in streams.items()
        ) == sorted(
            [
                (org.id, 2, "{}"),
                (org.id, 1, "{}"),
                (org.id, 1, '{"filter":{"types":["SALES_ORDER_CREATED"]}}'),
                (other_org.id, 1, "{}"),
            ]
        )

        order = await new_order(org)
        theirs = await new_order(other_org)

        for client, id in ((first, "1"), (second, "2"), (third, "1"), (filtered, "1")):
            message = await client.receive()
            assert message["id"] == id
            assert message["payload"]["data"]["events"]["node"]["resourceId"] == order["id"]
        message = await foreign.receive()
        assert message["payload"]["data"]["events"]["node"]["resourceId"] == theirs["id"]


async def test_a_subscription_with_after_replays_for_a_later_subscriber_too(
    url: str, org: Organization
) -> None:
    """Two subscriptions from the same cursor, one after the other: the second is no late
    member of the first (which replayed before it came), it gets the replay too."""
    await new_order(org)
    start = await end_cursor(org)
    orders = [await new_order(org) for _ in range(2)]
    created = {"after": start, **ORDERS_ONLY}
    async with live_client(url, org.api.token) as early, live_client(url, org.api.token) as late:
        await early.subscribe(EVENTS, created)
        early_ids = [(await early.next())["data"]["events"]["node"]["resourceId"] for _ in orders]
        await late.subscribe(EVENTS, created)
        late_ids = [(await late.next())["data"]["events"]["node"]["resourceId"] for _ in orders]

    assert early_ids == late_ids == [order["id"] for order in orders]


async def test_a_client_leaving_a_shared_subscription_leaves_the_others_theirs(
    url: str, org: Organization
) -> None:
    async with live_client(url, org.api.token) as staying:
        await staying.subscribe(SIMPLE, ORDERS_ONLY)
        async with live_client(url, org.api.token) as leaving:
            id = await leaving.subscribe(SIMPLE, ORDERS_ONLY)
            await asyncio.sleep(0.2)
            await leaving.send({"id": id, "type": "complete"})
        await asyncio.sleep(0.2)

        order = await new_order(org)

        node = (await staying.next())["data"]["events"]["node"]
        assert node == {"resourceId": order["id"]}
