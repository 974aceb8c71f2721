"""SPEC §3 order list search: a case-insensitive substring of the number, the reference number or
the customer's name, taken literally (% and _ are characters, not wildcards), combined with the
other filters, the sort and the cursors like any filter."""

from __future__ import annotations

from typing import Any

import pytest

from gqlorders.orders import queries as order_queries
from tests.support import Organization

ORDERS = """
query($filter: SalesOrderFilter, $first: Int, $after: String) {
  salesOrders(
    filter: $filter, first: $first, after: $after, sort: {field: NUMBER, direction: ASC}
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { number status } }
  }
}"""

CONFIRM = """
mutation($input: SalesOrderIdInput!) {
  confirmSalesOrder(input: $input) { salesOrder { id } errors { field code message } }
}"""

TERM = "50%_off"


async def _orders_around_the_term(org: Organization) -> None:
    """Four orders containing "50%_off" (any case) -- in the number, the reference number, the
    customer's name twice, one of these a draft -- and two that contain it only if % and _
    were wildcards."""
    item = await org.item("WIDGET", "10")
    line = [{"itemId": item, "quantity": "1"}]
    plain = await org.customer(name="Plain Co")
    named = await org.customer(name="Sale 50%_Off Ltd")
    lookalike = await org.customer(name="Sale 50% Off Ltd")
    orders = [
        (plain, {"number": "WEB-50%_OFF-1"}, True),
        (plain, {"number": "SO-2", "referenceNumber": "promo 50%_OFF"}, True),
        (named, {"number": "SO-3"}, True),
        (named, {"number": "SO-4"}, False),
        (lookalike, {"number": "SO-5"}, True),
        (plain, {"number": "SO-6", "referenceNumber": "50X-OFF"}, True),
    ]
    for customer, fields, confirmed in orders:
        order = await org.order(customer, line, **fields)
        if confirmed:
            await org.api.ok(CONFIRM, {"id": order["id"]})


async def _other_organizations_match(org: Organization) -> None:
    item = await org.item("WIDGET", "10")
    customer = await org.customer(name="Sale 50%_Off Ltd")
    await org.order(customer, [{"itemId": item, "quantity": "1"}], number="WEB-50%_OFF-1")


async def list_orders(org: Organization, **variables: Any) -> dict[str, Any]:
    return (await org.api.data(ORDERS, variables))["salesOrders"]


def numbers(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["number"] for edge in connection["edges"]]


async def test_search_matches_number_reference_and_customer_name_literally(
    org: Organization, other_org: Organization
) -> None:
    # Given orders containing "50%_off" in each searched column, lookalikes, and another
    # organization's matching order
    await _orders_around_the_term(org)
    await _other_organizations_match(other_org)

    # When the orders are searched for "50%_off"
    found = await list_orders(org, filter={"search": TERM})

    # Then the four that contain it are found, whatever their status, and no lookalike
    assert numbers(found) == ["SO-2", "SO-3", "SO-4", "WEB-50%_OFF-1"]
    assert found["totalCount"] == 4


async def test_a_term_in_more_names_than_are_listed_is_matched_by_a_subquery_alike(
    org: Organization, other_org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same orders, and customers' names matched through a subquery rather than a list
    await _orders_around_the_term(org)
    await _other_organizations_match(other_org)
    monkeypatch.setattr(order_queries, "MATCHED_CUSTOMERS_LISTED", 0)

    # When the orders are searched for "50%_off"
    found = await list_orders(org, filter={"search": TERM})

    # Then the same four are found, and still none of the other organization's
    assert numbers(found) == ["SO-2", "SO-3", "SO-4", "WEB-50%_OFF-1"]
    assert found["totalCount"] == 4


async def test_search_with_a_status_filter_pages_through_the_matches(
    org: Organization, other_org: Organization
) -> None:
    # Given the same orders
    await _orders_around_the_term(org)
    await _other_organizations_match(other_org)
    where = {"search": TERM.upper(), "status": ["CONFIRMED"]}

    # When the confirmed ones containing "50%_OFF" are read two at a time
    first = await list_orders(org, filter=where, first=2)
    second = await list_orders(org, filter=where, first=2, after=first["pageInfo"]["endCursor"])

    # Then the three confirmed matches come in number order over two pages, counted alike
    assert [edge["node"] for edge in first["edges"]] == [
        {"number": "SO-2", "status": "CONFIRMED"},
        {"number": "SO-3", "status": "CONFIRMED"},
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [edge["node"] for edge in second["edges"]] == [
        {"number": "WEB-50%_OFF-1", "status": "CONFIRMED"}
    ]
    assert second["pageInfo"]["hasNextPage"] is False
    assert first["totalCount"] == second["totalCount"] == 3


async def test_a_backslash_in_the_term_is_a_character_too(org: Organization) -> None:
    # Given a customer whose name holds a backslash, and one whose name would match only if the
    # backslash escaped the next character
    item = await org.item("WIDGET", "10")
    line = [{"itemId": item, "quantity": "1"}]
    await org.order(await org.customer(name="Back\\Slash Co"), line, number="SO-1")
    await org.order(await org.customer(name="BackSlash Co"), line, number="SO-2")
    await org.order(await org.customer(name="Back%Slash Co"), line, number="SO-3")

    # When the orders are searched for "k\s" and for "k\%"
    backslash = await list_orders(org, filter={"search": "k\\s"})
    escaped_percent = await list_orders(org, filter={"search": "k\\%"})

    # Then only the name with a backslash matches, and "\%" is two characters, not a percent
    assert numbers(backslash) == ["SO-1"]
    assert backslash["totalCount"] == 1
    assert numbers(escaped_percent) == []
    assert escaped_percent["totalCount"] == 0
