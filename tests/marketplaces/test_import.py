"""SPEC §9: importMarketplaceOrder over the API with each marketplace's published payload.

Customers by e-mail (or the marketplace's buyer identity), items by SKU, orders CONFIRMED at the
marketplace's prices with its own totals kept beside ours; idempotent re-imports, newer
re-deliveries, bad payloads, and marketplace orders never merged.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from gqlorders.models import Customer, SalesOrder, SalesOrderLine, Tax
from tests.fulfilment.documents import MERGE_ORDERS, confirmed_order, errors_of, invoice
from tests.support import Organization

# Real marketplace payloads, kept in the repository (tests/fixtures/marketplace/SOURCES.md).
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "marketplace"

ORDER_FIELDS = """
  id number status referenceNumber date currency taxMode
  subTotal taxTotal shippingCharge total
  discount { type value amount }
  taxes { tax { name percentage } amount }
  customer { id name email }
  shippingAddress { attention street1 city state zip country }
  lines { quantity rate amount item { sku } tax { name } }
  source {
    channel marketplace externalId totalsDiffer
    reportedTotals { subTotal discount shipping tax total }
  }
  mergeable mergeBlockers
"""

IMPORT_ORDER = f"""
mutation($input: ImportMarketplaceOrderInput!) {{
  importMarketplaceOrder(input: $input) {{
    created salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

MARKETPLACES = "query { marketplaces }"

UPDATE_CUSTOMER = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id email } errors { field code message } }
}"""

IPODS = ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]
AMAZON_V0_SKU = "NABetaASINB00551Q3CS"
AMAZON_2026_SKU = "ECHO-DOT-4-UK-CHARCOAL-3PACK"
WOO_SKUS = ["WOO-SINGLE-1", "Bar3"]  # the published order's first line has sku ""

BOB_ADDRESS = {
    "attention": "Bob Norman",
    "street1": "Chestnut Street 92",
    "city": "Louisville",
    "state": "KY",
    "zip": "40202",
    "country": "US",
}


# --- the published payloads ------------------------------------------------------------------


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def shopify_rest() -> dict[str, Any]:
    """GET orders/450789469.json: `{"order": {...}}`."""
    return load("shopify_rest_2026-07_get_order_450789469.json")


def shopify_legacy() -> dict[str, Any]:
    return load("shopify_python_api_fixture_order.json")


def amazon_v0(*, address: bool = True) -> dict[str, Any]:
    """getOrder + getOrderItems (+ getOrderAddress) of order 902-1845936-5435065."""
    payload = {
        "order": load("amazon_ordersV0_getOrder_sandbox_TEST_CASE_200.json"),
        "orderItems": load("amazon_ordersV0_getOrderItems_sandbox_TEST_CASE_200.json"),
    }
    if address:
        payload["address"] = load("amazon_ordersV0_getOrderAddress_sandbox_TEST_CASE_200.json")
    return payload


def amazon_2026() -> dict[str, Any]:
    return load("amazon_orders2026-01-01_getOrder_example.json")


def woo_published() -> dict[str, Any]:
    return load("woocommerce_v3_retrieve_order_727.json")


def woo_order() -> dict[str, Any]:
    """Order 727 with a SKU on its first line (published with `"sku": ""`)."""
    body = woo_published()
    body["line_items"][0]["sku"] = WOO_SKUS[0]
    return body


def amazon_v0_of_another_order(order_id: str, *, email: str | None = None) -> dict[str, Any]:
    """The V0 sandbox order under another order id (all three parts), optionally with the
    buyer's (anonymised) e-mail."""
    body = amazon_v0()
    for part in body.values():
        part["payload"]["AmazonOrderId"] = order_id
    if email is not None:
        body["order"]["payload"]["BuyerInfo"] = {"BuyerEmail": email}
    return body


def shopify_guest(order_id: int) -> dict[str, Any]:
    """A Shopify webhook order of customer 207119551 checking out without any e-mail."""
    body = shopify_rest()["order"]
    body["id"] = order_id
    body["email"] = body["contact_email"] = ""
    body["customer"]["email"] = None
    return body


# --- helpers ---------------------------------------------------------------------------------


async def create_items(org: Organization, *skus: str) -> None:
    for sku in skus:
        await org.item(sku, "1.00")


async def import_order(org: Organization, marketplace: str, payload: Any) -> dict[str, Any]:
    """The importMarketplaceOrder payload."""
    return await org.api.mutate(IMPORT_ORDER, {"marketplace": marketplace, "payload": payload})


async def imported(org: Organization, marketplace: str, payload: Any) -> dict[str, Any]:
    """The order of an import that must succeed."""
    result = await import_order(org, marketplace, payload)
    assert result["errors"] == [], result["errors"]
    return result["salesOrder"]


def lines_of(order: dict[str, Any]) -> list[tuple[str, str, str, str | None, str]]:
    """(sku, quantity, rate, tax name, amount) of each line."""
    return [
        (
            line["item"]["sku"],
            line["quantity"],
            line["rate"],
            line["tax"]["name"] if line["tax"] else None,
            line["amount"],
        )
        for line in order["lines"]
    ]


def totals_of(order: dict[str, Any]) -> dict[str, Any]:
    return {
        key: order[key]
        for key in ("subTotal", "discount", "taxes", "taxTotal", "shippingCharge", "total")
    }


def customer_of(order: dict[str, Any]) -> tuple[str, str | None]:
    return order["customer"]["name"], order["customer"]["email"]


async def counts(org: Organization) -> dict[str, int]:
    """What an import writes, counted in the database: orders, lines, customers, taxes."""
    return {
        "orders": await SalesOrder.filter(organization_id=org.id).count(),
        "lines": await SalesOrderLine.filter(sales_order__organization_id=org.id).count(),
        "customers": await Customer.filter(organization_id=org.id).count(),
        "taxes": await Tax.filter(organization_id=org.id).count(),
    }


def source(marketplace: str, external_id: str, totals: dict[str, str], differ: bool) -> dict:
    return {
        "channel": "MARKETPLACE",
        "marketplace": marketplace,
        "externalId": external_id,
        "reportedTotals": totals,
        "totalsDiffer": differ,
    }


def reported(sub_total: str, discount: str, shipping: str, tax: str, total: str) -> dict:
    return {
        "subTotal": sub_total,
        "discount": discount,
        "shipping": shipping,
        "tax": tax,
        "total": total,
    }


# --- every published order ---------------------------------------------------------------------


async def test_marketplaces_lists_the_installed_adapters(org: Organization) -> None:
    assert (await org.api.data(MARKETPLACES))["marketplaces"] == [
        "amazon",
        "shopify",
        "woocommerce",
    ]


async def test_shopify_rest_order(org: Organization) -> None:
    # Given the order's items
    await create_items(org, *IPODS)

    # When Shopify's REST order 450789469 is imported
    result = await import_order(org, "shopify", shopify_rest())

    # Then a confirmed USD order for the new customer Bob Norman is created
    assert result["errors"] == []
    assert result["created"] is True
    order = result["salesOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["number"] == "SO-00001"
    assert order["referenceNumber"] == "#1001"
    assert order["date"] == "2008-01-10"
    assert order["currency"] == "USD"
    assert customer_of(order) == ("Bob Norman", "bob.norman@mail.example.com")
    assert order["shippingAddress"] == BOB_ADDRESS
    # at Shopify's unit prices, with its 6 % tax rate as a tax of its own
    assert lines_of(order) == [(sku, "1.00", "199.00", "Shopify 6%", "199.00") for sku in IPODS]
    # the line discounts (discount_allocations 3.34 + 3.33 + 3.33) as one order discount
    assert totals_of(order) == {
        "subTotal": "597.00",
        "discount": {"type": "AMOUNT", "value": "10.00", "amount": "10.00"},
        # 6 % of 587.00 (Shopify's own example says 3.98 a line: 11.94)
        "taxes": [{"tax": {"name": "Shopify 6%", "percentage": "6.00"}, "amount": "35.22"}],
        "taxTotal": "35.22",
        "shippingCharge": "0.00",
        "total": "622.22",
    }
    # and Shopify's own figures are kept beside ours
    assert order["source"] == source(
        "shopify",
        "450789469",
        reported("597.00", "10.00", "0.00", "11.94", "598.94"),
        differ=True,
    )
    assert await counts(org) == {"orders": 1, "lines": 3, "customers": 1, "taxes": 1}


async def test_shopify_python_api_order(org: Organization) -> None:
    # The older payload: no tax lines on the lines, and a subtotal (398.00) that disagrees
    # with its three 199.00 lines. It is imported as sent, not rejected.
    await create_items(org, *IPODS)

    result = await import_order(org, "shopify", shopify_legacy())

    assert result["errors"] == []
    assert result["created"] is True
    order = result["salesOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["currency"] == "USD"
    assert customer_of(order) == ("Bob Norman", "bob.norman@hostmail.com")
    assert lines_of(order) == [(sku, "1.00", "199.00", None, "199.00") for sku in IPODS]
    assert totals_of(order) == {
        "subTotal": "597.00",
        "discount": None,
        "taxes": [],
        "taxTotal": "0.00",
        "shippingCharge": "0.00",
        "total": "597.00",
    }
    assert order["source"] == source(
        "shopify",
        "450789469",
        reported("398.00", "0.00", "0.00", "11.94", "409.94"),
        differ=True,
    )
    assert await counts(org) == {"orders": 1, "lines": 3, "customers": 1, "taxes": 0}


async def test_amazon_v0_order_without_buyer_e_mail(org: Organization) -> None:
    # Given the sandbox order's item
    await create_items(org, AMAZON_V0_SKU)

    # When getOrder + getOrderItems + getOrderAddress are imported together
    result = await import_order(org, "amazon", amazon_v0())

    # Then the order is priced as Amazon sold it: ItemPrice 10.00 + ItemTax 1.01 = 11.01
    assert result["errors"] == []
    assert result["created"] is True
    order = result["salesOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["referenceNumber"] == "902-1845936-5435065"
    assert order["date"] == "1970-01-19"
    assert order["currency"] == "USD"
    # the tax rate is derived from the amounts: 1.01 / 10.00 = 10.1 %
    assert lines_of(order) == [(AMAZON_V0_SKU, "1.00", "10.00", "Amazon 10.1%", "10.00")]
    assert totals_of(order) == {
        "subTotal": "10.00",
        "discount": None,
        "taxes": [{"tax": {"name": "Amazon 10.1%", "percentage": "10.10"}, "amount": "1.01"}],
        "taxTotal": "1.01",
        "shippingCharge": "0.00",
        "total": "11.01",
    }
    assert order["source"] == source(
        "amazon",
        "902-1845936-5435065",
        reported("10.00", "0.00", "0.00", "1.01", "11.01"),
        differ=False,
    )
    # The buyer has no e-mail (restricted data): named from the shipping address, and keyed
    # by the marketplace identity
    assert customer_of(order) == ("MFNIntegrationTestMerchant", None)
    assert order["shippingAddress"] == {
        "attention": "MFNIntegrationTestMerchant",
        "street1": "2201 WESTLAKE AVE",
        "city": "SEATTLE",
        "state": "WA",
        "zip": "98121-2778",
        "country": "US",
    }
    (customer,) = await Customer.filter(organization_id=org.id)
    assert customer.email is None
    assert customer.marketplace_identity == "amazon:amazon-buyer:902-1845936-5435065"
    assert await counts(org) == {"orders": 1, "lines": 1, "customers": 1, "taxes": 1}


async def test_amazon_v0_order_without_address(org: Organization) -> None:
    await create_items(org, AMAZON_V0_SKU)

    order = await imported(org, "amazon", amazon_v0(address=False))

    assert customer_of(order) == ("Amazon customer", None)
    assert order["shippingAddress"] is None
    assert lines_of(order) == [(AMAZON_V0_SKU, "1.00", "10.00", "Amazon 10.1%", "10.00")]
    assert order["total"] == "11.01"


async def test_amazon_orders_2026_01_01_order(org: Organization) -> None:
    await create_items(org, AMAZON_2026_SKU)

    result = await import_order(org, "amazon", amazon_2026())

    assert result["errors"] == []
    assert result["created"] is True
    order = result["salesOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["referenceNumber"] == "202-1234567-8901234"
    assert order["date"] == "2024-12-25"
    assert order["currency"] == "GBP"
    assert customer_of(order) == ("James Wilson", "buyer-email@marketplace.amazon.co.uk")
    # unitPrice is per unit in this API; the item's 3.00 tax on 89.97 is 3.3344 %
    assert lines_of(order) == [(AMAZON_2026_SKU, "3.00", "29.99", "Amazon 3.3344%", "89.97")]
    assert totals_of(order) == {
        "subTotal": "89.97",
        "discount": None,
        "taxes": [{"tax": {"name": "Amazon 3.3344%", "percentage": "3.3344"}, "amount": "3.00"}],
        "taxTotal": "3.00",
        "shippingCharge": "10.00",
        "total": "102.97",
    }
    # Amazon's 103.97 holds 1.00 of tax on shipping, which no line of ours carries
    assert order["source"] == source(
        "amazon",
        "202-1234567-8901234",
        reported("89.97", "0.00", "10.00", "4.00", "103.97"),
        differ=True,
    )
    assert await counts(org) == {"orders": 1, "lines": 1, "customers": 1, "taxes": 1}


async def test_woocommerce_order(org: Organization) -> None:
    await create_items(org, *WOO_SKUS)

    result = await import_order(org, "woocommerce", woo_order())

    assert result["errors"] == []
    assert result["created"] is True
    order = result["salesOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["referenceNumber"] == "#727"
    assert order["date"] == "2017-03-22"
    assert order["currency"] == "USD"
    assert customer_of(order) == ("John Doe", "john.doe@example.com")
    # 0.45 on 6.00 and 0.90 on 12.00: 7.5 % both
    assert lines_of(order) == [
        ("WOO-SINGLE-1", "2.00", "3.00", "WooCommerce 7.5%", "6.00"),
        ("Bar3", "1.00", "12.00", "WooCommerce 7.5%", "12.00"),
    ]
    assert totals_of(order) == {
        "subTotal": "18.00",
        "discount": None,
        "taxes": [{"tax": {"name": "WooCommerce 7.5%", "percentage": "7.50"}, "amount": "1.35"}],
        "taxTotal": "1.35",
        "shippingCharge": "10.00",
        "total": "29.35",
    }
    assert order["source"] == source(
        "woocommerce",
        "727",
        reported("18.00", "0.00", "10.00", "1.35", "29.35"),
        differ=False,
    )
    assert await counts(org) == {"orders": 1, "lines": 2, "customers": 1, "taxes": 1}


async def test_the_published_woocommerce_order_has_a_line_without_sku(org: Organization) -> None:
    # Given the items of order 727, whose first line was published with "sku": ""
    await create_items(org, *WOO_SKUS)

    # When it is imported as published
    result = await import_order(org, "woocommerce", woo_published())

    # Then that line is reported by position and name, and nothing is written
    assert result["salesOrder"] is None
    assert result["created"] is False
    assert errors_of(result) == [(["input", "payload", "lines", "0"], "UNKNOWN_SKU")]
    assert "Woo Single #1" in result["errors"][0]["message"]
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


def shopify_vat_order(*lines: tuple[str, str], tax: str) -> dict[str, Any]:
    """Order 450789469 as a French shop sells it: gross EUR prices with 20 % VAT inside, one
    line of the green iPod per (price, VAT) given, no discount, free shipping."""
    body = shopify_rest()
    order = body["order"]
    template = order["line_items"][0]
    order["line_items"] = [
        template
        | {
            "price": price,
            "total_discount": "0.00",
            "discount_allocations": [],
            "tax_lines": [{"price": vat, "rate": 0.2, "title": "TVA"}],
        }
        for price, vat in lines
    ]
    gross = str(sum(Decimal(price) for price, _ in lines))
    order |= {
        "currency": "EUR",
        "taxes_included": True,
        "subtotal_price": gross,
        "total_discounts": "0.00",
        "total_tax": tax,
        "total_price": gross,
    }
    return body


def amazon_vat_order() -> dict[str, Any]:
    """The V0 sandbox order as amazon.fr sells it: 2 × 12.00 EUR with 4.00 of VAT inside (the
    order total, 24.00, adds no tax: the adapter takes the prices as gross)."""
    body = amazon_v0()
    body["order"]["payload"] |= {
        "MarketplaceId": "A13V1IB3VIYZZH",
        "OrderTotal": {"CurrencyCode": "EUR", "Amount": "24.00"},
    }
    (item,) = body["orderItems"]["payload"]["OrderItems"]
    item |= {
        "QuantityOrdered": 2,
        "ItemPrice": {"CurrencyCode": "EUR", "Amount": "24.00"},
        "ItemTax": {"CurrencyCode": "EUR", "Amount": "4.00"},
        "PromotionDiscount": {"CurrencyCode": "EUR", "Amount": "0.00"},
    }
    return body


async def test_a_gross_shopify_order_keeps_its_vat(org: Organization) -> None:
    # Given a VAT shop's order: one line at 100.95 with 16.83 of VAT at 20 % (taxes_included)
    await create_items(org, IPODS[0])

    order = await imported(org, "shopify", shopify_vat_order(("100.95", "16.83"), tax="16.83"))

    # Then it is INCLUSIVE, its line carries the 20 % tax, and the VAT is inside its total:
    # 20/120 × 100.95 = 16.825 -> 16.83, as Shopify says, so the totals agree
    assert order["taxMode"] == "INCLUSIVE"
    assert lines_of(order) == [(IPODS[0], "1.00", "100.95", "Shopify 20%", "100.95")]
    assert totals_of(order) == {
        "subTotal": "100.95",
        "discount": None,
        "taxes": [{"tax": {"name": "Shopify 20%", "percentage": "20.00"}, "amount": "16.83"}],
        "taxTotal": "16.83",
        "shippingCharge": "0.00",
        "total": "100.95",
    }
    assert order["source"] == source(
        "shopify",
        "450789469",
        reported("100.95", "0.00", "0.00", "16.83", "100.95"),
        differ=False,
    )


async def test_a_gross_order_rounded_per_line_there_differs_here(org: Organization) -> None:
    # Given two lines at 10.05 gross: Shopify rounds each line's VAT (1.675 -> 1.68, twice)
    await create_items(org, IPODS[0])
    body = shopify_vat_order(("10.05", "1.68"), ("10.05", "1.68"), tax="3.36")

    order = await imported(org, "shopify", body)

    # Then the total is the same, but the tax is rounded once for the group here
    # (20/120 × 20.10 = 3.35), so the totals differ and both figures are kept
    assert order["total"] == "20.10"
    assert order["taxes"] == [
        {"tax": {"name": "Shopify 20%", "percentage": "20.00"}, "amount": "3.35"}
    ]
    assert order["source"] == source(
        "shopify",
        "450789469",
        reported("20.10", "0.00", "0.00", "3.36", "20.10"),
        differ=True,
    )


async def test_vat_on_shipping_is_no_difference_of_a_gross_order(org: Organization) -> None:
    # Given a gross order whose 5.00 of shipping holds 0.83 of VAT: in Shopify's tax total
    # (17.66), on none of our lines
    await create_items(org, IPODS[0])
    body = shopify_vat_order(("100.95", "16.83"), tax="17.66")
    order = body["order"]
    order.pop("total_shipping_price_set", None)
    order["shipping_lines"] = [
        {"price": "5.00", "title": "Colissimo", "tax_lines": [{"price": "0.83", "rate": 0.2}]}
    ]
    order["total_price"] = "105.95"

    imported_order = await imported(org, "shopify", body)

    # Then the totals agree once the shipping's VAT is set aside: no difference reported
    assert (imported_order["total"], imported_order["taxTotal"]) == ("105.95", "16.83")
    assert imported_order["source"]["totalsDiffer"] is False


async def test_a_gross_amazon_order_keeps_its_vat(org: Organization) -> None:
    # Given an amazon.fr order whose total does not add its VAT again
    await create_items(org, AMAZON_V0_SKU)

    order = await imported(org, "amazon", amazon_vat_order())

    # Then it is INCLUSIVE, with the rate its VAT makes on the net line: 4.00 / 20.00 = 20 %
    assert order["taxMode"] == "INCLUSIVE"
    assert order["currency"] == "EUR"
    assert lines_of(order) == [(AMAZON_V0_SKU, "2.00", "12.00", "Amazon 20%", "24.00")]
    assert totals_of(order) == {
        "subTotal": "24.00",
        "discount": None,
        "taxes": [{"tax": {"name": "Amazon 20%", "percentage": "20.00"}, "amount": "4.00"}],
        "taxTotal": "4.00",
        "shippingCharge": "0.00",
        "total": "24.00",
    }
    assert order["source"] == source(
        "amazon",
        "902-1845936-5435065",
        reported("24.00", "0.00", "0.00", "4.00", "24.00"),
        differ=False,
    )


async def test_one_tax_per_marketplace_rate(org: Organization) -> None:
    # Given an organization that already has the tax of an earlier Shopify order
    await create_items(org, *IPODS)
    await imported(org, "shopify", shopify_rest())
    second = shopify_rest()
    second["order"]["id"] = 450789470
    second["order"]["line_items"][2]["tax_lines"][0]["rate"] = 0.0725

    # When another Shopify order comes with 6 % and 7.25 % lines
    order = await imported(org, "shopify", second)

    # Then 6 % is found again and 7.25 % created
    assert [line[3] for line in lines_of(order)] == ["Shopify 6%", "Shopify 6%", "Shopify 7.25%"]
    assert sorted(await Tax.filter(organization_id=org.id).values_list("name", flat=True)) == [
        "Shopify 6%",
        "Shopify 7.25%",
    ]


# --- customers -------------------------------------------------------------------------------


async def test_the_customer_is_matched_by_e_mail(org: Organization) -> None:
    # Given a customer already known under the buyer's e-mail (in other capitals)
    existing = await org.customer(
        name="Robert Norman", email="Bob.Norman@Mail.Example.com", currency="USD"
    )
    await create_items(org, *IPODS)

    # When the buyer's Shopify order is imported
    order = await imported(org, "shopify", shopify_rest())

    # Then it is that customer's order, and no customer is added
    assert order["customer"] == {
        "id": existing,
        "name": "Robert Norman",
        "email": "Bob.Norman@Mail.Example.com",
    }
    assert await Customer.filter(organization_id=org.id).count() == 1


async def test_a_new_e_mail_is_a_new_customer(org: Organization) -> None:
    await org.customer(name="Acme", email="buyer@acme.example")
    await create_items(org, *IPODS)

    order = await imported(org, "shopify", shopify_rest())

    assert customer_of(order) == ("Bob Norman", "bob.norman@mail.example.com")
    assert await Customer.filter(organization_id=org.id).count() == 2


async def test_another_order_of_the_same_buyer_reuses_the_customer(org: Organization) -> None:
    await create_items(org, *WOO_SKUS)
    first = await imported(org, "woocommerce", woo_order())
    second_body = woo_order()
    second_body["id"] = 728

    second = await imported(org, "woocommerce", second_body)

    assert second["id"] != first["id"]
    assert second["customer"]["id"] == first["customer"]["id"]
    assert await counts(org) == {"orders": 2, "lines": 4, "customers": 1, "taxes": 1}


async def test_an_amazon_buyer_is_found_by_identity_after_an_e_mail_change(
    org: Organization,
) -> None:
    # Given an Amazon buyer known by the anonymised e-mail Amazon gave, which the seller has
    # since replaced with the buyer's real address
    await create_items(org, AMAZON_V0_SKU)
    anonymised = "x7kq2@marketplace.amazon.com"
    first = await imported(
        org, "amazon", amazon_v0_of_another_order("111-0000001-0000001", email=anonymised)
    )
    assert customer_of(first) == ("MFNIntegrationTestMerchant", anonymised)
    await org.api.ok(
        UPDATE_CUSTOMER, {"id": first["customer"]["id"], "email": "mfn@merchant.example"}
    )

    # When a second order of the same buyer identity arrives
    second = await imported(
        org, "amazon", amazon_v0_of_another_order("111-0000002-0000002", email=anonymised)
    )

    # Then the customer is found by the identity and reused
    assert second["id"] != first["id"]
    assert second["customer"] == {
        "id": first["customer"]["id"],
        "name": "MFNIntegrationTestMerchant",
        "email": "mfn@merchant.example",
    }
    assert await Customer.filter(organization_id=org.id).count() == 1


async def test_a_shopify_guest_without_e_mail_is_found_by_identity(org: Organization) -> None:
    # Given an order of Shopify customer 207119551, who gave no e-mail
    await create_items(org, *IPODS)
    first = await imported(org, "shopify", shopify_guest(450789470))
    assert customer_of(first) == ("Bob Norman", None)

    # When another order of that customer arrives
    second = await imported(org, "shopify", shopify_guest(450789471))

    # Then it is the same customer
    assert second["customer"]["id"] == first["customer"]["id"]
    (customer,) = await Customer.filter(organization_id=org.id)
    assert customer.marketplace_identity == "shopify:shopify-customer:207119551"


async def test_identities_of_different_marketplaces_stay_apart(org: Organization) -> None:
    # The same buyer id on two marketplaces is two buyers: identities are per marketplace
    await create_items(org, *IPODS, *WOO_SKUS)
    shopify_order = await imported(org, "shopify", shopify_guest(450789470))
    woo = woo_order()
    woo["customer_id"] = 207119551
    woo["billing"]["email"] = ""

    woo_imported = await imported(org, "woocommerce", woo)

    assert woo_imported["customer"]["id"] != shopify_order["customer"]["id"]
    assert customer_of(woo_imported) == ("John Doe", None)


# --- idempotency and re-deliveries -------------------------------------------------------------


async def test_importing_the_same_order_again_changes_nothing(org: Organization) -> None:
    # Given an imported Shopify order
    await create_items(org, *IPODS)
    first = await imported(org, "shopify", shopify_rest())
    before = await counts(org)

    # When the same payload is imported again (as a webhook body this time)
    again = await import_order(org, "shopify", shopify_rest()["order"])

    # Then the same order comes back, unchanged, and nothing is duplicated
    assert again["errors"] == []
    assert again["created"] is False
    assert again["salesOrder"] == first
    assert await counts(org) == before == {"orders": 1, "lines": 3, "customers": 1, "taxes": 1}


async def test_every_fixture_imports_once(org: Organization) -> None:
    # Given every importable published order, each imported twice
    await create_items(org, *IPODS, AMAZON_V0_SKU, AMAZON_2026_SKU, *WOO_SKUS)
    payloads = [
        ("shopify", shopify_rest),
        ("amazon", amazon_v0),
        ("amazon", amazon_2026),
        ("woocommerce", woo_order),
    ]
    ids = []
    for marketplace, payload in payloads:
        first = await import_order(org, marketplace, payload())
        second = await import_order(org, marketplace, payload())
        assert (first["created"], second["created"]) == (True, False)
        assert second["salesOrder"]["id"] == first["salesOrder"]["id"]
        ids.append(first["salesOrder"]["id"])

    # Then there is one order each
    assert len(set(ids)) == 4
    assert await SalesOrder.filter(organization_id=org.id).count() == 4


async def test_the_same_external_id_on_another_marketplace_is_another_order(
    org: Organization,
) -> None:
    await create_items(org, *IPODS, *WOO_SKUS)
    woo = woo_order()
    woo["id"] = 450789469

    shopify_order = await imported(org, "shopify", shopify_rest())
    woo_imported = await import_order(org, "woocommerce", woo)

    assert woo_imported["created"] is True
    assert woo_imported["salesOrder"]["id"] != shopify_order["id"]


def newer_with_two_green_ipods() -> dict[str, Any]:
    """Shopify's order 450789469 updated a day later: two green iPods, totals to match."""
    body = shopify_rest()
    order = body["order"]
    order["updated_at"] = "2008-01-11T09:30:00-05:00"
    order["line_items"][0]["quantity"] = 2
    order.update(subtotal_price="796.00", total_tax="47.16", total_price="833.16")
    return body


async def test_a_newer_re_delivery_updates_an_editable_order(org: Organization) -> None:
    # Given an imported, confirmed Shopify order
    await create_items(org, *IPODS)
    first = await imported(org, "shopify", shopify_rest())

    # When Shopify delivers a newer version with another quantity
    result = await import_order(org, "shopify", newer_with_two_green_ipods())

    # Then the same order is updated, with the new quantity, totals and reported totals
    assert result["errors"] == []
    assert result["created"] is False
    order = result["salesOrder"]
    assert order["id"] == first["id"]
    assert order["number"] == "SO-00001"
    assert order["status"] == "CONFIRMED"
    assert lines_of(order) == [
        ("IPOD2008GREEN", "2.00", "199.00", "Shopify 6%", "398.00"),
        ("IPOD2008RED", "1.00", "199.00", "Shopify 6%", "199.00"),
        ("IPOD2008BLACK", "1.00", "199.00", "Shopify 6%", "199.00"),
    ]
    assert totals_of(order) == {
        "subTotal": "796.00",
        "discount": {"type": "AMOUNT", "value": "10.00", "amount": "10.00"},
        # 6 % of 786.00
        "taxes": [{"tax": {"name": "Shopify 6%", "percentage": "6.00"}, "amount": "47.16"}],
        "taxTotal": "47.16",
        "shippingCharge": "0.00",
        "total": "833.16",
    }
    assert order["source"] == source(
        "shopify",
        "450789469",
        reported("796.00", "10.00", "0.00", "47.16", "833.16"),
        differ=False,
    )
    assert await counts(org) == {"orders": 1, "lines": 3, "customers": 1, "taxes": 1}


async def test_a_re_delivery_that_is_not_newer_is_ignored(org: Organization) -> None:
    # Given an imported order
    await create_items(org, *IPODS)
    first = await imported(org, "shopify", shopify_rest())

    # When a delivery with the same updated_at but another quantity arrives (out of order)
    stale = newer_with_two_green_ipods()
    stale["order"]["updated_at"] = shopify_rest()["order"]["updated_at"]
    result = await import_order(org, "shopify", stale)

    # Then the order stays as it was
    assert result["created"] is False
    assert result["salesOrder"] == first


async def test_a_re_delivery_does_not_change_an_invoiced_order(org: Organization) -> None:
    # Given an imported order that has been invoiced
    await create_items(org, *IPODS)
    first = await imported(org, "shopify", shopify_rest())
    await invoice(org, first["id"])

    # When a newer version with another quantity arrives
    result = await import_order(org, "shopify", newer_with_two_green_ipods())

    # Then the same order comes back as it was: its invoice stands
    assert result["errors"] == []
    assert result["created"] is False
    order = result["salesOrder"]
    assert order["id"] == first["id"]
    assert lines_of(order) == lines_of(first)
    assert totals_of(order) == totals_of(first)
    assert order["source"] == first["source"]
    assert await counts(org) == {"orders": 1, "lines": 3, "customers": 1, "taxes": 1}


# --- what cannot be imported -----------------------------------------------------------------


async def test_an_unknown_sku_is_named_and_nothing_is_written(org: Organization) -> None:
    # Given two of the order's three items
    await create_items(org, "IPOD2008GREEN", "IPOD2008BLACK")

    # When the order is imported
    result = await import_order(org, "shopify", shopify_rest())

    # Then the line with the unknown SKU is reported, naming the SKU
    assert result["salesOrder"] is None
    assert errors_of(result) == [(["input", "payload", "lines", "1"], "UNKNOWN_SKU")]
    assert "IPOD2008RED" in result["errors"][0]["message"]
    # and neither an order nor a customer (nor a tax) was created
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_every_unknown_sku_is_reported_at_once(org: Organization) -> None:
    result = await import_order(org, "amazon", amazon_2026())

    assert errors_of(result) == [(["input", "payload", "lines", "0"], "UNKNOWN_SKU")]
    assert AMAZON_2026_SKU in result["errors"][0]["message"]

    result = await import_order(org, "shopify", shopify_rest())

    assert errors_of(result) == [
        (["input", "payload", "lines", str(index)], "UNKNOWN_SKU") for index in range(3)
    ]
    for error, sku in zip(result["errors"], IPODS):
        assert sku in error["message"]
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_a_line_without_sku_is_an_unknown_sku(org: Organization) -> None:
    # Given every item of the order, and a payload whose first lines have no SKU
    await create_items(org, *IPODS)
    body = shopify_rest()
    body["order"]["line_items"][0]["sku"] = None
    body["order"]["line_items"][1]["sku"] = ""

    result = await import_order(org, "shopify", body)

    assert result["salesOrder"] is None
    assert errors_of(result) == [
        (["input", "payload", "lines", "0"], "UNKNOWN_SKU"),
        (["input", "payload", "lines", "1"], "UNKNOWN_SKU"),
    ]
    assert "IPod Nano - 8gb - green" in result["errors"][0]["message"]
    assert "no SKU" in result["errors"][0]["message"]
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_a_shopify_order_sent_as_woocommerce_is_invalid(org: Organization) -> None:
    await create_items(org, *IPODS)

    wrapped = await import_order(org, "woocommerce", shopify_rest())
    bare = await import_order(org, "woocommerce", shopify_rest()["order"])

    assert errors_of(wrapped) == [(["input", "payload", "id"], "INVALID_PAYLOAD")]
    assert errors_of(bare) == [(["input", "payload", "date_created_gmt"], "INVALID_PAYLOAD")]
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_amazon_items_of_another_order_are_invalid(org: Organization) -> None:
    # Given the sandbox order with the getOrderItems response of another order
    await create_items(org, AMAZON_V0_SKU)
    body = amazon_v0()
    body["orderItems"]["payload"]["AmazonOrderId"] = "111-0000000-0000000"

    result = await import_order(org, "amazon", body)

    assert result["salesOrder"] is None
    assert errors_of(result) == [
        (["input", "payload", "orderItems", "payload", "AmazonOrderId"], "INVALID_PAYLOAD")
    ]
    message = result["errors"][0]["message"]
    assert "111-0000000-0000000" in message
    assert "902-1845936-5435065" in message
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_garbage_is_an_invalid_payload(org: Organization) -> None:
    for marketplace in ("shopify", "amazon", "woocommerce"):
        payloads: tuple[Any, ...] = ([], {}, "order", 42, [{"id": 1}])
        for payload in payloads:
            result = await import_order(org, marketplace, payload)
            assert [code for _, code in errors_of(result)] == ["INVALID_PAYLOAD"], (
                marketplace,
                payload,
            )


async def test_an_unknown_marketplace_is_refused(org: Organization) -> None:
    await create_items(org, *IPODS)

    result = await import_order(org, "ebay", shopify_rest())

    assert result["salesOrder"] is None
    assert errors_of(result) == [(["input", "marketplace"], "UNKNOWN_MARKETPLACE")]
    assert "ebay" in result["errors"][0]["message"]
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_imports_stay_in_their_organization(
    org: Organization, other_org: Organization
) -> None:
    # Given the same order imported by two organizations
    await create_items(org, *IPODS)
    await create_items(other_org, *IPODS)
    mine = await imported(org, "shopify", shopify_rest())

    theirs = await import_order(other_org, "shopify", shopify_rest())

    # Then each has its own order and customer
    assert theirs["created"] is True
    assert theirs["salesOrder"]["id"] != mine["id"]
    assert theirs["salesOrder"]["customer"]["id"] != mine["customer"]["id"]


async def test_items_of_another_organization_are_unknown(
    org: Organization, other_org: Organization
) -> None:
    await create_items(other_org, *IPODS)

    result = await import_order(org, "shopify", shopify_rest())

    assert [code for _, code in errors_of(result)] == ["UNKNOWN_SKU"] * 3


# --- never merged ----------------------------------------------------------------------------


async def test_a_marketplace_order_is_never_mergeable(org: Organization) -> None:
    # Given an imported order, and a direct order of the same customer
    await create_items(org, *IPODS)
    marketplace_order = await imported(org, "shopify", shopify_rest())
    customer = marketplace_order["customer"]["id"]
    chair = await org.item("CHAIR", "89.90")
    direct = await confirmed_order(org, customer, [{"itemId": chair, "quantity": "1"}])

    # Then the imported order says it cannot be merged, and why
    assert marketplace_order["mergeable"] is False
    assert marketplace_order["mergeBlockers"] == ["MERGE_MARKETPLACE_ORDER"]

    # And merging it with the direct order is refused for that reason, whichever comes first
    for ids in ([marketplace_order["id"], direct["id"]], [direct["id"], marketplace_order["id"]]):
        payload = await org.api.mutate(MERGE_ORDERS, {"ids": ids})
        assert payload["salesOrder"] is None
        assert (["input", "ids"], "MERGE_MARKETPLACE_ORDER") in errors_of(payload)
    assert await SalesOrder.filter(organization_id=org.id, status="CONFIRMED").count() == 2


# --- known bugs (see each reason) --------------------------------------------------------------


async def test_concurrent_imports_of_one_order_write_it_once(org: Organization) -> None:
    # Given the order's items
    await create_items(org, *IPODS)

    # When the same order is imported four times at once (a sync job and webhooks, say)
    results = await asyncio.gather(
        *(import_order(org, "shopify", shopify_rest()) for _ in range(4))
    )

    # Then one import created it and the others found it
    assert sorted(result["created"] for result in results) == [False, False, False, True]
    assert len({result["salesOrder"]["id"] for result in results}) == 1
    # with one customer and one tax
    assert await counts(org) == {"orders": 1, "lines": 3, "customers": 1, "taxes": 1}


async def test_concurrent_orders_of_one_new_buyer_make_one_customer(org: Organization) -> None:
    await create_items(org, *WOO_SKUS)
    bodies = [woo_order() for _ in range(4)]
    for number, body in enumerate(bodies, start=800):
        body["id"] = number

    results = await asyncio.gather(*(import_order(org, "woocommerce", body) for body in bodies))

    assert [result["created"] for result in results] == [True] * 4
    assert await counts(org) == {"orders": 4, "lines": 8, "customers": 1, "taxes": 1}


async def test_an_order_the_core_refuses_leaves_no_customer_behind(org: Organization) -> None:
    # Given a payload the adapter reads but the order domain refuses (a negative price)
    await create_items(org, *IPODS)
    body = shopify_rest()
    body["order"]["line_items"][0]["price"] = "-5.00"

    result = await import_order(org, "shopify", body)

    assert result["salesOrder"] is None
    assert "INVALID" in [code for _, code in errors_of(result)]
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}


async def test_what_the_order_domain_refuses_is_located_in_the_payload(
    org: Organization,
) -> None:
    await create_items(org, *IPODS)
    body = shopify_rest()
    body["order"]["line_items"][0]["price"] = "-5.00"

    result = await import_order(org, "shopify", body)

    assert len(result["errors"]) == 1, result["errors"]
    assert result["errors"][0]["field"][:2] == ["input", "payload"]


async def test_an_over_long_external_id_is_an_invalid_payload(org: Organization) -> None:
    await create_items(org, *IPODS)
    body = shopify_rest()
    body["order"]["id"] = "9" * 150

    response = await org.api.execute(
        IMPORT_ORDER, {"input": {"marketplace": "shopify", "payload": body}}
    )

    assert "errors" not in response, response["errors"]
    result = response["data"]["importMarketplaceOrder"]
    assert errors_of(result) == [(["input", "payload", "id"], "INVALID_PAYLOAD")]


async def test_an_import_skips_a_number_given_by_hand(org: Organization) -> None:
    # Given SO-00001 given by hand to an order, while the counter still stands at 1
    await create_items(org, *IPODS)
    customer = await org.customer()
    await org.order(
        customer, [{"itemId": await org.item("HAND", "1"), "quantity": "1"}], number="SO-00001"
    )

    # When a marketplace order is imported (the import holds the counter for its transaction)
    order = await imported(org, "shopify", shopify_rest())

    # Then it takes the next free number, and nothing of the refused attempt remains
    assert order["number"] == "SO-00002"
    assert (await counts(org))["orders"] == 2
