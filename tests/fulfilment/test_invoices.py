"""SPEC §5 "Invoices": converting confirmed orders into full or partial invoices, numbering, due
dates, over-invoicing (also under concurrent requests), sending and voiding."""

from __future__ import annotations

import asyncio

from tests.fulfilment.documents import (
    CREATE_INVOICE,
    SEND_INVOICE,
    VOID_INVOICE,
    addressed,
    confirm,
    confirmed_order,
    errors_of,
    event_types,
    fetch,
    fetch_invoice,
    invoice,
    line_input,
    quantities,
)
from tests.support import Organization

INVOICE_TOTALS = ("subTotal", "taxTotal", "shippingCharge", "total", "discount", "adjustment")


async def furniture_order(org: Organization, **fields: object) -> dict:
    """A confirmed order: 4 chairs (VAT 20 %), 2.5 kg coffee (VAT 5.5 %), one setup service.

    Lines 359.60 + 62.00 + 65.00 = 486.60; VAT 71.92 + 3.41; shipping 10.00; adjustment −0.05;
    total 571.88.
    """
    customer = await org.customer(paymentTerms={"days": 30})
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)
    setup = await org.item("SETUP", "65", kind="SERVICE")
    order = await confirmed_order(
        org,
        customer,
        [
            {"itemId": chair, "quantity": "4"},
            {"itemId": coffee, "quantity": "2.5"},
            {"itemId": setup, "quantity": "1"},
        ],
        shippingCharge="10.00",
        adjustment={"label": "Rounding", "amount": "-0.05"},
        **fields,
    )
    assert order["total"] == "571.88"
    return order


async def create_invoice(org: Organization, order_id: str, **fields: object) -> dict:
    """The createInvoiceFromSalesOrder payload, errors included."""
    return await org.api.mutate(CREATE_INVOICE, {"salesOrderId": order_id, **fields})


# --- converting an order -------------------------------------------------------------------


async def test_a_draft_cannot_be_invoiced(org: Organization) -> None:
    # Given a draft order
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    draft = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    # When it is invoiced
    payload = await create_invoice(org, draft["id"])

    # Then it must be confirmed first
    assert payload["invoice"] is None
    assert errors_of(payload) == [(["input", "salesOrderId"], "INVALID_STATUS")]
    assert (await fetch(org, draft["id"]))["invoices"] == []


async def test_by_default_everything_is_invoiced_at_the_orders_totals(org: Organization) -> None:
    # Given a confirmed order with two taxes, an order discount, shipping and an adjustment
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)
    setup = await org.item("SETUP", "65", kind="SERVICE")
    order = await confirmed_order(
        org,
        customer,
        [
            {"itemId": chair, "quantity": "3", "discountPercent": "12.5"},
            {"itemId": coffee, "quantity": "2.5"},
            {"itemId": setup, "quantity": "1.25"},
        ],
        discount={"type": "PERCENTAGE", "value": "7.5"},
        shippingCharge="12.40",
        adjustment={"label": "Rounding", "amount": "-0.33"},
    )
    assert order["total"] == "409.68"

    # When it is invoiced without choosing lines
    issued = await invoice(org, order["id"])

    # Then the invoice carries every line and exactly the order's totals
    assert issued["number"] == "INV-00001"
    assert issued["status"] == "DRAFT"
    assert issued["currency"] == "EUR"
    assert issued["customer"] == {"id": customer}
    assert issued["salesOrder"] == {"id": order["id"]}
    assert [
        (line["item"]["sku"], line["quantity"], line["rate"], line["amount"])
        for line in issued["lines"]
    ] == [
        ("CHAIR", "3.00", "89.90", "235.99"),
        ("COFFEE", "2.50", "24.80", "62.00"),
        ("SETUP", "1.25", "65.00", "81.25"),
    ]
    assert {key: issued[key] for key in INVOICE_TOTALS} == {
        key: order[key] for key in INVOICE_TOTALS
    }
    assert issued["taxes"] == order["taxes"]
    assert issued["total"] == "409.68"

    # And the order is fully invoiced
    after = await fetch(org, order["id"])
    assert after["invoicedStatus"] == "INVOICED"
    assert quantities(after, "quantityInvoiced") == ["3.00", "2.50", "1.25"]
    assert after["invoices"] == [{"id": issued["id"], "number": "INV-00001", "status": "DRAFT"}]
    assert event_types(after)[-1] == "invoiced"


