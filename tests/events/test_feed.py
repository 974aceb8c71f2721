"""The event feed (`Query.events`): every change integrations follow, in an order that never
skips one, with the resource's fields in `data`, for the token's organization only."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from gqlorders.config import Settings
from gqlorders.events.feed import Position, prune_expired
from gqlorders.models import FeedEvent, StockMovement
from gqlorders.rows import column
from gqlorders.tenancy import Scope
from tests.fulfilment.documents import (
    CONFIRM_ORDER,
    DELIVER_PACKAGE,
    SEND_ORDER,
    confirm,
    invoice,
    package,
    ship,
)
from tests.support import MakeClient, Organization, key, postgres_only

EVENTS = """
query($first: Int, $after: String, $filter: EventFilter) {
  events(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id type actor resourceId data resource { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DELETE_ORDER = """
mutation($input: SalesOrderIdInput!) {
  deleteSalesOrder(input: $input) { deletedId errors { field code message } }
}"""
ADJUST = """
mutation($input: AdjustStockInput!) { adjustStock(input: $input) { errors { code } } }"""
WAREHOUSES = "{ warehouses { id isPrimary } }"
UPDATED_AT = "query($id: ID!) { salesOrder(id: $id) { updatedAt } }"
ORDERS_UPDATED_AFTER = """
query($after: DateTime!) {
  salesOrders(
    first: 10, filter: {updatedAfter: $after}, sort: {field: UPDATED_AT, direction: ASC}
  ) {
    edges { node { number updatedAt } }
  }
}"""


async def read_all(
    org: Organization, after: str | None = None, **variables: Any
) -> tuple[list[dict[str, Any]], str]:
    """Every event after `after`, page by page as a poller would; and the cursor to keep."""
    nodes: list[dict[str, Any]] = []
    while True:
        page = (await org.api.data(EVENTS, {"first": 2, "after": after, **variables}))["events"]
        nodes += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, after


async def test_an_orders_life_is_in_the_feed_in_order_with_its_fields(org: Organization) -> None:
    customer = await org.customer(email="buyer@example.com")
    item = await org.item("MUG", "12.50")
    created = await org.order(customer, [{"itemId": item, "quantity": "2"}])

    await confirm(org, created["id"])
    confirmed_at = (await org.api.data(UPDATED_AT, {"id": created["id"]}))["salesOrder"]
    invoiced = await invoice(org, created["id"])
    packed = await package(org, created["id"])
    await ship(org, packed["id"])
    await org.api.ok(DELIVER_PACKAGE, {"id": packed["id"]})

    events, _ = await read_all(org)
    assert [(e["type"], e["actor"]) for e in events] == [
        ("SALES_ORDER_CREATED", "tests"),
        ("SALES_ORDER_CONFIRMED", "tests"),
        ("INVOICE_CREATED", "tests"),
        ("PACKAGE_CREATED", "tests"),
        ("PACKAGE_SHIPPED", "tests"),
        ("SALES_ORDER_CLOSED", "tests"),  # invoiced and shipped: SPEC §3's closing rule
        ("PACKAGE_DELIVERED", "tests"),
    ]
    first = events[0]
    assert first["resourceId"] == created["id"] == first["resource"]["id"]
    assert {k: first["data"][k] for k in ("id", "number", "status", "total", "customer")} == {
        "id": created["id"],
        "number": created["number"],
        "status": "DRAFT",
        "total": "25.00",
        "customer": {"id": customer},
    }
    assert events[1]["data"]["status"] == "CONFIRMED"
    assert events[1]["data"]["updatedAt"] == confirmed_at["updatedAt"]  # saved, then recorded
    assert events[2]["resourceId"] == invoiced["id"]
    assert events[2]["data"]["total"] == "25.00"
    assert events[2]["data"]["salesOrder"] == {"id": created["id"]}
    assert [e["data"]["status"] for e in events[3:]] == ["PACKED", "SHIPPED", "CLOSED", "DELIVERED"]
    assert len({e["id"] for e in events}) == 7


async def test_a_reader_that_keeps_its_cursor_sees_each_event_once(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("PEN", "1.00")
    first = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    seen, cursor = await read_all(org)

    again, same_cursor = await read_all(org, cursor)  # nothing new: the cursor stays
    await org.api.ok(CONFIRM_ORDER, {"id": first["id"]})
    second = await org.order(customer, [{"itemId": item, "quantity": "3"}])
    later, _ = await read_all(org, cursor)

    assert [e["type"] for e in seen] == ["SALES_ORDER_CREATED"]
    assert again == [] and same_cursor == cursor
    assert [(e["type"], e["resourceId"]) for e in later] == [
        ("SALES_ORDER_CONFIRMED", first["id"]),
        ("SALES_ORDER_CREATED", second["id"]),
    ]


async def test_filters_by_type_and_resource(org: Organization) -> None:
    customer = await org.customer(email="buyer@example.com")
    item = await org.item("CUP", "4.00")
    one = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    two = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    await org.api.ok(SEND_ORDER, {"id": two["id"]})

    confirmed, _ = await read_all(org, filter={"types": ["SALES_ORDER_CONFIRMED"]})
    about_one, _ = await read_all(org, filter={"resourceId": one["id"]})

    assert [e["resourceId"] for e in confirmed] == [two["id"]]
    assert [e["type"] for e in about_one] == ["SALES_ORDER_CREATED"]


async def test_a_filter_of_several_types_pages_through_exactly_their_events(
    org: Organization,
) -> None:
    """Each type's events are read on their own (PostgreSQL) and merged: paged two at a time,
    the filter gives its types' events in feed order, each once, none missed."""
    customer = await org.customer(email="buyer@example.com")
    item = await org.item("CUP", "4.00")
    orders = [await org.order(customer, [{"itemId": item, "quantity": "1"}]) for _ in range(3)]
    for order in (orders[1], orders[0], orders[2]):
        await org.api.ok(SEND_ORDER, {"id": order["id"]})
    deleted = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    await org.api.ok(DELETE_ORDER, {"id": deleted["id"]})
    types = ["SALES_ORDER_CREATED", "SALES_ORDER_CONFIRMED"]

    everything, _ = await read_all(org)
    chosen, cursor = await read_all(org, filter={"types": types})

    expected = [event for event in everything if event["type"] in types]
    assert [(e["type"], e["resourceId"]) for e in chosen] == [
        *(("SALES_ORDER_CREATED", order["id"]) for order in orders),
        *(("SALES_ORDER_CONFIRMED", order["id"]) for order in (orders[1], orders[0], orders[2])),
        ("SALES_ORDER_CREATED", deleted["id"]),
    ]
    assert chosen == expected
    assert len(everything) > len(expected)  # the deletion is left out
    assert await read_all(org, cursor, filter={"types": types}) == ([], cursor)


async def test_a_deleted_orders_last_event_still_says_what_it_was(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("BAG", "9.90")
    order = await org.order(customer, [{"itemId": item, "quantity": "1"}])

    await org.api.ok(DELETE_ORDER, {"id": order["id"]})

    events, _ = await read_all(org)
    deleted = events[-1]
    assert deleted["type"] == "SALES_ORDER_DELETED"
    assert deleted["resource"] is None
    assert (deleted["data"]["number"], deleted["data"]["total"]) == (order["number"], "9.90")


async def test_a_level_falling_to_its_reorder_level_is_reported_once(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("LAMP", "30.00", reorderLevel="5")
    warehouse = next(
        w["id"] for w in (await org.api.data(WAREHOUSES))["warehouses"] if w["isPrimary"]
    )
    stock = {"itemId": item, "warehouseId": warehouse, "reason": "count"}
    await org.api.ok(ADJUST, {**stock, "quantityDelta": "10"})

    first = await org.order(customer, [{"itemId": item, "quantity": "6"}])
    await confirm(org, first["id"])  # available 10 - 6 = 4: at or below 5
    second = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    await confirm(org, second["id"])  # 3: already low, no second event

    low, _ = await read_all(org, filter={"types": ["STOCK_LEVEL_LOW"]})
    assert len(low) == 1
    assert low[0]["resourceId"] == item
    assert low[0]["data"]["sku"] == "LAMP"
    assert low[0]["data"]["stock"] == [
        {
            "warehouse": {"id": warehouse},
            "onHand": "10.00",
            "committed": "6.00",
            "availableForSale": "4.00",
        }
    ]


async def test_racing_adjustments_report_each_crossing_of_the_reorder_level_once(
    org: Organization,
) -> None:
    """Twelve adjustments of one level race, eight of -1 and four of +1 around the reorder level
    10 from 13: each that takes the available quantity from above 10 to 10 reports it, exactly
    once, whatever order they take the level in -- the order of their stock movements, each
    written while its transaction holds the level."""
    item = await org.item("FAN", "20.00", reorderLevel="10")
    warehouse = next(
        w["id"] for w in (await org.api.data(WAREHOUSES))["warehouses"] if w["isPrimary"]
    )
    stock = {"itemId": item, "warehouseId": warehouse, "reason": "count"}
    await org.api.ok(ADJUST, {**stock, "quantityDelta": "13"})

    deltas = ["-1", "-1", "+1"] * 4
    await asyncio.gather(*(org.api.ok(ADJUST, {**stock, "quantityDelta": d}) for d in deltas))

    movements = StockMovement.filter(item_id=key(item)).order_by("id")
    levels = list(itertools.accumulate(await column(movements, "quantity")))
    crossings = sum(1 for before, after in itertools.pairwise(levels) if before > 10 >= after)
    low, _ = await read_all(org, filter={"types": ["STOCK_LEVEL_LOW"]})
    assert crossings >= 1
    assert len(low) == crossings
    assert {event["data"]["stock"][0]["availableForSale"] for event in low} == {"10.00"}


async def test_another_organizations_events_are_never_visible(
    org: Organization, other_org: Organization
) -> None:
    customer = await org.customer()
    item = await org.item("INK", "2.00")
    order = await org.order(customer, [{"itemId": item, "quantity": "1"}])

    theirs, _ = await read_all(other_org)
    about_it, _ = await read_all(other_org, filter={"resourceId": order["id"]})

    assert theirs == [] and about_it == []


async def test_reading_the_feed_needs_orders_read(
    org: Organization, make_client: MakeClient
) -> None:
    stock_only = await make_client(org, Scope.INVENTORY_WRITE)

    body = await stock_only.execute(EVENTS, {})

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_bad_and_expired_cursors_are_refused(org: Organization) -> None:
    old = Position(1, datetime.now(UTC) - timedelta(days=31)).cursor()

    malformed = await org.api.execute(EVENTS, {"after": "not-a-cursor"})
    expired = await org.api.execute(EVENTS, {"after": old})

    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert malformed["errors"][0]["extensions"]["errorCode"] == "INVALID"
    assert expired["errors"][0]["extensions"]["code"] == "EVENT_CURSOR_EXPIRED"
    assert "salesOrders(filter: {updatedAfter})" in expired["errors"][0]["message"]
    assert "kept 30 days" in expired["errors"][0]["message"]


async def test_pruning_keeps_the_newest_event_so_a_quiet_feeds_cursor_stays_good(
    org: Organization,
) -> None:
    # Given two events 40 days old, and a cursor at each
    customer = await org.customer()
    item = await org.item("OLD", "1.00")
    await org.order(customer, [{"itemId": item, "quantity": "1"}])
    await org.order(customer, [{"itemId": item, "quantity": "2"}])
    events, _ = await read_all(org)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    ids = [key(e["id"]) for e in events]
    await FeedEvent.filter(id__in=ids).update(occurred_at=long_ago)
    rows = {row.id: row for row in await FeedEvent.filter(id__in=ids)}
    older, newest = (Position(rows[i].position or rows[i].id, long_ago).cursor() for i in ids)

    # When the hourly prune runs
    await prune_expired()

    # Then the older event is gone and its cursor expired; the newest stays, and so does its
    # reader's place: nothing after it was deleted
    assert set(await FeedEvent.filter(id__in=ids).values_list("id", flat=True)) == {ids[1]}
    gone = await org.api.execute(EVENTS, {"after": older})
    assert gone["errors"][0]["extensions"]["code"] == "EVENT_CURSOR_EXPIRED"
    assert await read_all(org, newest) == ([], newest)


async def test_catching_up_by_updated_after(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("BOX", "1.00")
    before = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    since = await org.api.data(ORDERS_UPDATED_AFTER, {"after": "2000-01-01T00:00:00+00:00"})
    mark = since["salesOrders"]["edges"][-1]["node"]["updatedAt"]
    after = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    await org.api.ok(CONFIRM_ORDER, {"id": before["id"]})  # changed again: comes last

    changed = (await org.api.data(ORDERS_UPDATED_AFTER, {"after": mark}))["salesOrders"]

    assert [e["node"]["number"] for e in changed["edges"]] == [after["number"], before["number"]]


@postgres_only("SQLite has one writer: ids follow commit order")
async def test_an_event_committed_late_is_not_skipped(
    org: Organization, settings: Settings
) -> None:
    """A transaction that wrote its event first (the lower id) but commits last: a reader
    polling meanwhile neither skips that event nor sees another one twice."""
    customer = await org.customer()
    item = await org.item("SLOW", "1.00")
    url = settings.database_url.replace("postgres://", "postgresql://", 1)
    held = await asyncpg.connect(url)
    try:
        transaction = held.transaction()
        await transaction.start()
        await held.execute(
            "INSERT INTO feed_event (organization_id, type, actor, resource_type, resource_key,"
            " occurred_at, data) VALUES ($1, 'SALES_ORDER_UPDATED', 'slow', 'SalesOrder', 0,"
            " now(), '{}')",
            org.id,
        )
        quick = await org.order(customer, [{"itemId": item, "quantity": "1"}])  # commits first
        while_held, cursor = await read_all(org)
        await transaction.commit()
    finally:
        await held.close()
    after_commit, _ = await read_all(org, cursor)

    assert [(e["type"], e["resourceId"]) for e in while_held] == [
        ("SALES_ORDER_CREATED", quick["id"])
    ]
    assert [(e["type"], e["actor"]) for e in after_commit] == [("SALES_ORDER_UPDATED", "slow")]


async def test_an_event_is_readable_as_soon_as_its_mutation_answers(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("FAST", "1.00")
    _, cursor = await read_all(org)

    order = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    events, _ = await read_all(org, cursor)  # at once: every read sequences first

    assert [e["resourceId"] for e in events] == [order["id"]]


async def test_an_event_is_a_node(org: Organization, other_org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("NODE", "1.00")
    await org.order(customer, [{"itemId": item, "quantity": "1"}])
    events, _ = await read_all(org)
    query = "query($id: ID!) { node(id: $id) { ... on Event { id type } } }"

    mine = await org.api.data(query, {"id": events[0]["id"]})
    theirs = await other_org.api.data(query, {"id": events[0]["id"]})

    assert mine["node"] == {"id": events[0]["id"], "type": "SALES_ORDER_CREATED"}
    assert theirs["node"] is None
