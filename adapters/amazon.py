"""Amazon (Selling Partner API): an order as a sync job collects it, mapped to a
`MarketplaceOrder`.

The payload is `{"order": ..., "orderItems": ..., "address": ...}`, each part either a whole
response body (`{"payload": {...}}`) or just its payload; `address` is optional. Two shapes of
order are understood:

- Orders V0 (`AmazonOrderId`): getOrder + getOrderItems (+ getOrderAddress). `ItemPrice` there
  is the price of the whole line (unit price × quantity).
- Orders 2026-01-01 (`orderId`): getOrder's `{"order": {...}}`, which carries its own
  `orderItems` with a per-unit `product.price.unitPrice` and a `proceeds` breakdown per item
  (ITEM, SHIPPING, TAX, DISCOUNT, ...); a separate `orderItems` part is not needed.

Amazon gives tax apart from prices (`ItemTax`, `ShippingTax`), but in marketplaces with VAT the
prices include it: when the order total equals items + shipping - discounts without adding the
tax, the prices are taken as gross (`prices_include_tax=True`), otherwise as net.

Buyer e-mail and address are restricted data (absent in the sandbox): the customer is then
keyed by `identity` = "amazon-buyer:<order id>" and named from the shipping address, else
"Amazon customer".
"""

from __future__ import annotations

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
    ident,
    items_list,
    joined,
    local_date,
    mapping,
    rows,
    sub_mapping,
    text,
    timestamp,
    where,
)
from gqlorders.marketplaces import (
    InvalidPayload,
    MarketplaceCustomer,
    MarketplaceLine,
    MarketplaceOrder,
    MarketplaceTotals,
)

DEFAULT_CUSTOMER_NAME = "Amazon customer"


class AmazonAdapter:
    """Maps Amazon SP-API orders (V0 and 2026-01-01). No webhooks: see `verify_webhook`."""

    name = "amazon"

    def parse_order(self, payload: Any) -> MarketplaceOrder:
        """Map `{"order", "orderItems", "address"}`; InvalidPayload when it is not an order."""
        root = mapping(payload, (), 'an object {"order": ..., "orderItems": ...}')
        order, order_loc = _part(root, "order", required=True)
        if "orderId" in order and "AmazonOrderId" not in order:
            return _parse_2026(root, order, order_loc)
        return _parse_v0(root, order, order_loc)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """Always False: Amazon pushes no signed HTTP webhooks. SP-API notifications travel
        through Amazon SQS or EventBridge, so orders come in only through the import mutation
        (a sync job polling the Orders API), never through the webhook endpoint."""
        return False


def _part(root: Mapping[str, Any], key: str, *, required: bool) -> tuple[Any, Loc]:
    """One part of the payload, a whole response body or just its `payload`/`order`."""
    value = root.get(key)
    if value is None:
        if required:
            raise InvalidPayload(f"{key} is missing", (key,))
        return None, (key,)
    loc: Loc = (key,)
    body = mapping(value, loc)
    if isinstance(body.get("payload"), Mapping):  # an Orders V0 response body
        return body["payload"], (*loc, "payload")
    if isinstance(body.get("order"), Mapping) and not _has_order_id(body):  # a 2026 body
        return body["order"], (*loc, "order")
    return body, loc


def _has_order_id(obj: Mapping[str, Any]) -> bool:
    return "AmazonOrderId" in obj or "orderId" in obj


def _check_same_order(order_id: str, part: Mapping[str, Any] | None, loc: Loc) -> None:
    """A part fetched for another order must not be merged into this one."""
    if part is None or part.get("AmazonOrderId") is None:
        return
    other = str(part["AmazonOrderId"])
    if other != order_id:
        raise InvalidPayload(
            f"{where((*loc, 'AmazonOrderId'))} is {other}, not the order's {order_id}",
            (*loc, "AmazonOrderId"),
        )


def _amount(obj: Mapping[str, Any] | None, key: str, loc: Loc, currency: str | None) -> Decimal:
    """A Money object's amount (0.00 when absent), checked against the order's currency."""
    if obj is None or obj.get(key) is None:
        return ZERO
    value = mapping(obj[key], (*loc, key))
    amount_key = "Amount" if "Amount" in value or "CurrencyCode" in value else "amount"
    currency_key = "CurrencyCode" if amount_key == "Amount" else "currencyCode"
    code = text(value.get(currency_key))
    if currency is not None and code is not None and code != currency:
        raise InvalidPayload(
            f"{where((*loc, key))} is in {code}, the order in {currency}",
            (*loc, key, currency_key),
        )
    return decimal(field(value, amount_key, (*loc, key)), (*loc, key, amount_key))


