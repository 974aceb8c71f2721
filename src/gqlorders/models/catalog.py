"""Master data: warehouses, taxes, customers and items (SPEC §2)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import QuantityField

if TYPE_CHECKING:
    from gqlorders.models.organizations import Organization


class ItemKind(StrEnum):
    GOODS = "GOODS"
    SERVICE = "SERVICE"


class Warehouse(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="warehouses", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=200)
    is_primary = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "warehouse"


class Tax(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="taxes", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=100)
    percentage = QuantityField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tax"


class Customer(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="customers", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=50, null=True)
    currency = fields.CharField(max_length=3)
    payment_terms_days = fields.IntField(null=True)
    payment_terms_label = fields.CharField(max_length=100, null=True)
    billing_address: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    shipping_address: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    marketplace_identity = fields.CharField(max_length=200, null=True)  # buyer without e-mail
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer"
        indexes = (
            ("organization_id", "name"),
            ("organization_id", "email"),
            ("organization_id", "marketplace_identity"),
        )


class Item(Model):
    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="items", on_delete=fields.CASCADE
    )
    organization_id: int
    sku = fields.CharField(max_length=100)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ItemKind, max_length=8)
    rate = QuantityField()
    unit = fields.CharField(max_length=30, null=True)
    tax: fields.ForeignKeyNullableRelation[Tax] = fields.ForeignKeyField(
        "models.Tax", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    tax_id: int | None
    reorder_level = QuantityField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "item"
        unique_together = (("organization", "sku"),)
