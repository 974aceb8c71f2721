"""SPEC §6 "Packages and shipments", and the §3 editing rules they bring: packing all or part of
the goods (never services), shipping, delivering, and what a packed or invoiced order still
allows."""

from __future__ import annotations

from tests.fulfilment.documents import (
    CREATE_PACKAGE,
    DELIVER_PACKAGE,
    SHIP_PACKAGE,
    UPDATE_ORDER,
    VOID_ORDER,
    confirmed_order,
    errors_of,
    event_types,
    fetch,
    invoice,
    line_input,
    package,
    quantities,
    ship,
)
from tests.support import Organization


async def goods_and_service_order(org: Organization) -> dict:
    """A confirmed order: 3 chairs, 1 lamp (goods) and 2 hours of setup (a service)."""
    customer = await org.customer()
    chair = await org.item("CHAIR", "89.90")
    lamp = await org.item("LAMP", "129.50")
    setup = await org.item("SETUP", "65", kind="SERVICE")
    return await confirmed_order(
        org,
        customer,
        [
            {"itemId": chair, "quantity": "3"},
            {"itemId": lamp, "quantity": "1"},
            {"itemId": setup, "quantity": "2"},
        ],
    )


def packed_lines(package: dict) -> list[tuple[str, str]]:
    return [(line["salesOrderLine"]["item"]["sku"], line["quantity"]) for line in package["lines"]]


# --- packing --------------------------------------------------------------------------------


async def test_by_default_every_good_is_packed_and_no_service(org: Organization) -> None:
    # Given a confirmed order of goods and a service
    order = await goods_and_service_order(org)

    # When a package is created without choosing lines
    packed = await package(org, order["id"])

    # Then it holds every good, not the service
    assert packed["number"] == "PKG-00001"
    assert packed["status"] == "PACKED"
    assert packed["salesOrder"] == {"id": order["id"]}
    assert packed_lines(packed) == [("CHAIR", "3.00"), ("LAMP", "1.00")]
    assert (packed["carrier"], packed["shippedAt"], packed["deliveredAt"]) == (None, None, None)
    after = await fetch(org, order["id"])
    assert quantities(after, "quantityPacked") == ["3.00", "1.00", "0.00"]
    assert after["packages"] == [{"id": packed["id"], "number": "PKG-00001", "status": "PACKED"}]
    assert event_types(after)[-1] == "packed"


async def test_partial_quantities_are_packed_then_the_rest(org: Organization) -> None:
    # Given a confirmed order of 3 chairs and a lamp
    order = await goods_and_service_order(org)

    # When 1 chair is packed, then the rest by default
    first = await package(org, order["id"], lines=[line_input(order, 0, "1")])
    rest = await package(org, order["id"])

    # Then the packages split the goods
    assert (first["number"], packed_lines(first)) == ("PKG-00001", [("CHAIR", "1.00")])
    assert (rest["number"], packed_lines(rest)) == (
        "PKG-00002",
        [("CHAIR", "2.00"), ("LAMP", "1.00")],
    )
    assert quantities(await fetch(org, order["id"]), "quantityPacked") == ["3.00", "1.00", "0.00"]


async def test_more_than_remains_unpacked_is_over_packed(org: Organization) -> None:
    # Given an order of 3 chairs, 2 of them packed
    order = await goods_and_service_order(org)
    await package(org, order["id"], lines=[line_input(order, 0, "2")])

    # When 2 more chairs are packed
    payload = await org.api.mutate(
        CREATE_PACKAGE, {"salesOrderId": order["id"], "lines": [line_input(order, 0, "2")]}
    )

    # Then only 1 remains: refused, and nothing changed
    assert payload["package"] is None
    assert errors_of(payload) == [(["input", "lines", "0", "quantity"], "OVER_PACKED")]
    after = await fetch(org, order["id"])
    assert quantities(after, "quantityPacked") == ["2.00", "0.00", "0.00"]
    assert [p["number"] for p in after["packages"]] == ["PKG-00001"]


async def test_a_service_line_cannot_be_packed(org: Organization) -> None:
    order = await goods_and_service_order(org)

    payload = await org.api.mutate(
        CREATE_PACKAGE, {"salesOrderId": order["id"], "lines": [line_input(order, 2, "1")]}
    )

    assert payload["package"] is None
    assert errors_of(payload) == [(["input", "lines", "0", "salesOrderLineId"], "INVALID")]
    assert (await fetch(org, order["id"]))["packages"] == []


# --- shipping and delivering ----------------------------------------------------------------


async def test_shipping_a_package_ships_its_quantities(org: Organization) -> None:
    # Given two packages: 1 chair, then 2 chairs and the lamp
    order = await goods_and_service_order(org)
    first = await package(org, order["id"], lines=[line_input(order, 0, "1")])
    second = await package(org, order["id"])

    # When the first one is shipped
    shipped = await ship(org, first["id"], carrier="DHL", trackingNumber="JD014600006281")

    # Then it is SHIPPED with its carrier, and the order is partially shipped
    assert shipped["status"] == "SHIPPED"
    assert (shipped["carrier"], shipped["trackingNumber"]) == ("DHL", "JD014600006281")
    assert shipped["shippedAt"] is not None
    assert shipped["deliveredAt"] is None
    after = await fetch(org, order["id"])
    assert quantities(after, "quantityShipped") == ["1.00", "0.00", "0.00"]
    assert after["shippedStatus"] == "PARTIALLY_SHIPPED"
    assert event_types(after)[-1] == "shipped"

    # And once the second is shipped too, the order is shipped (the service never ships)
    await ship(org, second["id"], carrier="DHL")
    after = await fetch(org, order["id"])
    assert quantities(after, "quantityShipped") == ["3.00", "1.00", "0.00"]
    assert after["shippedStatus"] == "SHIPPED"