def _money_currency(obj: Mapping[str, Any] | None, key: str) -> str | None:
    value = obj.get(key) if obj is not None else None
    if not isinstance(value, Mapping):
        return None
    return text(value.get("CurrencyCode")) or text(value.get("currencyCode"))


def _prices_include_tax(total: Decimal, net: Decimal, tax: Decimal) -> bool:
    """VAT marketplaces price gross: the order total then does not add the tax again."""
    return tax != 0 and total == net


def _customer(order_id: str, email: str | None, name: Any, phone: Any) -> MarketplaceCustomer:
    return MarketplaceCustomer(
        name=text(name) or DEFAULT_CUSTOMER_NAME,
        email=email,
        phone=text(phone),
        identity=f"amazon-buyer:{email or order_id}",
    )


# --- Orders V0 -----------------------------------------------------------------------------


def _parse_v0(root: Mapping[str, Any], order: Mapping[str, Any], loc: Loc) -> MarketplaceOrder:
    order_id = ident(order, "AmazonOrderId", loc)
    items_part, items_loc = _part(root, "orderItems", required=False)
    if items_part is None:
        raise InvalidPayload(
            "orderItems is missing: an Orders V0 order needs its getOrderItems response",
            ("orderItems",),
        )
    _check_same_order(order_id, items_part, items_loc)
    if items_part.get("NextToken"):
        raise InvalidPayload(
            "orderItems is one page of several (NextToken): merge every page first",
            (*items_loc, "NextToken"),
        )
    address_part, address_loc = _part(root, "address", required=False)
    _check_same_order(order_id, address_part, address_loc)

    currency = _money_currency(order, "OrderTotal")
    raw_items = items_list(items_part, "OrderItems", items_loc, required=True)
    if currency is None:
        currency = next(
            (c for i in raw_items if (c := _money_currency(_as_map(i), "ItemPrice"))), None
        )
    if currency is None:
        raise InvalidPayload("no currency: neither OrderTotal nor ItemPrice has one", loc)

    lines: list[MarketplaceLine] = []
    skipped: list[str] = []
    sub_total = discount = shipping = tax = shipping_tax = ZERO
    for item, item_loc in rows(items_part, "OrderItems", items_loc):
        qty = decimal(field(item, "QuantityOrdered", item_loc), (*item_loc, "QuantityOrdered"))
        if qty < 0:
            raise InvalidPayload(
                f"{where((*item_loc, 'QuantityOrdered'))} is negative",
                (*item_loc, "QuantityOrdered"),
            )
        if qty == 0:  # a cancelled item: Amazon keeps it with nothing ordered
            skipped.append(text(item.get("OrderItemId")) or text(item.get("SellerSKU")) or "?")
            continue
        if item.get("ItemPrice") is None:
            raise InvalidPayload(
                f"{where((*item_loc, 'ItemPrice'))} is missing (a Pending order has no prices yet)",
                (*item_loc, "ItemPrice"),
            )
        line_price = _amount(item, "ItemPrice", item_loc, currency)
        line_discount = _amount(item, "PromotionDiscount", item_loc, currency)
        line_tax = _amount(item, "ItemTax", item_loc, currency)
        lines.append(
            MarketplaceLine(
                sku=text(item.get("SellerSKU")),
                description=text(item.get("Title")) or text(item.get("ASIN")) or "",
                quantity=qty,
                unit_price=_unit_price(line_price, qty),
                discount=line_discount,
                tax=line_tax,
                tax_percentage=None,  # Amazon gives no rate: the core derives it
            )
        )
        sub_total += line_price
        discount += line_discount
        shipping += _amount(item, "ShippingPrice", item_loc, currency) - _amount(
            item, "ShippingDiscount", item_loc, currency
        )
        tax += line_tax
        shipping_tax += _amount(item, "ShippingTax", item_loc, currency)
    if not lines:
        raise InvalidPayload(
            "no item has a quantity ordered (a cancelled order?)", (*items_loc, "OrderItems")
        )

    net = sub_total - discount + shipping
    tax_total = tax + shipping_tax
    total = _amount(order, "OrderTotal", loc, currency) if order.get("OrderTotal") else None
    gross = total is not None and _prices_include_tax(total, net, tax_total)
    if total is None:
        total = net + tax_total

    buyer = sub_mapping(order, "BuyerInfo", loc) or {}
    email = text(buyer.get("BuyerEmail")) or text(order.get("BuyerEmail"))
    ship = _v0_shipping_address(order, loc, address_part, address_loc)
    extra: dict[str, Any] = {"shipping_tax": shipping_tax}
    if skipped:
        extra["cancelled_items"] = skipped
    if order.get("MarketplaceId"):
        extra["marketplace_id"] = str(order["MarketplaceId"])
    updated_key = "LastUpdateDate" if order.get("LastUpdateDate") else "PurchaseDate"
    return MarketplaceOrder(
        external_id=order_id,
        name=order_id,
        updated_at=timestamp(order, updated_key, loc),
        order_date=local_date(order, "PurchaseDate", loc),
        currency=currency,
        customer=_customer(
            order_id, email, text(ship.get("Name")) or buyer.get("BuyerName"), ship.get("Phone")
        ),
        lines=lines,
        totals=MarketplaceTotals(
            sub_total=sub_total, discount=discount, shipping=shipping, tax=tax_total, total=total
        ),
        prices_include_tax=gross,
        shipping_charge=shipping,
        billing_address=None,  # the Orders API has no billing address
        shipping_address=address(
            attention=ship.get("Name"),
            street1=ship.get("AddressLine1"),
            street2=joined(ship.get("AddressLine2"), ship.get("AddressLine3")),
            city=ship.get("City"),
            state=ship.get("StateOrRegion"),
            zip_code=ship.get("PostalCode"),
            country=ship.get("CountryCode"),
        ),
        extra=extra,
    )


