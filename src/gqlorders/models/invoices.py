"""Invoices converted from sales orders (SPEC §5), totals stored on the row."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import MoneyField, QuantityField
from gqlorders.models.sales_orders import DiscountType
from gqlorders.money import TaxMode

if TYPE_CHECKING:
    from gqlorders.models.catalog import Customer, Item, Tax
    from gqlorders.models.organizations import Organization
    from gqlorders.models.sales_orders import SalesOrder, SalesOrderLine


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    VOID = "VOID"


class Invoice(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="invoices", on_delete=fields.CASCADE
    )
    organization_id: int
    number = fields.CharField(max_length=50)
    status = fields.CharEnumField(InvoiceStatus, max_length=8, default=InvoiceStatus.DRAFT)
    sales_order: fields.ForeignKeyRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="invoices", on_delete=fields.RESTRICT
    )
    sales_order_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.RESTRICT
    )
    customer_id: int
    date = fields.DateField()
    due_date = fields.DateField()
    currency = fields.CharField(max_length=3)
    tax_mode = fields.CharEnumField(  # always its sales order's
        TaxMode, max_length=9, default=TaxMode.EXCLUSIVE, db_default=TaxMode.EXCLUSIVE.value
    )
    billing_address: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    shipping_address: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    discount_type = fields.CharEnumField(DiscountType, max_length=12, null=True)
    discount_value = QuantityField(null=True)
    discount_amount = MoneyField()
    shipping_charge = MoneyField()
    adjustment_label = fields.CharField(max_length=100, null=True)
    adjustment_amount = MoneyField(null=True)
    sub_total = MoneyField()
    tax_totals: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    tax_total = MoneyField()
    total = MoneyField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "invoice"
        unique_together = (("organization", "number"),)
        indexes = (("organization_id", "created_at"), ("sales_order_id",))


class InvoiceLine(Model):
    id = fields.BigIntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    invoice_id: int
    sales_order_line: fields.ForeignKeyRelation[SalesOrderLine] = fields.ForeignKeyField(
        "models.SalesOrderLine", related_name=False, on_delete=fields.RESTRICT
    )
    sales_order_line_id: int
    position = fields.IntField()
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name=False, on_delete=fields.RESTRICT
    )
    item_id: int
    description: str | None = fields.TextField(null=True)
    quantity = QuantityField()
    rate = QuantityField()
    discount_percent = QuantityField()
    tax: fields.ForeignKeyNullableRelation[Tax] = fields.ForeignKeyField(
        "models.Tax", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    tax_id: int | None
    amount = MoneyField()

    class Meta:
        table = "invoice_line"
        indexes = (("invoice_id",), ("sales_order_line_id",))
