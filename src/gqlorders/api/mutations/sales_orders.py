"""Sales-order mutations: create, update, add lines, confirm, void, delete."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import strawberry

from gqlorders import models, orders
from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.ids import decode_id, decode_optional_id, encode_id
from gqlorders.api.mutations.catalog import payment_terms
from gqlorders.api.types.common import (
    AddressInput,
    DiscountType,
    PaymentTermsInput,
    TaxMode,
    address_or_none,
)
from gqlorders.api.types.sales_orders import SalesOrder
from gqlorders.documents import render_sales_order_pdf
from gqlorders.errors import FieldPath
from gqlorders.tenancy import Scope


@strawberry.input
class SalesOrderLineInput:
    item_id: strawberry.ID
    quantity: Decimal
    id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing line (update); omit for a new line."
    )
    description: str | None = None
    rate: Decimal | None = strawberry.field(default=None, description="Default: the item's rate.")
    discount_percent: Decimal | None = None
    tax_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Default: the item's tax; null: no tax."
    )

    def to_domain(self, field: FieldPath) -> orders.LineInput:
        tax_given = self.tax_id is not strawberry.UNSET
        return orders.LineInput(
            id=decode_optional_id(self.id, "SalesOrderLine", (*field, "id")),
            item_id=decode_id(self.item_id, "Item", (*field, "itemId")),
            quantity=self.quantity,
            description=self.description,
            rate=self.rate,
            discount_percent=self.discount_percent,
            tax_id=decode_optional_id(self.tax_id, "Tax", (*field, "taxId")) if tax_given else None,
            tax_given=tax_given,
        )


def lines_to_domain(lines: list[SalesOrderLineInput]) -> list[orders.LineInput]:
    return [line.to_domain(("lines", index)) for index, line in enumerate(lines)]


@strawberry.input
class DiscountInput:
    type: DiscountType
    value: Decimal


@strawberry.input
class AdjustmentInput:
    amount: Decimal
    label: str | None = None


def discount(value: DiscountInput | None) -> orders.DiscountInput | None:
    return orders.DiscountInput(type=value.type, value=value.value) if value else None


def adjustment(value: AdjustmentInput | None) -> orders.AdjustmentInput | None:
    return orders.AdjustmentInput(amount=value.amount, label=value.label) if value else None


@strawberry.input
class CreateSalesOrderInput:
    customer_id: strawberry.ID
    lines: list[SalesOrderLineInput]
    number: str | None = strawberry.field(
        default=None, description="Required in MANUAL numbering mode."
    )
    reference_number: str | None = None
    date: datetime.date | None = None
    expected_shipment_date: datetime.date | None = None
    delivery_method: str | None = None
    payment_terms: PaymentTermsInput | None = None
    warehouse_id: strawberry.ID | None = None
    billing_address: AddressInput | None = None
    shipping_address: AddressInput | None = None
    discount: DiscountInput | None = None
    shipping_charge: Decimal | None = None
    adjustment: AdjustmentInput | None = None
    notes: str | None = None
    terms: str | None = None
    tax_mode: TaxMode | None = strawberry.field(
        default=None, description="Default: the organization's defaultTaxMode."
    )
    send: bool | None = strawberry.field(
        default=False, description='"Save and send": confirm, then e-mail the customer.'
    )
    send_to: list[str] | None = strawberry.field(
        default=None, description="Default: the customer's e-mail."
    )

    def to_domain(self) -> orders.NewSalesOrder:
        return orders.NewSalesOrder(
            customer_id=decode_id(self.customer_id, "Customer", ("customerId",)),
            lines=lines_to_domain(self.lines),
            number=self.number,
            reference_number=self.reference_number,
            date=self.date,
            expected_shipment_date=self.expected_shipment_date,
            delivery_method=self.delivery_method,
            payment_terms=payment_terms(self.payment_terms),
            warehouse_id=decode_optional_id(self.warehouse_id, "Warehouse", ("warehouseId",)),
            billing_address=address_or_none(self.billing_address),
            shipping_address=address_or_none(self.shipping_address),
            discount=discount(self.discount),
            shipping_charge=self.shipping_charge,
            adjustment=adjustment(self.adjustment),
            notes=self.notes,
            terms=self.terms,
            tax_mode=self.tax_mode,
            send=bool(self.send),
            send_to=self.send_to,
        )


@strawberry.input
class UpdateSalesOrderInput:
    id: strawberry.ID
    reference_number: str | None = strawberry.UNSET
    date: datetime.date | None = strawberry.UNSET
    expected_shipment_date: datetime.date | None = strawberry.UNSET
    delivery_method: str | None = strawberry.UNSET
    payment_terms: PaymentTermsInput | None = strawberry.UNSET
    billing_address: AddressInput | None = strawberry.UNSET
    shipping_address: AddressInput | None = strawberry.UNSET
    lines: list[SalesOrderLineInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The full new list of lines when given."
    )
    discount: DiscountInput | None = strawberry.UNSET
    shipping_charge: Decimal | None = strawberry.UNSET
    adjustment: AdjustmentInput | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    terms: str | None = strawberry.UNSET
    tax_mode: TaxMode | None = strawberry.field(
        default=None,
        description="Drafts only: the rates then read the other way and everything is recomputed.",
    )

    def to_domain(self) -> orders.SalesOrderChanges:
        converters: dict[str, Any] = {
            "payment_terms": payment_terms,
            "billing_address": address_or_none,
            "shipping_address": address_or_none,
            "discount": discount,
            "adjustment": adjustment,
        }
        fields = {}
        for name in orders.HEADER_KEYS:
            value = getattr(self, name)
            if value is not strawberry.UNSET:
                fields[name] = converters.get(name, lambda v: v)(value)
        if self.tax_mode is not None:
            fields["tax_mode"] = self.tax_mode
        lines = None
        if self.lines is not strawberry.UNSET and self.lines is not None:
            lines = lines_to_domain(self.lines)
        return orders.SalesOrderChanges(fields=fields, lines=lines)


@strawberry.input
class AddSalesOrderLinesInput:
    sales_order_id: strawberry.ID
    lines: list[SalesOrderLineInput]


@strawberry.input
class SalesOrderIdInput:
    id: strawberry.ID


@strawberry.input
class SendSalesOrderInput:
    id: strawberry.ID
    to: list[str] | None = None
    cc: list[str] | None = None
    subject: str | None = None
    body: str | None = None


@strawberry.type
class SalesOrderPayload:
    sales_order: models.SalesOrder | None = strawberry.field(
        default=None, graphql_type=SalesOrder | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def order_id(value: str, field: str = "id") -> int:
    return decode_id(value, "SalesOrder", (field,))


@strawberry.type
class SalesOrderMutations:
    @strawberry.mutation
    @returns_user_errors(SalesOrderPayload)
    async def create_sales_order(
        self, info: Info, input: CreateSalesOrderInput
    ) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        order = await orders.create_sales_order(principal, input.to_domain())
        return SalesOrderPayload(sales_order=order)

    @strawberry.mutation
    @returns_user_errors(SalesOrderPayload)
    async def update_sales_order(
        self, info: Info, input: UpdateSalesOrderInput
    ) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        order = await orders.update_sales_order(principal, order_id(input.id), input.to_domain())
        return SalesOrderPayload(sales_order=order)

    @strawberry.mutation(description="Bulk add: append lines to an editable order.")
    @returns_user_errors(SalesOrderPayload)
    async def add_sales_order_lines(
        self, info: Info, input: AddSalesOrderLinesInput
    ) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        order = await orders.add_sales_order_lines(
            principal, order_id(input.sales_order_id, "salesOrderId"), lines_to_domain(input.lines)
        )
        return SalesOrderPayload(sales_order=order)

    @strawberry.mutation
    @returns_user_errors(SalesOrderPayload)
    async def confirm_sales_order(self, info: Info, input: SalesOrderIdInput) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        order = await orders.confirm_sales_order(principal, order_id(input.id))
        return SalesOrderPayload(sales_order=order)

    @strawberry.mutation
    @returns_user_errors(SalesOrderPayload)
    async def void_sales_order(self, info: Info, input: SalesOrderIdInput) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        order = await orders.void_sales_order(principal, order_id(input.id))
        return SalesOrderPayload(sales_order=order)

    @strawberry.mutation
    @returns_user_errors(DeletePayload)
    async def delete_sales_order(self, info: Info, input: SalesOrderIdInput) -> DeletePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        key = order_id(input.id)
        await orders.delete_sales_order(principal, key)
        return DeletePayload(deleted_id=strawberry.ID(encode_id("SalesOrder", key)))

    @strawberry.mutation(description="E-mail the order to the customer; a draft is confirmed.")
    @returns_user_errors(SalesOrderPayload)
    async def send_sales_order(self, info: Info, input: SendSalesOrderInput) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        request = orders.SendRequest(
            to=input.to, cc=input.cc, subject=input.subject, body=input.body
        )
        order = await orders.send_sales_order(principal, order_id(input.id), request)
        return SalesOrderPayload(sales_order=order)

    @strawberry.mutation(description="Render the order's PDF in the background; see `pdf`.")
    @returns_user_errors(SalesOrderPayload)
    async def render_sales_order_pdf(
        self, info: Info, input: SalesOrderIdInput
    ) -> SalesOrderPayload:
        principal = require(info, Scope.ORDERS_READ)
        order = await render_sales_order_pdf(principal.organization_id, order_id(input.id))
        return SalesOrderPayload(sales_order=order)
