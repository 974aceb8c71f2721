"""PDF documents of orders and invoices (SPEC §8): what they show, and when to (re)render.

The data a document shows is gathered here, as plain JSON-able values; the worker renders it.
Its hash, with the layout's (workers/pdf.py: layout_digest), names the file, so an order that
changed, or a layout that changed, gets a new PDF and an unchanged one is never rendered twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypedDict

from tortoise.transactions import in_transaction

from gqlorders import jobs
from gqlorders.errors import DomainError, ErrorCode
from gqlorders.models import (
    Customer,
    Document,
    DocumentState,
    Invoice,
    InvoiceLine,
    Item,
    Organization,
    SalesOrder,
    SalesOrderLine,
    Tax,
)
from gqlorders.money import TaxMode, format_decimal

SALES_ORDER = "sales_order"
INVOICE = "invoice"


class Availability(Enum):
    """Where a record's PDF stands for a download."""

    NOT_FOUND = "not found"  # nobody asked for it, or no such record in this organization
    RENDERING = "rendering"  # asked for, or found stale and rendered again: there will be one
    FAILED = "failed"  # its rendering failed (the error says why)
    READY = "ready"  # the file, as the record is now


@dataclass(frozen=True)
class Download:
    availability: Availability
    path: Path | None = None  # READY
    error: str | None = None  # FAILED
    render_requested: bool = False  # RENDERING because this download found the file stale


class RecordKey(TypedDict, total=False):
    """The foreign key to a record, as keyword arguments of the ORM's queries: its document
    row and its lines name it alike. One of the two, by the record's kind."""

    sales_order_id: int
    invoice_id: int


def _money(value: Any) -> str:
    return f"{value:.2f}"


def _quantity(value: Any) -> str:
    return f"{value.normalize():f}"


async def _record(kind: str, record_id: int) -> SalesOrder | Invoice:
    model = SalesOrder if kind == SALES_ORDER else Invoice
    return await model.get(id=record_id)


async def document_data(kind: str, record_id: int) -> dict[str, Any]:
    """Everything the PDF shows, as strings: the template does no arithmetic."""
    record = await _record(kind, record_id)
    organization = await Organization.get(id=record.organization_id)
    customer = await Customer.get(id=record.customer_id)
    line_model = SalesOrderLine if kind == SALES_ORDER else InvoiceLine
    lines = await line_model.filter(**document_owner(kind, record.id)).order_by("position", "id")
    items = {i.id: i for i in await Item.filter(id__in={line.item_id for line in lines})}
    tax_ids = {line.tax_id for line in lines if line.tax_id} | {
        t["tax_id"] for t in record.tax_totals
    }
    taxes = {t.id: t for t in await Tax.filter(id__in=tax_ids)}
    data: dict[str, Any] = {
        "kind": kind,
        "title": "Sales order" if kind == SALES_ORDER else "Invoice",
        "organization": organization.name,
        "number": record.number,
        "status": str(record.status),
        "date": record.date.isoformat(),
        "currency": record.currency,
        "customer": {"name": customer.name, "email": customer.email},
        "billing_address": record.billing_address,
        "shipping_address": record.shipping_address,
        "lines": [
            {
                "sku": items[line.item_id].sku,
                "description": line.description or items[line.item_id].name,
                "quantity": _quantity(line.quantity),
                "rate": format_decimal(line.rate),
                "discount": _quantity(line.discount_percent),
                "tax": taxes[line.tax_id].name if line.tax_id else "",
                "amount": _money(line.amount),
            }
            for line in lines
        ],
        "taxes": [
            {"name": taxes[t["tax_id"]].name, "amount": t["amount"]} for t in record.tax_totals
        ],
        "sub_total": _money(record.sub_total),
        "discount": _money(record.discount_amount) if record.discount_amount else None,
        "shipping_charge": _money(record.shipping_charge) if record.shipping_charge else None,
        "adjustment": (
            {
                "label": record.adjustment_label or "Adjustment",
                "amount": _money(record.adjustment_amount),
            }
            if record.adjustment_amount is not None
            else None
        ),
        "tax_total": _money(record.tax_total),
        "total": _money(record.total),
    }
    if record.tax_mode == TaxMode.INCLUSIVE:
        # Gross prices (SPEC §3): the taxes show as contained in the total, not added to it.
        # (Only then: a net document's data, so its hash and its PDF, stay as they were.)
        data |= {
            "prices_include_tax": True,
            "total_without_tax": _money(record.total - record.tax_total),
        }
    if isinstance(record, SalesOrder) and record.merged_into_id is not None:
        # A merged order names the order that took its lines (only a merged order's data has
        # the key; the layout digest changed with the template all the same).
        survivor = await SalesOrder.get(
            id=record.merged_into_id, organization_id=record.organization_id
        )
        data["merged_into"] = survivor.number
    if isinstance(record, SalesOrder):
        data |= {
            "reference": record.reference_number,
            "expected_shipment_date": record.expected_shipment_date.isoformat()
            if record.expected_shipment_date
            else None,
            "payment_terms": record.payment_terms_label,
            "notes": record.notes,
            "terms": record.terms,
        }
    else:
        data |= {"due_date": record.due_date.isoformat()}
    return data