async def test_a_partial_invoice_takes_the_chosen_quantities(org: Organization) -> None:
    # Given a confirmed order of 4 chairs, 2.5 kg coffee and a setup service
    order = await furniture_order(org)

    # When one chair and the service are invoiced
    first = await invoice(
        org, order["id"], lines=[line_input(order, 0, "1"), line_input(order, 2, "1")]
    )

    # Then the invoice holds those quantities, plus the order's shipping and adjustment
    assert first["number"] == "INV-00001"
    assert [(line["item"]["sku"], line["quantity"], line["amount"]) for line in first["lines"]] == [
        ("CHAIR", "1.00", "89.90"),
        ("SETUP", "1.00", "65.00"),
    ]
    assert first["subTotal"] == "154.90"
    assert first["taxes"] == [{"tax": {"name": "VAT 20%"}, "amount": "17.98"}]
    assert first["taxTotal"] == "17.98"
    assert first["shippingCharge"] == "10.00"
    assert first["adjustment"] == {"label": "Rounding", "amount": "-0.05"}
    # 154.90 + 17.98 + 10.00 − 0.05
    assert first["total"] == "182.83"

    # And the order is partially invoiced
    after = await fetch(org, order["id"])
    assert after["invoicedStatus"] == "PARTIALLY_INVOICED"
    assert after["status"] == "CONFIRMED"
    assert quantities(after, "quantityInvoiced") == ["1.00", "0.00", "1.00"]


async def test_the_rest_is_invoiced_without_shipping_or_adjustment(org: Organization) -> None:
    # Given an order of which one chair and the service are invoiced
    order = await furniture_order(org)
    await invoice(org, order["id"], lines=[line_input(order, 0, "1"), line_input(order, 2, "1")])

    # When the rest is invoiced
    rest = await invoice(org, order["id"])

    # Then the second invoice holds exactly what remained, with no shipping or adjustment
    assert rest["number"] == "INV-00002"
    assert [(line["item"]["sku"], line["quantity"], line["amount"]) for line in rest["lines"]] == [
        ("CHAIR", "3.00", "269.70"),
        ("COFFEE", "2.50", "62.00"),
    ]
    assert rest["subTotal"] == "331.70"
    assert rest["taxes"] == [
        {"tax": {"name": "VAT 20%"}, "amount": "53.94"},
        {"tax": {"name": "VAT 5.5%"}, "amount": "3.41"},
    ]
    assert rest["taxTotal"] == "57.35"
    assert rest["shippingCharge"] == "0.00"
    assert rest["adjustment"] is None
    assert rest["total"] == "389.05"  # 182.83 + 389.05 = 571.88, the order's total

    # And the order is fully invoiced
    after = await fetch(org, order["id"])
    assert after["invoicedStatus"] == "INVOICED"
    assert quantities(after, "quantityInvoiced") == ["4.00", "2.50", "1.00"]
    assert [i["number"] for i in after["invoices"]] == ["INV-00001", "INV-00002"]


async def test_due_date_is_the_invoice_date_plus_the_payment_term(org: Organization) -> None:
    # Given an order on Net 30 terms (from its customer)
    order = await furniture_order(org, date="2025-03-01")

    # When it is invoiced on 10 March
    issued = await invoice(org, order["id"], date="2025-03-10")

    # Then the invoice is due 30 days later
    assert issued["date"] == "2025-03-10"
    assert issued["dueDate"] == "2025-04-09"


