"""Creating, editing, confirming, voiding and deleting sales orders (SPEC §3).

Each function is one transaction: it locks the order row (PostgreSQL), checks every rule,
writes the order, its lines, its stored totals and an event, or raises `DomainError` and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gqlorders import events
from gqlorders.catalog.customers import clean_payment_terms, customer_email, get_customer
from gqlorders.catalog.warehouses import get_warehouse, primary_warehouse
from gqlorders.emails import clean_recipients, default_recipients, queue_email
from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.events import EventType
from gqlorders.models import (
    DiscountType,
    DocumentKind,
    InvoiceLine,
    Item,
    PackageLine,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    Tax,
)
from gqlorders.money import HUNDRED, TaxedAmount, document_totals, line_amount, order_discount
from gqlorders.numbering import (
    clean_explicit_number,
    next_free_number,
    number_taken,
    refuse_taken_number,
    take_next_number,
)
from gqlorders.orders.events import record_event
from gqlorders.orders.fulfilment import apply_closing_rule
from gqlorders.orders.inputs import LineInput, NewSalesOrder, SalesOrderChanges, SendRequest
from gqlorders.orders.lines import MAX_LINES, PricedLine, price_lines
from gqlorders.orders.statuses import invoiced_status, shipped_status
from gqlorders.stock.levels import request_recalculation
from gqlorders.tenancy import Principal
from gqlorders.validation import check_decimal, clean_address, clean_text

T = TypeVar("T")
MAX_TOTAL = Decimal("1e13")  # far inside the 64-bit scaled money columns

EDITABLE = (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED)
COMMITTING = (SalesOrderStatus.CONFIRMED, SalesOrderStatus.CLOSED)  # their goods are committed
TEXT_FIELDS = {  # model field: (input field, max length)
    "reference_number": ("referenceNumber", 100),
    "delivery_method": ("deliveryMethod", 100),
    "notes": ("notes", 5000),
    "terms": ("terms", 5000),
}


class AlreadyImported(Exception):
    """A concurrent import created the same marketplace order first."""


async def order_item_ids(order_id: int) -> list[int]:
    return list(
        await SalesOrderLine.filter(sales_order_id=order_id).values_list("item_id", flat=True)
    )


async def get_sales_order(
    organization_id: int, order_id: int, field: FieldPath = ("id",), *, lock: bool = False
) -> SalesOrder:
    """The organization's order; with `lock`, its row stays locked until the transaction ends."""
    query = SalesOrder.filter(organization_id=organization_id, id=order_id)
    if lock:
        query = query.select_for_update()
    order = await query.first()
    if order is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such sales order")
    return order


def _require_status(
    order: SalesOrder,
    allowed: tuple[SalesOrderStatus, ...],
    action: str,
    field: FieldPath = ("id",),
) -> None:
    if order.status not in allowed:
        raise DomainError.one(
            ErrorCode.INVALID_STATUS, field, f"a {order.status} order cannot be {action}"
        )


