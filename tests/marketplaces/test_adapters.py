"""SPEC §9: the Shopify, Amazon and WooCommerce adapters map the marketplaces' own published
payloads exactly, reject what is not an order, and check webhook signatures. No database."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.amazon import adapter as amazon
from adapters.shopify import adapter as shopify
from adapters.woocommerce import adapter as woocommerce
from gqlorders.marketplaces import (
    InvalidPayload,
    MarketplaceAdapter,
    MarketplaceAddress,
    MarketplaceCustomer,
    MarketplaceLine,
    MarketplaceOrder,
    MarketplaceTotals,
)

# Real marketplace payloads, kept in the repository (tests/fixtures/marketplace/SOURCES.md).
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "marketplace"

D = Decimal
EST = timezone(timedelta(hours=-5))


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def shopify_rest() -> dict[str, Any]:
    return load("shopify_rest_2026-07_get_order_450789469.json")


def shopify_legacy() -> dict[str, Any]:
    return load("shopify_python_api_fixture_order.json")


def woo_order() -> dict[str, Any]:
    return load("woocommerce_v3_retrieve_order_727.json")


def amazon_v0(*, address: bool = True) -> dict[str, Any]:
    payload = {
        "order": load("amazon_ordersV0_getOrder_sandbox_TEST_CASE_200.json"),
        "orderItems": load("amazon_ordersV0_getOrderItems_sandbox_TEST_CASE_200.json"),
    }
    if address:
        payload["address"] = load("amazon_ordersV0_getOrderAddress_sandbox_TEST_CASE_200.json")
    return payload


def amazon_2026() -> dict[str, Any]:
    return load("amazon_orders2026-01-01_getOrder_example.json")


def payload_only(body: dict[str, Any]) -> dict[str, Any]:
    return {key: part["payload"] for key, part in body.items()}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_the_adapters_follow_the_protocol() -> None:
    assert [a.name for a in (shopify, amazon, woocommerce)] == ["shopify", "amazon", "woocommerce"]
    for adapter in (shopify, amazon, woocommerce):
        assert isinstance(adapter, MarketplaceAdapter)


def test_the_fixtures_are_found_beside_the_repository() -> None:
    assert (FIXTURES / "SOURCES.md").is_file(), FIXTURES


# --- Shopify ---------------------------------------------------------------------------------

BOB_ADDRESS = MarketplaceAddress(
    attention="Bob Norman",
    street1="Chestnut Street 92",
    street2=None,
    city="Louisville",
    state="KY",
    zip="40202",
    country="US",
)


def test_shopify_rest_order_2026_07() -> None:
    order = shopify.parse_order(shopify_rest())

    assert order.external_id == "450789469"
    assert order.name == "#1001"
    assert order.currency == "USD"
    assert order.updated_at == datetime(2008, 1, 10, 11, 0, tzinfo=EST)
    assert order.updated_at.tzinfo == UTC
    assert order.order_date == date(2008, 1, 10)
    assert order.customer == MarketplaceCustomer(
        name="Bob Norman",
        email="bob.norman@mail.example.com",
        phone="+557734881234",
        identity="shopify-customer:207119551",
    )
    # total_discount says 0.00 on every line: the allocations hold the real 10.00 discount.
    assert order.lines == [
        MarketplaceLine(
            sku=sku,
            description=f"IPod Nano - 8gb - {colour}",
            quantity=D("1"),
            unit_price=D("199.00"),
            discount=D(discount),
            tax=D("3.98"),
            tax_percentage=D("6"),
        )
        for sku, colour, discount in [
            ("IPOD2008GREEN", "green", "3.34"),
            ("IPOD2008RED", "red", "3.33"),
            ("IPOD2008BLACK", "black", "3.33"),
        ]
    ]
    assert sum(line.discount for line in order.lines) == D("10.00")
    assert order.totals == MarketplaceTotals(
        sub_total=D("597.00"),
        discount=D("10.00"),
        shipping=D("0.00"),
        tax=D("11.94"),
        total=D("598.94"),
    )
    assert order.prices_include_tax is False
    assert order.shipping_charge == D("0.00")
    assert order.billing_address == BOB_ADDRESS
    assert order.shipping_address == BOB_ADDRESS
    assert order.notes is None
    assert order.extra == {"shipping_tax": D("0.00")}


def test_shopify_python_api_fixture_order() -> None:
    # The older payload: no line tax_lines or discount allocations, and an order subtotal
    # (398.00) that disagrees with its three 199.00 lines. Kept as sent, not rejected.
    order = shopify.parse_order(shopify_legacy())

    assert order.external_id == "450789469"
    assert order.name == "#1001"
    assert order.currency == "USD"
    assert order.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.order_date == date(2008, 1, 10)
    assert order.customer == MarketplaceCustomer(
        name="Bob Norman",
        email="bob.norman@hostmail.com",
        phone="555-625-1199",
        identity="shopify-customer:207119551",
    )
    assert [(line.sku, line.description) for line in order.lines] == [
        ("IPOD2008GREEN", "IPod Nano - 8gb - green"),
        ("IPOD2008RED", "IPod Nano - 8gb - red"),
        ("IPOD2008BLACK", "IPod Nano - 8gb - black"),
    ]
    for line in order.lines:
        assert (line.quantity, line.unit_price, line.discount, line.tax) == (
            D("1"),
            D("199.00"),
            D("0"),
            D("0"),
        )
        assert line.tax_percentage is None
    assert order.totals == MarketplaceTotals(
        sub_total=D("398.00"),
        discount=D("0.00"),
        shipping=D("0.00"),  # from the shipping lines: there is no total_shipping_price_set
        tax=D("11.94"),
        total=D("409.94"),
    )
    assert order.shipping_charge == D("0.00")
    assert order.prices_include_tax is False
    assert order.billing_address == BOB_ADDRESS
    assert order.shipping_address == BOB_ADDRESS


@pytest.mark.parametrize("fixture", [shopify_rest, shopify_legacy])
def test_shopify_rest_wrapper_and_webhook_body_map_alike(fixture: Any) -> None:
    wrapped = fixture()
    assert shopify.parse_order(wrapped) == shopify.parse_order(wrapped["order"])


def test_shopify_ids_beyond_2_pow_53_stay_exact() -> None:
    body = shopify_rest()["order"]
    body["id"] = 5_678_901_234_567_890_123
    assert shopify.parse_order(body).external_id == "5678901234567890123"


def test_shopify_sku_null_or_empty_is_passed_through() -> None:
    body = shopify_rest()["order"]
    body["line_items"][0]["sku"] = None
    body["line_items"][1]["sku"] = ""
    skus = [line.sku for line in shopify.parse_order(body).lines]
    assert skus == [None, "", "IPOD2008BLACK"]


def test_shopify_discount_falls_back_to_total_discount() -> None:
    body = shopify_rest()["order"]
    line = body["line_items"][0]
    line["discount_allocations"] = []
    line["total_discount"] = "5.50"
    assert shopify.parse_order(body).lines[0].discount == D("5.50")


def test_shopify_several_tax_lines_sum_without_a_single_rate() -> None:
    body = shopify_rest()["order"]
    body["line_items"][0]["tax_lines"] = [
        {"price": "3.98", "rate": 0.06, "title": "State Tax"},
        {"price": "1.99", "rate": 0.03, "title": "County Tax"},
    ]
    body["line_items"][1]["tax_lines"][0]["rate"] = 0.0725
    lines = shopify.parse_order(body).lines
    assert (lines[0].tax, lines[0].tax_percentage) == (D("5.97"), None)
    assert lines[1].tax_percentage == D("7.25")


def test_shopify_taxes_included_means_gross_prices() -> None:
    body = shopify_rest()["order"]
    body["taxes_included"] = True
    order = shopify.parse_order(body)
    assert order.prices_include_tax is True
    assert order.lines[0].unit_price == D("199.00")  # as sent


def test_shopify_shipping_from_lines_and_its_tax() -> None:
    body = shopify_rest()["order"]
    del body["total_shipping_price_set"]
    body["shipping_lines"] = [
        {"price": "5.00", "tax_lines": [{"price": "0.30", "rate": 0.06}]},
        {"price": "2.50", "tax_lines": []},
    ]
    order = shopify.parse_order(body)
    assert order.shipping_charge == D("7.50")
    assert order.totals.shipping == D("7.50")
    assert order.extra["shipping_tax"] == D("0.30")


def test_shopify_guest_without_customer_uses_contact_email_and_address_name() -> None:
    body = shopify_rest()["order"]
    del body["customer"]
    body["email"] = ""
    body["phone"] = None
    customer = shopify.parse_order(body).customer
    assert customer == MarketplaceCustomer(
        name="Bob Norman",
        email="bob.norman@mail.example.com",
        phone="+1(502)-459-2181",
        identity=None,
    )


# --- WooCommerce -----------------------------------------------------------------------------

JOHN_ADDRESS = MarketplaceAddress(
    attention="John Doe",
    street1="969 Market",
    street2=None,
    city="San Francisco",
    state="CA",
    zip="94103",
    country="US",
)


def test_woocommerce_order_727() -> None:
    order = woocommerce.parse_order(woo_order())

    assert order.external_id == "727"
    assert order.name == "#727"
    assert order.currency == "USD"
    # the *_gmt fields, read as UTC (date_created is shop-local, 3 hours behind)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.order_date == date(2017, 3, 22)
    assert order.customer == MarketplaceCustomer(
        name="John Doe", email="john.doe@example.com", phone="(555) 555-5555", identity=None
    )
    assert order.lines == [
        MarketplaceLine(
            sku="",  # the core reports the missing SKU
            description="Woo Single #1",
            quantity=D("2"),
            unit_price=D("3"),
            discount=D("0"),
            tax=D("0.45"),
            tax_percentage=None,  # tax_lines carry no rate_percent in this version
        ),
        MarketplaceLine(
            sku="Bar3",
            description="Ship Your Idea \u2013 Color: Black, Size: M Test",  # &ndash; unescaped
            quantity=D("1"),
            unit_price=D("12"),
            discount=D("0"),
            tax=D("0.90"),
            tax_percentage=None,
        ),
    ]
    assert order.totals == MarketplaceTotals(
        sub_total=D("18.00"),
        discount=D("0.00"),
        shipping=D("10.00"),
        tax=D("1.35"),
        total=D("29.35"),
    )
    assert order.shipping_charge == D("10.00")
    assert order.prices_include_tax is False
    assert order.billing_address == JOHN_ADDRESS
    assert order.shipping_address == JOHN_ADDRESS
    assert order.notes is None
    assert order.extra == {"shipping_tax": D("0.00"), "shop_prices_include_tax": False}


def test_woocommerce_coupon_rate_percent_and_registered_customer() -> None:
    body = woo_order()
    body["customer_id"] = 12
    body["customer_note"] = "Leave at the door"
    body["tax_lines"][0]["rate_percent"] = 7.5
    line = body["line_items"][1]
    # a 2.00 coupon on 2 × 10.00: WooCommerce's `price` is total / quantity = 9
    line.update(quantity=2, subtotal="20.00", total="18.00", total_tax="1.35", price=9)
    order = woocommerce.parse_order(body)

    assert order.customer.identity == "woocommerce-customer:12"
    assert order.notes == "Leave at the door"
    coupon_line = order.lines[1]
    assert (coupon_line.unit_price, coupon_line.discount) == (D("10.00"), D("2.00"))
    assert coupon_line.quantity * coupon_line.unit_price - coupon_line.discount == D("18.00")
    assert coupon_line.tax == D("1.35")
    assert [line.tax_percentage for line in order.lines] == [D("7.5"), D("7.5")]
    assert order.totals.sub_total == D("26.00")


def test_woocommerce_line_amounts_are_net_even_when_the_shop_shows_gross() -> None:
    body = woo_order()
    body["prices_include_tax"] = True
    order = woocommerce.parse_order(body)
    assert order.prices_include_tax is False
    assert order.extra["shop_prices_include_tax"] is True
    assert order.lines[1].unit_price == D("12")


def test_woocommerce_fee_lines_are_kept_in_extra() -> None:
    body = woo_order()
    body["fee_lines"] = [{"id": 1, "name": "Gift wrap", "total": "2.50", "total_tax": "0.00"}]
    assert woocommerce.parse_order(body).extra["fees"] == D("2.50")


def test_woocommerce_uneven_unit_price_keeps_four_places() -> None:
    body = woo_order()
    body["line_items"][1].update(quantity=3, subtotal="10.00", total="10.00", price=3.3333333333)
    assert woocommerce.parse_order(body).lines[1].unit_price == D("3.3333")


# --- Amazon ----------------------------------------------------------------------------------


def test_amazon_v0_sandbox_order_with_address() -> None:
    order = amazon.parse_order(amazon_v0())

    assert order.external_id == "902-1845936-5435065"
    assert order.name == "902-1845936-5435065"
    assert order.currency == "USD"
    assert order.updated_at == datetime(1970, 1, 19, 3, 58, 32, tzinfo=UTC)
    assert order.order_date == date(1970, 1, 19)
    # no buyer e-mail in the sandbox: keyed by the order, named from the shipping address
    assert order.customer == MarketplaceCustomer(
        name="MFNIntegrationTestMerchant",
        email=None,
        phone="+1 480-386-0930 ext. 73824",
        identity="amazon-buyer:902-1845936-5435065",
    )
    assert order.lines == [
        MarketplaceLine(
            sku="NABetaASINB00551Q3CS",
            description="B00551Q3CS [Card Book]",
            quantity=D("1"),
            unit_price=D("10.00"),
            discount=D("0.00"),
            tax=D("1.01"),
            tax_percentage=None,
        )
    ]
    assert order.totals == MarketplaceTotals(
        sub_total=D("10.00"),
        discount=D("0.00"),
        shipping=D("0.00"),
        tax=D("1.01"),
        total=D("11.01"),
    )
    assert order.shipping_charge == D("0")
    assert order.prices_include_tax is False  # 10.00 + 1.01 tax = 11.01
    assert order.billing_address is None
    assert order.shipping_address == MarketplaceAddress(
        attention="MFNIntegrationTestMerchant",
        street1="2201 WESTLAKE AVE",
        street2=None,
        city="SEATTLE",
        state="WA",
        zip="98121-2778",
        country="US",
    )
    assert order.extra == {"shipping_tax": D("0.00"), "marketplace_id": "ATVPDKIKX0DER"}


def test_amazon_v0_without_address_or_e_mail() -> None:
    order = amazon.parse_order(amazon_v0(address=False))
    assert order.customer == MarketplaceCustomer(
        name="Amazon customer", email=None, phone=None, identity="amazon-buyer:902-1845936-5435065"
    )
    assert order.shipping_address is None
    assert order.lines == amazon.parse_order(amazon_v0()).lines


def test_amazon_v0_buyer_e_mail_when_given() -> None:
    body = amazon_v0()
    body["order"]["payload"]["BuyerInfo"] = {"BuyerEmail": "x7@marketplace.amazon.com"}
    customer = amazon.parse_order(body).customer
    assert customer.email == "x7@marketplace.amazon.com"
    assert customer.identity == "amazon-buyer:x7@marketplace.amazon.com"


@pytest.mark.parametrize("address", [True, False])
def test_amazon_whole_responses_and_payloads_map_alike(address: bool) -> None:
    whole = amazon_v0(address=address)
    expected = amazon.parse_order(whole)
    assert amazon.parse_order(payload_only(whole)) == expected
    mixed = dict(whole, orderItems=whole["orderItems"]["payload"])
    assert amazon.parse_order(mixed) == expected


@pytest.mark.parametrize(
    ("quantity", "item_price", "unit_price"),
    [(2, "10.00", "5.00"), (8, "10.00", "1.25"), (3, "10.00", "3.3333"), (3, "20.00", "6.6667")],
)
def test_amazon_item_price_is_for_the_whole_line(
    quantity: int, item_price: str, unit_price: str
) -> None:
    body = amazon_v0()
    item = body["orderItems"]["payload"]["OrderItems"][0]
    item["QuantityOrdered"] = quantity
    item["ItemPrice"]["Amount"] = item_price
    order = amazon.parse_order(body)
    assert order.lines[0].quantity == D(quantity)
    assert order.lines[0].unit_price == D(unit_price)
    assert order.totals.sub_total == D(item_price)  # Amazon's own figure, not re-multiplied


def test_amazon_shipping_and_promotions() -> None:
    body = amazon_v0()
    item = body["orderItems"]["payload"]["OrderItems"][0]
    item["ShippingPrice"] = {"CurrencyCode": "USD", "Amount": "4.99"}
    item["ShippingDiscount"] = {"CurrencyCode": "USD", "Amount": "1.00"}
    item["ShippingTax"] = {"CurrencyCode": "USD", "Amount": "0.40"}
    item["PromotionDiscount"] = {"CurrencyCode": "USD", "Amount": "2.00"}
    body["order"]["payload"]["OrderTotal"]["Amount"] = "13.40"
    order = amazon.parse_order(body)
    assert order.lines[0].discount == D("2.00")
    assert order.shipping_charge == D("3.99")
    assert order.totals == MarketplaceTotals(
        sub_total=D("10.00"),
        discount=D("2.00"),
        shipping=D("3.99"),
        tax=D("1.41"),
        total=D("13.40"),
    )
    assert order.extra["shipping_tax"] == D("0.40")
    assert order.prices_include_tax is False


def test_amazon_vat_marketplace_prices_are_gross() -> None:
    # EU/UK: ItemPrice includes the VAT that ItemTax reports, so the total does not add it.
    body = amazon_v0()
    body["order"]["payload"]["OrderTotal"]["Amount"] = "10.00"
    assert amazon.parse_order(body).prices_include_tax is True


def test_amazon_cancelled_items_are_left_out() -> None:
    body = amazon_v0()
    items = body["orderItems"]["payload"]["OrderItems"]
    cancelled = copy.deepcopy(items[0])
    cancelled.update(OrderItemId="999", QuantityOrdered=0)
    del cancelled["ItemPrice"]
    items.append(cancelled)
    order = amazon.parse_order(body)
    assert len(order.lines) == 1
    assert order.extra["cancelled_items"] == ["999"]

    items[0]["QuantityOrdered"] = 0
    with pytest.raises(InvalidPayload, match="cancelled order"):
        amazon.parse_order(body)


@pytest.mark.parametrize("part", ["orderItems", "address"])
def test_amazon_parts_of_another_order_are_rejected(part: str) -> None:
    body = amazon_v0()
    body[part]["payload"]["AmazonOrderId"] = "111-0000000-0000000"
    with pytest.raises(InvalidPayload, match="111-0000000-0000000") as caught:
        amazon.parse_order(body)
    assert caught.value.path == (part, "payload", "AmazonOrderId")


def test_amazon_v0_needs_its_items() -> None:
    body = amazon_v0()
    del body["orderItems"]
    with pytest.raises(InvalidPayload, match="orderItems") as caught:
        amazon.parse_order(body)
    assert caught.value.path == ("orderItems",)


def test_amazon_v0_items_must_be_complete_and_priced() -> None:
    body = amazon_v0()
    body["orderItems"]["payload"]["NextToken"] = "abc"
    with pytest.raises(InvalidPayload, match="NextToken"):
        amazon.parse_order(body)

    body = amazon_v0()
    del body["orderItems"]["payload"]["OrderItems"][0]["ItemPrice"]
    with pytest.raises(InvalidPayload, match="ItemPrice") as caught:
        amazon.parse_order(body)
    assert caught.value.path == ("orderItems", "payload", "OrderItems", 0, "ItemPrice")

    body = amazon_v0()
    body["orderItems"]["payload"]["OrderItems"][0]["ItemTax"]["CurrencyCode"] = "EUR"
    with pytest.raises(InvalidPayload, match="EUR"):
        amazon.parse_order(body)


def test_amazon_orders_2026_01_01_get_order() -> None:
    order = amazon.parse_order(amazon_2026())

    assert order.external_id == "202-1234567-8901234"
    assert order.name == "202-1234567-8901234"
    assert order.currency == "GBP"
    assert order.updated_at == datetime(2024, 12, 25, 16, 30, tzinfo=UTC)
    assert order.order_date == date(2024, 12, 25)
    assert order.customer == MarketplaceCustomer(
        name="James Wilson",
        email="buyer-email@marketplace.amazon.co.uk",
        phone="+44 161 123 4567",
        identity="amazon-buyer:buyer-email@marketplace.amazon.co.uk",
    )
    assert order.lines == [
        MarketplaceLine(
            sku="ECHO-DOT-4-UK-CHARCOAL-3PACK",
            description="Echo Dot (4th Gen) | Smart speaker with Alexa | Charcoal",
            quantity=D("3"),
            unit_price=D("29.99"),  # unitPrice is per unit in this API
            discount=D("0"),
            tax=D("3.00"),  # the ITEM share of the 4.00 tax; 1.00 is on shipping
            tax_percentage=None,
        )
    ]
    assert order.totals == MarketplaceTotals(
        sub_total=D("89.97"),
        discount=D("0"),
        shipping=D("10.00"),
        tax=D("4.00"),
        total=D("103.97"),
    )
    assert order.shipping_charge == D("10.00")
    assert order.prices_include_tax is False
    assert order.billing_address is None
    assert order.shipping_address == MarketplaceAddress(
        attention="James Wilson",
        street1="123 High Street",
        street2="Unit 4B",
        city="Manchester",
        state="England",
        zip="M1 2AB",
        country="GB",
    )
    assert order.extra == {"shipping_tax": D("1.00"), "marketplace_id": "A1F83G8C2ARO7P"}


def test_amazon_2026_response_body_alone_or_inside_order_maps_alike() -> None:
    body = amazon_2026()
    assert amazon.parse_order({"order": body}) == amazon.parse_order(body)


def test_amazon_2026_discounts_come_from_the_proceeds() -> None:
    body = amazon_2026()
    item = body["order"]["orderItems"][0]
    item["proceeds"]["breakdowns"].append(
        {
            "type": "DISCOUNT",
            "subtotal": {"amount": "-7.00", "currencyCode": "GBP"},
            "detailedBreakdowns": [
                {"subtype": "ITEM", "value": {"amount": "-5.00", "currencyCode": "GBP"}},
                {"subtype": "SHIPPING", "value": {"amount": "-2.00", "currencyCode": "GBP"}},
            ],
        }
    )
    body["order"]["proceeds"]["grandTotal"]["amount"] = "96.97"
    order = amazon.parse_order(body)
    assert order.lines[0].discount == D("5.00")
    assert order.shipping_charge == D("8.00")
    assert (order.totals.discount, order.totals.total) == (D("5.00"), D("96.97"))


def test_amazon_2026_needs_items_and_unit_prices() -> None:
    body = amazon_2026()
    body["order"]["orderItems"] = []
    with pytest.raises(InvalidPayload, match="empty"):
        amazon.parse_order(body)

    body = amazon_2026()
    del body["order"]["orderItems"][0]["product"]["price"]
    with pytest.raises(InvalidPayload, match="price") as caught:
        amazon.parse_order(body)
    assert caught.value.path == ("order", "orderItems", 0, "product", "price")


def test_amazon_has_no_webhooks() -> None:
    body = b'{"order": {}}'
    headers = {"X-Amz-Signature": sign(body, "s3cret")}
    assert amazon.verify_webhook(body, headers, "s3cret") is False


# --- what is not an order --------------------------------------------------------------------

ADAPTERS = [shopify, amazon, woocommerce]


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
@pytest.mark.parametrize(
    "payload",
    [None, [], {}, {"foo": 1}, "order", 42, [{"id": 1}], {"order": None}, {"order": []}],
    ids=repr,
)
def test_garbage_is_not_an_order(adapter: MarketplaceAdapter, payload: Any) -> None:
    with pytest.raises(InvalidPayload):
        adapter.parse_order(payload)


@pytest.mark.parametrize(
    ("adapter", "payload"),
    [
        (woocommerce, shopify_rest()),
        (woocommerce, shopify_rest()["order"]),
        (woocommerce, amazon_v0()),
        (shopify, woo_order()),
        (shopify, amazon_v0()),
        (amazon, shopify_rest()),
        (amazon, woo_order()),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_another_marketplaces_order_is_not_an_order(
    adapter: MarketplaceAdapter, payload: Any
) -> None:
    with pytest.raises(InvalidPayload):
        adapter.parse_order(payload)


def test_invalid_payload_names_what_and_where() -> None:
    body = shopify_rest()
    body["order"]["line_items"][1]["price"] = "twelve"
    with pytest.raises(InvalidPayload, match="twelve") as caught:
        shopify.parse_order(body)
    assert caught.value.path == ("order", "line_items", 1, "price")
    assert "order.line_items[1].price" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda o: o.pop("id"), ("id",)),
        (lambda o: o.update(id=None), ("id",)),
        (lambda o: o.update(line_items=[]), ("line_items",)),
        (lambda o: o.pop("line_items"), ("line_items",)),
        (lambda o: o.update(line_items="none"), ("line_items",)),
        (lambda o: o["line_items"].__setitem__(0, "x"), ("line_items", 0)),
        (lambda o: o["line_items"][0].update(quantity=0), ("line_items", 0, "quantity")),
        (lambda o: o["line_items"][0].update(quantity=-1), ("line_items", 0, "quantity")),
        (lambda o: o["line_items"][0].update(quantity=True), ("line_items", 0, "quantity")),
        (lambda o: o["line_items"][0].pop("price"), ("line_items", 0, "price")),
        (lambda o: o.update(total_price="NaN"), ("total_price",)),
        (lambda o: o.update(total_tax=[1]), ("total_tax",)),
        (lambda o: o.update(created_at="yesterday"), ("created_at",)),
        (
            lambda o: o["line_items"][0]["discount_allocations"][0].update(amount="3,34"),
            ("line_items", 0, "discount_allocations", 0, "amount"),
        ),
    ],
)
def test_shopify_rejects_broken_orders(change: Any, path: tuple[Any, ...]) -> None:
    body = shopify_rest()["order"]
    change(body)
    with pytest.raises(InvalidPayload) as caught:
        shopify.parse_order(body)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda o: o.pop("id"), ("id",)),
        (lambda o: o.update(line_items=[]), ("line_items",)),
        (lambda o: o.pop("date_created_gmt"), ("date_created_gmt",)),
        (lambda o: o["line_items"][0].update(quantity=0), ("line_items", 0, "quantity")),
        (lambda o: o["line_items"][0].update(subtotal="six"), ("line_items", 0, "subtotal")),
        (lambda o: o["line_items"][1].update(total=None), ("line_items", 1, "total")),
        (lambda o: o.update(total={"amount": 1}), ("total",)),
        (lambda o: o.update(currency=""), ("currency",)),
    ],
)
def test_woocommerce_rejects_broken_orders(change: Any, path: tuple[Any, ...]) -> None:
    body = woo_order()
    change(body)
    with pytest.raises(InvalidPayload) as caught:
        woocommerce.parse_order(body)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda b: b["order"]["payload"].pop("AmazonOrderId"),
            ("order", "payload", "AmazonOrderId"),
        ),
        (
            lambda b: b["orderItems"]["payload"].update(OrderItems=[]),
            ("orderItems", "payload", "OrderItems"),
        ),
        (
            lambda b: b["orderItems"]["payload"]["OrderItems"][0].update(QuantityOrdered=-2),
            ("orderItems", "payload", "OrderItems", 0, "QuantityOrdered"),
        ),
        (
            lambda b: b["orderItems"]["payload"]["OrderItems"][0]["ItemPrice"].update(Amount="x"),
            ("orderItems", "payload", "OrderItems", 0, "ItemPrice", "Amount"),
        ),
    ],
)
def test_amazon_rejects_broken_orders(change: Any, path: tuple[Any, ...]) -> None:
    body = amazon_v0()
    change(body)
    with pytest.raises(InvalidPayload) as caught:
        amazon.parse_order(body)
    assert caught.value.path == path


def real_orders() -> list[tuple[MarketplaceAdapter, dict[str, Any]]]:
    """Each adapter with the real payloads of its marketplace, fresh for every call."""
    return [
        (shopify, shopify_rest()),
        (woocommerce, woo_order()),
        (amazon, amazon_v0()),
        (amazon, amazon_2026()),
    ]


def test_parsing_leaves_the_payload_untouched() -> None:
    for adapter, payload in real_orders():
        before = copy.deepcopy(payload)
        adapter.parse_order(payload)
        assert payload == before


def test_results_are_normalized_orders() -> None:
    for adapter, payload in real_orders():
        order = adapter.parse_order(payload)
        assert isinstance(order, MarketplaceOrder)
        assert order.updated_at.tzinfo is not None
        for line in order.lines:
            for amount in (line.quantity, line.unit_price, line.discount, line.tax):
                assert isinstance(amount, Decimal)


# --- webhook signatures ----------------------------------------------------------------------

SIGNED = [(shopify, "X-Shopify-Hmac-Sha256"), (woocommerce, "X-WC-Webhook-Signature")]
SECRET = "hush-hush"


@pytest.fixture(params=SIGNED, ids=lambda p: p[0].name)
def signed(request: pytest.FixtureRequest) -> tuple[MarketplaceAdapter, str, bytes]:
    adapter, header_name = request.param
    body = json.dumps(shopify_rest()["order"] if adapter is shopify else woo_order()).encode()
    return adapter, header_name, body


def test_a_valid_signature_is_accepted(signed: tuple[MarketplaceAdapter, str, bytes]) -> None:
    adapter, header_name, body = signed
    headers = {"Content-Type": "application/json", header_name: sign(body, SECRET)}
    assert adapter.verify_webhook(body, headers, SECRET) is True


@pytest.mark.parametrize("spelling", [str.lower, str.upper, lambda s: s])
def test_the_signature_header_is_found_whatever_its_case(
    signed: tuple[MarketplaceAdapter, str, bytes], spelling: Any
) -> None:
    adapter, header_name, body = signed
    assert adapter.verify_webhook(body, {spelling(header_name): sign(body, SECRET)}, SECRET)


def test_a_missing_signature_is_rejected(signed: tuple[MarketplaceAdapter, str, bytes]) -> None:
    adapter, header_name, body = signed
    assert adapter.verify_webhook(body, {}, SECRET) is False
    assert adapter.verify_webhook(body, {header_name: ""}, SECRET) is False
    assert adapter.verify_webhook(body, {"X-Other": sign(body, SECRET)}, SECRET) is False


def test_a_wrong_signature_is_rejected(signed: tuple[MarketplaceAdapter, str, bytes]) -> None:
    adapter, header_name, body = signed
    assert adapter.verify_webhook(body, {header_name: sign(body, "other")}, SECRET) is False
    assert adapter.verify_webhook(body, {header_name: "not base64 at all"}, SECRET) is False
    assert adapter.verify_webhook(body, {header_name: sign(body, SECRET)}, "") is False


def test_a_tampered_body_is_rejected(signed: tuple[MarketplaceAdapter, str, bytes]) -> None:
    adapter, header_name, body = signed
    headers = {header_name: sign(body, SECRET)}
    tampered = body.replace(b'"USD"', b'"EUR"')
    assert tampered != body
    assert adapter.verify_webhook(tampered, headers, SECRET) is False
    assert adapter.verify_webhook(body + b" ", headers, SECRET) is False
