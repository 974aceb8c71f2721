"""Shopify: a REST Admin order (`{"order": {...}}`) or an `orders/create|updated` webhook body
(the same order object without the wrapper) mapped to a `MarketplaceOrder`.

Amounts are the shop-currency strings (`price`, `subtotal_price`, ...), read with Decimal. Lines
keep the quantity originally sold: refunds and edits (`current_*` fields) are Shopify's
after-sale history, not what the order was.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from adapters._common import (
    ZERO,
    Loc,
    address,
    field,
    header,
    ident,
    items_list,
    joined,
    local_date,
    mapping,
    money,
    percent_from_fraction,
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

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"


class ShopifyAdapter:
    """Maps Shopify orders; webhooks are signed base64(HMAC-SHA256(secret, body))."""

    name = "shopify"

    def parse_order(self, payload: Any) -> MarketplaceOrder:
        """Map a REST order (wrapped) or a webhook order (bare); InvalidPayload otherwise."""
        order, loc = _unwrap(payload)
        external_id = ident(order, "id", loc)
        currency = text(field(order, "currency", loc))
        if currency is None:
            raise InvalidPayload("the order's currency is empty", (*loc, "currency"))
        items_list(order, "line_items", loc, required=True)
        lines = [_line(row, row_loc) for row, row_loc in rows(order, "line_items", loc)]
        shipping = _shipping(order, loc)
        updated_key = "updated_at" if order.get("updated_at") else "created_at"
        return MarketplaceOrder(
            external_id=external_id,
            name=text(order.get("name")) or f"#{order.get('order_number') or external_id}",
            updated_at=timestamp(order, updated_key, loc),
            order_date=local_date(order, "created_at", loc),
            currency=currency,
            customer=_customer(order, loc),
            lines=lines,
            totals=MarketplaceTotals(
                sub_total=money(order, "subtotal_price", loc),
                discount=money(order, "total_discounts", loc, ZERO),
                shipping=shipping,
                tax=money(order, "total_tax", loc, ZERO),
                total=money(order, "total_price", loc),
            ),
            prices_include_tax=order.get("taxes_included") is True,
            shipping_charge=shipping,
            billing_address=_address(order, "billing_address", loc),
            shipping_address=_address(order, "shipping_address", loc),
            notes=text(order.get("note")),
            extra={"shipping_tax": _shipping_tax(order, loc)},
        )

    def verify_webhook(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """Shopify signs the raw body: base64(HMAC-SHA256(app secret, body)) in a header."""
        return verify_base64_hmac_sha256(body, header(headers, SIGNATURE_HEADER), secret)


def _unwrap(payload: Any) -> tuple[Mapping[str, Any], Loc]:
    """The REST response wraps the order in {"order": ...}; a webhook body is the order."""
    root = mapping(payload, (), "a Shopify order object")
    if "id" not in root and isinstance(root.get("order"), Mapping):
        return root["order"], ("order",)
    return root, ()


def _line(line: Mapping[str, Any], loc: Loc) -> MarketplaceLine:
    """One line item; `price` is per unit (gross when the order's taxes are included)."""
    if line.get("discount_allocations"):
        # `total_discount` can say 0.00 while the allocations hold the real discount.
        discount = sum_of(line, "discount_allocations", "amount", loc)
    else:
        discount = money(line, "total_discount", loc, ZERO)
    tax_lines = rows(line, "tax_lines", loc)
    tax_percentage: Decimal | None = None
    if len(tax_lines) == 1 and tax_lines[0][0].get("rate") is not None:
        tax_line, tax_loc = tax_lines[0]
        tax_percentage = percent_from_fraction(tax_line["rate"], (*tax_loc, "rate"))
    sku = line.get("sku")
    return MarketplaceLine(
        sku=None if sku is None else str(sku),  # "" and None go to the core as sent
        description=text(line.get("name")) or text(line.get("title")) or "",
        quantity=quantity(line, "quantity", loc),
        unit_price=money(line, "price", loc),
        discount=discount,
        tax=sum_of(line, "tax_lines", "price", loc),
        tax_percentage=tax_percentage,
    )


def _shipping(order: Mapping[str, Any], loc: Loc) -> Decimal:
    """The shipping price set when present, else the sum of the shipping lines."""
    price_set = sub_mapping(order, "total_shipping_price_set", loc)
    set_loc = (*loc, "total_shipping_price_set")
    shop_money = sub_mapping(price_set, "shop_money", set_loc) if price_set else None
    if shop_money is not None:
        return money(shop_money, "amount", (*set_loc, "shop_money"))
    return sum_of(order, "shipping_lines", "price", loc)


def _shipping_tax(order: Mapping[str, Any], loc: Loc) -> Decimal:
    """Tax on shipping: part of `total_tax` but of no line (the normalized order has no field)."""
    return sum(
        (
            sum_of(row, "tax_lines", "price", row_loc)
            for row, row_loc in rows(order, "shipping_lines", loc)
        ),
        ZERO,
    )


def _customer(order: Mapping[str, Any], loc: Loc) -> MarketplaceCustomer:
    """The buyer: e-mail from the order (or its customer), name from the customer or an
    address, and the Shopify customer id as identity for guests without e-mail."""
    customer = sub_mapping(order, "customer", loc) or {}
    billing = sub_mapping(order, "billing_address", loc) or {}
    shipping = sub_mapping(order, "shipping_address", loc) or {}
    email = (
        text(order.get("email")) or text(order.get("contact_email")) or text(customer.get("email"))
    )
    name = (
        joined(customer.get("first_name"), customer.get("last_name"))
        or text(billing.get("name"))
        or joined(billing.get("first_name"), billing.get("last_name"))
        or text(shipping.get("name"))
        or joined(shipping.get("first_name"), shipping.get("last_name"))
        or email
        or "Shopify customer"
    )
    customer_id = customer.get("id")
    return MarketplaceCustomer(
        name=name,
        email=email,
        phone=text(order.get("phone")) or text(customer.get("phone")) or text(billing.get("phone")),
        identity=f"shopify-customer:{customer_id}" if text(customer_id) else None,
    )


def _address(order: Mapping[str, Any], key: str, loc: Loc) -> MarketplaceAddress | None:
    raw = sub_mapping(order, key, loc)
    if raw is None:
        return None
    return address(
        attention=text(raw.get("name")) or joined(raw.get("first_name"), raw.get("last_name")),
        street1=raw.get("address1"),
        street2=raw.get("address2"),
        city=raw.get("city"),
        state=text(raw.get("province_code")) or raw.get("province"),
        zip_code=raw.get("zip"),
        country=raw.get("country_code"),
    )


adapter = ShopifyAdapter()