def _clean_header(problems: Problems, given: dict[str, Any]) -> dict[str, Any]:
    """Model values for the header fields a client gave (keys absent from `given` stay out)."""
    values: dict[str, Any] = {}
    for key, (field, max_length) in TEXT_FIELDS.items():
        if key in given:
            values[key] = clean_text(problems, given[key], (field,), max_length=max_length)
    for key in ("date", "expected_shipment_date"):
        if key in given:
            values[key] = given[key]
    if "payment_terms" in given:
        values["payment_terms_days"], values["payment_terms_label"] = clean_payment_terms(
            problems, given["payment_terms"], ("paymentTerms",)
        )
    for key, field in (
        ("billing_address", "billingAddress"),
        ("shipping_address", "shippingAddress"),
    ):
        if key in given:
            values[key] = clean_address(problems, given[key], (field,))
    if "shipping_charge" in given:
        charge = given["shipping_charge"] or Decimal(0)
        check_decimal(problems, charge, ("shippingCharge",), places=2)
        values["shipping_charge"] = charge
    if "adjustment" in given:
        adjustment = given["adjustment"]
        if adjustment is None:
            values["adjustment_label"] = values["adjustment_amount"] = None
        else:
            check_decimal(
                problems, adjustment.amount, ("adjustment", "amount"), places=2, minimum=None
            )
            values["adjustment_label"] = clean_text(
                problems, adjustment.label, ("adjustment", "label"), max_length=100
            )
            values["adjustment_amount"] = adjustment.amount
    if "discount" in given:
        discount = given["discount"]
        if discount is None:
            values["discount_type"] = values["discount_value"] = None
        else:
            maximum = HUNDRED if discount.type == DiscountType.PERCENTAGE else Decimal("1e12")
            check_decimal(
                problems, discount.value, ("discount", "value"), places=2, maximum=maximum
            )
            values["discount_type"], values["discount_value"] = discount.type, discount.value
    return values


def _check_dates(problems: Problems, order: SalesOrder) -> None:
    if order.expected_shipment_date is not None and order.expected_shipment_date < order.date:
        problems.add(
            ErrorCode.INVALID,
            ("expectedShipmentDate",),
            "the expected shipment date cannot be before the order date",
        )


def _apply_totals(problems: Problems, order: SalesOrder, lines: list[PricedLine]) -> None:
    """Store the SPEC §3 totals and derived statuses on the order row."""
    sub_total = sum((line.amount for line in lines), Decimal(0))
    if order.discount_type == DiscountType.PERCENTAGE:
        discount = order_discount(sub_total, percentage=order.discount_value)
    elif order.discount_type == DiscountType.AMOUNT:
        discount = order_discount(sub_total, amount=order.discount_value)
        if discount > sub_total:
            problems.add(
                ErrorCode.INVALID,
                ("discount", "value"),
                f"the discount cannot exceed the sub total ({sub_total})",
            )
    else:
        discount = Decimal(0)
    totals = document_totals(
        (
            TaxedAmount(
                line.amount,
                line.tax.id if line.tax else None,
                line.tax.percentage if line.tax else None,
            )
            for line in lines
        ),
        discount_amount=discount,
        shipping_charge=order.shipping_charge,
        adjustment=order.adjustment_amount or Decimal(0),
    )
    if max(abs(totals.sub_total), abs(totals.total)) > MAX_TOTAL:
        problems.add(ErrorCode.INVALID, ("lines",), "the order total is out of range")
        return
    order.sub_total = totals.sub_total
    order.discount_amount = totals.discount_amount
    order.tax_totals = totals.stored_taxes()
    order.tax_total = totals.tax_total
    order.total = totals.total


def _apply_statuses(order: SalesOrder, lines: list[SalesOrderLine], goods: set[int]) -> None:
    order.invoiced_status = invoiced_status(
        (line.quantity, line.quantity_invoiced) for line in lines
    )
    order.shipped_status = shipped_status(
        (line.quantity, line.quantity_shipped)
        for line in lines
        if line.item_id in goods  # type: ignore[attr-defined]
    )


async def _current_lines(order: SalesOrder) -> list[PricedLine]:
    """The order's saved lines as priced lines, with their items and taxes (three queries)."""
    lines = await SalesOrderLine.filter(sales_order_id=order.id).order_by("position", "id")
    items = {i.id: i for i in await Item.filter(id__in={line.item_id for line in lines})}  # type: ignore[attr-defined]
    tax_ids = {line.tax_id for line in lines if line.tax_id is not None}  # type: ignore[attr-defined]
    taxes = {t.id: t for t in await Tax.filter(id__in=tax_ids)} if tax_ids else {}
    return [
        PricedLine(
            item=items[line.item_id],  # type: ignore[attr-defined]
            description=line.description,
            quantity=line.quantity,
            rate=line.rate,
            discount_percent=line.discount_percent,
            tax=taxes.get(line.tax_id),  # type: ignore[attr-defined]
            amount=line.amount,
            line=line,
        )
        for line in lines
    ]


