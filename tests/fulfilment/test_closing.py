"""SPEC §3 "Automatic closing" by the organization's rule (invoiced, shipped, or both), reopening
when an invoice is voided, and sending an order by e-mail (which confirms a draft)."""

from __future__ import annotations

from tests.fulfilment.documents import (
    SEND_ORDER,
    UPDATE_ORDER,
    VOID_INVOICE,
    addressed,
    close_orders_when,
    confirm,
    confirmed_order,
    errors_of,
    event_types,
    fetch,
    invoice,
    line_input,
    package,
    ship,
)
from tests.support import Organization

SETTINGS = "{ settings { closeSalesOrderWhen } }"


async def chairs_and_lamp(org: Organization) -> dict:
    """A confirmed order of 2 chairs and a lamp (goods only)."""
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    lamp = await org.item("LAMP", "129.50")
    return await confirmed_order(
        org, customer, [{"itemId": chair, "quantity": "2"}, {"itemId": lamp, "quantity": "1"}]
    )


async def status_of(org: Organization, order: dict) -> str:
    return (await fetch(org, order["id"]))["status"]


# --- closing by rule -------------------------------------------------------------------------


async def test_rule_invoiced_closes_the_order_once_fully_invoiced(org: Organization) -> None:
    # Given orders close when invoiced, and a confirmed order
    await close_orders_when(org, "INVOICED")
    order = await chairs_and_lamp(org)

    # When part of it is invoiced, it stays confirmed
    await invoice(org, order["id"], lines=[line_input(order, 0, "1")])
    assert await status_of(org, order) == "CONFIRMED"

    # When the rest is invoiced
    await invoice(org, order["id"])

    # Then it closes by itself, and says so
    after = await fetch(org, order["id"])
    assert after["status"] == "CLOSED"
    assert after["invoicedStatus"] == "INVOICED"
    assert after["shippedStatus"] == "NOT_SHIPPED"
    assert event_types(after)[-2:] == ["invoiced", "closed"]


async def test_voiding_an_invoice_reopens_a_closed_order(org: Organization) -> None:
    # Given a fully invoiced order, closed by the INVOICED rule
    await close_orders_when(org, "INVOICED")
    order = await chairs_and_lamp(org)
    issued = await invoice(org, order["id"])
    assert await status_of(org, order) == "CLOSED"

    # When its invoice is voided
    await org.api.ok(VOID_INVOICE, {"id": issued["id"]})

    # Then the condition no longer holds: the order is confirmed again
    after = await fetch(org, order["id"])
    assert after["status"] == "CONFIRMED"
    assert after["invoicedStatus"] == "NOT_INVOICED"
    assert event_types(after)[-3:] == ["closed", "invoice_voided", "reopened"]


async def test_rule_shipped_closes_the_order_once_every_package_is_shipped(
    org: Organization,
) -> None:
    # Given orders close when shipped, and a confirmed order packed in two packages
    await close_orders_when(org, "SHIPPED")
    order = await chairs_and_lamp(org)
    first = await package(org, order["id"], lines=[line_input(order, 0, "2")])
    second = await package(org, order["id"])

    # When the first package ships, the order stays confirmed
    await ship(org, first["id"], carrier="DHL")
    assert await status_of(org, order) == "CONFIRMED"

    # When the second one ships too
    await ship(org, second["id"], carrier="DHL")

    # Then the order closes, though nothing is invoiced
    after = await fetch(org, order["id"])
    assert after["status"] == "CLOSED"
    assert after["shippedStatus"] == "SHIPPED"
    assert after["invoicedStatus"] == "NOT_INVOICED"
    assert event_types(after)[-2:] == ["shipped", "closed"]


async def test_by_default_an_order_closes_when_invoiced_and_shipped(org: Organization) -> None:
    # Given the default rule
    assert (await org.api.data(SETTINGS))["settings"] == {
        "closeSalesOrderWhen": "INVOICED_AND_SHIPPED"
    }
    order = await chairs_and_lamp(org)

    # When the order is fully invoiced, it stays confirmed
    await invoice(org, order["id"])
    assert await status_of(org, order) == "CONFIRMED"

    # When it is also fully shipped
    packed = await package(org, order["id"])
    await ship(org, packed["id"], carrier="DHL")

    # Then it closes
    after = await fetch(org, order["id"])
    assert after["status"] == "CLOSED"
    assert event_types(after)[-1] == "closed"


async def test_by_default_a_shipped_order_closes_when_invoiced(org: Organization) -> None:
    # Given a fully shipped order under the default rule
    order = await chairs_and_lamp(org)
    packed = await package(org, order["id"])
    await ship(org, packed["id"], carrier="DHL")
    assert await status_of(org, order) == "CONFIRMED"

    # When it is fully invoiced
    await invoice(org, order["id"])

    # Then it closes
    assert await status_of(org, order) == "CLOSED"


