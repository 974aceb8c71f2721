"""Rendered PDF documents of orders and invoices (SPEC §8)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from gqlorders.models.invoices import Invoice
    from gqlorders.models.organizations import Organization
    from gqlorders.models.sales_orders import SalesOrder


class DocumentState(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


class Document(Model):
    """The PDF of one order or invoice: the file is named by the hash of what it shows, so a
    change of the record means a new file, and an unchanged record is never rendered twice."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    sales_order: fields.OneToOneNullableRelation[SalesOrder] = fields.OneToOneField(
        "models.SalesOrder", related_name=False, null=True, on_delete=fields.CASCADE
    )
    sales_order_id: int | None
    invoice: fields.OneToOneNullableRelation[Invoice] = fields.OneToOneField(
        "models.Invoice", related_name=False, null=True, on_delete=fields.CASCADE
    )
    invoice_id: int | None
    state = fields.CharEnumField(DocumentState, max_length=8, default=DocumentState.PENDING)
    content_hash = fields.CharField(max_length=64, null=True)
    path = fields.CharField(max_length=500, null=True)
    error: str | None = fields.TextField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "document"
