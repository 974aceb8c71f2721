"""Invoices converted from sales orders (SPEC §5), totals stored on the row."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import MoneyField, QuantityField
from gqlorders.models.sales_orders import DiscountType
from gqlorders.money import TaxMode


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    VOID = "VOID"


class Invoice(Model):
    id = fields.BigIntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "models.Organization", related_name="invoices", on_delete=fields.CASCADE
    )
    number = fields.CharField(max_length=50)
    status = fields.CharEnumField(InvoiceStatus, max_length=8, default=InvoiceStatus.DRAFT)
    sales_order = fields.ForeignKeyField(
        "models.SalesOrder", related_name="invoices", on_delete=fields.RESTRICT
    )
    customer = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.RESTRICT
    )
    date = fields.DateField()
    due_date = fields.DateField()
    currency = fields.CharField(max_length=3)
    tax_mode = fields.CharEnumField(  # always its sales order's
        TaxMode, max_length=9, default=TaxMode.EXCLUSIVE, db_default=TaxMode.EXCLUSIVE.value
    )
    billing_address = fields.JSONField(null=True)
    shipping_address = fields.JSONField(null=True)
    discount_type = fields.CharEnumField(DiscountType, max_length=12, null=True)
    discount_value = QuantityField(null=True)
    discount_amount = MoneyField()
    shipping_charge = MoneyField()
    adjustment_label = fields.CharField(max_length=100, null=True)
    adjustment_amount = MoneyField(null=True)
    sub_total = MoneyField()
    tax_totals = fields.JSONField(default=list)
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
    invoice = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    sales_order_line = fields.ForeignKeyField(
        "models.SalesOrderLine", related_name=False, on_delete=fields.RESTRICT
    )
    position = fields.IntField()
    item = fields.ForeignKeyField("models.Item", related_name=False, on_delete=fields.RESTRICT)
    description = fields.TextField(null=True)
    quantity = QuantityField()
    rate = QuantityField()
    discount_percent = QuantityField()
    tax = fields.ForeignKeyField(
        "models.Tax", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    amount = MoneyField()

    class Meta:
        table = "invoice_line"
        indexes = (("invoice_id",), ("sales_order_line_id",))
