"""Fulfilment types: invoices, packages and the e-mails sent for orders and invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal

import strawberry

from gqlorders import models
from gqlorders.api.context import Info
from gqlorders.api.dataloaders import Loaded, ready
from gqlorders.api.ids import encode_id
from gqlorders.api.types.catalog import Customer, Item, Tax
from gqlorders.api.types.common import Node, TaxMode, global_id, is_row_of
from gqlorders.api.types.sales_orders import (
    Adjustment,
    Discount,
    Document,
    SalesOrder,
    SalesOrderLine,
    TaxTotal,
    document_of,
)

InvoiceStatus = models.InvoiceStatus
strawberry.enum(InvoiceStatus)
PackageStatus = models.PackageStatus
strawberry.enum(PackageStatus)
EmailState = models.EmailState
strawberry.enum(EmailState)


@strawberry.type
class EmailMessage:
    subject: str
    error: str | None
    sent_at: datetime | None

    @strawberry.field
    def state(self, root: strawberry.Parent[models.EmailMessage]) -> EmailState:
        return root.state.shown()

    @strawberry.field
    def id(self, root: strawberry.Parent[models.EmailMessage]) -> strawberry.ID:
        return strawberry.ID(encode_id("EmailMessage", root.id))

    @strawberry.field
    def to(self, root: strawberry.Parent[models.EmailMessage]) -> list[str]:
        return list(root.to)


@strawberry.type
class InvoiceLine:
    quantity: Decimal
    rate: Decimal
    discount_percent: Decimal
    amount: Decimal
    id: strawberry.ID = global_id("InvoiceLine")

    @strawberry.field(graphql_type=SalesOrderLine)
    def sales_order_line(
        self, root: strawberry.Parent[models.InvoiceLine], info: Info
    ) -> Loaded[models.SalesOrderLine | None]:
        return ready(info.context.loaders.order_line, root.sales_order_line_id)

    @strawberry.field(graphql_type=Item)
    def item(
        self, root: strawberry.Parent[models.InvoiceLine], info: Info
    ) -> Loaded[models.Item | None]:
        return ready(info.context.loaders.item, root.item_id)

    @strawberry.field(graphql_type=Tax | None)
    def tax(
        self, root: strawberry.Parent[models.InvoiceLine], info: Info
    ) -> Loaded[models.Tax | None]:
        if root.tax_id is None:
            return None
        return ready(info.context.loaders.tax, root.tax_id)


@strawberry.type
class Invoice(Node):
    is_type_of = is_row_of(models.Invoice)

    number: str
    status: InvoiceStatus
    date: dt.date
    due_date: dt.date
    currency: str
    tax_mode: TaxMode = strawberry.field(description="Always its sales order's mode.")
    sub_total: Decimal
    tax_total: Decimal
    shipping_charge: Decimal
    total: Decimal
    id: strawberry.ID = global_id("Invoice")

    @strawberry.field(graphql_type=SalesOrder)
    def sales_order(
        self, root: strawberry.Parent[models.Invoice], info: Info
    ) -> Loaded[models.SalesOrder | None]:
        return ready(info.context.loaders.sales_order, root.sales_order_id)

    @strawberry.field(graphql_type=Customer)
    def customer(
        self, root: strawberry.Parent[models.Invoice], info: Info
    ) -> Loaded[models.Customer | None]:
        return ready(info.context.loaders.customer, root.customer_id)

    @strawberry.field(graphql_type=list[InvoiceLine])
    def lines(
        self, root: strawberry.Parent[models.Invoice], info: Info
    ) -> Loaded[list[models.InvoiceLine]]:
        return ready(info.context.loaders.invoice_lines, root.id)

    @strawberry.field
    def discount(self, root: strawberry.Parent[models.Invoice]) -> Discount | None:
        return Discount.of(root)

    @strawberry.field
    def taxes(self, root: strawberry.Parent[models.Invoice]) -> list[TaxTotal]:
        return TaxTotal.of(root)

    @strawberry.field
    def adjustment(self, root: strawberry.Parent[models.Invoice]) -> Adjustment | None:
        return Adjustment.of(root)

    @strawberry.field(
        description="The invoice's PDF, rendered when it is sent, and again (marked VOID) "
        "when it is voided.",
        graphql_type=Document,
    )
    def pdf(
        self, root: strawberry.Parent[models.Invoice], info: Info
    ) -> Document | Awaitable[Document]:
        url = f"/documents/invoices/{encode_id('Invoice', root.id)}.pdf"
        return document_of(ready(info.context.loaders.invoice_document, root.id), url)

    @strawberry.field(graphql_type=list[EmailMessage])
    def emails(
        self, root: strawberry.Parent[models.Invoice], info: Info
    ) -> Loaded[list[models.EmailMessage]]:
        return ready(info.context.loaders.invoice_emails, root.id)


@strawberry.type
class PackageLine:
    quantity: Decimal

    @strawberry.field(graphql_type=SalesOrderLine)
    def sales_order_line(
        self, root: strawberry.Parent[models.PackageLine], info: Info
    ) -> Loaded[models.SalesOrderLine | None]:
        return ready(info.context.loaders.order_line, root.sales_order_line_id)


@strawberry.type
class Package(Node):
    is_type_of = is_row_of(models.Package)

    number: str
    status: PackageStatus
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    id: strawberry.ID = global_id("Package")

    @strawberry.field(graphql_type=SalesOrder)
    def sales_order(
        self, root: strawberry.Parent[models.Package], info: Info
    ) -> Loaded[models.SalesOrder | None]:
        return ready(info.context.loaders.sales_order, root.sales_order_id)

    @strawberry.field(graphql_type=list[PackageLine])
    def lines(
        self, root: strawberry.Parent[models.Package], info: Info
    ) -> Loaded[list[models.PackageLine]]:
        return ready(info.context.loaders.package_lines, root.id)