async def _write_lines(order: SalesOrder, priced: list[PricedLine]) -> list[SalesOrderLine]:
    """Save the full list of lines in order: update kept lines, insert new ones."""
    saved = []
    for position, p in enumerate(priced):
        line = p.line or SalesOrderLine(sales_order_id=order.id)
        line.position = position
        line.item_id = p.item.id  # type: ignore[attr-defined]
        line.description = p.description
        line.quantity = p.quantity
        line.rate = p.rate
        line.discount_percent = p.discount_percent
        line.tax_id = p.tax.id if p.tax else None  # type: ignore[attr-defined]
        line.amount = p.amount
        await line.save()
        saved.append(line)
    return saved


def _new_lines(priced: list[PricedLine]) -> list[SalesOrderLine]:
    """The lines of an order about to be created, unsaved, so they go in one INSERT."""
    return [
        SalesOrderLine(
            position=position,
            item_id=p.item.id,
            description=p.description,
            quantity=p.quantity,
            rate=p.rate,
            discount_percent=p.discount_percent,
            tax_id=p.tax.id if p.tax else None,
            amount=p.amount,
        )
        for position, p in enumerate(priced)
    ]


def _goods(priced: list[PricedLine]) -> set[int]:
    return {p.item.id for p in priced if p.is_goods}


async def reprice_order(order: SalesOrder) -> None:
    """Recompute line amounts, totals and statuses from the saved lines (after a merge)."""
    priced = await _current_lines(order)
    for p in priced:
        p.amount = line_amount(p.quantity, p.rate, p.discount_percent)
        if p.line is not None and p.line.amount != p.amount:
            p.line.amount = p.amount
            await p.line.save(update_fields=["amount"])
    problems = Problems()
    _apply_totals(problems, order, priced)
    problems.raise_if_any()
    _apply_statuses(order, [p.line for p in priced if p.line is not None], _goods(priced))
    await order.save()


async def _collect(problems: Problems, lookup: Awaitable[T]) -> T | None:
    """Await a lookup; a NOT_FOUND joins the other problems instead of hiding them."""
    try:
        return await lookup
    except DomainError as error:
        problems.items.extend(error.problems)
        return None