def content_hash(data: dict[str, Any], layout: str) -> str:
    """What a document shows: its data laid out in `layout` (a digest of the template)."""
    shown = {"data": data, "layout": layout}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


async def record_organization(kind: str, record_id: int) -> int:
    return (await _record(kind, record_id)).organization_id


def document_owner(kind: str, record_id: int) -> RecordKey:
    """The filter of the record's document row (and of its lines)."""
    if kind == SALES_ORDER:
        return RecordKey(sales_order_id=record_id)
    return RecordKey(invoice_id=record_id)


async def request_render(organization_id: int, kind: str, record_id: int) -> Document:
    """Mark the document PENDING and enqueue its rendering (in the caller's transaction)."""
    document, _ = await Document.get_or_create(
        defaults={"organization_id": organization_id}, **document_owner(kind, record_id)
    )
    if document.state != DocumentState.PENDING:
        document.state = DocumentState.PENDING
        document.error = None
        await document.save(update_fields=["state", "error", "updated_at"])
    await jobs.enqueue(jobs.RENDER_PDF, kind=kind, record_id=record_id)
    return document


async def rerender_if_rendered(kind: str, record_id: int) -> None:
    """After a change: a record whose PDF was ever asked for gets a fresh one."""
    document = await Document.filter(**document_owner(kind, record_id)).first()
    if document is not None:
        await request_render(document.organization_id, kind, record_id)


async def render_sales_order_pdf(organization_id: int, order_id: int) -> SalesOrder:
    order = await SalesOrder.filter(organization_id=organization_id, id=order_id).first()
    if order is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, ("id",), "no such sales order")
    await request_render(organization_id, SALES_ORDER, order.id)
    return order


async def download(
    organization_id: int,
    kind: str,
    record_id: int,
    current_hash: Callable[[str, int], Awaitable[str]],
) -> Download:
    """What a download of the record's PDF gets. A READY file that was lost (a moved
    DATA_DIR...) or no longer shows the record as it is now (`current_hash`: rendered in a
    layout of before a deploy, or before a change that asks for no render, as an invoice
    voided before voiding rendered) is rendered again: RENDERING."""
    document = await Document.filter(
        organization_id=organization_id, **document_owner(kind, record_id)
    ).first()
    if document is None:
        return Download(Availability.NOT_FOUND)
    if document.state == DocumentState.FAILED:
        return Download(Availability.FAILED, error=document.error)
    if document.state == DocumentState.PENDING:
        return Download(Availability.RENDERING)
    path = Path(document.path) if document.path else None
    if (
        path is None
        or not path.is_file()
        or document.content_hash != await current_hash(kind, record_id)
    ):
        async with in_transaction():  # the PENDING mark and its job together
            await request_render(organization_id, kind, record_id)
        return Download(Availability.RENDERING, render_requested=True)
    return Download(Availability.READY, path=path)
