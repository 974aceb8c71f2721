"""Idempotent mutations (issue 14, README "Idempotent writes"): a keyed mutation runs once per
key of the organization; a retry gets the first answer byte for byte and runs nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import parse, print_ast
from tortoise import connections

from gqlorders.api.idempotency.runs import WAITING_MESSAGE
from gqlorders.models import IdempotencyKey, OrderEvent, OutboxJob, StockMovement
from gqlorders.tenancy import revoke_secret
from tests.fulfilment.documents import (
    CONFIRM_ORDER,
    CREATE_INVOICE,
    SHIP_PACKAGE,
    confirmed_order,
    fetch,
    package,
)
from tests.support import CREATE_ORDER, Organization, postgres_only

ORDER_NUMBERS = "query { salesOrders { totalCount edges { node { number } } } }"

ADJUST_STOCK = """
mutation($input: AdjustStockInput!) {
  adjustStock(input: $input) {
    item { sku stock { onHand committed availableForSale } } errors { field code message }
  }
}"""

PRIMARY_WAREHOUSE = "{ warehouses { id isPrimary } }"

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

KEYED_BY_DIRECTIVE = """
mutation($input: CreateSalesOrderInput!, $key: String!) {
  createSalesOrder(input: $input) @idempotent(key: $key) { salesOrder { id number } }
}"""

TWO_MUTATIONS = """
mutation($input: CreateSalesOrderInput!) {
  first: createSalesOrder(input: $input) { salesOrder { number } }
  second: createSalesOrder(input: $input) { salesOrder { number } }
}"""
TWO_MUTATIONS_IN_A_FRAGMENT = """
mutation($input: CreateSalesOrderInput!) { ...both }
fragment both on Mutation {
  first: createSalesOrder(input: $input) { salesOrder { number } }
  second: createSalesOrder(input: $input) { salesOrder { number } }
}"""
PARTLY_READABLE_CREATION = """
mutation($input: CreateSalesOrderInput!) {
  createSalesOrder(input: $input) {
    salesOrder { number }
    readable: salesOrder { customer { salesOrders { totalCount } } }
  }
}"""


async def post(
    org: Organization,
    query: str,
    variables: dict[str, Any],
    key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    """POST /graphql as the organization's client, with an Idempotency-Key header if given."""
    headers = {"Authorization": f"Bearer {org.api.token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"query": query, "variables": variables, **extra}
    return await org.api.http.post("/graphql", json=body, headers=headers)


async def sent_twice(
    org: Organization, query: str, variables: dict[str, Any], key: str = "key-1"
) -> dict[str, Any]:
    """Send a keyed request twice; the second answer is the first's bytes, marked replayed."""
    first = await post(org, query, variables, key)
    second = await post(org, query, variables, key)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    body = first.json()
    assert "errors" not in body, body
    return body["data"]


def error_of(response: httpx.Response) -> tuple[int, str]:
    (error,) = response.json()["errors"]
    assert error["message"]
    return response.status_code, error["extensions"]["code"]


async def order_numbers(org: Organization) -> list[str]:
    orders = (await org.api.data(ORDER_NUMBERS))["salesOrders"]
    return sorted(edge["node"]["number"] for edge in orders["edges"])


async def order_input(org: Organization, quantity: str = "2") -> dict[str, Any]:
    if "customer" not in org.cache:
        org.cache["customer"] = await org.customer()
        org.cache["chair"] = await org.item("CHAIR", "10")
    return {
        "customerId": org.cache["customer"],
        "lines": [{"itemId": org.cache["chair"], "quantity": quantity}],
    }


async def _order_args(org: Organization) -> dict[str, Any]:
    input = await order_input(org)
    return {"customer_id": input["customerId"], "lines": input["lines"]}


async def org_events(org: Organization) -> int:
    return await OrderEvent.filter(sales_order__organization_id=org.id).count()


@asynccontextmanager
async def refused_answers(org: Organization, silently: bool = False) -> AsyncIterator[None]:
    """While open, the database refuses to store the organization's answers (a trigger): with
    an error, or `silently`, skipping the UPDATE as if the row were not there."""
    db = connections.get("default")
    name = f"refuse_answers_{org.id}"
    if db.capabilities.dialect == "postgres":
        refusal = "RETURN NULL" if silently else "RAISE EXCEPTION 'no space left on device'"
        create = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN {refusal}; END $$",
            f"CREATE TRIGGER {name} BEFORE UPDATE ON idempotency_key FOR EACH ROW"
            f" WHEN (NEW.organization_id = {org.id}) EXECUTE FUNCTION {name}()",
        ]
        drop = [f"DROP TRIGGER {name} ON idempotency_key", f"DROP FUNCTION {name}()"]
    else:
        refusal = "RAISE(IGNORE)" if silently else "RAISE(ABORT, 'no space left on device')"
        create = [
            f"CREATE TRIGGER {name} BEFORE UPDATE ON idempotency_key"
            f" WHEN NEW.organization_id = {org.id}"
            f" BEGIN SELECT {refusal}; END"
        ]
        drop = [f"DROP TRIGGER {name}"]
    for statement in create:
        await db.execute_query(statement)
    try:
        yield
    finally:
        for statement in drop:
            await db.execute_query(statement)