async def test_more_than_remains_is_over_invoiced_and_nothing_is_written(
    org: Organization,
) -> None:
    # Given an order of 4 chairs, one of them invoiced already
    order = await furniture_order(org)
    await invoice(org, order["id"], lines=[line_input(order, 0, "1")])

    # When 4 more chairs are invoiced
    payload = await create_invoice(org, order["id"], lines=[line_input(order, 0, "4")])

    # Then only 3 remain: refused, and nothing changed
    assert payload["invoice"] is None
    assert errors_of(payload) == [(["input", "lines", "0", "quantity"], "OVER_INVOICED")]
    after = await fetch(org, order["id"])
    assert quantities(after, "quantityInvoiced") == ["1.00", "0.00", "0.00"]
    assert [i["number"] for i in after["invoices"]] == ["INV-00001"]

    # And the refused request took no invoice number
    assert (await invoice(org, order["id"], lines=[line_input(order, 0, "3")]))["number"] == (
        "INV-00002"
    )


async def test_a_line_of_another_order_is_not_found(org: Organization) -> None:
    # Given two confirmed orders
    order = await furniture_order(org)
    customer = await org.customer(name="Globex")
    lamp = await org.item("LAMP", "129.50")
    other = await confirmed_order(org, customer, [{"itemId": lamp, "quantity": "1"}])

    # When the first one is invoiced with a line of the second
    payload = await create_invoice(org, order["id"], lines=[line_input(other, 0, "1")])

    # Then that line is not found on this order, and nothing is invoiced
    assert errors_of(payload) == [(["input", "lines", "0", "salesOrderLineId"], "NOT_FOUND")]
    assert (await fetch(org, order["id"]))["invoices"] == []
    assert quantities(await fetch(org, other["id"]), "quantityInvoiced") == ["0.00"]


async def test_one_line_asked_twice_counts_both_quantities(org: Organization) -> None:
    # Given an order of 4 chairs
    order = await furniture_order(org)

    # When 3 chairs and 2 more chairs are asked for in one invoice
    payload = await create_invoice(
        org, order["id"], lines=[line_input(order, 0, "3"), line_input(order, 0, "2")]
    )

    # Then the second request goes past what remains
    assert errors_of(payload) == [(["input", "lines", "1", "quantity"], "OVER_INVOICED")]
    assert (await fetch(org, order["id"]))["invoices"] == []


async def test_an_order_of_another_organization_is_not_found(
    org: Organization, other_org: Organization
) -> None:
    # Given a confirmed order in another organization
    theirs = await furniture_order(other_org)

    # When it is invoiced from here
    payload = await create_invoice(org, theirs["id"])

    # Then it does not exist here, and stays uninvoiced there
    assert errors_of(payload) == [(["input", "salesOrderId"], "NOT_FOUND")]
    assert (await fetch(other_org, theirs["id"]))["invoices"] == []


# --- sending and voiding -------------------------------------------------------------------


async def test_save_and_send_queues_an_email_to_the_customer(org: Organization) -> None:
    # Given a confirmed order of a customer with an e-mail address
    order = await furniture_order(org)

    # When it is invoiced and sent at once
    issued = await invoice(org, order["id"], send=True)

    # Then the invoice is SENT, and one e-mail to the customer waits for delivery
    assert issued["status"] == "SENT"
    assert issued["emails"] == [
        {"to": ["buyer@acme.example"], "subject": "Invoice INV-00001", "state": "QUEUED"}
    ]
    saved = await fetch_invoice(org, issued["id"])
    assert addressed(saved["emails"]) == [(["buyer@acme.example"], "Invoice INV-00001")]


