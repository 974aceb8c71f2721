"""What an event's `data` holds: the resource's public fields right after the event, under
their GraphQL names, as the selection beside each builder would answer (README lists them).

Built from the rows the change already holds: recording an event costs one INSERT, no read.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.models import Model

from gqlorders.ids import encode_id
from gqlorders.models import InboxMessage, Invoice, Item, Package, SalesOrder, StockLevel
from gqlorders.money import format_decimal

SALES_ORDER_SELECTION = (
    "{ id number referenceNumber status invoicedStatus shippedStatus date expectedShipmentDate"
    " currency taxMode subTotal taxTotal shippingCharge total createdAt updatedAt customer { id }"
    " warehouse { id } mergedInto { id } source { marketplace externalId } }"
)
INVOICE_SELECTION = (
    "{ id number status date dueDate currency taxMode subTotal taxTotal shippingCharge total"
    " salesOrder { id } customer { id } }"
)
PACKAGE_SELECTION = (
    "{ id number status carrier trackingNumber shippedAt deliveredAt salesOrder { id } }"
)
ITEM_STOCK_SELECTION = (
    "{ id sku name reorderLevel stock { warehouse { id } onHand committed availableForSale } }"
    " with `stock` the one warehouse whose level fell"
)
INBOX_MESSAGE_SELECTION = "{ id marketplace state error attempts receivedAt salesOrder { id } }"
# The scalar fields of the selections above, as the rows' attributes (camelCased by `_fields`).
SALES_ORDER_COLUMNS = (
    "number reference_number status invoiced_status shipped_status date expected_shipment_date"
    " currency tax_mode sub_total tax_total shipping_charge total created_at updated_at"
)
INVOICE_COLUMNS = (
    "number status date due_date currency tax_mode sub_total tax_total shipping_charge total"
)


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _fields(row: Model, attributes: str) -> dict[str, Any]:
    """The row's values of these space-separated attributes, under their GraphQL (camelCase)
    names, as the API's types expose them."""
    return {_camel(attribute): _value(getattr(row, attribute)) for attribute in attributes.split()}


def _camel(attribute: str) -> str:
    first, *rest = attribute.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _ref(type_name: str, key: int | None) -> dict[str, str] | None:
    return None if key is None else {"id": encode_id(type_name, key)}


def sales_order_data(order: SalesOrder) -> dict[str, Any]:
    return {
        "id": encode_id("SalesOrder", order.id),
        **_fields(order, SALES_ORDER_COLUMNS),
        "customer": _ref("Customer", order.customer_id),
        "warehouse": _ref("Warehouse", order.warehouse_id),
        "mergedInto": _ref("SalesOrder", order.merged_into_id),
        "source": {"marketplace": order.marketplace, "externalId": order.external_id},
    }


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": encode_id("Invoice", invoice.id),
        **_fields(invoice, INVOICE_COLUMNS),
        "salesOrder": _ref("SalesOrder", invoice.sales_order_id),
        "customer": _ref("Customer", invoice.customer_id),
    }


def package_data(package: Package) -> dict[str, Any]:
    return {
        "id": encode_id("Package", package.id),
        **_fields(package, "number status carrier tracking_number shipped_at delivered_at"),
        "salesOrder": _ref("SalesOrder", package.sales_order_id),
    }


def item_stock_data(item: Item, level: StockLevel) -> dict[str, Any]:
    return {
        "id": encode_id("Item", item.id),
        **_fields(item, "sku name reorder_level"),
        "stock": [
            {
                "warehouse": _ref("Warehouse", level.warehouse_id),
                "onHand": _value(level.on_hand),
                "committed": _value(level.committed),
                "availableForSale": _value(level.on_hand - level.committed),
            }
        ],
    }


def inbox_message_data(message: InboxMessage) -> dict[str, Any]:
    return {
        "id": encode_id("InboxMessage", message.id),
        **_fields(message, "marketplace state error attempts received_at"),
        "salesOrder": _ref("SalesOrder", message.sales_order_id),
    }


RESOURCES: dict[type[Model], tuple[str, Any]] = {  # row type -> (GraphQL type, data builder)
    SalesOrder: ("SalesOrder", sales_order_data),
    Invoice: ("Invoice", invoice_data),
    Package: ("Package", package_data),
    InboxMessage: ("InboxMessage", inbox_message_data),
}
