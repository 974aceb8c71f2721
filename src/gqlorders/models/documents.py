"""Rendered PDF documents of orders and invoices (SPEC §8)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class DocumentState(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


class Document(Model):
    """The PDF of one order or invoice: the file is named by the hash of what it shows, so a
    change of the record means a new file, and an unchanged record is never rendered twice."""

    id = fields.BigIntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    sales_order = fields.OneToOneField(
        "models.SalesOrder", related_name=False, null=True, on_delete=fields.CASCADE
    )
    invoice = fields.OneToOneField(
        "models.Invoice", related_name=False, null=True, on_delete=fields.CASCADE
    )
    state = fields.CharEnumField(DocumentState, max_length=8, default=DocumentState.PENDING)
    content_hash = fields.CharField(max_length=64, null=True)
    path = fields.CharField(max_length=500, null=True)
    error = fields.TextField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "document"
