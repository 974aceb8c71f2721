"""WooCommerce: a REST API v3 order or an `order.created|updated` webhook body (same object)
mapped to a `MarketplaceOrder`.

WooCommerce stores every line amount without tax, whatever the shop's `prices_include_tax`
setting: line `subtotal` (before coupons) and `total` (after) are net, their tax is given apart
(`subtotal_tax`, `total_tax`), and the REST `price` is `total / quantity`, i.e. the net price
*after* coupons. So the normalized lines are always net (`prices_include_tax=False`), with the
unit price taken from `subtotal / quantity` and the coupon as `subtotal - total`; using `price`
there would count the coupon twice. The shop's own setting is kept in `extra`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from adapters._common import (
    ZERO,
    Loc,
    address,
    at_most_4_places,
    decimal,
    field,
    header,
    ident,
    items_list,
    joined,
    mapping,
    money,
    quantity,
    rows,
    sub_mapping,
    sum_of,
    text,
    timestamp,
)
from gqlorders.marketplaces import (
    InvalidPayload,
    MarketplaceAddress,
    MarketplaceCustomer,
    MarketplaceLine,
    MarketplaceOrder,
    MarketplaceTotals,
    verify_base64_hmac_sha256,
)

SIGNATURE_HEADER = "X-WC-Webhook-Signature"


class WooCommerceAdapter:
    """Maps WooCommerce orders; webhooks are signed base64(HMAC-SHA256(secret, body))."""

    name = "woocommerce"

    def parse_order(self, payload: Any) -> MarketplaceOrder:
        """Map a WooCommerce order object; InvalidPayload when it is not one."""
        loc: Loc = ()
        order = mapping(payload, loc, "a WooCommerce order object")
        external_id = ident(order, "id", loc)
        currency = text(field(order, "currency", loc))
        if currency is None:
            raise InvalidPayload("the order's currency is empty", ("currency",))
        # `date_created`/`date_modified` are shop-local without an offset: use the GMT twins.
        created = timestamp(order, "date_created_gmt", loc)
        updated_key = "date_modified_gmt" if order.get("date_modified_gmt") else "date_created_gmt"
        rates = _rate_percents(order, loc)
        items_list(order, "line_items", loc, required=True)
        line_rows = rows(order, "line_items", loc)
        lines = [_line(row, row_loc, rates) for row, row_loc in line_rows]
        shipping = money(order, "shipping_total", loc, ZERO)
        extra: dict[str, Any] = {
            "shipping_tax": money(order, "shipping_tax", loc, ZERO),
            "shop_prices_include_tax": order.get("prices_include_tax") is True,
        }
        fees = sum_of(order, "fee_lines", "total", loc)
        if fees:
            extra["fees"] = fees  # part of `total` but of no product line
        return MarketplaceOrder(
            external_id=external_id,
            name=f"#{text(order.get('number')) or external_id}",
            updated_at=timestamp(order, updated_key, loc),
            order_date=created.date(),
            currency=currency,
            customer=_customer(order, loc),
            lines=lines,
            totals=MarketplaceTotals(
                sub_total=sum(
                    (money(row, "subtotal", row_loc) for row, row_loc in line_rows), ZERO
                ),
                discount=money(order, "discount_total", loc, ZERO),
                shipping=shipping,
                tax=money(order, "total_tax", loc, ZERO),
                total=money(order, "total", loc),
            ),
            prices_include_tax=False,  # line amounts are net whatever the shop shows: see above
            shipping_charge=shipping,
            billing_address=_address(order, "billing", loc),
            shipping_address=_address(order, "shipping", loc),
            notes=text(order.get("customer_note")),
            extra=extra,
        )

    def verify_webhook(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """WooCommerce signs the raw body: base64(HMAC-SHA256(webhook secret, body))."""
        return verify_base64_hmac_sha256(body, header(headers, SIGNATURE_HEADER), secret)


def _rate_percents(order: Mapping[str, Any], loc: Loc) -> dict[str, Decimal]:
    """Tax rate id -> percent, from the order's tax lines that say it (`rate_percent` is
    missing on older WooCommerce versions: the core then derives the rate)."""
    rates: dict[str, Decimal] = {}
    for row, row_loc in rows(order, "tax_lines", loc):
        rate_id, percent = text(row.get("rate_id")), row.get("rate_percent")
        if rate_id is not None and percent is not None and percent != "":
            rates[rate_id] = at_most_4_places(decimal(percent, (*row_loc, "rate_percent")))
    return rates


def _line(line: Mapping[str, Any], loc: Loc, rates: Mapping[str, Decimal]) -> MarketplaceLine:
    """One product line, net of tax: unit price before coupons, coupon as the discount."""
    qty = quantity(line, "quantity", loc)
    subtotal = money(line, "subtotal", loc)
    total = money(line, "total", loc)
    applied = [row for row, _ in rows(line, "taxes", loc) if text(row.get("total")) is not None]
    tax_percentage = None
    if len(applied) == 1:  # line `taxes[].id` is the tax rate id of the order's tax line
        tax_percentage = rates.get(text(applied[0].get("id")) or "")
    sku = line.get("sku")
    return MarketplaceLine(
        sku=None if sku is None else str(sku),  # "" and None go to the core as sent
        description=html.unescape(text(line.get("name")) or ""),
        quantity=qty,
        unit_price=at_most_4_places(subtotal / qty),
        discount=subtotal - total,
        tax=money(line, "total_tax", loc, ZERO),
        tax_percentage=tax_percentage,
    )


def _customer(order: Mapping[str, Any], loc: Loc) -> MarketplaceCustomer:
    """The buyer from the billing details; a registered customer's id is the identity."""
    billing = sub_mapping(order, "billing", loc) or {}
    shipping = sub_mapping(order, "shipping", loc) or {}
    email = text(billing.get("email"))
    customer_id = text(order.get("customer_id"))
    return MarketplaceCustomer(
        name=joined(billing.get("first_name"), billing.get("last_name"))
        or text(billing.get("company"))
        or joined(shipping.get("first_name"), shipping.get("last_name"))
        or email
        or "WooCommerce customer",
        email=email,
        phone=text(billing.get("phone")) or text(shipping.get("phone")),
        identity=(
            f"woocommerce-customer:{customer_id}"
            if customer_id is not None and customer_id != "0"  # 0: a guest checkout
            else None
        ),
    )


def _address(order: Mapping[str, Any], key: str, loc: Loc) -> MarketplaceAddress | None:
    raw = sub_mapping(order, key, loc)
    if raw is None:
        return None
    return address(
        attention=joined(raw.get("first_name"), raw.get("last_name")) or raw.get("company"),
        street1=raw.get("address_1"),
        street2=raw.get("address_2"),
        city=raw.get("city"),
        state=raw.get("state"),
        zip_code=raw.get("postcode"),
        country=raw.get("country"),
    )


adapter = WooCommerceAdapter()
