"""Packages of goods and their shipment (SPEC §6)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import QuantityField

if TYPE_CHECKING:
    from gqlorders.models.organizations import Organization
    from gqlorders.models.sales_orders import SalesOrder, SalesOrderLine


class PackageStatus(StrEnum):
    PACKED = "PACKED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"


class Package(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="packages", on_delete=fields.CASCADE
    )
    organization_id: int
    number = fields.CharField(max_length=50)
    status = fields.CharEnumField(PackageStatus, max_length=10, default=PackageStatus.PACKED)
    sales_order: fields.ForeignKeyRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="packages", on_delete=fields.RESTRICT
    )
    sales_order_id: int
    carrier = fields.CharField(max_length=100, null=True)
    tracking_number = fields.CharField(max_length=100, null=True)
    shipped_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "package"
        unique_together = (("organization", "number"),)
        indexes = (("sales_order_id",),)


class PackageLine(Model):
    id = fields.BigIntField(primary_key=True)
    package: fields.ForeignKeyRelation[Package] = fields.ForeignKeyField(
        "models.Package", related_name="lines", on_delete=fields.CASCADE
    )
    package_id: int
    sales_order_line: fields.ForeignKeyRelation[SalesOrderLine] = fields.ForeignKeyField(
        "models.SalesOrderLine", related_name=False, on_delete=fields.RESTRICT
    )
    sales_order_line_id: int
    quantity = QuantityField()

    class Meta:
        table = "package_line"
        indexes = (("package_id",), ("sales_order_line_id",))
