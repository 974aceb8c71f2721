"""SPEC §7 and the §3 stock indicator: on hand, committed and available per warehouse."""

from __future__ import annotations

from typing import Any

from gqlorders.stock.levels import recalculate_everything
from tests.support import Organization

ADJUST = """
mutation($input: AdjustStockInput!) {
  adjustStock(input: $input) {
    item { sku stock { warehouse { name } onHand committed availableForSale } }
    errors { field code message }
  }
}"""

STOCK = """
query($id: ID!) {
  node(id: $id) { ... on Item { stock { warehouse { name } onHand committed availableForSale } } }
}"""

WAREHOUSES = "{ warehouses { id name isPrimary } }"
CONFIRM = """
mutation($input: SalesOrderIdInput!) {
  confirmSalesOrder(input: $input) { salesOrder { status } errors { code } }
}"""
VOID = """
mutation($input: SalesOrderIdInput!) {
  voidSalesOrder(input: $input) { salesOrder { status } errors { code } }
}"""
PACK = """
mutation($input: CreatePackageInput!) {
  createPackage(input: $input) { package { id number } errors { field code message } }
}"""
SHIP = """
mutation($input: ShipPackageInput!) {
  shipPackage(input: $input) { package { status } errors { field code message } }
}"""
MERGE = """
mutation($input: MergeSalesOrdersInput!) {
  mergeSalesOrders(input: $input) { salesOrder { number } errors { field code message } }
}"""
LINE_STATUS = """
query($id: ID!) { salesOrder(id: $id) { lines { stockStatus } } }"""
LOW_STOCK = """
query($warehouseId: ID) { lowStockItems(warehouseId: $warehouseId) { sku } }"""
CREATE_WAREHOUSE = """
mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { warehouse { id name } errors { code } }
}"""


async def _primary(org: Organization) -> str:
    warehouses = (await org.api.data(WAREHOUSES))["warehouses"]
    return next(w["id"] for w in warehouses if w["isPrimary"])


async def _stock(org: Organization, item: str) -> list[dict]:
    return (await org.api.data(STOCK, {"id": item}))["node"]["stock"]


def _level(
    on_hand: str, committed: str, available: str, name: str = "Primary warehouse"
) -> dict[str, Any]:
    return {
        "warehouse": {"name": name},
        "onHand": on_hand,
        "committed": committed,
        "availableForSale": available,
    }


async def test_full_story_keeps_exact_figures(org: Organization) -> None:
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    primary = await _primary(org)

    # Adjust: 0.1 + 0.2 is exactly 0.3 (no float sums, even on SQLite)
    await org.api.ok(
        ADJUST, {"itemId": chair, "warehouseId": primary, "quantityDelta": "0.1", "reason": "a"}
    )
    await org.api.ok(
        ADJUST, {"itemId": chair, "warehouseId": primary, "quantityDelta": "0.2", "reason": "b"}
    )
    payload = await org.api.ok(
        ADJUST, {"itemId": chair, "warehouseId": primary, "quantityDelta": "19.7", "reason": "c"}
    )
    assert payload["item"]["stock"] == [_level("20.00", "0.00", "20.00")]

    # A draft commits nothing; confirming commits its goods
    first = await org.order(customer, [{"itemId": chair, "quantity": "3.3"}])
    assert await _stock(org, chair) == [_level("20.00", "0.00", "20.00")]
    await org.api.ok(CONFIRM, {"id": first["id"]})
    assert await _stock(org, chair) == [_level("20.00", "3.30", "16.70")]

    second = await org.order(customer, [{"itemId": chair, "quantity": "5"}])
    await org.api.ok(CONFIRM, {"id": second["id"]})
    assert await _stock(org, chair) == [_level("20.00", "8.30", "11.70")]

    # Packing moves nothing; shipping moves on hand out and releases the commitment
    package = (await org.api.ok(PACK, {"salesOrderId": first["id"]}))["package"]
    assert await _stock(org, chair) == [_level("20.00", "8.30", "11.70")]
    await org.api.ok(SHIP, {"id": package["id"], "carrier": "DHL"})
    assert await _stock(org, chair) == [_level("16.70", "5.00", "11.70")]

    # Void releases the second order's commitment
    await org.api.ok(VOID, {"id": second["id"]})
    assert await _stock(org, chair) == [_level("16.70", "0.00", "16.70")]

    # Merging two confirmed orders keeps the committed sum
    third = await org.order(customer, [{"itemId": chair, "quantity": "1.5"}])
    fourth = await org.order(customer, [{"itemId": chair, "quantity": "2.25"}])
    await org.api.ok(CONFIRM, {"id": third["id"]})
    await org.api.ok(CONFIRM, {"id": fourth["id"]})
    assert await _stock(org, chair) == [_level("16.70", "3.75", "12.95")]
    await org.api.ok(MERGE, {"ids": [third["id"], fourth["id"]]})
    assert await _stock(org, chair) == [_level("16.70", "3.75", "12.95")]

    # A from-scratch recalculation gives the same figures as the incremental path
    await recalculate_everything(org.id)
    assert await _stock(org, chair) == [_level("16.70", "3.75", "12.95")]


