"""Edge cases found in review: each once produced a wrong figure or an internal error."""

from __future__ import annotations

import asyncio

from tests.fulfilment.documents import (
    CREATE_INVOICE,
    MERGE_ORDERS,
    UPDATE_ORDER,
    UPDATE_SETTINGS,
    VOID_INVOICE,
    confirm,
    confirmed_order,
    errors_of,
    fetch,
    invoice,
    line_input,
    package,
    ship,
)
from tests.support import Organization

DELETE_ORDER = """
mutation($input: SalesOrderIdInput!) {
  deleteSalesOrder(input: $input) { deletedId errors { field code message } }
}"""
CREATE_ORDER_REFUSED = """
mutation($input: CreateSalesOrderInput!) {
  createSalesOrder(input: $input) { salesOrder { id } errors { field code message } }
}"""
ADJUST = """
mutation($input: AdjustStockInput!) { adjustStock(input: $input) { errors { code } } }"""
WAREHOUSES = "{ warehouses { id isPrimary } }"


async def test_tax_rounds_half_up_on_the_exact_discounted_base(org: Organization) -> None:
    # 10 % of 1.21 × (1 − 0.66/1.21) is exactly 0.055: half-up gives 0.06
    customer = await org.customer()
    tax = await org.tax("VAT 10%", "10")
    item = await org.item("PIN", "1.21", taxId=tax)

    order = await org.order(
        customer, [{"itemId": item, "quantity": "1"}], discount={"type": "AMOUNT", "value": "0.66"}
    )

    assert order["taxes"] == [{"tax": {"name": "VAT 10%"}, "amount": "0.06"}]
    assert order["total"] == "0.61"


