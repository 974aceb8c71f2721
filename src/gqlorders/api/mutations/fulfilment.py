"""Fulfilment mutations: merging orders, invoices, packages and shipments."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

import strawberry

from gqlorders import models
from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.ids import decode_id
from gqlorders.api.types.fulfilment import Invoice, Package
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.errors import FieldPath
from gqlorders.invoicing import invoices
from gqlorders.orders import QuantityRequest, merge_sales_orders
from gqlorders.packing import packages
from gqlorders.tenancy import Scope


@strawberry.input
class MergeSalesOrdersInput:
    ids: list[strawberry.ID]


@strawberry.input
class InvoiceLineInput:
    sales_order_line_id: strawberry.ID
    quantity: Decimal


@strawberry.input
class PackageLineInput:
    sales_order_line_id: strawberry.ID
    quantity: Decimal


def quantity_requests(
    lines: Sequence[InvoiceLineInput | PackageLineInput] | None,
) -> list[QuantityRequest] | None:
    if lines is None:
        return None
    return [
        QuantityRequest(
            sales_order_line_id=decode_id(
                line.sales_order_line_id, "SalesOrderLine", _line_field(index)
            ),
            quantity=line.quantity,
        )
        for index, line in enumerate(lines)
    ]


def _line_field(index: int) -> FieldPath:
    return ("lines", index, "salesOrderLineId")


@strawberry.input
class CreateInvoiceFromSalesOrderInput:
    sales_order_id: strawberry.ID
    lines: list[InvoiceLineInput] | None = strawberry.field(
        default=None, description="Default: everything not yet invoiced."
    )
    date: datetime.date | None = None
    number: str | None = strawberry.field(
        default=None, description="Required in MANUAL invoice numbering."
    )
    send: bool | None = False
    send_to: list[str] | None = None


@strawberry.input
class InvoiceIdInput:
    id: strawberry.ID


@strawberry.input
class CreatePackageInput:
    sales_order_id: strawberry.ID
    lines: list[PackageLineInput] | None = strawberry.field(
        default=None, description="Default: everything not yet packed."
    )


@strawberry.input
class ShipPackageInput:
    id: strawberry.ID
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime.datetime | None = None


@strawberry.input
class PackageIdInput:
    id: strawberry.ID


@strawberry.type
class MergeSalesOrdersPayload:
    sales_order: models.SalesOrder | None = strawberry.field(
        default=None, graphql_type=SalesOrder | None
    )
    merged: models.SalesOrder | None = strawberry.field(
        default=None, graphql_type=SalesOrder | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InvoicePayload:
    invoice: models.Invoice | None = strawberry.field(default=None, graphql_type=Invoice | None)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PackagePayload:
    package: models.Package | None = strawberry.field(default=None, graphql_type=Package | None)
    errors: list[UserError] = strawberry.field(default_factory=list)


def _order_id(value: str) -> int:
    return decode_id(value, "SalesOrder", ("salesOrderId",))


def _invoice_id(value: str) -> int:
    return decode_id(value, "Invoice", ("id",))


def _package_id(value: str) -> int:
    return decode_id(value, "Package", ("id",))


@strawberry.type
class FulfilmentMutations:
    @strawberry.mutation
    @returns_user_errors(MergeSalesOrdersPayload)
    async def merge_sales_orders(
        self, info: Info, input: MergeSalesOrdersInput
    ) -> MergeSalesOrdersPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        ids = [decode_id(value, "SalesOrder", ("ids", i)) for i, value in enumerate(input.ids)]
        survivor, merged = await merge_sales_orders(principal, ids)
        return MergeSalesOrdersPayload(sales_order=survivor, merged=merged)

    @strawberry.mutation
    @returns_user_errors(InvoicePayload)
    async def create_invoice_from_sales_order(
        self, info: Info, input: CreateInvoiceFromSalesOrderInput
    ) -> InvoicePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        invoice = await invoices.create_invoice_from_sales_order(
            principal,
            invoices.NewInvoice(
                sales_order_id=_order_id(input.sales_order_id),
                lines=quantity_requests(input.lines),
                date=input.date,
                number=input.number,
                send=bool(input.send),
                send_to=input.send_to,
            ),
        )
        return InvoicePayload(invoice=invoice)

    @strawberry.mutation
    @returns_user_errors(InvoicePayload)
    async def send_invoice(self, info: Info, input: InvoiceIdInput) -> InvoicePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        invoice = await invoices.send_invoice(principal, _invoice_id(input.id))
        return InvoicePayload(invoice=invoice)

    @strawberry.mutation
    @returns_user_errors(InvoicePayload)
    async def void_invoice(self, info: Info, input: InvoiceIdInput) -> InvoicePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        invoice = await invoices.void_invoice(principal, _invoice_id(input.id))
        return InvoicePayload(invoice=invoice)

    @strawberry.mutation
    @returns_user_errors(PackagePayload)
    async def create_package(self, info: Info, input: CreatePackageInput) -> PackagePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        package = await packages.create_package(
            principal, _order_id(input.sales_order_id), quantity_requests(input.lines)
        )
        return PackagePayload(package=package)

    @strawberry.mutation
    @returns_user_errors(PackagePayload)
    async def ship_package(self, info: Info, input: ShipPackageInput) -> PackagePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        shipment = packages.Shipment(
            carrier=input.carrier,
            tracking_number=input.tracking_number,
            shipped_at=input.shipped_at,
        )
        package = await packages.ship_package(principal, _package_id(input.id), shipment)
        return PackagePayload(package=package)

    @strawberry.mutation
    @returns_user_errors(PackagePayload)
    async def deliver_package(self, info: Info, input: PackageIdInput) -> PackagePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        package = await packages.deliver_package(principal, _package_id(input.id))
        return PackagePayload(package=package)