async def test_sending_a_draft_invoice_marks_it_sent(org: Organization) -> None:
    # Given a draft invoice
    order = await furniture_order(org)
    draft = await invoice(org, order["id"])
    assert draft["status"] == "DRAFT"
    assert draft["emails"] == []

    # When it is sent
    sent = (await org.api.ok(SEND_INVOICE, {"id": draft["id"]}))["invoice"]

    # Then it is SENT, with one e-mail queued to the customer
    assert sent["status"] == "SENT"
    assert sent["emails"] == [
        {"to": ["buyer@acme.example"], "subject": "Invoice INV-00001", "state": "QUEUED"}
    ]


async def test_sending_needs_a_recipient(org: Organization) -> None:
    # Given a confirmed order of a customer without an e-mail address
    customer = await org.customer(email=None)
    chair = await org.item("CHAIR", "89.90")
    order = await confirmed_order(org, customer, [{"itemId": chair, "quantity": "1"}])

    # When it is invoiced and sent without recipients
    payload = await create_invoice(org, order["id"], send=True)

    # Then a recipient is required, and no invoice is written
    assert errors_of(payload) == [(["input", "sendTo"], "REQUIRED")]
    assert (await fetch(org, order["id"]))["invoices"] == []

    # And with a recipient it goes to that address
    issued = await invoice(org, order["id"], send=True, sendTo=["ap@acme.example"])
    assert issued["number"] == "INV-00001"
    assert [email["to"] for email in issued["emails"]] == [["ap@acme.example"]]


async def test_a_void_invoice_cannot_be_sent(org: Organization) -> None:
    order = await furniture_order(org)
    issued = await invoice(org, order["id"])
    await org.api.ok(VOID_INVOICE, {"id": issued["id"]})

    payload = await org.api.mutate(SEND_INVOICE, {"id": issued["id"]})

    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert (await fetch_invoice(org, issued["id"]))["emails"] == []


async def test_an_invoice_of_another_organization_cannot_be_voided(
    org: Organization, other_org: Organization
) -> None:
    theirs = await furniture_order(other_org)
    issued = await invoice(other_org, theirs["id"])

    payload = await org.api.mutate(VOID_INVOICE, {"id": issued["id"]})

    assert errors_of(payload) == [(["input", "id"], "NOT_FOUND")]
    assert (await fetch_invoice(other_org, issued["id"]))["status"] == "DRAFT"


async def test_voiding_an_invoice_gives_its_quantities_back(org: Organization) -> None:
    # Given a fully invoiced order
    order = await furniture_order(org)
    issued = await invoice(org, order["id"])
    assert (await fetch(org, order["id"]))["invoicedStatus"] == "INVOICED"

    # When the invoice is voided
    voided = (await org.api.ok(VOID_INVOICE, {"id": issued["id"]}))["invoice"]

    # Then it is VOID, and the order is back to not invoiced
    assert voided["status"] == "VOID"
    after = await fetch(org, order["id"])
    assert after["invoicedStatus"] == "NOT_INVOICED"
    assert quantities(after, "quantityInvoiced") == ["0.00", "0.00", "0.00"]
    assert event_types(after)[-2:] == ["invoiced", "invoice_voided"]

    # And the next invoice is the order's first again: it takes shipping and the adjustment
    again = await invoice(org, order["id"])
    assert again["number"] == "INV-00002"
    assert again["total"] == "571.88"