async def test_a_line_listed_twice_is_refused(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("CHAIR", "10")
    order = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    line = order["lines"][0]["id"]

    payload = await org.api.mutate(
        UPDATE_ORDER,
        {
            "id": order["id"],
            "lines": [
                {"id": line, "itemId": item, "quantity": "1"},
                {"id": line, "itemId": item, "quantity": "3"},
            ],
        },
    )

    assert errors_of(payload) == [(["input", "lines", "1", "id"], "INVALID")]
    assert (await fetch(org, order["id"]))["subTotal"] == "10.00"


async def test_an_edited_line_keeps_its_own_rate_and_tax(org: Organization) -> None:
    # Given a line sold at a custom rate without tax, although the item has both defaults
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    item = await org.item("CHAIR", "10", taxId=vat)
    order = await org.order(
        customer, [{"itemId": item, "quantity": "1", "rate": "8", "taxId": None}]
    )
    line = order["lines"][0]

    # When only its quantity changes
    payload = await org.api.ok(
        UPDATE_ORDER,
        {"id": order["id"], "lines": [{"id": line["id"], "itemId": item, "quantity": "2"}]},
    )

    # Then its rate and (absent) tax stay as they were
    updated = payload["salesOrder"]["lines"][0]
    assert (updated["rate"], updated["tax"], updated["amount"]) == ("8.00", None, "16.00")


async def test_a_merge_survivor_cannot_be_deleted(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("CHAIR", "10")
    older = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    younger = await org.order(customer, [{"itemId": item, "quantity": "1"}])
    await org.api.ok(MERGE_ORDERS, {"ids": [older["id"], younger["id"]]})

    payload = await org.api.mutate(DELETE_ORDER, {"id": older["id"]})

    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert (await fetch(org, older["id"]))["status"] == "DRAFT"


async def test_a_line_of_a_voided_invoice_cannot_be_removed(org: Organization) -> None:
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    desk = await org.item("DESK", "100")
    order = await confirmed_order(
        org, customer, [{"itemId": chair, "quantity": "1"}, {"itemId": desk, "quantity": "1"}]
    )
    issued = await invoice(org, order["id"], lines=[line_input(order, 1, "1")])
    await org.api.ok(VOID_INVOICE, {"id": issued["id"]})

    payload = await org.api.mutate(
        UPDATE_ORDER,
        {
            "id": order["id"],
            "lines": [{"id": order["lines"][0]["id"], "itemId": chair, "quantity": "1"}],
        },
    )

    assert errors_of(payload) == [(["input", "lines"], "INVALID_STATUS")]
    assert len((await fetch(org, order["id"]))["lines"]) == 2


async def test_shipping_goes_on_the_next_invoice_when_its_invoice_is_voided(
    org: Organization,
) -> None:
    customer = await org.customer()
    item = await org.item("CHAIR", "10")
    order = await confirmed_order(
        org, customer, [{"itemId": item, "quantity": "3"}], shippingCharge="7.00"
    )
    first = await invoice(org, order["id"], lines=[line_input(order, 0, "1")])
    second = await invoice(org, order["id"], lines=[line_input(order, 0, "1")])
    assert (first["shippingCharge"], second["shippingCharge"]) == ("7.00", "0.00")

    await org.api.ok(VOID_INVOICE, {"id": first["id"]})
    third = await invoice(org, order["id"])

    assert third["shippingCharge"] == "7.00"
    assert third["total"] == "27.00"


async def test_the_completing_invoice_never_gets_a_negative_discount(org: Organization) -> None:
    # Given a 50.00 discount of which 45.00 went on a first invoice, then cut to 10.00
    customer = await org.customer()
    item = await org.item("CHAIR", "100")
    order = await confirmed_order(
        org,
        customer,
        [{"itemId": item, "quantity": "10"}],
        discount={"type": "AMOUNT", "value": "50"},
    )
    await invoice(org, order["id"], lines=[line_input(order, 0, "9")])
    await org.api.ok(
        UPDATE_ORDER, {"id": order["id"], "discount": {"type": "AMOUNT", "value": "10"}}
    )

    last = await invoice(org, order["id"])

    assert last["discount"]["amount"] == "0.00"
    assert last["total"] == "100.00"


async def test_manual_invoice_numbering_takes_the_given_number(org: Organization) -> None:
    await org.api.ok(UPDATE_SETTINGS, {"invoiceNumbering": {"mode": "MANUAL"}})
    customer = await org.customer()
    item = await org.item("CHAIR", "10")
    order = await confirmed_order(org, customer, [{"itemId": item, "quantity": "1"}])

    missing = await org.api.mutate(CREATE_INVOICE, {"salesOrderId": order["id"]})
    issued = await invoice(org, order["id"], number="F-2026-001")

    assert errors_of(missing) == [(["input", "number"], "REQUIRED")]
    assert issued["number"] == "F-2026-001"


async def test_an_invoice_date_at_the_end_of_time_is_refused(org: Organization) -> None:
    customer = await org.customer(paymentTerms={"days": 30})
    item = await org.item("CHAIR", "10")
    order = await confirmed_order(org, customer, [{"itemId": item, "quantity": "1"}])

    payload = await org.api.mutate(
        CREATE_INVOICE, {"salesOrderId": order["id"], "date": "9999-12-31"}
    )

    assert errors_of(payload) == [(["input", "date"], "INVALID")]


async def test_amounts_beyond_the_columns_are_refused(org: Organization) -> None:
    customer = await org.customer()
    item = await org.item("CHAIR", "10")

    payload = await org.api.mutate(
        CREATE_ORDER_REFUSED,
        {
            "customerId": customer,
            "lines": [{"itemId": item, "quantity": "999999999999", "rate": "999999999999"}],
        },
    )

    assert errors_of(payload) == [(["input", "lines", "0", "quantity"], "INVALID")]


async def test_a_nul_character_in_a_prefix_is_refused(org: Organization) -> None:
    payload = await org.api.mutate(UPDATE_SETTINGS, {"salesOrderNumbering": {"prefix": "SO\u0000"}})

    assert errors_of(payload) == [(["input", "salesOrderNumbering", "prefix"], "INVALID")]


async def test_concurrent_shipments_of_the_same_items_never_deadlock(org: Organization) -> None:
    # Given six packages holding the same two items, listed in opposite orders
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    desk = await org.item("DESK", "10")
    primary = next(
        w["id"] for w in (await org.api.data(WAREHOUSES))["warehouses"] if w["isPrimary"]
    )
    for item in (chair, desk):
        await org.api.ok(
            ADJUST, {"itemId": item, "warehouseId": primary, "quantityDelta": "100", "reason": "r"}
        )
    packages = []
    for index in range(6):
        pair = [chair, desk] if index % 2 else [desk, chair]
        order = await org.order(customer, [{"itemId": i, "quantity": "1"} for i in pair])
        await confirm(org, order["id"])
        packages.append(await package(org, order["id"]))

    # When they are all shipped at once
    shipped = await asyncio.gather(*(ship(org, p["id"]) for p in packages))

    # Then every shipment went through
    assert [p["status"] for p in shipped] == ["SHIPPED"] * 6