async def create_sales_order(principal: Principal, data: NewSalesOrder) -> SalesOrder:
    organization_id = principal.organization_id
    problems = Problems()
    header = _clean_header(problems, {k: getattr(data, k) for k in HEADER_KEYS})
    if not data.lines:
        problems.add(ErrorCode.REQUIRED, ("lines",), "an order needs at least one line")
    send_to = clean_recipients(problems, data.send_to, ("sendTo",))
    customer = await _collect(
        problems, get_customer(organization_id, data.customer_id, ("customerId",))
    )
    if data.warehouse_id is not None:
        warehouse = await _collect(
            problems, get_warehouse(organization_id, data.warehouse_id, ("warehouseId",))
        )
    else:
        warehouse = await primary_warehouse(organization_id)
    priced = await price_lines(organization_id, data.lines, problems)
    if customer is None or warehouse is None:
        problems.raise_if_any()
    assert customer is not None and warehouse is not None
    if data.send:
        send_to = default_recipients(problems, send_to, customer.email, ("sendTo",))
    order = SalesOrder(
        organization_id=organization_id,
        customer_id=customer.id,
        warehouse_id=warehouse.id,
        currency=customer.currency,
        date=header.pop("date", None) or date.today(),
        payment_terms_days=customer.payment_terms_days,
        payment_terms_label=customer.payment_terms_label,
        billing_address=customer.billing_address,
        shipping_address=customer.shipping_address,
    )
    order.update_from_dict({k: v for k, v in header.items() if v is not None or k not in _COPIED})
    if data.source is not None:
        order.marketplace = data.source.marketplace
        order.external_id = data.source.external_id
        order.marketplace_updated_at = data.source.updated_at
        order.marketplace_totals = data.source.totals
        order.currency = data.source.currency
    _check_dates(problems, order)
    if priced is not None:
        _apply_totals(problems, order, priced)
    problems.raise_if_any()
    assert priced is not None
    lines = _new_lines(priced)
    _apply_statuses(order, lines, _goods(priced))
    if data.number is not None:
        order.number = clean_explicit_number(data.number)
        await refuse_taken_number(SalesOrder, organization_id, order.number)
    else:
        order.number = await take_next_number(organization_id, DocumentKind.SALES_ORDER)
    while True:
        try:
            await _write_new_order(principal, data, order, lines, send_to)
            return order
        except _OrderRowRefused as refused:
            source = data.source
            if source is not None and await SalesOrder.exists(
                organization_id=organization_id,
                marketplace=source.marketplace,
                external_id=source.external_id,
            ):
                raise AlreadyImported(source.external_id) from None
            if not await number_taken(SalesOrder, organization_id, order.number):
                raise refused.error from None  # not a rule of ours: a server error
            if data.number is not None:
                used = f"number {order.number} is already used"
                raise DomainError.one(ErrorCode.DUPLICATE_NUMBER, ("number",), used) from None
            # given by hand since the counter handed it out: take the next free one
            order.number = await next_free_number(
                SalesOrder, organization_id, DocumentKind.SALES_ORDER
            )


class _OrderRowRefused(Exception):
    """The order's own INSERT failed on a constraint (its number, its marketplace order): the
    transaction is void, and the creation decides what to try next."""

    def __init__(self, error: IntegrityError) -> None:
        super().__init__(error)
        self.error = error


async def _write_new_order(
    principal: Principal,
    data: NewSalesOrder,
    order: SalesOrder,
    lines: list[SalesOrderLine],
    send_to: list[str] | None,
) -> None:
    async with in_transaction():
        try:
            await order.save()
        except IntegrityError as error:
            raise _OrderRowRefused(error) from error
        for line in lines:
            line.sales_order_id = order.id
        await SalesOrderLine.bulk_create(lines)
        await record_event(
            order, "created", principal.actor, {"number": order.number}, new_order=True
        )
        if data.send or data.confirm:
            await _confirm(order, principal.actor, new_order=True)
        if data.send:
            await _queue_order_email(order, principal.actor, send_to)


HEADER_KEYS = (
    "reference_number",
    "date",
    "expected_shipment_date",
    "delivery_method",
    "payment_terms",
    "billing_address",
    "shipping_address",
    "discount",
    "shipping_charge",
    "adjustment",
    "notes",
    "terms",
)
# Defaults copied from the customer when the client leaves them out (SPEC §3).
_COPIED = {"payment_terms_days", "payment_terms_label", "billing_address", "shipping_address"}