async def test_a_void_invoice_cannot_be_voided_again(org: Organization) -> None:
    order = await furniture_order(org)
    issued = await invoice(org, order["id"])
    await org.api.ok(VOID_INVOICE, {"id": issued["id"]})

    payload = await org.api.mutate(VOID_INVOICE, {"id": issued["id"]})

    assert payload["invoice"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert quantities(await fetch(org, order["id"]), "quantityInvoiced") == [
        "0.00",
        "0.00",
        "0.00",
    ]


# --- concurrency ----------------------------------------------------------------------------


async def test_concurrent_invoices_never_exceed_the_ordered_quantity(org: Organization) -> None:
    # Given a confirmed order line of 10 units
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    order = await org.order(customer, [{"itemId": chair, "quantity": "10"}])
    order = await confirm(org, order["id"])

    # When 12 clients invoice 2 units each at the same time
    results = await asyncio.gather(
        *(create_invoice(org, order["id"], lines=[line_input(order, 0, "2")]) for _ in range(12))
    )

    # Then exactly 5 succeed and 7 are over-invoiced
    succeeded = [payload["invoice"] for payload in results if not payload["errors"]]
    refused = [errors_of(payload) for payload in results if payload["errors"]]
    assert len(succeeded) == 5
    assert refused == [[(["input", "lines", "0", "quantity"], "OVER_INVOICED")]] * 7
    assert sorted(issued["number"] for issued in succeeded) == [f"INV-0000{n}" for n in range(1, 6)]

    # And exactly the ordered quantity is invoiced
    after = await fetch(org, order["id"])
    assert quantities(after, "quantityInvoiced") == ["10.00"]
    assert after["invoicedStatus"] == "INVOICED"
    assert len(after["invoices"]) == 5


INVOICE_MODE = """
query($id: ID!) { invoice(id: $id) { taxMode taxes { tax { name } amount } } }"""


async def test_a_partial_invoice_of_a_gross_order_carves_out_its_own_taxes(
    org: Organization,
) -> None:
    # Given a confirmed INCLUSIVE order: 3 × 19.99 at 20 %, 2 × 5.50 at 5.5 %, 10 % off,
    # shipping 4.90 (taxes 9.00 + 0.52 inside a total of 68.77)
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    wine = await org.item("WINE", "19.99", taxId=vat)
    bread = await org.item("BREAD", "5.50", taxId=reduced)
    order = await confirmed_order(
        org,
        customer,
        [{"itemId": wine, "quantity": "3"}, {"itemId": bread, "quantity": "2"}],
        taxMode="INCLUSIVE",
        discount={"type": "PERCENTAGE", "value": "10"},
        shippingCharge="4.90",
    )

    # When two of the wines are invoiced, then the rest
    first = await invoice(org, order["id"], lines=[line_input(order, 0, "2")])
    rest = await invoice(org, order["id"])

    # Then each invoice reads its rates as gross, as its order does
    # 39.98, 10 % = 4.00, 20/120 × 35.98 = 5.996… -> 6.00; 39.98 − 4.00 + 4.90 = 40.88
    assert {key: first[key] for key in INVOICE_TOTALS} == {
        "subTotal": "39.98",
        "taxTotal": "6.00",
        "shippingCharge": "4.90",
        "total": "40.88",
        "discount": {"type": "PERCENTAGE", "value": "10.00", "amount": "4.00"},
        "adjustment": None,
    }
    # 30.99, 10 % = 3.10; 20/120 × 19.99 × 27.89/30.99 = 2.998…; 5.5/105.5 × 11.00 × … = 0.516…
    assert {key: rest[key] for key in INVOICE_TOTALS} == {
        "subTotal": "30.99",
        "taxTotal": "3.52",
        "shippingCharge": "0.00",
        "total": "27.89",
        "discount": {"type": "PERCENTAGE", "value": "10.00", "amount": "3.10"},
        "adjustment": None,
    }
    assert (await org.api.data(INVOICE_MODE, {"id": first["id"]}))["invoice"] == {
        "taxMode": "INCLUSIVE",
        "taxes": [{"tax": {"name": "VAT 20%"}, "amount": "6.00"}],
    }
    assert (await org.api.data(INVOICE_MODE, {"id": rest["id"]}))["invoice"] == {
        "taxMode": "INCLUSIVE",
        "taxes": [
            {"tax": {"name": "VAT 20%"}, "amount": "3.00"},
            {"tax": {"name": "VAT 5.5%"}, "amount": "0.52"},
        ],
    }
    # and together they bill the order's 68.77
    assert (await fetch(org, order["id"]))["total"] == "68.77"
