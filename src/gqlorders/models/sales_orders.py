"""Sales orders and their lines (SPEC §3). Totals and derived statuses are stored on the row."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import MoneyField, QuantityField
from gqlorders.money import TaxMode


class SalesOrderStatus(StrEnum):
    DRAFT = "DRAFT"
    CONFIRMED = "CONFIRMED"
    CLOSED = "CLOSED"
    VOID = "VOID"
    MERGED = "MERGED"


class InvoicedStatus(StrEnum):
    NOT_INVOICED = "NOT_INVOICED"
    PARTIALLY_INVOICED = "PARTIALLY_INVOICED"
    INVOICED = "INVOICED"


class ShippedStatus(StrEnum):
    NOT_SHIPPED = "NOT_SHIPPED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"


class DiscountType(StrEnum):
    PERCENTAGE = "PERCENTAGE"
    AMOUNT = "AMOUNT"


class SalesOrder(Model):
    id = fields.BigIntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "models.Organization", related_name="sales_orders", on_delete=fields.CASCADE
    )
    number = fields.CharField(max_length=50)
    reference_number = fields.CharField(max_length=100, null=True)
    customer = fields.ForeignKeyField(
        "models.Customer", related_name="sales_orders", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(SalesOrderStatus, max_length=12, default=SalesOrderStatus.DRAFT)
    invoiced_status = fields.CharEnumField(
        InvoicedStatus, max_length=20, default=InvoicedStatus.NOT_INVOICED
    )
    shipped_status = fields.CharEnumField(
        ShippedStatus, max_length=20, default=ShippedStatus.NOT_SHIPPED
    )
    date = fields.DateField()
    expected_shipment_date = fields.DateField(null=True)
    delivery_method = fields.CharField(max_length=100, null=True)
    payment_terms_days = fields.IntField(null=True)
    payment_terms_label = fields.CharField(max_length=100, null=True)
    warehouse = fields.ForeignKeyField(
        "models.Warehouse", related_name=False, on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    tax_mode = fields.CharEnumField(
        TaxMode, max_length=9, default=TaxMode.EXCLUSIVE, db_default=TaxMode.EXCLUSIVE.value
    )
    billing_address = fields.JSONField(null=True)
    shipping_address = fields.JSONField(null=True)
    notes = fields.TextField(null=True)
    terms = fields.TextField(null=True)
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
    marketplace = fields.CharField(max_length=50, null=True)
    external_id = fields.CharField(max_length=100, null=True)
    marketplace_updated_at = fields.DatetimeField(null=True)
    marketplace_totals = fields.JSONField(null=True)  # the marketplace's own figures
    merged_into = fields.ForeignKeyField(
        "models.SalesOrder", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sales_order"
        unique_together = (
            ("organization", "number"),
            ("organization", "marketplace", "external_id"),
        )
        # Organization first, then the sort key and the id tie-break the keyset pages use.
        indexes = (
            ("organization_id", "created_at", "id"),
            ("organization_id", "status", "created_at", "id"),
            ("organization_id", "customer_id", "created_at", "id"),
            ("organization_id", "date", "id"),
            ("organization_id", "total"),
            ("organization_id", "updated_at", "id"),  # catch-up: updatedAfter, UPDATED_AT
        )


class SalesOrderLine(Model):
    id = fields.BigIntField(primary_key=True)
    sales_order = fields.ForeignKeyField(
        "models.SalesOrder", related_name="lines", on_delete=fields.CASCADE
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
    quantity_invoiced = QuantityField()
    quantity_packed = QuantityField()
    quantity_shipped = QuantityField()

    class Meta:
        table = "sales_order_line"
        indexes = (("sales_order_id", "position"), ("item_id", "sales_order_id"))