def _as_map(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _unit_price(line_price: Decimal, qty: Decimal) -> Decimal:
    """`ItemPrice` is the whole line: divide by the quantity. The quotient is exact for almost
    every real price; when it is not (10.00 / 3), it is rounded half-up to the 4 places a rate
    is stored with, and nothing is reported: `ItemPrice` itself stays in the order's totals,
    so the core's comparison of totals shows any resulting cent."""
    return at_most_4_places(line_price / qty)


def _v0_shipping_address(
    order: Mapping[str, Any], loc: Loc, address_part: Mapping[str, Any] | None, address_loc: Loc
) -> Mapping[str, Any]:
    """getOrderAddress's full address, else the (often partial) one in getOrder, else none."""
    if address_part is not None and address_part.get("ShippingAddress") is not None:
        return mapping(address_part["ShippingAddress"], (*address_loc, "ShippingAddress"))
    if order.get("ShippingAddress") is not None:
        return mapping(order["ShippingAddress"], (*loc, "ShippingAddress"))
    return {}


# --- Orders 2026-01-01 ---------------------------------------------------------------------


def _parse_2026(root: Mapping[str, Any], order: Mapping[str, Any], loc: Loc) -> MarketplaceOrder:
    """The newer shape carries its items; prices are per unit, amounts in `proceeds`."""
    order_id = ident(order, "orderId", loc)
    items_part, items_loc = _part(root, "orderItems", required=False)
    _check_same_order(order_id, items_part, items_loc)
    proceeds = sub_mapping(order, "proceeds", loc)
    raw_items = items_list(order, "orderItems", loc, required=True)
    currency = _money_currency(proceeds, "grandTotal") or next(
        (
            c
            for i in raw_items
            if (c := _money_currency(_nested(i, "product", "price"), "unitPrice"))
        ),
        None,
    )
    if currency is None:
        raise InvalidPayload("no currency: neither proceeds nor a unit price has one", loc)

    lines: list[MarketplaceLine] = []
    sub_total = discount = shipping = tax = shipping_tax = ZERO
    for item, item_loc in rows(order, "orderItems", loc):
        qty = decimal(field(item, "quantityOrdered", item_loc), (*item_loc, "quantityOrdered"))
        if qty <= 0:
            raise InvalidPayload(
                f"{where((*item_loc, 'quantityOrdered'))} must be above zero, not {qty}",
                (*item_loc, "quantityOrdered"),
            )
        product = mapping(field(item, "product", item_loc), (*item_loc, "product"))
        product_loc = (*item_loc, "product")
        price = mapping(field(product, "price", product_loc), (*product_loc, "price"))
        if price.get("unitPrice") is None:
            raise InvalidPayload(
                f"{where((*product_loc, 'price', 'unitPrice'))} is missing",
                (*product_loc, "price", "unitPrice"),
            )
        unit_price = _amount(price, "unitPrice", (*product_loc, "price"), currency)
        parts = _breakdowns(item, item_loc, currency)
        item_amount = parts.get(("ITEM", None), qty * unit_price)
        # Discounts are negative proceeds; without a detailed breakdown all of it is the item's.
        line_discount = abs(_item_share(parts, "DISCOUNT"))
        line_tax = _item_share(parts, "TAX")
        lines.append(
            MarketplaceLine(
                sku=text(product.get("sellerSku")),
                description=text(product.get("title")) or text(product.get("asin")) or "",
                quantity=qty,
                unit_price=unit_price,
                discount=line_discount,
                tax=line_tax,
                tax_percentage=None,
            )
        )
        sub_total += item_amount
        discount += line_discount
        shipping += parts.get(("SHIPPING", None), ZERO) - abs(
            parts.get(("DISCOUNT", "SHIPPING"), ZERO)
        )
        tax += parts.get(("TAX", None), ZERO)
        shipping_tax += parts.get(("TAX", "SHIPPING"), ZERO)

    net = sub_total - discount + shipping
    total = (
        _amount(proceeds, "grandTotal", (*loc, "proceeds"), currency)
        if proceeds is not None and proceeds.get("grandTotal") is not None
        else None
    )
    gross = total is not None and _prices_include_tax(total, net, tax)
    if total is None:
        total = net + tax

    buyer = sub_mapping(order, "buyer", loc) or {}
    recipient = sub_mapping(order, "recipient", loc) or {}
    delivery = sub_mapping(recipient, "deliveryAddress", (*loc, "recipient")) or {}
    email = text(buyer.get("buyerEmail"))
    sales_channel = sub_mapping(order, "salesChannel", loc) or {}
    extra: dict[str, Any] = {"shipping_tax": shipping_tax}
    if sales_channel.get("marketplaceId"):
        extra["marketplace_id"] = str(sales_channel["marketplaceId"])
    updated_key = "lastUpdatedTime" if order.get("lastUpdatedTime") else "createdTime"
    return MarketplaceOrder(
        external_id=order_id,
        name=order_id,
        updated_at=timestamp(order, updated_key, loc),
        order_date=local_date(order, "createdTime", loc),
        currency=currency,
        customer=_customer(
            order_id,
            email,
            text(delivery.get("name")) or buyer.get("buyerName"),
            delivery.get("phone"),
        ),
        lines=lines,
        totals=MarketplaceTotals(
            sub_total=sub_total, discount=discount, shipping=shipping, tax=tax, total=total
        ),
        prices_include_tax=gross,
        shipping_charge=shipping,
        billing_address=None,
        shipping_address=address(
            attention=delivery.get("name"),
            street1=delivery.get("addressLine1"),
            street2=joined(delivery.get("addressLine2"), delivery.get("addressLine3")),
            city=delivery.get("city"),
            state=delivery.get("stateOrRegion"),
            zip_code=delivery.get("postalCode"),
            country=delivery.get("countryCode"),
        ),
        extra=extra,
    )


def _nested(value: Any, *keys: str) -> Mapping[str, Any] | None:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, Mapping) else None


