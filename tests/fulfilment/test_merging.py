"""SPEC §4 "Merging two orders": every precondition with its own error code, what the surviving
and the merged order look like afterwards, `mergeable`/`mergeBlockers`, and two clients merging
overlapping orders at once."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fulfilment.documents import (
    CREATE_WAREHOUSE,
    MERGE_ORDERS,
    ORDER_FIELDS,
    VOID_INVOICE,
    VOID_ORDER,
    confirm,
    confirmed_order,
    errors_of,
    event_types,
    fetch,
    invoice,
    package,
)
from tests.support import Organization

ORDER_LIST = """
query($filter: SalesOrderFilter) {
  salesOrders(filter: $filter) { totalCount edges { node { id number status } } }
}"""

ORDER_QUANTITIES = """
query($filter: SalesOrderFilter) {
  salesOrders(filter: $filter, first: 100) {
    edges { node { id status lines { quantity } } }
  }
}"""

DOCK = {"attention": "Receiving", "street1": "9 Harbour Road", "city": "Shelbyville"}

IDS = ["input", "ids"]

# Real marketplace payloads, kept in the repository (tests/fixtures/marketplace/SOURCES.md).
MARKETPLACE_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "marketplace"

IMPORT_ORDER = f"""
mutation($input: ImportMarketplaceOrderInput!) {{
  importMarketplaceOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""


async def chair_orders(org: Organization, count: int = 2, **fields: object) -> list[dict]:
    """`count` draft orders of one customer, one chair each."""
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    return [
        await org.order(customer, [{"itemId": chair, "quantity": "1"}], **fields)
        for _ in range(count)
    ]


async def merge(org: Organization, *orders: dict) -> dict:
    """The mergeSalesOrders payload for the given orders, in the given order."""
    return await org.api.mutate(MERGE_ORDERS, {"ids": [order["id"] for order in orders]})


async def void(org: Organization, order: dict) -> dict:
    return (await org.api.ok(VOID_ORDER, {"id": order["id"]}))["salesOrder"]


# --- preconditions ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 3])
async def test_merging_other_than_two_orders_is_refused(org: Organization, count: int) -> None:
    # Given one or three orders of one customer
    orders = await chair_orders(org, count)

    # When they are merged
    payload = await merge(org, *orders)

    # Then exactly two are required
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(IDS, "MERGE_COUNT")]


async def test_merging_an_order_with_itself_is_refused(org: Organization) -> None:
    (order,) = await chair_orders(org, 1)

    payload = await merge(org, order, order)

    assert errors_of(payload) == [(IDS, "MERGE_COUNT")]
    saved = await fetch(org, order["id"])
    assert saved["status"] == "DRAFT"
    assert saved["lines"][0]["quantity"] == "1.00"


async def test_orders_of_different_customers_are_not_merged(org: Organization) -> None:
    # Given two customers with the same (empty) addresses and currency
    chair = await org.item("CHAIR", "89.90")
    acme = await org.customer(name="Acme")
    globex = await org.customer(name="Globex")
    first = await org.order(acme, [{"itemId": chair, "quantity": "1"}])
    second = await org.order(globex, [{"itemId": chair, "quantity": "1"}])

    # When their orders are merged
    payload = await merge(org, first, second)

    # Then the customers must match
    assert errors_of(payload) == [(IDS, "MERGE_DIFFERENT_CUSTOMER")]


async def test_orders_with_different_shipping_addresses_are_not_merged(org: Organization) -> None:
    # Given two orders of one customer, one of them shipped elsewhere
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    first = await org.order(customer, [{"itemId": chair, "quantity": "1"}])
    second = await org.order(customer, [{"itemId": chair, "quantity": "1"}], shippingAddress=DOCK)

    # When they are merged
    payload = await merge(org, first, second)

    # Then the addresses must be identical
    assert errors_of(payload) == [(IDS, "MERGE_DIFFERENT_ADDRESS")]


async def test_a_draft_and_a_confirmed_order_are_not_merged(org: Organization) -> None:
    draft, other = await chair_orders(org)
    confirmed = await confirm(org, other["id"])

    payload = await merge(org, draft, confirmed)

    assert errors_of(payload) == [(IDS, "MERGE_DIFFERENT_STATUS")]


async def test_void_orders_are_not_merged(org: Organization) -> None:
    # Given two orders with the same status, VOID
    first, second = await chair_orders(org)
    await void(org, first)
    await void(org, second)

    # When they are merged
    payload = await merge(org, first, second)

    # Then only drafts or confirmed orders can be merged
    assert errors_of(payload) == [(IDS, "INVALID_STATUS")]


async def test_an_order_with_a_package_is_not_merged(org: Organization) -> None:
    first, second = [await confirm(org, order["id"]) for order in await chair_orders(org)]
    await package(org, second["id"])

    payload = await merge(org, first, second)

    assert errors_of(payload) == [(IDS, "MERGE_HAS_PACKAGES")]


async def test_an_order_with_an_invoice_is_not_merged(org: Organization) -> None:
    first, second = [await confirm(org, order["id"]) for order in await chair_orders(org)]
    await invoice(org, first["id"])

    payload = await merge(org, first, second)

    assert errors_of(payload) == [(IDS, "MERGE_HAS_INVOICES")]


async def test_orders_of_different_warehouses_are_not_merged(org: Organization) -> None:
    # Given a second warehouse, and one order served from it
    overflow = (await org.api.ok(CREATE_WAREHOUSE, {"name": "Overflow"}))["warehouse"]["id"]
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    first = await org.order(customer, [{"itemId": chair, "quantity": "1"}])
    second = await org.order(customer, [{"itemId": chair, "quantity": "1"}], warehouseId=overflow)

    # When the two orders are merged
    payload = await merge(org, first, second)

    # Then the warehouses must match
    assert errors_of(payload) == [(IDS, "MERGE_DIFFERENT_WAREHOUSE")]


async def test_orders_in_different_currencies_are_not_merged(org: Organization) -> None:
    # An order takes its customer's currency, and a customer's currency cannot be changed, so
    # two orders of ONE customer always share a currency: MERGE_DIFFERENT_CURRENCY alone is
    # unreachable through the API. It is reachable next to MERGE_DIFFERENT_CUSTOMER.
    # Given a EUR customer and a USD customer
    chair = await org.item("CHAIR", "89.90")
    euro = await org.customer(name="Acme")
    dollar = await org.customer(name="Acme Inc.", currency="USD")
    first = await org.order(euro, [{"itemId": chair, "quantity": "1"}])
    second = await org.order(dollar, [{"itemId": chair, "quantity": "1"}])
    assert (first["currency"], second["currency"]) == ("EUR", "USD")

    # When their orders are merged
    payload = await merge(org, first, second)

    # Then both violations are reported
    assert sorted(errors_of(payload)) == [
        (IDS, "MERGE_DIFFERENT_CURRENCY"),
        (IDS, "MERGE_DIFFERENT_CUSTOMER"),
    ]


async def test_every_violated_precondition_is_reported_at_once(org: Organization) -> None:
    # Given a draft of one customer, and a confirmed order of another customer, shipped
    # elsewhere from another warehouse
    overflow = (await org.api.ok(CREATE_WAREHOUSE, {"name": "Overflow"}))["warehouse"]["id"]
    chair = await org.item("CHAIR", "89.90")
    acme = await org.customer(name="Acme")
    globex = await org.customer(name="Globex")
    draft = await org.order(acme, [{"itemId": chair, "quantity": "1"}])
    confirmed = await confirmed_order(
        org,
        globex,
        [{"itemId": chair, "quantity": "2"}],
        shippingAddress=DOCK,
        warehouseId=overflow,
    )

    # When they are merged
    payload = await merge(org, draft, confirmed)

    # Then every reason comes back, each with its own code, and nothing changed
    assert payload["salesOrder"] is None
    assert sorted(errors_of(payload)) == [
        (IDS, "MERGE_DIFFERENT_ADDRESS"),
        (IDS, "MERGE_DIFFERENT_CUSTOMER"),
        (IDS, "MERGE_DIFFERENT_STATUS"),
        (IDS, "MERGE_DIFFERENT_WAREHOUSE"),
    ]
    assert (await fetch(org, draft["id"]))["status"] == "DRAFT"
    after = await fetch(org, confirmed["id"])
    assert after["status"] == "CONFIRMED"
    assert after["lines"][0]["quantity"] == "2.00"
    assert event_types(after) == ["created", "confirmed"]


async def test_an_order_of_another_organization_is_not_found(
    org: Organization, other_org: Organization
) -> None:
    # Given an order here and one in another organization
    (mine,) = await chair_orders(org, 1)
    (theirs,) = await chair_orders(other_org, 1)

    # When both are merged from here
    payload = await merge(org, mine, theirs)

    # Then the other organization's order does not exist, and it is left alone
    assert errors_of(payload) == [([*IDS, "1"], "NOT_FOUND")]
    assert (await fetch(other_org, theirs["id"]))["status"] == "DRAFT"


async def shopify_order(org: Organization, external_id: int) -> dict:
    """A Shopify order of Bob Norman (the published order 450789469 under another id), as
    imported: CONFIRMED."""
    order = json.loads(
        (MARKETPLACE_FIXTURES / "shopify_rest_2026-07_get_order_450789469.json").read_text("utf-8")
    )
    order["order"]["id"] = external_id
    payload = await org.api.ok(IMPORT_ORDER, {"marketplace": "shopify", "payload": order})
    return payload["salesOrder"]


async def test_a_marketplace_order_is_not_merged(org: Organization) -> None:
    # Given two imported Shopify orders that agree on everything else: one customer (matched
    # by e-mail), one address, currency, warehouse and status
    for sku in ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"):
        await org.item(sku, "199.00")
    first = await shopify_order(org, 450789469)
    second = await shopify_order(org, 450789470)
    assert first["customer"] == second["customer"]
    assert first["status"] == second["status"] == "CONFIRMED"

    # Then neither can be merged, and each says why
    for order in (first, second):
        fetched = await fetch(org, order["id"])
        assert fetched["mergeable"] is False
        assert fetched["mergeBlockers"] == ["MERGE_MARKETPLACE_ORDER"]

    # When they are merged
    payload = await merge(org, first, second)

    # Then that is the one reason given, and both orders stay as they were
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(IDS, "MERGE_MARKETPLACE_ORDER")]
    for order in (first, second):
        after = await fetch(org, order["id"])
        assert after["status"] == "CONFIRMED"
        assert after["total"] == "622.22"
        assert event_types(after) == ["created", "confirmed"]


