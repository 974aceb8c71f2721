"""Lists are Relay connections (contract header): cursors, sorting, filters and their limits."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import Organization

ORDERS = """
query(
  $first: Int, $after: String, $last: Int, $before: String,
  $filter: SalesOrderFilter, $sort: SalesOrderSort
) {
  salesOrders(
    first: $first, after: $after, last: $last, before: $before, filter: $filter, sort: $sort
  ) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id number status total date } }
  }
}"""

CUSTOMERS = """
query($search: String, $first: Int, $after: String) {
  customers(search: $search, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name email } }
  }
}"""

ITEMS = """
query($search: String) {
  items(search: $search) { totalCount edges { node { sku name } } }
}"""

CUSTOMER_ORDERS = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on Customer {
      name
      salesOrders(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { number } }
      }
    }
  }
}"""

CONFIRM = """
mutation($input: SalesOrderIdInput!) {
  confirmSalesOrder(input: $input) { salesOrder { id status } errors { field code message } }
}"""

VOID = """
mutation($input: SalesOrderIdInput!) {
  voidSalesOrder(input: $input) { salesOrder { id status } errors { field code message } }
}"""


async def list_orders(org: Organization, **variables: Any) -> dict[str, Any]:
    return (await org.api.data(ORDERS, variables))["salesOrders"]


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def numbers(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["number"] for edge in connection["edges"]]


async def create_orders(org: Organization, count: int, **fields: Any) -> list[dict[str, Any]]:
    """`count` one-line orders for one customer, created one after the other."""
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    return [
        await org.order(customer, [{"itemId": item, "quantity": "1"}], **fields)
        for _ in range(count)
    ]


# --- paging ---------------------------------------------------------------------------------


async def test_paging_forwards_visits_every_order_once(org: Organization) -> None:
    # Given 7 orders
    created = await create_orders(org, 7)

    # When they are read 3 at a time, each page starting after the previous page's end
    pages = [await list_orders(org, first=3)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await list_orders(org, first=3, after=pages[-1]["pageInfo"]["endCursor"]))

    # Then there are 3 pages of 3, 3 and 1, newest first, with no duplicate and no gap
    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert [page["totalCount"] for page in pages] == [7, 7, 7]
    seen = [edge["node"]["id"] for page in pages for edge in page["edges"]]
    assert seen == [order["id"] for order in reversed(created)]


async def test_page_info_cursors_are_the_first_and_last_edges(org: Organization) -> None:
    await create_orders(org, 3)

    page = await list_orders(org, first=2)

    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_last_gives_the_final_orders(org: Organization) -> None:
    await create_orders(org, 7)

    page = await list_orders(org, last=2, sort={"field": "NUMBER", "direction": "ASC"})

    assert numbers(page) == ["SO-00006", "SO-00007"]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["totalCount"] == 7


async def test_last_before_pages_backwards(org: Organization) -> None:
    await create_orders(org, 5)
    sort = {"field": "NUMBER", "direction": "ASC"}
    final = await list_orders(org, last=2, sort=sort)

    page = await list_orders(org, last=2, before=final["pageInfo"]["startCursor"], sort=sort)

    assert numbers(page) == ["SO-00002", "SO-00003"]


async def test_an_empty_list_has_no_cursors(org: Organization) -> None:
    page = await list_orders(org, first=3)

    assert page == {
        "totalCount": 0,
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "edges": [],
    }