async def test_a_closed_order_can_still_be_invoiced(org: Organization) -> None:
    # Given an order closed by the SHIPPED rule, with nothing invoiced
    await close_orders_when(org, "SHIPPED")
    order = await chairs_and_lamp(org)
    packed = await package(org, order["id"])
    await ship(org, packed["id"], carrier="DHL")
    assert await status_of(org, order) == "CLOSED"

    # When it is invoiced
    issued = await invoice(org, order["id"])

    # Then the invoice holds everything, and the order stays closed
    assert issued["number"] == "INV-00001"
    assert issued["total"] == "309.30"
    after = await fetch(org, order["id"])
    assert after["status"] == "CLOSED"
    assert after["invoicedStatus"] == "INVOICED"


async def test_an_order_of_services_only_closes_on_confirm_under_rule_shipped(
    org: Organization,
) -> None:
    # Given orders close when shipped, and a draft of services only (which never ship)
    await close_orders_when(org, "SHIPPED")
    customer = await org.customer()
    setup = await org.item("SETUP", "65", kind="SERVICE")
    draft = await org.order(customer, [{"itemId": setup, "quantity": "2"}])
    assert draft["shippedStatus"] == "SHIPPED"

    # When it is confirmed
    confirmed = await confirm(org, draft["id"])

    # Then it closes at once
    assert confirmed["status"] == "CLOSED"
    assert event_types(confirmed) == ["created", "confirmed", "closed"]


async def test_editing_an_order_down_to_what_is_invoiced_closes_it(org: Organization) -> None:
    # Given orders close when invoiced, and an order whose chairs are invoiced but not its lamp
    await close_orders_when(org, "INVOICED")
    order = await chairs_and_lamp(org)
    await invoice(org, order["id"], lines=[line_input(order, 0, "2")])
    assert await status_of(org, order) == "CONFIRMED"

    # When the lamp is removed from the order
    chairs = order["lines"][0]
    payload = await org.api.ok(
        UPDATE_ORDER,
        {
            "id": order["id"],
            "lines": [{"id": chairs["id"], "itemId": chairs["item"]["id"], "quantity": "2"}],
        },
    )

    # Then the order is fully invoiced, so it closes by itself
    assert payload["salesOrder"]["invoicedStatus"] == "INVOICED"
    assert payload["salesOrder"]["status"] == "CLOSED"
    assert await status_of(org, order) == "CLOSED"


# --- sending an order ------------------------------------------------------------------------


async def test_sending_a_draft_confirms_it_and_emails_the_customer(org: Organization) -> None:
    # Given a draft of a customer with an e-mail address
    customer = await org.customer(email="orders@acme.example")
    chair = await org.item("CHAIR", "89.90")
    draft = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    # When it is sent without recipients
    sent = (await org.api.ok(SEND_ORDER, {"id": draft["id"]}))["salesOrder"]

    # Then it is confirmed, and one e-mail to the customer is queued
    assert sent["status"] == "CONFIRMED"
    assert sent["emails"] == [
        {"to": ["orders@acme.example"], "subject": "Sales order SO-00001", "state": "QUEUED"}
    ]
    assert event_types(sent) == ["created", "confirmed", "sent"]
    saved = await fetch(org, draft["id"])
    assert addressed(saved["emails"]) == [(["orders@acme.example"], "Sales order SO-00001")]


async def test_sending_to_given_recipients(org: Organization) -> None:
    customer = await org.customer(email="orders@acme.example")
    chair = await org.item("CHAIR", "89.90")
    draft = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    sent = (
        await org.api.ok(
            SEND_ORDER, {"id": draft["id"], "to": ["buyer@globex.example"], "subject": "Your order"}
        )
    )["salesOrder"]

    assert sent["status"] == "CONFIRMED"
    assert sent["emails"] == [
        {"to": ["buyer@globex.example"], "subject": "Your order", "state": "QUEUED"}
    ]


async def test_sending_needs_a_recipient(org: Organization) -> None:
    # Given a draft of a customer without an e-mail address
    customer = await org.customer(email=None)
    chair = await org.item("CHAIR", "89.90")
    draft = await org.order(customer, [{"itemId": chair, "quantity": "1"}])

    # When it is sent without recipients
    payload = await org.api.mutate(SEND_ORDER, {"id": draft["id"]})

    # Then a recipient is required, and the order is neither confirmed nor e-mailed
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "to"], "REQUIRED")]
    after = await fetch(org, draft["id"])
    assert after["status"] == "DRAFT"
    assert after["emails"] == []