async def test_a_marketplace_order_is_not_merged_with_a_direct_order(org: Organization) -> None:
    # Given an imported order, and a confirmed direct order of the same customer
    for sku in ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"):
        await org.item(sku, "199.00")
    imported = await shopify_order(org, 450789469)
    chair = await org.item("CHAIR", "89.90")
    direct = await confirmed_order(
        org, imported["customer"]["id"], [{"itemId": chair, "quantity": "1"}]
    )

    # When they are merged, in either order
    for pair in ((imported, direct), (direct, imported)):
        payload = await merge(org, *pair)

        # Then the marketplace order is a reason of its own
        assert payload["salesOrder"] is None
        assert (IDS, "MERGE_MARKETPLACE_ORDER") in errors_of(payload)
    assert (await fetch(org, direct["id"]))["mergeBlockers"] == []


# --- a successful merge --------------------------------------------------------------------


async def merged_pair(org: Organization) -> tuple[dict, dict, dict]:
    """Two draft orders of one customer, merged; returns (older, younger, merge payload).

    The younger one is given first and carries an earlier order date: the order CREATED first
    survives all the same.
    """
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    lamp = await org.item("LAMP", "129.50", taxId=vat)
    setup = await org.item("SETUP", "65", kind="SERVICE")
    older = await org.order(
        customer,
        [
            {"itemId": chair, "quantity": "2"},
            {"itemId": lamp, "quantity": "1", "discountPercent": "10"},
        ],
        date="2025-03-01",
        referenceNumber="PO-1",
        deliveryMethod="Courier",
        discount={"type": "PERCENTAGE", "value": "10"},
        shippingCharge="5.00",
        adjustment={"label": "Rounding", "amount": "-0.20"},
        notes="Leave at the dock",
    )
    younger = await org.order(
        customer,
        [
            {"itemId": chair, "quantity": "3"},  # same item, rate, discount, tax: combined
            {"itemId": lamp, "quantity": "1"},  # another discount: appended
            {"itemId": setup, "quantity": "1.5"},  # appended
        ],
        date="2025-02-20",
        referenceNumber="PO-2",
        deliveryMethod="Pickup",
        shippingCharge="7.50",
        adjustment={"label": "Handling", "amount": "1.00"},
        notes="Call before delivery",
    )
    assert older["total"] == "324.85"
    payload = await org.api.ok(MERGE_ORDERS, {"ids": [younger["id"], older["id"]]})
    return older, younger, payload