async def _check_line_quantities(
    problems: Problems, order_lines: list[SalesOrderLine], priced: list[PricedLine]
) -> None:
    """A line can never go below what is already invoiced or packed, nor vanish while an
    invoice or package (even a void one, which keeps its history) refers to it."""
    for index, p in enumerate(priced):
        if p.line is None:
            continue
        if p.quantity < p.line.quantity_invoiced:
            problems.add(
                ErrorCode.OVER_INVOICED,
                ("lines", index, "quantity"),
                f"{p.line.quantity_invoiced} of this line is already invoiced",
            )
        if p.quantity < p.line.quantity_packed:
            problems.add(
                ErrorCode.OVER_PACKED,
                ("lines", index, "quantity"),
                f"{p.line.quantity_packed} of this line is already packed",
            )
        if p.item.id != p.line.item_id and (p.line.quantity_invoiced or p.line.quantity_packed):  # type: ignore[attr-defined]
            problems.add(
                ErrorCode.INVALID_STATUS,
                ("lines", index, "itemId"),
                "the item of an invoiced or packed line cannot change",
            )
    kept = {p.line.id for p in priced if p.line is not None}
    removed = [line for line in order_lines if line.id not in kept]
    if not removed:
        return
    removed_ids = [line.id for line in removed]
    referenced = set(
        await InvoiceLine.filter(sales_order_line_id__in=removed_ids).values_list(
            "sales_order_line_id", flat=True
        )
    ) | set(
        await PackageLine.filter(sales_order_line_id__in=removed_ids).values_list(
            "sales_order_line_id", flat=True
        )
    )
    for line in removed:
        if line.id in referenced or line.quantity_invoiced or line.quantity_packed:
            problems.add(
                ErrorCode.INVALID_STATUS,
                ("lines",),
                f"line {line.position + 1} is on an invoice or a package and cannot be removed",
            )


async def update_sales_order(
    principal: Principal, order_id: int, changes: SalesOrderChanges
) -> SalesOrder:
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        _require_status(order, EDITABLE, "edited")
        problems = Problems()
        header = _clean_header(problems, changes.fields)
        current = await _current_lines(order)
        if changes.lines is not None:
            if not changes.lines:
                problems.add(ErrorCode.REQUIRED, ("lines",), "an order needs at least one line")
            existing = {p.line.id: p.line for p in current if p.line is not None}
            new_lines = await price_lines(
                principal.organization_id, changes.lines, problems, existing=existing
            )
            if new_lines is None:
                problems.raise_if_any()
            priced = new_lines or []
            await _check_line_quantities(problems, list(existing.values()), priced)
        else:
            priced = current
        order.update_from_dict(header)
        if "date" in header and header["date"] is None:
            order.date = date.today()
        _check_dates(problems, order)
        _apply_totals(problems, order, priced)
        problems.raise_if_any()
        if changes.lines is not None:
            kept = {p.line.id for p in priced if p.line is not None}
            removed = [p.line.id for p in current if p.line is not None and p.line.id not in kept]
            if removed:
                await SalesOrderLine.filter(id__in=removed).delete()
            lines = await _write_lines(order, priced)
        else:
            lines = [p.line for p in current if p.line is not None]
        _apply_statuses(order, lines, _goods(priced))
        await apply_closing_rule(order, principal.actor)
        await order.save()
        if order.status in COMMITTING and changes.lines is not None:
            touched = {p.item.id for p in current} | {p.item.id for p in priced}
            await request_recalculation(principal.organization_id, touched)
        await record_event(
            order,
            "updated",
            principal.actor,
            {"fields": sorted(changes.fields), "lines": changes.lines is not None},
        )
    return order


async def add_sales_order_lines(
    principal: Principal, order_id: int, new_lines: list[LineInput]
) -> SalesOrder:
    """Bulk add: append lines to an editable order."""
    async with in_transaction():
        field = ("salesOrderId",)
        order = await get_sales_order(principal.organization_id, order_id, field, lock=True)
        _require_status(order, EDITABLE, "edited", field)
        problems = Problems()
        if not new_lines:
            problems.add(ErrorCode.REQUIRED, ("lines",), "give at least one line to add")
        if any(line.id is not None for line in new_lines):
            problems.add(ErrorCode.INVALID, ("lines",), "new lines cannot carry an id")
        current = await _current_lines(order)
        added = await price_lines(principal.organization_id, new_lines, problems)
        if added is None or len(current) + len(added) > MAX_LINES:
            if added is not None:
                problems.add(
                    ErrorCode.INVALID, ("lines",), f"an order has at most {MAX_LINES} lines"
                )
            problems.raise_if_any()
        assert added is not None
        priced = current + added
        _apply_totals(problems, order, priced)
        problems.raise_if_any()
        lines = await _write_lines(order, priced)
        _apply_statuses(order, lines, _goods(priced))
        await order.save()
        await record_event(order, "lines_added", principal.actor, {"count": len(added)})
        if order.status in COMMITTING:
            await request_recalculation(principal.organization_id, {p.item.id for p in added})
    return order


