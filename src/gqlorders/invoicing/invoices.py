"""Converting orders into (partial) invoices, sending and voiding them (SPEC §5).

Lock order, everywhere in fulfilment: the sales order row first, then anything under it. The
order row lock serializes every change of its lines' invoiced and packed quantities, so racing
requests can never invoice more than remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gqlorders import events
from gqlorders.catalog.customers import customer_email
from gqlorders.documents import INVOICE, request_render, rerender_if_rendered
from gqlorders.emails import clean_recipients, default_recipients, queue_email
from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.events import EventType
from gqlorders.models import (
    DiscountType,
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    SalesOrder,
    SalesOrderLine,
    Tax,
)
from gqlorders.money import TaxedAmount, document_totals, line_amount, order_discount
from gqlorders.numbering import assign_number
from gqlorders.orders import (
    ACCEPTED,
    OrderEventType,
    QuantityRequest,
    get_sales_order,
    record_event,
    refresh_fulfilment,
    requested_quantities,
)
from gqlorders.rows import column
from gqlorders.tenancy import Principal


@dataclass(frozen=True)
class NewInvoice:
    sales_order_id: int
    lines: list[QuantityRequest] | None = None  # None: everything not yet invoiced
    date: date | None = None
    number: str | None = None  # required in MANUAL invoice numbering
    send: bool = False
    send_to: list[str] | None = None


async def _invoice_discount(order: SalesOrder, sub_total: Decimal, completes: bool) -> Decimal:
    """The order discount's share of this invoice.

    A percentage applies as such; a fixed amount is prorated by sub total, and the invoice that
    completes the order takes what is left (never below zero nor above its own sub total), so
    the invoices' discounts add up to the order's.
    """
    if order.discount_type == DiscountType.PERCENTAGE:
        return order_discount(sub_total, percentage=order.discount_value)
    if order.discount_type != DiscountType.AMOUNT or not order.sub_total:
        return Decimal(0)
    if completes:
        taken = await column(
            Invoice.filter(sales_order_id=order.id).exclude(status=InvoiceStatus.VOID),
            "discount_amount",
        )
        left = order.discount_amount - sum(taken, Decimal(0))
        return min(max(left, Decimal(0)), sub_total)
    return order_discount(sub_total, amount=order.discount_amount * sub_total / order.sub_total)


async def create_invoice_from_sales_order(principal: Principal, data: NewInvoice) -> Invoice:
    problems = Problems()
    send_to = clean_recipients(problems, data.send_to, ("sendTo",))
    async with in_transaction():
        order = await get_sales_order(
            principal.organization_id, data.sales_order_id, ("salesOrderId",), lock=True
        )
        if order.status not in ACCEPTED:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS,
                ("salesOrderId",),
                f"a {order.status} order cannot be invoiced: confirm it first",
            )
        # In line order (position, then id): invoice lines are numbered in it and the first
        # line's tax is the first tax group, whatever order the rows sit in on disk.
        lines = {
            line.id: line
            for line in await SalesOrderLine.filter(sales_order_id=order.id).order_by(
                "position", "id"
            )
        }
        remaining = {
            line_id: line.quantity - line.quantity_invoiced for line_id, line in lines.items()
        }
        quantities = requested_quantities(
            problems, data.lines, lines, remaining, ErrorCode.OVER_INVOICED, "invoice"
        )
        if not quantities and not problems:
            problems.add(ErrorCode.INVALID, ("salesOrderId",), "nothing remains to invoice")
        if data.send:
            fallback = await customer_email(order.customer_id)
            send_to = default_recipients(problems, send_to, fallback, ("sendTo",))
        problems.raise_if_any()

        taxes = {
            tax.id: tax
            for tax in await Tax.filter(
                id__in={lines[i].tax_id for i in quantities if lines[i].tax_id}
            )
        }
        invoice_lines = []
        for position, (line_id, quantity) in enumerate(
            sorted(quantities.items(), key=lambda kv: (lines[kv[0]].position, kv[0]))
        ):
            line = lines[line_id]
            invoice_lines.append(
                InvoiceLine(
                    sales_order_line_id=line.id,
                    position=position,
                    item_id=line.item_id,
                    description=line.description,
                    quantity=quantity,
                    rate=line.rate,
                    discount_percent=line.discount_percent,
                    tax_id=line.tax_id,
                    amount=line_amount(quantity, line.rate, line.discount_percent),
                )
            )
        # The shipping charge and adjustment go on the first invoice, or on the next one when
        # the invoice that carried them was voided.
        first = (
            not await Invoice.filter(sales_order_id=order.id)
            .exclude(status=InvoiceStatus.VOID)
            .filter(Q(shipping_charge__not=0) | Q(adjustment_amount__isnull=False))
            .exists()
        )
        completes = all(
            quantities.get(line_id, Decimal(0)) >= left for line_id, left in remaining.items()
        )
        sub_total = sum((line.amount for line in invoice_lines), Decimal(0))
        discount = await _invoice_discount(order, sub_total, completes)
        shipping = order.shipping_charge if first else Decimal(0)
        adjustment = order.adjustment_amount if first else None
        totals = document_totals(
            (
                TaxedAmount(
                    line.amount,
                    line.tax_id,
                    taxes[line.tax_id].percentage if line.tax_id else None,
                )
                for line in invoice_lines
            ),
            discount_amount=discount,
            shipping_charge=shipping,
            adjustment=adjustment or Decimal(0),
            tax_mode=order.tax_mode,  # its lines' rates read as the order's do (SPEC §5)
        )
        invoice_date = data.date or date.today()
        try:
            due_date = invoice_date + timedelta(days=order.payment_terms_days or 0)
        except OverflowError:
            raise DomainError.one(
                ErrorCode.INVALID, ("date",), "the date is out of range"
            ) from None
        invoice = await Invoice.create(
            organization_id=principal.organization_id,
            number=await assign_number(
                Invoice, principal.organization_id, DocumentKind.INVOICE, data.number
            ),
            status=InvoiceStatus.SENT if data.send else InvoiceStatus.DRAFT,
            sales_order_id=order.id,
            customer_id=order.customer_id,
            date=invoice_date,
            due_date=due_date,
            currency=order.currency,
            tax_mode=order.tax_mode,
            billing_address=order.billing_address,
            shipping_address=order.shipping_address,
            discount_type=order.discount_type,
            discount_value=order.discount_value,
            discount_amount=totals.discount_amount,
            shipping_charge=shipping,
            adjustment_label=order.adjustment_label if first else None,
            adjustment_amount=adjustment,
            sub_total=totals.sub_total,
            tax_totals=totals.stored_taxes(),
            tax_total=totals.tax_total,
            total=totals.total,
        )
        for invoice_line in invoice_lines:
            invoice_line.invoice_id = invoice.id
        await InvoiceLine.bulk_create(invoice_lines)
        for line_id, quantity in quantities.items():
            line = lines[line_id]
            line.quantity_invoiced = line.quantity_invoiced + quantity
            await line.save(update_fields=["quantity_invoiced"])
        await record_event(
            order, OrderEventType.INVOICED, principal.actor, {"invoice": invoice.number}
        )
        await events.record(EventType.INVOICE_CREATED, invoice, principal.actor)
        if data.send:
            await _queue_invoice_email(order, invoice, principal.actor, send_to)
        await refresh_fulfilment(order, principal.actor)
    return invoice


async def _queue_invoice_email(
    order: SalesOrder, invoice: Invoice, actor: str, to: list[str]
) -> None:
    """A sent invoice gets its PDF (downloadable, and attached to the e-mail)."""
    await request_render(invoice.organization_id, INVOICE, invoice.id)
    await queue_email(
        invoice.organization_id,
        to,
        f"Invoice {invoice.number}",
        invoice=invoice,
    )
    await record_event(
        order, OrderEventType.INVOICE_SENT, actor, {"invoice": invoice.number, "to": to}
    )
    await events.record(EventType.INVOICE_SENT, invoice, actor)


async def get_invoice(organization_id: int, invoice_id: int, field: FieldPath = ("id",)) -> Invoice:
    invoice = await Invoice.filter(organization_id=organization_id, id=invoice_id).first()
    if invoice is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such invoice")
    return invoice


async def _locked_invoice(principal: Principal, invoice_id: int) -> tuple[SalesOrder, Invoice]:
    """The invoice and its order, the order row locked first (the fulfilment lock order)."""
    invoice = await get_invoice(principal.organization_id, invoice_id)
    order = await get_sales_order(
        principal.organization_id,
        invoice.sales_order_id,
        lock=True,
    )
    return order, await Invoice.get(id=invoice.id)


async def send_invoice(principal: Principal, invoice_id: int) -> Invoice:
    async with in_transaction():
        order, invoice = await _locked_invoice(principal, invoice_id)
        if invoice.status == InvoiceStatus.VOID:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS, ("id",), "a void invoice cannot be sent"
            )
        problems = Problems()
        fallback = await customer_email(invoice.customer_id)
        to = default_recipients(problems, [], fallback, ("id",))
        problems.raise_if_any()
        invoice.status = InvoiceStatus.SENT
        await invoice.save(update_fields=["status", "updated_at"])
        await _queue_invoice_email(order, invoice, principal.actor, to)
    return invoice


async def void_invoice(principal: Principal, invoice_id: int) -> Invoice:
    """Void an invoice and give its quantities back to the order, which may reopen (SPEC §5).
    A PDF of it that was ever asked for is rendered again, marked VOID (SPEC §8)."""
    async with in_transaction():
        order, invoice = await _locked_invoice(principal, invoice_id)
        if invoice.status == InvoiceStatus.VOID:
            raise DomainError.one(ErrorCode.INVALID_STATUS, ("id",), "the invoice is already void")
        invoice.status = InvoiceStatus.VOID
        await invoice.save(update_fields=["status", "updated_at"])
        await rerender_if_rendered(INVOICE, invoice.id)
        invoiced = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
        lines = {
            line.id: line
            for line in await SalesOrderLine.filter(
                id__in=[i.sales_order_line_id for i in invoiced]
            )
        }
        for invoice_line in invoiced:
            line = lines[invoice_line.sales_order_line_id]
            line.quantity_invoiced = line.quantity_invoiced - invoice_line.quantity
            await line.save(update_fields=["quantity_invoiced"])
        await record_event(
            order, OrderEventType.INVOICE_VOIDED, principal.actor, {"invoice": invoice.number}
        )
        await events.record(EventType.INVOICE_VOIDED, invoice, principal.actor)
        await refresh_fulfilment(order, principal.actor)
    return invoice