async def test_the_older_order_survives_with_its_number_and_header(org: Organization) -> None:
    # Given two drafts of one customer, when they are merged (the younger one named first)
    older, younger, payload = await merged_pair(org)

    # Then the order created first survives, keeping its number and header fields
    survivor = payload["salesOrder"]
    assert survivor["id"] == older["id"]
    assert survivor["number"] == older["number"] == "SO-00001"
    assert survivor["status"] == "DRAFT"
    assert survivor["date"] == "2025-03-01"
    assert survivor["referenceNumber"] == "PO-1"
    assert survivor["deliveryMethod"] == "Courier"
    assert survivor["discount"]["type"] == "PERCENTAGE"
    assert survivor["discount"]["value"] == "10.00"
    assert payload["merged"]["id"] == younger["id"]
    assert (await fetch(org, older["id"])) == survivor


async def test_merged_lines_are_combined_or_appended(org: Organization) -> None:
    _, _, payload = await merged_pair(org)

    survivor = payload["salesOrder"]
    assert [
        (line["item"]["sku"], line["quantity"], line["discountPercent"], line["amount"])
        for line in survivor["lines"]
    ] == [
        ("CHAIR", "5.00", "0.00", "449.50"),  # 2 + 3
        ("LAMP", "1.00", "10.00", "116.55"),
        ("LAMP", "1.00", "0.00", "129.50"),
        ("SETUP", "1.50", "0.00", "97.50"),
    ]