async def test_a_keyed_create_runs_once_and_its_retry_gets_the_first_answer(
    org: Organization,
) -> None:
    input = await order_input(org)
    first = await post(org, CREATE_ORDER, {"input": input}, "create-1")
    outbox = await OutboxJob.all().count()

    replay = await post(org, CREATE_ORDER, {"input": input}, "create-1")

    assert first.json()["data"]["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"
    assert "idempotent-replayed" not in first.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert await order_numbers(org) == ["SO-00001"]
    assert await org_events(org) == 1
    assert await OutboxJob.all().count() == outbox
    await org.order(input["customerId"], input["lines"])  # the replay consumed no number
    assert await order_numbers(org) == ["SO-00001", "SO-00002"]


async def test_the_key_may_be_given_by_the_directive(org: Organization) -> None:
    variables = {"input": await order_input(org), "key": "by-directive"}

    data = await sent_twice(org, KEYED_BY_DIRECTIVE, variables, key="by-directive")

    assert data["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"
    replay = await post(org, KEYED_BY_DIRECTIVE, variables)  # no header: the directive's key
    assert replay.headers["idempotent-replayed"] == "true"
    assert await order_numbers(org) == ["SO-00001"]


async def test_formatting_and_key_order_do_not_make_another_request(org: Organization) -> None:
    input = await order_input(org)
    await post(org, CREATE_ORDER, {"input": input}, "format")
    reformatted = " ".join(CREATE_ORDER.split()).replace("{ ", "{")
    reordered = {"input": dict(reversed(list(input.items())))}

    replay = await post(org, reformatted, reordered, "format")

    assert replay.headers["idempotent-replayed"] == "true"
    assert await order_numbers(org) == ["SO-00001"]


async def test_confirm_is_replayed(org: Organization) -> None:
    order = await org.order(**(await _order_args(org)))

    data = await sent_twice(org, CONFIRM_ORDER, {"input": {"id": order["id"]}})

    events = [event["type"] for event in data["confirmSalesOrder"]["salesOrder"]["events"]]
    assert events == ["created", "confirmed"]
    assert await org_events(org) == 2


async def test_invoice_creation_is_replayed(org: Organization) -> None:
    order = await confirmed_order(org, **(await _order_args(org)))

    data = await sent_twice(org, CREATE_INVOICE, {"input": {"salesOrderId": order["id"]}})

    assert data["createInvoiceFromSalesOrder"]["invoice"]["number"] == "INV-00001"
    invoices = (await fetch(org, order["id"]))["invoices"]
    assert [invoice["number"] for invoice in invoices] == ["INV-00001"]


async def test_shipping_a_package_is_replayed(org: Organization) -> None:
    order = await confirmed_order(org, **(await _order_args(org)))
    shipment = await package(org, order["id"])

    data = await sent_twice(org, SHIP_PACKAGE, {"input": {"id": shipment["id"]}})

    assert data["shipPackage"]["package"]["status"] == "SHIPPED"
    assert await StockMovement.filter(organization_id=org.id).count() == 1


async def test_a_stock_adjustment_is_replayed(org: Organization) -> None:
    chair = await org.item("CHAIR", "10")
    warehouse = (await org.api.data(PRIMARY_WAREHOUSE))["warehouses"][0]["id"]
    input = {"itemId": chair, "warehouseId": warehouse, "quantityDelta": "5", "reason": "count"}

    data = await sent_twice(org, ADJUST_STOCK, {"input": input})

    stock = data["adjustStock"]["item"]["stock"]
    assert stock == [{"onHand": "5.00", "committed": "0.00", "availableForSale": "5.00"}]
    assert await StockMovement.filter(organization_id=org.id).count() == 1


async def test_an_answer_with_user_errors_is_kept_like_a_success(org: Organization) -> None:
    chair = await org.item("CHAIR", "10")
    warehouse = (await org.api.data(PRIMARY_WAREHOUSE))["warehouses"][0]["id"]
    input = {"itemId": chair, "warehouseId": warehouse, "quantityDelta": "-1", "reason": "r"}

    data = await sent_twice(org, ADJUST_STOCK, {"input": input})

    assert [e["code"] for e in data["adjustStock"]["errors"]] == ["INSUFFICIENT_STOCK"]
    assert await IdempotencyKey.filter(organization_id=org.id).count() == 1


async def test_a_key_reused_for_another_request_is_refused(org: Organization) -> None:
    input = await order_input(org)
    await post(org, CREATE_ORDER, {"input": input}, "reused")

    other = await post(org, CREATE_ORDER, {"input": await order_input(org, "3")}, "reused")

    assert error_of(other) == (200, "IDEMPOTENCY_KEY_REUSED")
    assert "idempotent-replayed" not in other.headers
    assert await order_numbers(org) == ["SO-00001"]


async def test_a_key_fingerprinted_in_the_first_form_still_replays(org: Organization) -> None:
    """A key claimed before the fingerprint's form changed keeps sha256 of [document, operation
    name, variables]: a genuine retry within its day is replayed, another request refused."""
    input = await order_input(org)
    first = await post(org, CREATE_ORDER, {"input": input}, "first-form")
    canonical = json.dumps(
        [print_ast(parse(CREATE_ORDER)), None, {"input": input}],
        sort_keys=True,
        separators=(",", ":"),
    )
    first_form = hashlib.sha256(canonical.encode()).hexdigest()
    await IdempotencyKey.filter(organization_id=org.id).update(request_hash=first_form)

    retry = await post(org, CREATE_ORDER, {"input": input}, "first-form")
    other = await post(org, CREATE_ORDER, {"input": await order_input(org, "3")}, "first-form")

    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    assert error_of(other) == (200, "IDEMPOTENCY_KEY_REUSED")
    assert await order_numbers(org) == ["SO-00001"]


async def test_keys_of_another_organization_do_not_collide(
    org: Organization, other_org: Organization
) -> None:
    await post(org, CREATE_ORDER, {"input": await order_input(org)}, "shared")

    theirs = await post(other_org, CREATE_ORDER, {"input": await order_input(other_org)}, "shared")

    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["data"]["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"
    assert await order_numbers(org) == await order_numbers(other_org) == ["SO-00001"]


async def test_twenty_concurrent_requests_with_one_key_create_one_order(
    org: Organization,
) -> None:
    """On PostgreSQL the twenty race for the key's turn; on SQLite the single writer serialises
    them (each keyed request's transaction begins after the previous one ended), so there it
    shows the replays, not the race."""
    input = await order_input(org)

    answers = await asyncio.gather(
        *(post(org, CREATE_ORDER, {"input": input}, "burst") for _ in range(20))
    )

    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    replayed = [answer.headers.get("idempotent-replayed") for answer in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * 19
    assert await order_numbers(org) == ["SO-00001"]
    await org.order(input["customerId"], input["lines"])
    assert await order_numbers(org) == ["SO-00001", "SO-00002"]


async def test_a_keyed_mutation_that_failed_runs_again_on_retry(org: Organization) -> None:
    """The answer cannot be stored (a trigger refuses it, as a full disk or a lost connection
    would fail the transaction): the order written before is rolled back with it, and the
    retry creates the order with the first number."""
    input = await order_input(org)
    async with refused_answers(org):
        failed = await post(org, CREATE_ORDER, {"input": input}, "fails")
    assert error_of(failed) == (200, "INTERNAL_SERVER_ERROR")
    assert await order_numbers(org) == []
    assert await org_events(org) == 0

    retried = await post(org, CREATE_ORDER, {"input": input}, "fails")

    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["data"]["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"
    assert await order_numbers(org) == ["SO-00001"]


async def test_an_answer_that_finds_no_row_to_be_kept_in_keeps_nothing(
    org: Organization,
) -> None:
    """The UPDATE that keeps the answer changes no row (a trigger skips it): the request is a
    server error and rolls back, rather than committing a key without its answer."""
    input = await order_input(org)
    async with refused_answers(org, silently=True):
        failed = await post(org, CREATE_ORDER, {"input": input}, "no-row")
    assert error_of(failed) == (200, "INTERNAL_SERVER_ERROR")
    assert await order_numbers(org) == []
    assert await IdempotencyKey.filter(organization_id=org.id).count() == 0

    retried = await post(org, CREATE_ORDER, {"input": input}, "no-row")

    assert "idempotent-replayed" not in retried.headers
    assert await order_numbers(org) == ["SO-00001"]


async def test_a_request_refused_at_the_top_level_keeps_no_key(
    org: Organization, make_client: Any
) -> None:
    input = await order_input(org)
    readonly = Organization(org.id, await make_client(org))  # no scope at all

    refused = await post(readonly, CREATE_ORDER, {"input": input}, "scoped")
    assert error_of(refused) == (200, "FORBIDDEN")

    allowed = await post(org, CREATE_ORDER, {"input": input}, "scoped")
    assert allowed.json()["data"]["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"


async def test_without_a_token_a_keyed_request_is_answered_as_without_a_key(
    org: Organization,
) -> None:
    anonymous = Organization(org.id, type(org.api)(org.api.http, None))

    answer = await post(anonymous, CREATE_ORDER, {"input": await order_input(org)}, "anon")

    assert error_of(answer) == (200, "UNAUTHENTICATED")
    assert await IdempotencyKey.filter(organization_id=org.id).count() == 0


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "tab\there", "caf\u00e9"], ids=["empty", "long", "control", "unicode"]
)
async def test_a_malformed_key_is_refused(org: Organization, key: str) -> None:
    variables = {"input": await order_input(org), "key": key}

    answer = await post(org, KEYED_BY_DIRECTIVE, variables)

    assert error_of(answer) == (200, "BAD_REQUEST")
    assert await order_numbers(org) == []


async def test_a_key_of_255_characters_is_accepted(org: Organization) -> None:
    variables = {"input": await order_input(org), "key": "~" * 255}

    await sent_twice(org, KEYED_BY_DIRECTIVE, variables, key="~" * 255)


async def test_header_and_directive_with_different_keys_are_refused(org: Organization) -> None:
    variables = {"input": await order_input(org), "key": "one"}

    answer = await post(org, KEYED_BY_DIRECTIVE, variables, "another")

    assert error_of(answer) == (200, "BAD_REQUEST")
    assert await order_numbers(org) == []


async def test_a_keyed_request_with_two_mutation_fields_is_refused(org: Organization) -> None:
    answer = await post(org, TWO_MUTATIONS, {"input": await order_input(org)}, "two")

    assert error_of(answer) == (200, "BAD_REQUEST")
    assert await order_numbers(org) == []


async def test_two_mutation_fields_hidden_in_a_fragment_are_refused(org: Organization) -> None:
    variables = {"input": await order_input(org)}

    answer = await post(org, TWO_MUTATIONS_IN_A_FRAGMENT, variables, "fragment")

    assert error_of(answer) == (200, "BAD_REQUEST")
    assert await order_numbers(org) == []


async def test_a_variable_any_json_string_can_hold_is_no_server_error(org: Organization) -> None:
    # a lone surrogate: valid in a JSON string, not encodable as UTF-8
    input = {**await order_input(org), "referenceNumber": "\ud800"}
    headers = {"Authorization": f"Bearer {org.api.token}", "Idempotency-Key": "surrogate"}
    # json.dumps writes it as the escape \ud800 (ensure_ascii), as a client's JSON would
    body = json.dumps({"query": CREATE_ORDER, "variables": {"input": input}})

    answer = await org.api.http.post(
        "/graphql", content=body, headers={**headers, "Content-Type": "application/json"}
    )

    assert answer.status_code != 500
    assert "INTERNAL_SERVER_ERROR" not in answer.text


async def test_a_keyed_batch_is_refused(org: Organization) -> None:
    headers = {"Authorization": f"Bearer {org.api.token}", "Idempotency-Key": "batch"}
    request = {"query": CREATE_ORDER, "variables": {"input": await order_input(org)}}

    answer = await org.api.http.post("/graphql", json=[request], headers=headers)

    assert error_of(answer) == (200, "BAD_REQUEST")
    assert await order_numbers(org) == []


async def test_an_expired_key_is_new_and_is_pruned(org: Organization) -> None:
    input = await order_input(org)
    await post(org, CREATE_ORDER, {"input": input}, "old")
    await IdempotencyKey.filter(organization_id=org.id).update(expires_at=EPOCH)

    again = await post(org, CREATE_ORDER, {"input": input}, "old")

    assert "idempotent-replayed" not in again.headers
    assert await order_numbers(org) == ["SO-00001", "SO-00002"]
    await IdempotencyKey.filter(organization_id=org.id).update(expires_at=EPOCH)
    assert await IdempotencyKey.prune_expired() >= 1
    assert await IdempotencyKey.filter(organization_id=org.id).count() == 0


@asynccontextmanager
async def first_request_held(
    org: Organization, settings: Any, input: dict[str, Any], key: str
) -> AsyncIterator[tuple[asyncio.Task[httpx.Response], Any]]:
    """A keyed creation that has claimed its key and runs until the block ends: another
    connection (given with it) holds the organization's order counter, which the creation
    waits for."""
    import asyncpg

    holder = await asyncpg.connect(settings.database_url)
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT 1 FROM number_sequence WHERE organization_id = $1 FOR UPDATE", org.id
            )
            first = asyncio.create_task(post(org, CREATE_ORDER, {"input": input}, key))
            async with asyncio.timeout(10):
                while await lock_waits(holder) == 0:  # until it waits for the counter
                    await asyncio.sleep(0.01)
            yield first, holder
    finally:
        await holder.close()


async def lock_waits(connection: Any) -> int:
    """How many sessions of the test database wait for a lock (a row, a transaction)."""
    return await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )


@postgres_only("SQLite's single writer makes a second request wait, unbounded, like any write")
async def test_a_key_still_in_use_is_answered_409_after_the_bounded_wait(
    org: Organization, settings: Any
) -> None:
    input = await order_input(org)
    async with first_request_held(org, settings, input, "running") as (first, _):
        answer = await post(org, CREATE_ORDER, {"input": input}, "running")

    assert error_of(answer) == (409, "IDEMPOTENCY_KEY_IN_USE")
    assert answer.headers["retry-after"] == "5"
    assert (await first).json()["data"]["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"
    retried = await post(org, CREATE_ORDER, {"input": input}, "running")
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.content == (await first).content


@postgres_only("SQLite has one connection, which the running request holds")
async def test_requests_waiting_for_their_key_hold_no_database_connection(
    org: Organization, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Twenty requests wait for the first with their key: once each has found the key in use,
    a request without a key gets a connection of the pool (5 in tests) and its answer, none of
    the twenty has given up, and only the first request waits in the database. Then all twenty
    replay its answer."""
    input = await order_input(org)
    caplog.set_level(logging.DEBUG, logger="gqlorders.idempotency")
    async with first_request_held(org, settings, input, "crowd") as (first, holder):
        waiting = [
            asyncio.create_task(post(org, CREATE_ORDER, {"input": input}, "crowd"))
            for _ in range(20)
        ]
        async with asyncio.timeout(10):  # until every one of them has tried the key
            while caplog.messages.count(WAITING_MESSAGE) < 20:
                await asyncio.sleep(0.01)
        warehouses = await org.api.data(PRIMARY_WAREHOUSE)
        assert len(warehouses["warehouses"]) == 1
        assert [task.done() for task in [first, *waiting]] == [False] * 21
        assert await lock_waits(holder) == 1

    answers = await asyncio.gather(*waiting)
    assert {answer.headers.get("idempotent-replayed") for answer in answers} == {"true"}
    assert {answer.content for answer in answers} == {(await first).content}
    assert await order_numbers(org) == ["SO-00001"]


# Two keys, one of each organization, whose turns share a 32-bit hash (hashtext), the lock key
# a key's turn once had: the first in 300,000 of each (about 21 such pairs are expected).
SHARED_32_BIT_TURN = """
SELECT min(key) FILTER (WHERE side = 1) AS mine, min(key) FILTER (WHERE side = 2) AS theirs
FROM (
  SELECT side, 'k' || g AS key, hashtext(organization || ':k' || g) AS turn
  FROM (VALUES (1, $1::bigint), (2, $2::bigint)) AS sides (side, organization),
    generate_series(1, 300000) AS g
) AS keys
GROUP BY turn HAVING min(side) = 1 AND max(side) = 2
LIMIT 1"""


@postgres_only("SQLite has one connection, which the running request holds")
async def test_a_key_in_use_keeps_no_other_organization_waiting(
    org: Organization, other_org: Organization, settings: Any
) -> None:
    """While a keyed creation of the organization runs, another organization's requests with
    the same key, and with a key whose 32-bit turn would be the same, answer at once."""
    import asyncpg

    probe = await asyncpg.connect(settings.database_url)
    try:
        turns = await probe.fetchrow(SHARED_32_BIT_TURN, org.id, other_org.id)
        assert turns is not None  # (a SELECT of two values: always one row)
        mine, theirs = turns
    finally:
        await probe.close()
    input = await order_input(org)
    their_input = {"input": await order_input(other_org)}
    async with first_request_held(org, settings, input, mine) as (first, _):
        async with asyncio.timeout(10):
            same_key = await post(other_org, CREATE_ORDER, their_input, mine)
            same_turn = await post(other_org, CREATE_ORDER, their_input, theirs)
        assert not first.done()

    assert [answer.status_code for answer in (same_key, same_turn)] == [200, 200]
    assert [answer.headers.get("idempotent-replayed") for answer in (same_key, same_turn)] == [
        None,
        None,
    ]
    assert await order_numbers(other_org) == ["SO-00001", "SO-00002"]
    assert (await first).json()["data"]["createSalesOrder"]["salesOrder"]["number"] == "SO-00001"


async def test_an_answer_that_is_not_kept_shows_nothing_that_was_rolled_back(
    org: Organization, make_client: Any
) -> None:
    """The write scope creates the order; its customer's orders need orders:read, so the
    answer holds an error and nothing of the request is kept. The client gets the error, not
    the number of an order that no longer exists, and its retry (with the read scope) runs."""
    writer = Organization(org.id, await make_client(org, "orders:write"))
    input = await order_input(org)

    answer = await post(writer, PARTLY_READABLE_CREATION, {"input": input}, "partly")

    assert answer.status_code == 200
    body = answer.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert await order_numbers(org) == []
    retried = await post(org, PARTLY_READABLE_CREATION, {"input": input}, "partly")
    assert retried.json()["data"]["createSalesOrder"] == {
        "salesOrder": {"number": "SO-00001"},
        "readable": {"customer": {"salesOrders": {"totalCount": 1}}},
    }


async def test_a_replay_is_refused_to_a_token_without_the_scope_a_run_needs(
    org: Organization, make_client: Any
) -> None:
    input = await order_input(org)
    await post(org, CREATE_ORDER, {"input": input}, "scoped-replay")
    reader = Organization(org.id, await make_client(org, "orders:read"))

    unkeyed = await post(reader, CREATE_ORDER, {"input": input})
    replay = await post(reader, CREATE_ORDER, {"input": input}, "scoped-replay")

    assert error_of(replay) == (200, "FORBIDDEN")
    assert replay.content == unkeyed.content
    assert "idempotent-replayed" not in replay.headers
    assert await order_numbers(org) == ["SO-00001"]


async def test_a_replay_needs_the_scopes_the_answers_fields_needed(
    org: Organization, make_client: Any
) -> None:
    """The customer's orders in the first answer needed orders:read: a token with the write
    scope alone is refused at the mutation field, not given the stored list, and nothing
    runs."""
    input = await order_input(org)
    await post(org, PARTLY_READABLE_CREATION, {"input": input}, "read-in-answer")
    writer = Organization(org.id, await make_client(org, "orders:write"))

    replay = await post(writer, PARTLY_READABLE_CREATION, {"input": input}, "read-in-answer")

    assert replay.json() == {
        "data": None,
        "errors": [
            {
                "message": "this token lacks the orders:read scope",
                "locations": [{"line": 3, "column": 3}],
                "path": ["createSalesOrder"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
    }
    assert "idempotent-replayed" not in replay.headers
    assert await order_numbers(org) == ["SO-00001"]


@postgres_only("SQLite's single writer makes the replay wait, unbounded, like any write")
async def test_another_request_under_a_key_is_refused_without_running_it(
    org: Organization, make_client: Any, settings: Any
) -> None:
    """A token that may create orders but lacks a scope the first run checked (orders:read,
    for the answer's customer) sends another creation under its key: IDEMPOTENCY_KEY_REUSED at
    once, without running it -- a run would wait for the order counter, which another
    connection holds."""
    input = await order_input(org)
    await post(org, PARTLY_READABLE_CREATION, {"input": input}, "reused-by-writer")
    writer = Organization(org.id, await make_client(org, "orders:write"))
    other = {"input": await order_input(org, "3")}
    import asyncpg

    holder = await asyncpg.connect(settings.database_url)
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT 1 FROM number_sequence WHERE organization_id = $1 FOR UPDATE", org.id
            )
            async with asyncio.timeout(10):
                answer = await post(writer, CREATE_ORDER, other, "reused-by-writer")
    finally:
        await holder.close()

    assert error_of(answer) == (200, "IDEMPOTENCY_KEY_REUSED")
    assert await order_numbers(org) == ["SO-00001"]


async def test_a_replay_with_a_revoked_token_is_refused(
    org: Organization, make_client: Any
) -> None:
    input = await order_input(org)
    client = await make_client(org, "orders:write")
    await post(Organization(org.id, client), CREATE_ORDER, {"input": input}, "revoked")
    await revoke_secret(client.token)

    replay = await post(Organization(org.id, client), CREATE_ORDER, {"input": input}, "revoked")

    assert error_of(replay) == (200, "UNAUTHENTICATED")
    assert "idempotent-replayed" not in replay.headers


async def test_a_key_fingerprinted_in_the_second_form_still_replays(org: Organization) -> None:
    """Keys claimed between the two changes of form keep sha256(sha256(document) || JSON of
    [operation name, variables]) in hexadecimal: a genuine retry is replayed too."""
    input = await order_input(org)
    first = await post(org, CREATE_ORDER, {"input": input}, "second-form")
    fingerprint = hashlib.sha256(
        hashlib.sha256(print_ast(parse(CREATE_ORDER)).encode()).digest()
        + json.dumps([None, {"input": input}], sort_keys=True, separators=(",", ":")).encode()
    )
    second_form = fingerprint.hexdigest()
    await IdempotencyKey.filter(organization_id=org.id).update(request_hash=second_form)

    retry = await post(org, CREATE_ORDER, {"input": input}, "second-form")
    other = await post(org, CREATE_ORDER, {"input": await order_input(org, "3")}, "second-form")

    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    assert error_of(other) == (200, "IDEMPOTENCY_KEY_REUSED")
    assert await order_numbers(org) == ["SO-00001"]
