"""Organizations (tenants), their API tokens and their document-number sequences."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from gqlorders.money import TaxMode


class CloseSalesOrderWhen(StrEnum):
    INVOICED = "INVOICED"
    SHIPPED = "SHIPPED"
    INVOICED_AND_SHIPPED = "INVOICED_AND_SHIPPED"


class NumberingMode(StrEnum):
    AUTO = "AUTO"
    MANUAL = "MANUAL"


class DocumentKind(StrEnum):
    SALES_ORDER = "SALES_ORDER"
    INVOICE = "INVOICE"
    PACKAGE = "PACKAGE"


class Organization(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3, default="USD", db_default="USD")
    close_sales_order_when = fields.CharEnumField(
        CloseSalesOrderWhen,
        max_length=24,
        default=CloseSalesOrderWhen.INVOICED_AND_SHIPPED,
        db_default=CloseSalesOrderWhen.INVOICED_AND_SHIPPED.value,
    )
    default_tax_mode = fields.CharEnumField(
        TaxMode, max_length=9, default=TaxMode.EXCLUSIVE, db_default=TaxMode.EXCLUSIVE.value
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization"


class ApiToken(Model):
    """A bearer token. Only its SHA-256 is stored: the secret is shown once, at creation."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="tokens", on_delete=fields.CASCADE
    )
    organization_id: int
    name = fields.CharField(max_length=200, default="", db_default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class NumberSequence(Model):
    """The numbering settings and counter of one kind of document in one organization."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="number_sequences", on_delete=fields.CASCADE
    )
    organization_id: int
    document = fields.CharEnumField(DocumentKind, max_length=16)
    mode = fields.CharEnumField(NumberingMode, max_length=8, default=NumberingMode.AUTO)
    prefix = fields.CharField(max_length=20)
    next_number = fields.BigIntField(default=1)
    padding = fields.IntField(default=5)

    class Meta:
        table = "number_sequence"
        unique_together = (("organization", "document"),)