async def test_appended_lines_come_after_all_of_the_survivors_lines(org: Organization) -> None:
    # Given an older order that repeats one line (same item, rate, discount and tax) before
    # its last line, and a younger order with another item
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    desk = await org.item("DESK", "100")
    lamp = await org.item("LAMP", "20")
    chair_line = {"itemId": chair, "quantity": "1"}
    older = await org.order(
        customer, [chair_line, chair_line, chair_line, {"itemId": desk, "quantity": "1"}]
    )
    younger = await org.order(customer, [{"itemId": lamp, "quantity": "1"}])

    # When they are merged
    payload = await org.api.ok(MERGE_ORDERS, {"ids": [older["id"], younger["id"]]})

    # Then the younger order's line is appended at the end
    assert [line["item"]["sku"] for line in payload["salesOrder"]["lines"]] == [
        "CHAIR",
        "CHAIR",
        "CHAIR",
        "DESK",
        "LAMP",
    ]
    assert [line["item"]["sku"] for line in (await fetch(org, older["id"]))["lines"]] == [
        "CHAIR",
        "CHAIR",
        "CHAIR",
        "DESK",
        "LAMP",
    ]
    assert payload["salesOrder"]["total"] == "150.00"


async def test_merged_charges_notes_and_totals(org: Organization) -> None:
    _, _, payload = await merged_pair(org)

    survivor = payload["salesOrder"]
    # Shipping charges and adjustments are added; notes joined with a blank line
    assert survivor["shippingCharge"] == "12.50"
    assert survivor["adjustment"] == {"label": "Rounding", "amount": "0.80"}
    assert survivor["notes"] == "Leave at the dock\n\nCall before delivery"
    # 449.50 + 116.55 + 129.50 + 97.50
    assert survivor["subTotal"] == "793.05"
    # 10 % of 793.05 = 79.305 -> 79.31
    assert survivor["discount"]["amount"] == "79.31"
    # 0.20 × 695.55 × (1 − 79.31/793.05) = 125.198… -> 125.20
    assert survivor["taxes"] == [{"tax": {"name": "VAT 20%"}, "amount": "125.20"}]
    assert survivor["taxTotal"] == "125.20"
    # 793.05 − 79.31 + 125.20 + 12.50 + 0.80
    assert survivor["total"] == "852.24"


