"""Tortoise models, one module per aggregate. Tortoise discovers them through this package.

For mypy, each relation declares its model and its key (`customer_id: int`, `int | None` when
nullable), and a nullable text column its `str | None` (tortoise types a TextField as `str`):
tortoise builds fields from the class body's values only, never from bare annotations.
"""

from gqlorders.models.catalog import Customer, Item, ItemKind, Tax, Warehouse
from gqlorders.models.documents import Document, DocumentState
from gqlorders.models.emails import EmailMessage, EmailState
from gqlorders.models.events import OrderEvent, OrderEventType
from gqlorders.models.feed import FeedEvent
from gqlorders.models.idempotency import IdempotencyKey
from gqlorders.models.installation import Installation
from gqlorders.models.invoices import Invoice, InvoiceLine, InvoiceStatus
from gqlorders.models.marketplaces import InboxMessage, InboxState, MarketplaceConnection
from gqlorders.models.organizations import (
    ApiToken,
    CloseSalesOrderWhen,
    DocumentKind,
    NumberingMode,
    NumberSequence,
    Organization,
)
from gqlorders.models.outbox import OutboxJob
from gqlorders.models.packages import Package, PackageLine, PackageStatus
from gqlorders.models.sales_orders import (
    DiscountType,
    InvoicedStatus,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    ShippedStatus,
)
from gqlorders.models.stock import StockLevel, StockMovement
from gqlorders.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointStatus,
)

__all__ = [
    "ApiToken",
    "CloseSalesOrderWhen",
    "Customer",
    "DiscountType",
    "Document",
    "DocumentKind",
    "DocumentState",
    "EmailMessage",
    "EmailState",
    "FeedEvent",
    "IdempotencyKey",
    "InboxMessage",
    "InboxState",
    "Installation",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "InvoicedStatus",
    "Item",
    "ItemKind",
    "MarketplaceConnection",
    "NumberSequence",
    "NumberingMode",
    "OrderEvent",
    "OrderEventType",
    "Organization",
    "OutboxJob",
    "Package",
    "PackageLine",
    "PackageStatus",
    "SalesOrder",
    "SalesOrderLine",
    "SalesOrderStatus",
    "ShippedStatus",
    "StockLevel",
    "StockMovement",
    "Tax",
    "Warehouse",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEndpointStatus",
]
