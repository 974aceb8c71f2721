"""SPEC §3 "Statuses" and order editing: create, confirm, void, delete, update, add lines,
each through GraphQL over HTTP, each recorded as an event on the order."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support import ORDER, ORDER_FIELDS, UPDATE_ORDER, Organization

CONFIRM_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  confirmSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

VOID_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  voidSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

DELETE_ORDER = """
mutation($input: SalesOrderIdInput!) {
  deleteSalesOrder(input: $input) { deletedId errors { field code message } }
}"""

ADD_LINES = f"""
mutation($input: AddSalesOrderLinesInput!) {{
  addSalesOrderLines(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

UPDATE_CUSTOMER = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id billingAddress { street1 city } shippingAddress { street1 city } }
    errors { field code message }
  }
}"""

CREATE_WAREHOUSE = """
mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { warehouse { id isPrimary } errors { field code message } }
}"""

WAREHOUSES = "{ warehouses { id name isPrimary } }"

ORDER_COUNT = "{ salesOrders { totalCount } }"

HEADQUARTERS = {
    "attention": "Accounts payable",
    "street1": "1 Main Street",
    "city": "Springfield",
    "zip": "12345",
    "country": "US",
}
DOCK = {
    "attention": "Receiving",
    "street1": "9 Harbour Road",
    "city": "Shelbyville",
    "zip": "54321",
    "country": "US",
}


def errors_of(payload: dict) -> list[tuple[list[str], str]]:
    assert all(error["message"] for error in payload["errors"]), payload["errors"]
    return [(error["field"], error["code"]) for error in payload["errors"]]


def event_types(order: dict) -> list[str]:
    return [event["type"] for event in order["events"]]


async def fetch(org: Organization, order_id: str) -> dict | None:
    return (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]


async def simple_order(org: Organization, **fields: object) -> dict:
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    return await org.order(customer, [{"itemId": chair, "quantity": "2"}], **fields)


# --- creating -----------------------------------------------------------------------------


async def test_new_order_is_a_draft_dated_today(org: Organization) -> None:
    # Given a customer and an item
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")

    # When an order is saved without a date
    before = date.today()
    order = await org.order(customer, [{"itemId": chair, "quantity": "2"}])
    after = date.today()

    # Then it is a draft dated today (the day it was saved on, should midnight pass meanwhile),
    # numbered by the default AUTO settings
    assert order["status"] == "DRAFT"
    assert order["date"] in {before.isoformat(), after.isoformat()}
    assert order["number"] == "SO-00001"
    assert order["invoicedStatus"] == "NOT_INVOICED"
    assert order["expectedShipmentDate"] is None
    assert order["customer"] == {"id": customer, "name": "Acme"}


async def test_new_order_copies_terms_addresses_and_currency_from_the_customer(
    org: Organization,
) -> None:
    # Given a customer paying in USD (the organization's currency is EUR), Net 30
    customer = await org.customer(
        currency="USD",
        paymentTerms={"days": 30},
        billingAddress=HEADQUARTERS,
        shippingAddress=DOCK,
    )
    chair = await org.item("CHAIR", "89.90")

    # When an order gives none of these
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    # Then they all come from the customer
    assert order["currency"] == "USD"
    assert order["paymentTerms"] == {"days": 30, "label": "Net 30"}
    assert order["billingAddress"] == HEADQUARTERS
    assert order["shippingAddress"] == DOCK


async def test_given_terms_and_addresses_override_the_customers(org: Organization) -> None:
    customer = await org.customer(
        paymentTerms={"days": 30}, billingAddress=HEADQUARTERS, shippingAddress=HEADQUARTERS
    )
    chair = await org.item("CHAIR", "89.90")

    order = await org.order(
        customer,
        [{"itemId": chair, "quantity": "1"}],
        paymentTerms={"days": 0},
        shippingAddress=DOCK,
    )

    assert order["paymentTerms"] == {"days": 0, "label": "Due on receipt"}
    assert order["billingAddress"] == HEADQUARTERS
    assert order["shippingAddress"] == DOCK


async def test_new_order_goes_to_the_primary_warehouse(org: Organization) -> None:
    # Given a second, non-primary warehouse
    overflow = (await org.api.ok(CREATE_WAREHOUSE, {"name": "Overflow"}))["warehouse"]
    assert overflow["isPrimary"] is False
    warehouses = (await org.api.data(WAREHOUSES))["warehouses"]
    (primary,) = [w for w in warehouses if w["isPrimary"]]

    # When an order names no warehouse
    order = await simple_order(org)

    # Then it is the primary one
    assert order["warehouse"] == {"id": primary["id"], "name": primary["name"]}
    assert primary["id"] != overflow["id"]


async def test_order_addresses_do_not_follow_later_customer_edits(org: Organization) -> None:
    # Given an order that copied the customer's addresses
    customer = await org.customer(billingAddress=HEADQUARTERS, shippingAddress=HEADQUARTERS)
    chair = await org.item("CHAIR", "89.90")
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    # When the customer moves
    moved = await org.api.ok(
        UPDATE_CUSTOMER,
        {"id": customer, "billingAddress": DOCK, "shippingAddress": DOCK},
    )
    assert moved["customer"]["billingAddress"] == {
        "street1": "9 Harbour Road",
        "city": "Shelbyville",
    }

    # Then the order keeps the addresses it was made with
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert saved["billingAddress"] == HEADQUARTERS
    assert saved["shippingAddress"] == HEADQUARTERS


async def test_save_and_send_confirms_and_requests_an_email_to_the_customer(
    org: Organization,
) -> None:
    # Given a customer with an e-mail address
    customer = await org.customer(email="orders@acme.example")
    chair = await org.item("CHAIR", "89.90")

    # When an order is saved and sent without recipients
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}], send=True)

    # Then it is confirmed, and an event records the e-mail to the customer
    assert order["status"] == "CONFIRMED"
    assert order["events"][0]["type"] == "created"
    sends = [e for e in order["events"] if (e["data"] or {}).get("to") is not None]
    assert len(sends) == 1, order["events"]
    assert sends[0]["data"]["to"] == ["orders@acme.example"]
    assert sends[0]["actor"] == "tests"


async def test_an_order_of_services_only_counts_as_shipped(org: Organization) -> None:
    customer = await org.customer()
    setup = await org.item("SETUP", "65", kind="SERVICE")
    training = await org.item("TRAINING", "120", kind="SERVICE")

    order = await org.order(
        customer, [{"itemId": setup, "quantity": "1"}, {"itemId": training, "quantity": "2"}]
    )

    assert order["shippedStatus"] == "SHIPPED"
    assert order["invoicedStatus"] == "NOT_INVOICED"


async def test_an_order_with_goods_is_not_shipped(org: Organization) -> None:
    customer = await org.customer()
    setup = await org.item("SETUP", "65", kind="SERVICE")
    chair = await org.item("CHAIR", "89.90")

    order = await org.order(
        customer, [{"itemId": setup, "quantity": "1"}, {"itemId": chair, "quantity": "1"}]
    )

    assert order["shippedStatus"] == "NOT_SHIPPED"
    assert order["invoicedStatus"] == "NOT_INVOICED"


# --- confirming ---------------------------------------------------------------------------


async def test_confirming_a_draft_makes_it_confirmed(org: Organization) -> None:
    # Given a draft
    order = await simple_order(org)

    # When it is confirmed
    confirmed = (await org.api.ok(CONFIRM_ORDER, {"id": order["id"]}))["salesOrder"]

    # Then it is CONFIRMED, for good, with a "confirmed" event
    assert confirmed["status"] == "CONFIRMED"
    assert event_types(confirmed) == ["created", "confirmed"]
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert saved["status"] == "CONFIRMED"


async def test_confirming_twice_is_an_invalid_status(org: Organization) -> None:
    order = await simple_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    payload = await org.api.mutate(CONFIRM_ORDER, {"id": order["id"]})

    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert saved["status"] == "CONFIRMED"
    assert event_types(saved) == ["created", "confirmed"]


# --- voiding ------------------------------------------------------------------------------


@pytest.mark.parametrize("confirm", [False, True], ids=["draft", "confirmed"])
async def test_voiding_an_open_order_makes_it_void(org: Organization, confirm: bool) -> None:
    order = await simple_order(org)
    if confirm:
        await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    voided = (await org.api.ok(VOID_ORDER, {"id": order["id"]}))["salesOrder"]

    assert voided["status"] == "VOID"
    assert event_types(voided)[-1] == "voided"
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert saved["status"] == "VOID"


async def test_voiding_a_void_order_is_an_invalid_status(org: Organization) -> None:
    order = await simple_order(org)
    await org.api.ok(VOID_ORDER, {"id": order["id"]})

    payload = await org.api.mutate(VOID_ORDER, {"id": order["id"]})

    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert event_types(saved) == ["created", "voided"]


async def test_a_void_order_cannot_be_confirmed(org: Organization) -> None:
    order = await simple_order(org)
    await org.api.ok(VOID_ORDER, {"id": order["id"]})

    payload = await org.api.mutate(CONFIRM_ORDER, {"id": order["id"]})

    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert saved["status"] == "VOID"


# --- deleting -----------------------------------------------------------------------------


async def test_deleting_a_draft_removes_it(org: Organization) -> None:
    # Given a draft
    order = await simple_order(org)

    # When it is deleted
    payload = await org.api.ok(DELETE_ORDER, {"id": order["id"]})

    # Then its ID is returned and it is gone
    assert payload["deletedId"] == order["id"]
    assert await fetch(org, order["id"]) is None
    assert (await org.api.data(ORDER_COUNT))["salesOrders"]["totalCount"] == 0


async def test_a_confirmed_order_cannot_be_deleted(org: Organization) -> None:
    order = await simple_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    payload = await org.api.mutate(DELETE_ORDER, {"id": order["id"]})

    assert payload["deletedId"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    saved = await fetch(org, order["id"])
    assert saved is not None
    assert saved["status"] == "CONFIRMED"


async def test_a_void_order_cannot_be_deleted(org: Organization) -> None:
    order = await simple_order(org)
    await org.api.ok(VOID_ORDER, {"id": order["id"]})

    payload = await org.api.mutate(DELETE_ORDER, {"id": order["id"]})

    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert await fetch(org, order["id"]) is not None


# --- editing ------------------------------------------------------------------------------


async def test_updating_header_fields_recomputes_the_totals(org: Organization) -> None:
    # Given a draft of 2 lamps at 129.50 with VAT 20 %: 259.00 + 51.80 = 310.80
    customer = await org.customer(paymentTerms={"days": 30}, shippingAddress=HEADQUARTERS)
    vat = await org.tax("VAT 20%", "20")
    lamp = await org.item("LAMP", "129.50", taxId=vat)
    order = await org.order(customer, [{"itemId": lamp, "quantity": "2"}], date="2024-05-10")
    assert order["total"] == "310.80"

    # When its header fields change
    payload = await org.api.ok(
        UPDATE_ORDER,
        {
            "id": order["id"],
            "referenceNumber": "PO-4711",
            "expectedShipmentDate": "2024-05-20",
            "deliveryMethod": "Courier",
            "paymentTerms": {"days": 15, "label": "Net 15"},
            "shippingAddress": DOCK,
            "notes": "Ring twice",
            "terms": "Goods remain ours until paid",
            "discount": {"type": "PERCENTAGE", "value": "10"},
            "shippingCharge": "15",
            "adjustment": {"label": "Rounding", "amount": "-0.62"},
        },
    )

    # Then they are saved, the untouched ones kept, and the totals recomputed
    updated = payload["salesOrder"]
    assert updated["referenceNumber"] == "PO-4711"
    assert updated["date"] == "2024-05-10"
    assert updated["expectedShipmentDate"] == "2024-05-20"
    assert updated["deliveryMethod"] == "Courier"
    assert updated["paymentTerms"] == {"days": 15, "label": "Net 15"}
    assert updated["shippingAddress"] == DOCK
    assert updated["billingAddress"] is None
    assert updated["notes"] == "Ring twice"
    assert updated["terms"] == "Goods remain ours until paid"
    assert updated["status"] == "DRAFT"
    assert updated["subTotal"] == "259.00"
    # 10 % of 259.00
    assert updated["discount"] == {"type": "PERCENTAGE", "value": "10.00", "amount": "25.90"}
    # 0.20 × 259.00 × (1 − 25.90/259.00) = 46.62
    assert updated["taxes"] == [{"tax": {"name": "VAT 20%"}, "amount": "46.62"}]
    assert updated["shippingCharge"] == "15.00"
    assert updated["adjustment"] == {"label": "Rounding", "amount": "-0.62"}
    # 259.00 − 25.90 + 46.62 + 15.00 − 0.62
    assert updated["total"] == "294.10"
    assert await fetch(org, order["id"]) == updated


async def test_updating_the_line_list_keeps_changes_drops_and_adds_lines(
    org: Organization,
) -> None:
    # Given a draft with 2 chairs and a desk
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    desk = await org.item("DESK", "249", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)
    order = await org.order(
        customer, [{"itemId": chair, "quantity": "2"}, {"itemId": desk, "quantity": "1"}]
    )
    chair_line, _desk_line = order["lines"]
    assert order["subTotal"] == "428.80"

    # When the new line list keeps the chair line with 3, drops the desk and adds coffee
    payload = await org.api.ok(
        UPDATE_ORDER,
        {
            "id": order["id"],
            "lines": [
                {"id": chair_line["id"], "itemId": chair, "quantity": "3"},
                {"itemId": coffee, "quantity": "2.5"},
            ],
        },
    )

    # Then the chair line is the same line, updated; the desk is gone; coffee is new
    updated = payload["salesOrder"]
    kept, added = updated["lines"]
    assert kept == {
        "id": chair_line["id"],
        "description": "Chair",
        "quantity": "3.00",
        "rate": "89.90",
        "discountPercent": "0.00",
        "amount": "269.70",
        "item": {"sku": "CHAIR"},
        "tax": {"name": "VAT 20%"},
    }
    assert added["id"] not in {line["id"] for line in order["lines"]}
    assert (added["item"], added["quantity"], added["amount"]) == (
        {"sku": "COFFEE"},
        "2.50",
        "62.00",
    )
    # 269.70 + 62.00
    assert updated["subTotal"] == "331.70"
    # 0.20 × 269.70 = 53.94; 0.055 × 62.00 = 3.41
    assert updated["taxes"] == [
        {"tax": {"name": "VAT 20%"}, "amount": "53.94"},
        {"tax": {"name": "VAT 5.5%"}, "amount": "3.41"},
    ]
    assert updated["taxTotal"] == "57.35"
    assert updated["total"] == "389.05"
    assert await fetch(org, order["id"]) == updated


async def test_a_confirmed_order_can_still_be_edited(org: Organization) -> None:
    order = await simple_order(org)
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})

    payload = await org.api.ok(
        UPDATE_ORDER, {"id": order["id"], "notes": "Leave at the gate", "shippingCharge": "4.50"}
    )

    updated = payload["salesOrder"]
    assert updated["status"] == "CONFIRMED"
    assert updated["notes"] == "Leave at the gate"
    # 2 × 89.90 + 4.50
    assert updated["total"] == "184.30"


@pytest.mark.parametrize(
    ("document", "field"),
    [(UPDATE_ORDER, "id"), (ADD_LINES, "salesOrderId")],
    ids=["update", "add-lines"],
)
async def test_a_void_order_cannot_be_edited(org: Organization, document: str, field: str) -> None:
    # Given a void order
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    order = await org.order(customer, [{"itemId": chair, "quantity": "2"}])
    await org.api.ok(VOID_ORDER, {"id": order["id"]})
    before = await fetch(org, order["id"])

    # When a client tries to change it
    if document is UPDATE_ORDER:
        input = {"id": order["id"], "notes": "Too late"}
    else:
        input = {"salesOrderId": order["id"], "lines": [{"itemId": chair, "quantity": "1"}]}
    payload = await org.api.mutate(document, input)

    # Then it is refused and the order is as it was
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", field], "INVALID_STATUS")]
    assert await fetch(org, order["id"]) == before


async def test_adding_lines_appends_them_and_recomputes_the_totals(org: Organization) -> None:
    # Given a draft of one chair with VAT 20 %: 89.90 + 17.98
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    desk = await org.item("DESK", "249", taxId=vat)
    setup = await org.item("SETUP", "65", kind="SERVICE")
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}])
    assert order["total"] == "107.88"

    # When two desks and a set-up service are added in bulk
    payload = await org.api.ok(
        ADD_LINES,
        {
            "salesOrderId": order["id"],
            "lines": [
                {"itemId": desk, "quantity": "2"},
                {"itemId": setup, "quantity": "1", "description": "Assembly on site"},
            ],
        },
    )

    # Then they follow the existing line and the totals include them
    updated = payload["salesOrder"]
    assert [
        (line["item"]["sku"], line["description"], line["amount"]) for line in updated["lines"]
    ] == [
        ("CHAIR", "Chair", "89.90"),
        ("DESK", "Desk", "498.00"),
        ("SETUP", "Assembly on site", "65.00"),
    ]
    assert updated["lines"][0]["id"] == order["lines"][0]["id"]
    # 89.90 + 498.00 + 65.00
    assert updated["subTotal"] == "652.90"
    # 0.20 × 587.90 = 117.58 (the service has no tax)
    assert updated["taxes"] == [{"tax": {"name": "VAT 20%"}, "amount": "117.58"}]
    assert updated["total"] == "770.48"
    assert event_types(updated) == ["created", "lines_added"]
    assert await fetch(org, order["id"]) == updated


# --- events -------------------------------------------------------------------------------


async def test_every_change_is_recorded_as_an_event(org: Organization) -> None:
    # Given an order created, edited, extended, confirmed and voided
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}])
    await org.api.ok(UPDATE_ORDER, {"id": order["id"], "notes": "Fragile"})
    await org.api.ok(
        ADD_LINES, {"salesOrderId": order["id"], "lines": [{"itemId": chair, "quantity": "1"}]}
    )
    await org.api.ok(CONFIRM_ORDER, {"id": order["id"]})
    await org.api.ok(VOID_ORDER, {"id": order["id"]})

    # When its history is read
    saved = await fetch(org, order["id"])

    # Then each change is there, in order, by the token that made it
    assert saved is not None
    assert [(e["type"], e["actor"]) for e in saved["events"]] == [
        ("created", "tests"),
        ("updated", "tests"),
        ("lines_added", "tests"),
        ("confirmed", "tests"),
        ("voided", "tests"),
    ]
    assert saved["events"][0]["data"] == {"number": "SO-00001"}