async def test_the_merged_order_points_at_the_survivor(org: Organization) -> None:
    older, younger, payload = await merged_pair(org)

    merged = await fetch(org, younger["id"])
    assert merged == payload["merged"]
    assert merged["status"] == "MERGED"
    assert merged["number"] == "SO-00002"
    assert merged["mergedInto"] == {"id": older["id"], "number": "SO-00001"}
    assert merged["mergeable"] is False
    assert merged["mergeBlockers"] == ["INVALID_STATUS"]
    assert payload["salesOrder"]["mergedInto"] is None


async def test_the_merged_order_leaves_the_default_list(org: Organization) -> None:
    # Given two orders merged into one
    older, younger, _ = await merged_pair(org)

    # When orders are listed by default, and then by status MERGED
    default = (await org.api.data(ORDER_LIST))["salesOrders"]
    merged = (await org.api.data(ORDER_LIST, {"filter": {"status": ["MERGED"]}}))["salesOrders"]

    # Then only the survivor is listed by default; the merged order only when asked for
    assert default["totalCount"] == 1
    assert [edge["node"]["id"] for edge in default["edges"]] == [older["id"]]
    assert merged["totalCount"] == 1
    assert merged["edges"] == [
        {"node": {"id": younger["id"], "number": "SO-00002", "status": "MERGED"}}
    ]


async def test_the_merged_orders_number_is_never_reused(org: Organization) -> None:
    # Given SO-00001 and SO-00002 merged
    _, younger, _ = await merged_pair(org)
    assert younger["number"] == "SO-00002"

    # When another order is created
    customer = await org.customer(name="Globex")
    chair = await org.item("STOOL", "10")
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    # Then it gets a new number
    assert order["number"] == "SO-00003"


async def test_a_merge_is_recorded_on_both_orders(org: Organization) -> None:
    older, younger, _ = await merged_pair(org)

    survivor = await fetch(org, older["id"])
    merged = await fetch(org, younger["id"])
    assert event_types(survivor) == ["created", "merged"]
    assert survivor["events"][-1]["data"] == {"from": "SO-00002"}
    assert event_types(merged) == ["created", "merged_into"]
    assert merged["events"][-1]["data"] == {"into": "SO-00001"}


async def test_confirmed_orders_merge_into_a_confirmed_order(org: Organization) -> None:
    first, second = [await confirm(org, order["id"]) for order in await chair_orders(org)]

    payload = await org.api.ok(MERGE_ORDERS, {"ids": [first["id"], second["id"]]})

    survivor = payload["salesOrder"]
    assert survivor["status"] == "CONFIRMED"
    assert [(line["item"]["sku"], line["quantity"]) for line in survivor["lines"]] == [
        ("CHAIR", "2.00")
    ]
    assert survivor["total"] == "179.80"
    assert payload["merged"]["status"] == "MERGED"


# --- mergeable ------------------------------------------------------------------------------


async def test_a_draft_is_mergeable(org: Organization) -> None:
    (created,) = await chair_orders(org, 1)

    order = await fetch(org, created["id"])

    assert order["mergeable"] is True
    assert order["mergeBlockers"] == []