async def test_more_than_100_per_page_is_a_graphql_error(org: Organization) -> None:
    await create_orders(org, 1)

    body = await org.api.execute(ORDERS, {"first": 101})

    # A GraphQL error (HTTP 200, checked by the client), not a server failure
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["path"] == ["salesOrders"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in error["message"]


async def test_100_per_page_is_allowed(org: Organization) -> None:
    await create_orders(org, 2)

    page = await list_orders(org, first=100)

    assert page["totalCount"] == 2
    assert len(page["edges"]) == 2


async def test_a_garbage_cursor_is_bad_user_input(org: Organization) -> None:
    await create_orders(org, 1)

    body = await org.api.execute(ORDERS, {"first": 3, "after": "not-a-cursor!"})

    assert body["data"] is None
    (error,) = body["errors"]
    assert error["path"] == ["salesOrders"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_well_encoded_cursor_of_the_wrong_shape_is_bad_user_input(
    org: Organization,
) -> None:
    await create_orders(org, 1)

    # base64 of '{"a":1}': valid base64 and valid JSON, but not a cursor
    body = await org.api.execute(ORDERS, {"first": 3, "after": "eyJhIjoxfQ"})

    assert error_codes(body) == ["BAD_USER_INPUT"], body


async def test_a_cursor_from_another_sort_is_bad_user_input(org: Organization) -> None:
    # Given a cursor handed out for the list sorted by number
    await create_orders(org, 3)
    by_number = await list_orders(org, first=1, sort={"field": "NUMBER", "direction": "ASC"})

    # When a client reuses it on the list sorted by total
    body = await org.api.execute(
        ORDERS,
        {
            "first": 1,
            "after": by_number["pageInfo"]["endCursor"],
            "sort": {"field": "TOTAL", "direction": "ASC"},
        },
    )

    # Then it is told its cursor is bad, not that the server failed
    assert body["data"] is None
    (error,) = body["errors"]
    assert error.get("extensions", {}).get("code") == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == ["after"]


def tampered(cursor: str, value: object, row_id: int) -> str:
    """A real cursor with its sort value and row id (its last two JSON parts) forged."""
    parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    parts[-2:] = [value, row_id]
    text = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("field", "value", "row_id"),
    [
        pytest.param("TOTAL", "NaN", 1, id="total-nan"),
        pytest.param("TOTAL", "Infinity", 1, id="total-infinity"),
        pytest.param("TOTAL", "1e30", 1, id="total-too-large"),
        pytest.param("TOTAL", "1.123456", 1, id="total-too-precise"),
        pytest.param("TOTAL", "SO-00001", 1, id="total-not-a-number"),
        pytest.param("DATE", "2024-02-30", 1, id="date-impossible"),
        pytest.param("NUMBER", "SO-00001", 2**70, id="id-too-large"),
        pytest.param("NUMBER", None, 1, id="null-value"),
    ],
)
async def test_a_tampered_cursor_is_bad_user_input(
    org: Organization, field: str, value: object, row_id: int
) -> None:
    # Given a genuine cursor whose sort value or row id a client then forges
    await create_orders(org, 2)
    sort = {"field": field, "direction": "ASC"}
    genuine = (await list_orders(org, first=1, sort=sort))["pageInfo"]["endCursor"]

    body = await org.api.execute(
        ORDERS, {"first": 3, "after": tampered(genuine, value, row_id), "sort": sort}
    )

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"], body


# --- sorting --------------------------------------------------------------------------------


async def test_sort_by_number_ascending(org: Organization) -> None:
    await create_orders(org, 3)

    page = await list_orders(org, sort={"field": "NUMBER", "direction": "ASC"})

    assert numbers(page) == ["SO-00001", "SO-00002", "SO-00003"]


async def test_sort_by_number_descending(org: Organization) -> None:
    await create_orders(org, 3)

    page = await list_orders(org, sort={"field": "NUMBER", "direction": "DESC"})

    assert numbers(page) == ["SO-00003", "SO-00002", "SO-00001"]


async def test_sort_by_total_pages_through_ties_in_creation_order(org: Organization) -> None:
    # Given totals 30, 120, 20, 10, 20 (20 twice; 120 sorts before 20 as text, not as money)
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    for quantity in ("3", "12", "2", "1", "2"):
        await org.order(customer, [{"itemId": item, "quantity": quantity}])
    sort = {"field": "TOTAL", "direction": "ASC"}

    # When they are read 2 at a time by total, ascending
    first = await list_orders(org, first=2, sort=sort)
    second = await list_orders(org, first=2, after=first["pageInfo"]["endCursor"], sort=sort)
    third = await list_orders(org, first=2, after=second["pageInfo"]["endCursor"], sort=sort)

    # Then the amounts ascend and the two 20.00 orders keep their creation order across pages
    edges = first["edges"] + second["edges"] + third["edges"]
    assert [(e["node"]["total"], e["node"]["number"]) for e in edges] == [
        ("10.00", "SO-00004"),
        ("20.00", "SO-00003"),
        ("20.00", "SO-00005"),
        ("30.00", "SO-00001"),
        ("120.00", "SO-00002"),
    ]
    assert third["pageInfo"]["hasNextPage"] is False


async def test_sort_by_total_descending(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    for quantity in ("3", "12", "1"):
        await org.order(customer, [{"itemId": item, "quantity": quantity}])

    page = await list_orders(org, sort={"field": "TOTAL", "direction": "DESC"})

    assert [edge["node"]["total"] for edge in page["edges"]] == ["120.00", "30.00", "10.00"]


async def test_sort_by_date(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    for day in ("2024-03-10", "2024-01-31", "2024-12-01", "2024-02-29"):
        await org.order(customer, [{"itemId": item, "quantity": "1"}], date=day)

    ascending = await list_orders(org, sort={"field": "DATE", "direction": "ASC"})
    descending = await list_orders(org, sort={"field": "DATE", "direction": "DESC"})

    assert [edge["node"]["date"] for edge in ascending["edges"]] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-10",
        "2024-12-01",
    ]
    assert [edge["node"]["date"] for edge in descending["edges"]] == [
        "2024-12-01",
        "2024-03-10",
        "2024-02-29",
        "2024-01-31",
    ]


async def test_paging_by_date_follows_the_cursor(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    for day in ("2024-03-10", "2024-01-31", "2024-03-10", "2024-02-29"):
        await org.order(customer, [{"itemId": item, "quantity": "1"}], date=day)
    sort = {"field": "DATE", "direction": "DESC"}

    first = await list_orders(org, first=2, sort=sort)
    second = await list_orders(org, first=2, after=first["pageInfo"]["endCursor"], sort=sort)

    # ties on the date: the later-created order first, as in descending id order
    assert numbers(first) + numbers(second) == ["SO-00003", "SO-00001", "SO-00004", "SO-00002"]


# --- filters --------------------------------------------------------------------------------


async def test_filter_by_status(org: Organization) -> None:
    orders = await create_orders(org, 3)
    await org.api.ok(CONFIRM, {"id": orders[0]["id"]})
    await org.api.ok(CONFIRM, {"id": orders[2]["id"]})

    page = await list_orders(
        org,
        filter={"status": ["CONFIRMED"]},
        sort={"field": "NUMBER", "direction": "ASC"},
    )

    assert [(e["node"]["number"], e["node"]["status"]) for e in page["edges"]] == [
        ("SO-00001", "CONFIRMED"),
        ("SO-00003", "CONFIRMED"),
    ]
    assert page["totalCount"] == 2


async def test_a_void_order_is_listed_by_default(org: Organization) -> None:
    orders = await create_orders(org, 2)
    await org.api.ok(VOID, {"id": orders[0]["id"]})

    page = await list_orders(org, sort={"field": "NUMBER", "direction": "ASC"})

    assert [(e["node"]["number"], e["node"]["status"]) for e in page["edges"]] == [
        ("SO-00001", "VOID"),
        ("SO-00002", "DRAFT"),
    ]
    assert page["totalCount"] == 2


async def test_filter_by_customer(org: Organization) -> None:
    acme = await org.customer(name="Acme")
    globex = await org.customer(name="Globex")
    item = await org.item("WIDGET", "10")
    for customer in (acme, globex, acme):
        await org.order(customer, [{"itemId": item, "quantity": "1"}])

    page = await list_orders(
        org, filter={"customerId": acme}, sort={"field": "NUMBER", "direction": "ASC"}
    )

    assert numbers(page) == ["SO-00001", "SO-00003"]
    assert page["totalCount"] == 2


async def test_search_by_number(org: Organization) -> None:
    await create_orders(org, 3)

    page = await list_orders(org, filter={"search": "00002"})

    assert numbers(page) == ["SO-00002"]
    assert page["totalCount"] == 1


async def test_search_by_reference_number(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    for reference in ("PO-7781", "PO-1234", None):
        await org.order(customer, [{"itemId": item, "quantity": "1"}], referenceNumber=reference)

    page = await list_orders(org, filter={"search": "po-12"})

    assert numbers(page) == ["SO-00002"]
    assert page["totalCount"] == 1


async def test_search_by_customer_name(org: Organization) -> None:
    acme = await org.customer(name="Acme Industries")
    globex = await org.customer(name="Globex")
    item = await org.item("WIDGET", "10")
    for customer in (globex, acme, globex):
        await org.order(customer, [{"itemId": item, "quantity": "1"}])

    page = await list_orders(org, filter={"search": "industries"})

    assert numbers(page) == ["SO-00002"]
    assert page["totalCount"] == 1


async def test_a_search_with_a_nul_character_is_answered(org: Organization) -> None:
    await create_orders(org, 2)

    body = await org.api.execute(ORDERS, {"filter": {"search": "SO-\u0000"}})

    # No order number contains a NUL character; either way, never an unexpected failure
    assert "errors" not in body, body["errors"]
    assert body["data"]["salesOrders"]["totalCount"] == 0


async def test_filter_by_date_range_includes_both_ends(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    for day in ("2024-01-31", "2024-02-01", "2024-02-15", "2024-02-29", "2024-03-01"):
        await org.order(customer, [{"itemId": item, "quantity": "1"}], date=day)

    page = await list_orders(
        org,
        filter={"dateFrom": "2024-02-01", "dateTo": "2024-02-29"},
        sort={"field": "DATE", "direction": "ASC"},
    )

    assert [edge["node"]["date"] for edge in page["edges"]] == [
        "2024-02-01",
        "2024-02-15",
        "2024-02-29",
    ]
    assert page["totalCount"] == 3


async def test_filters_combine_and_page(org: Organization) -> None:
    acme = await org.customer(name="Acme")
    globex = await org.customer(name="Globex")
    item = await org.item("WIDGET", "10")
    for customer in (acme, globex, acme, acme, globex, acme):
        await org.order(customer, [{"itemId": item, "quantity": "1"}])
    where = {"customerId": acme}
    sort = {"field": "NUMBER", "direction": "ASC"}

    first = await list_orders(org, first=2, filter=where, sort=sort)
    second = await list_orders(
        org, first=2, after=first["pageInfo"]["endCursor"], filter=where, sort=sort
    )

    assert numbers(first) + numbers(second) == ["SO-00001", "SO-00003", "SO-00004", "SO-00006"]
    assert [first["totalCount"], second["totalCount"]] == [4, 4]
    assert second["pageInfo"]["hasNextPage"] is False


# --- other connections ----------------------------------------------------------------------


async def test_customers_search_by_name_or_email(org: Organization) -> None:
    await org.customer(name="Zeta Traders", email="orders@zeta.example")
    await org.customer(name="Acme", email="buyer@acme.example")
    await org.customer(name="Acme West", email="west@coyote.example")
    await org.customer(name="Beta", email="shop@zeta.example")
    await org.customer(name="Roadrunner", email="meep@acme.example")

    by_name = (await org.api.data(CUSTOMERS, {"search": "acme"}))["customers"]
    by_email = (await org.api.data(CUSTOMERS, {"search": "ZETA.example"}))["customers"]

    assert by_name["totalCount"] == 3
    assert [edge["node"]["name"] for edge in by_name["edges"]] == [
        "Acme",
        "Acme West",
        "Roadrunner",
    ]
    assert by_email["totalCount"] == 2
    assert [edge["node"]["name"] for edge in by_email["edges"]] == ["Beta", "Zeta Traders"]


async def test_customers_page_by_name(org: Organization) -> None:
    for name in ("Delta", "Alpha", "Charlie", "Bravo"):
        await org.customer(name=name)

    first = (await org.api.data(CUSTOMERS, {"first": 3}))["customers"]
    after = first["pageInfo"]["endCursor"]
    second = (await org.api.data(CUSTOMERS, {"first": 3, "after": after}))["customers"]

    assert [edge["node"]["name"] for edge in first["edges"]] == ["Alpha", "Bravo", "Charlie"]
    assert [edge["node"]["name"] for edge in second["edges"]] == ["Delta"]
    assert [first["totalCount"], second["totalCount"]] == [4, 4]
    assert [first["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]] == [True, False]


async def test_items_search_by_sku_or_name(org: Organization) -> None:
    await org.item("CHAIR-01", "89.90", name="Office chair")
    await org.item("DESK-01", "249", name="Standing desk")
    await org.item("CHAIR-02", "59", name="Stool")
    await org.item("LAMP-01", "19", name="Desk lamp")

    chairs = (await org.api.data(ITEMS, {"search": "chair"}))["items"]
    desks = (await org.api.data(ITEMS, {"search": "Desk"}))["items"]

    assert chairs == {
        "totalCount": 2,
        "edges": [
            {"node": {"sku": "CHAIR-01", "name": "Office chair"}},
            {"node": {"sku": "CHAIR-02", "name": "Stool"}},
        ],
    }
    assert desks["totalCount"] == 2
    assert [edge["node"]["sku"] for edge in desks["edges"]] == ["DESK-01", "LAMP-01"]


async def test_a_customers_sales_orders_connection(org: Organization) -> None:
    acme = await org.customer(name="Acme")
    globex = await org.customer(name="Globex")
    item = await org.item("WIDGET", "10")
    for customer in (acme, globex, acme, acme):
        await org.order(customer, [{"itemId": item, "quantity": "1"}])

    data = await org.api.data(CUSTOMER_ORDERS, {"id": acme, "first": 2})
    after = data["node"]["salesOrders"]["pageInfo"]["endCursor"]
    rest = await org.api.data(CUSTOMER_ORDERS, {"id": acme, "first": 2, "after": after})

    first_page, second_page = data["node"]["salesOrders"], rest["node"]["salesOrders"]
    assert data["node"]["name"] == "Acme"
    # newest first, only Acme's
    assert [e["node"]["number"] for e in first_page["edges"]] == ["SO-00004", "SO-00003"]
    assert [e["node"]["number"] for e in second_page["edges"]] == ["SO-00001"]
    assert [first_page["totalCount"], second_page["totalCount"]] == [3, 3]
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert second_page["pageInfo"]["hasNextPage"] is False