def _item_share(parts: Mapping[tuple[str, str | None], Decimal], kind: str) -> Decimal:
    """The ITEM subtype of a TAX or DISCOUNT breakdown; the whole of it when not detailed."""
    if any(k == kind and sub is not None for k, sub in parts):
        return parts.get((kind, "ITEM"), ZERO)
    return parts.get((kind, None), ZERO)


def _breakdowns(
    item: Mapping[str, Any], loc: Loc, currency: str
) -> dict[tuple[str, str | None], Decimal]:
    """An item's proceeds by (type, None) and, for TAX and DISCOUNT, by (type, subtype)."""
    result: dict[tuple[str, str | None], Decimal] = {}
    proceeds = sub_mapping(item, "proceeds", loc)
    if proceeds is None:
        return result
    for row, row_loc in rows(proceeds, "breakdowns", (*loc, "proceeds")):
        kind = text(field(row, "type", row_loc)) or ""
        result[(kind, None)] = result.get((kind, None), ZERO) + _amount(
            row, "subtotal", row_loc, currency
        )
        for detail, detail_loc in rows(row, "detailedBreakdowns", row_loc):
            key = (kind, text(detail.get("subtype")))
            result[key] = result.get(key, ZERO) + _amount(detail, "value", detail_loc, currency)
    return result


adapter = AmazonAdapter()
