"""Tortoise models, one module per aggregate. Tortoise discovers them through this package."""

from gqlorders.models.catalog import Customer, Item, ItemKind, Tax, Warehouse
from gqlorders.models.events import OrderEvent
from gqlorders.models.organizations import (
    ApiToken,
    CloseSalesOrderWhen,
    DocumentKind,
    NumberingMode,
    NumberSequence,
    Organization,
)
from gqlorders.models.sales_orders import (
    DiscountType,
    InvoicedStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    ShippedStatus,
)

__all__ = [
    "ApiToken",
    "CloseSalesOrderWhen",
    "Customer",
    "DiscountType",
    "DocumentKind",
    "InvoicedStatus",
    "Item",
    "ItemKind",
    "NumberSequence",
    "NumberingMode",
    "OrderEvent",
    "Organization",
    "SalesOrder",
    "SalesOrderLine",
    "SalesOrderStatus",
    "ShippedStatus",
    "Tax",
    "Warehouse",
]