async def test_a_shipped_package_cannot_be_shipped_again(org: Organization) -> None:
    order = await goods_and_service_order(org)
    packed = await package(org, order["id"])
    await ship(org, packed["id"], carrier="DHL")

    payload = await org.api.mutate(SHIP_PACKAGE, {"id": packed["id"], "carrier": "UPS"})

    assert payload["package"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert quantities(await fetch(org, order["id"]), "quantityShipped") == ["3.00", "1.00", "0.00"]


async def test_delivering_a_shipped_package(org: Organization) -> None:
    # Given a shipped package
    order = await goods_and_service_order(org)
    packed = await package(org, order["id"])
    await ship(org, packed["id"], carrier="DHL", trackingNumber="JD014600006281")

    # When it is delivered
    delivered = (await org.api.ok(DELIVER_PACKAGE, {"id": packed["id"]}))["package"]

    # Then it is DELIVERED, with the time of delivery, and keeps its shipment details
    assert delivered["status"] == "DELIVERED"
    assert delivered["deliveredAt"] is not None
    assert delivered["carrier"] == "DHL"
    assert event_types(await fetch(org, order["id"]))[-1] == "delivered"


async def test_a_package_of_another_organization_cannot_be_shipped(
    org: Organization, other_org: Organization
) -> None:
    theirs = await goods_and_service_order(other_org)
    packed = await package(other_org, theirs["id"])

    payload = await org.api.mutate(SHIP_PACKAGE, {"id": packed["id"], "carrier": "DHL"})

    assert errors_of(payload) == [(["input", "id"], "NOT_FOUND")]
    assert (await fetch(other_org, theirs["id"]))["packages"][0]["status"] == "PACKED"


async def test_a_package_not_shipped_cannot_be_delivered(org: Organization) -> None:
    order = await goods_and_service_order(org)
    packed = await package(org, order["id"])

    payload = await org.api.mutate(DELIVER_PACKAGE, {"id": packed["id"]})

    assert payload["package"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert (await fetch(org, order["id"]))["packages"][0]["status"] == "PACKED"


# --- what a packed or invoiced order still allows ---------------------------------------------


async def test_an_order_with_a_package_cannot_be_voided(org: Organization) -> None:
    order = await goods_and_service_order(org)
    await package(org, order["id"], lines=[line_input(order, 0, "1")])

    payload = await org.api.mutate(VOID_ORDER, {"id": order["id"]})

    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert (await fetch(org, order["id"]))["status"] == "CONFIRMED"


async def edit_lines(org: Organization, order: dict, quantity: list[str | None]) -> dict:
    """updateSalesOrder with the order's lines at the given quantities (None: removed)."""
    lines = [
        {"id": line["id"], "itemId": line["item"]["id"], "quantity": qty}
        for line, qty in zip(order["lines"], quantity)
        if qty is not None
    ]
    return await org.api.mutate(UPDATE_ORDER, {"id": order["id"], "lines": lines})


async def test_a_line_cannot_go_below_its_packed_quantity(org: Organization) -> None:
    # Given 2 of 3 chairs packed
    order = await goods_and_service_order(org)
    await package(org, order["id"], lines=[line_input(order, 0, "2")])

    # When the chairs are cut to 1
    payload = await edit_lines(org, order, ["1", "1", "2"])

    # Then it is refused, and the order keeps 3 chairs
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "lines", "0", "quantity"], "OVER_PACKED")]
    assert quantities(await fetch(org, order["id"]), "quantity") == ["3.00", "1.00", "2.00"]


async def test_a_line_can_go_down_to_its_packed_quantity(org: Organization) -> None:
    order = await goods_and_service_order(org)
    await package(org, order["id"], lines=[line_input(order, 0, "2")])

    payload = await edit_lines(org, order, ["2", "1", "2"])

    assert payload["errors"] == []
    assert quantities(payload["salesOrder"], "quantity") == ["2.00", "1.00", "2.00"]


async def test_a_line_cannot_go_below_its_invoiced_quantity(org: Organization) -> None:
    # Given 1.5 of 2 setup hours invoiced
    order = await goods_and_service_order(org)
    await invoice(org, order["id"], lines=[line_input(order, 2, "1.5")])

    # When the setup is cut to 1 hour
    payload = await edit_lines(org, order, ["3", "1", "1"])

    # Then it is refused, and the order keeps 2 hours
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "lines", "2", "quantity"], "OVER_INVOICED")]
    assert quantities(await fetch(org, order["id"]), "quantity") == ["3.00", "1.00", "2.00"]


async def test_an_invoiced_line_cannot_be_removed(org: Organization) -> None:
    # Given an invoiced lamp
    order = await goods_and_service_order(org)
    await invoice(org, order["id"], lines=[line_input(order, 1, "1")])

    # When the lamp's line is left out of the order's new lines
    payload = await edit_lines(org, order, ["3", None, "2"])

    # Then it is refused, and the line stays
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "lines"], "INVALID_STATUS")]
    after = await fetch(org, order["id"])
    assert [line["item"]["sku"] for line in after["lines"]] == ["CHAIR", "LAMP", "SETUP"]


async def test_a_packed_line_cannot_be_removed(org: Organization) -> None:
    order = await goods_and_service_order(org)
    await package(org, order["id"], lines=[line_input(order, 1, "1")])

    payload = await edit_lines(org, order, ["3", None, "2"])

    assert errors_of(payload) == [(["input", "lines"], "INVALID_STATUS")]
    assert len((await fetch(org, order["id"]))["lines"]) == 3