async def _confirm(order: SalesOrder, actor: str, *, new_order: bool = False) -> None:
    """DRAFT -> CONFIRMED; an order already fulfilled by the closing rule closes at once."""
    order.status = SalesOrderStatus.CONFIRMED
    await record_event(order, "confirmed", actor, new_order=new_order)
    await apply_closing_rule(order, actor)
    await order.save(update_fields=["status", "updated_at"])
    await request_recalculation(order.organization_id, await order_item_ids(order.id))  # type: ignore[attr-defined]


async def confirm_sales_order(principal: Principal, order_id: int) -> SalesOrder:
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        _require_status(order, (SalesOrderStatus.DRAFT,), "confirmed")
        await _confirm(order, principal.actor)
    return order


async def _queue_order_email(
    order: SalesOrder,
    actor: str,
    to: list[str],
    cc: list[str] | None = None,
    subject: str | None = None,
    body: str = "",
) -> None:
    subject = subject or f"Sales order {order.number}"
    await queue_email(
        order.organization_id,  # type: ignore[attr-defined]
        to,
        subject,
        body,
        cc,
        sales_order=order,
    )
    await record_event(order, "sent", actor, {"to": to, "subject": subject})


async def send_sales_order(principal: Principal, order_id: int, request: SendRequest) -> SalesOrder:
    """E-mail the order; sending a draft confirms it (SPEC §3)."""
    problems = Problems()
    to = clean_recipients(problems, request.to, ("to",))
    cc = clean_recipients(problems, request.cc, ("cc",))
    subject = clean_text(problems, request.subject, ("subject",), max_length=300)
    body = clean_text(problems, request.body, ("body",), max_length=20000) or ""
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        _require_status(
            order,
            (SalesOrderStatus.DRAFT, SalesOrderStatus.CONFIRMED, SalesOrderStatus.CLOSED),
            "sent",
        )
        fallback = await customer_email(
            order.customer_id  # type: ignore[attr-defined]
        )
        to = default_recipients(problems, to, fallback, ("to",))
        problems.raise_if_any()
        if order.status == SalesOrderStatus.DRAFT:
            await _confirm(order, principal.actor)
        await _queue_order_email(order, principal.actor, to, cc, subject, body)
    return order


async def void_sales_order(principal: Principal, order_id: int) -> SalesOrder:
    """Void is allowed while nothing is invoiced, packed or shipped (SPEC §3)."""
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        _require_status(order, EDITABLE, "voided")
        fulfilled = await SalesOrderLine.filter(
            Q(quantity_invoiced__gt=0) | Q(quantity_packed__gt=0), sales_order_id=order.id
        ).exists()
        if fulfilled:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS, ("id",), "an invoiced or packed order cannot be voided"
            )
        was_committing = order.status in COMMITTING
        order.status = SalesOrderStatus.VOID
        await order.save(update_fields=["status", "updated_at"])
        await record_event(order, "voided", principal.actor)
        if was_committing:
            await request_recalculation(principal.organization_id, await order_item_ids(order.id))
    return order


async def delete_sales_order(principal: Principal, order_id: int) -> None:
    """Only drafts can be deleted; their numbers are not handed out again."""
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        _require_status(order, (SalesOrderStatus.DRAFT,), "deleted")
        if await SalesOrder.exists(merged_into_id=order.id):
            raise DomainError.one(
                ErrorCode.INVALID_STATUS,
                ("id",),
                "other orders were merged into this one: void it instead of deleting it",
            )
        await events.record(EventType.SALES_ORDER_DELETED, order, principal.actor)
        await order.delete()
