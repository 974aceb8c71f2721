"""Sales orders and their lines (SPEC §3). Totals and derived statuses are stored on the row."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import MoneyField, QuantityField
from gqlorders.money import TaxMode

if TYPE_CHECKING:
    from gqlorders.models.catalog import Customer, Item, Tax, Warehouse
    from gqlorders.models.organizations import Organization


class SalesOrderStatus(StrEnum):
    DRAFT = "DRAFT"
    CONFIRMED = "CONFIRMED"
    CLOSED = "CLOSED"
    VOID = "VOID"
    MERGED = "MERGED"


# The named sets of statuses each rule allows (SPEC §3); orders/statuses.py re-exports them.
# SPEC §3: draft and confirmed orders can be edited; they are also the ones that can be voided
# (while nothing is invoiced or shipped).
EDITABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED)
# SPEC §3, §5, §6, §7: confirmed orders, and those closed since, are in force: their goods are
# committed (§7), they are invoiced (§5) and packed (§6), and the automatic closing moves them
# between the two (§3).
ACCEPTED = (SalesOrderStatus.CONFIRMED, SalesOrderStatus.CLOSED)
# SPEC §3: an order can be e-mailed unless void or merged; sending a draft confirms it.
SENDABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED, SalesOrderStatus.CLOSED)
# SPEC §4: only orders that are both drafts or both confirmed merge.
MERGEABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED)
# SPEC §4: a merged order leaves the default lists.
LISTED_BY_DEFAULT = tuple(s for s in SalesOrderStatus if s != SalesOrderStatus.MERGED)
MARKETPLACE_LENGTH = 50  # a marketplace adapter's name, on its orders


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
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="sales_orders", on_delete=fields.CASCADE
    )
    organization_id: int
    number = fields.CharField(max_length=50)
    reference_number = fields.CharField(max_length=100, null=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="sales_orders", on_delete=fields.RESTRICT
    )
    customer_id: int
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
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name=False, on_delete=fields.RESTRICT
    )
    warehouse_id: int
    currency = fields.CharField(max_length=3)
    tax_mode = fields.CharEnumField(
        TaxMode, max_length=9, default=TaxMode.EXCLUSIVE, db_default=TaxMode.EXCLUSIVE.value
    )
    billing_address: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    shipping_address: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    notes: str | None = fields.TextField(null=True)
    terms: str | None = fields.TextField(null=True)
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
    marketplace = fields.CharField(max_length=MARKETPLACE_LENGTH, null=True)
    external_id = fields.CharField(max_length=100, null=True)
    marketplace_updated_at = fields.DatetimeField(null=True)
    # The marketplace's own figures.
    marketplace_totals: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    merged_into: fields.ForeignKeyNullableRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    merged_into_id: int | None
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
    sales_order: fields.ForeignKeyRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="lines", on_delete=fields.CASCADE
    )
    sales_order_id: int
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
    quantity_invoiced = QuantityField()
    quantity_packed = QuantityField()
    quantity_shipped = QuantityField()

    class Meta:
        table = "sales_order_line"
        indexes = (("sales_order_id", "position"), ("item_id", "sales_order_id"))