async def test_a_void_order_is_not_mergeable(org: Organization) -> None:
    (order,) = await chair_orders(org, 1)

    voided = await void(org, order)

    assert voided["mergeable"] is False
    assert voided["mergeBlockers"] == ["INVALID_STATUS"]


async def test_an_invoiced_order_is_not_mergeable_until_the_invoice_is_voided(
    org: Organization,
) -> None:
    # Given a confirmed order
    (order,) = await chair_orders(org, 1)
    await confirm(org, order["id"])

    # When it is invoiced
    issued = await invoice(org, order["id"])

    # Then it has an invoice blocking merges
    invoiced = await fetch(org, order["id"])
    assert invoiced["mergeable"] is False
    assert invoiced["mergeBlockers"] == ["MERGE_HAS_INVOICES"]

    # And once the invoice is void, nothing blocks it any more
    await org.api.ok(VOID_INVOICE, {"id": issued["id"]})
    reopened = await fetch(org, order["id"])
    assert reopened["mergeBlockers"] == []
    assert reopened["mergeable"] is True


async def test_a_packed_order_is_not_mergeable(org: Organization) -> None:
    (order,) = await chair_orders(org, 1)
    await confirm(org, order["id"])

    await package(org, order["id"])

    packed = await fetch(org, order["id"])
    assert packed["mergeable"] is False
    assert packed["mergeBlockers"] == ["MERGE_HAS_PACKAGES"]


# --- concurrency ----------------------------------------------------------------------------


async def total_quantity(org: Organization) -> Decimal:
    """Σ line quantities over every order that is not MERGED."""
    connection = (await org.api.data(ORDER_QUANTITIES))["salesOrders"]
    nodes = [edge["node"] for edge in connection["edges"]]
    assert all(node["status"] != "MERGED" for node in nodes)
    return sum((Decimal(line["quantity"]) for n in nodes for line in n["lines"]), Decimal(0))


async def test_overlapping_merges_at_once_neither_lose_nor_duplicate_lines(
    org: Organization,
) -> None:
    # Given three orders A, C, B of one customer, created in that order, so that B (the
    # youngest) is the one merged away by both (A, B) and (C, B), whichever runs first
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    lamp = await org.item("LAMP", "20")
    a = await org.order(customer, [{"itemId": chair, "quantity": "1"}])
    c = await org.order(customer, [{"itemId": lamp, "quantity": "4"}])
    b = await org.order(
        customer, [{"itemId": chair, "quantity": "2"}, {"itemId": lamp, "quantity": "8"}]
    )
    assert await total_quantity(org) == Decimal(15)

    # When (A, B) and (B, C) are merged at the same time
    results = await asyncio.gather(merge(org, a, b), merge(org, b, c))

    # Then exactly one merge succeeds; the other finds B already merged
    succeeded = [payload for payload in results if not payload["errors"]]
    failed = [payload for payload in results if payload["errors"]]
    assert len(succeeded) == 1
    assert len(failed) == 1
    assert (IDS, "INVALID_STATUS") in errors_of(failed[0])
    (winner,) = succeeded
    assert winner["merged"]["id"] == b["id"]
    assert winner["salesOrder"]["id"] in (a["id"], c["id"])

    # And no quantity was lost or counted twice
    assert await total_quantity(org) == Decimal(15)
    merged = await fetch(org, b["id"])
    assert merged["status"] == "MERGED"
    assert merged["mergedInto"]["id"] == winner["salesOrder"]["id"]


async def test_orders_of_different_tax_modes_are_not_merged(org: Organization) -> None:
    # Given two drafts of one customer, the second priced gross
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    first = await org.order(customer, [{"itemId": chair, "quantity": "1"}])
    second = await org.order(customer, [{"itemId": chair, "quantity": "1"}], taxMode="INCLUSIVE")

    # When they are merged
    payload = await merge(org, first, second)

    # Then net and gross lines are not summed into one order, and both stay drafts
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(IDS, "MERGE_DIFFERENT_TAX_MODE")]
    assert [(await fetch(org, o["id"]))["status"] for o in (first, second)] == ["DRAFT", "DRAFT"]