async def test_warehouses_are_kept_apart(org: Organization) -> None:
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    primary = await _primary(org)
    annex = (await org.api.ok(CREATE_WAREHOUSE, {"name": "Annex"}))["warehouse"]["id"]
    await org.api.ok(
        ADJUST, {"itemId": chair, "warehouseId": annex, "quantityDelta": "4", "reason": "count"}
    )
    order = await org.order(customer, [{"itemId": chair, "quantity": "1"}], warehouseId=annex)
    await org.api.ok(CONFIRM, {"id": order["id"]})

    assert primary
    assert await _stock(org, chair) == [
        _level("0.00", "0.00", "0.00"),
        _level("4.00", "1.00", "3.00", "Annex"),
    ]


async def test_line_indicators(org: Organization) -> None:
    customer = await org.customer()
    chair = await org.item("CHAIR", "10")
    desk = await org.item("DESK", "10")
    lamp = await org.item("LAMP", "10")
    setup = await org.item("SETUP", "50", kind="SERVICE")
    primary = await _primary(org)
    for item, quantity in ((chair, "10"), (desk, "2")):
        await org.api.ok(
            ADJUST,
            {"itemId": item, "warehouseId": primary, "quantityDelta": quantity, "reason": "r"},
        )
    order = await org.order(
        customer,
        [
            {"itemId": chair, "quantity": "10"},
            {"itemId": desk, "quantity": "3"},
            {"itemId": lamp, "quantity": "1"},
            {"itemId": setup, "quantity": "1"},
        ],
    )
    expected = ["IN_STOCK", "PARTIALLY_AVAILABLE", "OUT_OF_STOCK", None]
    lines = (await org.api.data(LINE_STATUS, {"id": order["id"]}))["salesOrder"]["lines"]
    assert [line["stockStatus"] for line in lines] == expected

    # Once confirmed, a line counts its own commitment as available to itself
    await org.api.ok(CONFIRM, {"id": order["id"]})
    lines = (await org.api.data(LINE_STATUS, {"id": order["id"]}))["salesOrder"]["lines"]
    assert [line["stockStatus"] for line in lines] == expected


async def test_low_stock_items(org: Organization) -> None:
    customer = await org.customer()
    chair = await org.item("CHAIR", "10", reorderLevel="5")
    await org.item("DESK", "10", reorderLevel="1")
    await org.item("NOLEVEL", "10")
    primary = await _primary(org)
    await org.api.ok(
        ADJUST, {"itemId": chair, "warehouseId": primary, "quantityDelta": "8", "reason": "r"}
    )
    assert (await org.api.data(LOW_STOCK))["lowStockItems"] == [{"sku": "DESK"}]

    order = await org.order(customer, [{"itemId": chair, "quantity": "3"}])
    await org.api.ok(CONFIRM, {"id": order["id"]})

    low = await org.api.data(LOW_STOCK, {"warehouseId": primary})
    assert low["lowStockItems"] == [{"sku": "CHAIR"}, {"sku": "DESK"}]


async def test_adjustment_cannot_take_on_hand_below_zero(org: Organization) -> None:
    chair = await org.item("CHAIR", "10")
    primary = await _primary(org)
    await org.api.ok(
        ADJUST, {"itemId": chair, "warehouseId": primary, "quantityDelta": "2", "reason": "r"}
    )
    payload = await org.api.mutate(
        ADJUST, {"itemId": chair, "warehouseId": primary, "quantityDelta": "-3", "reason": "r"}
    )
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "quantityDelta"], "INSUFFICIENT_STOCK")
    ]
    assert await _stock(org, chair) == [_level("2.00", "0.00", "2.00")]


async def test_services_have_no_stock(org: Organization) -> None:
    setup = await org.item("SETUP", "50", kind="SERVICE")
    primary = await _primary(org)
    payload = await org.api.mutate(
        ADJUST, {"itemId": setup, "warehouseId": primary, "quantityDelta": "2", "reason": "r"}
    )
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "itemId"], "INVALID")
    ]
    assert await _stock(org, setup) == []
