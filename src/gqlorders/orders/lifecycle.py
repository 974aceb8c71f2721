"""Creating, editing, confirming, sending, voiding and deleting sales orders (SPEC §3).

Each command is one transaction: it locks the order row (PostgreSQL), checks every rule,
writes the order, its lines, its stored totals and an event, or raises `DomainError` and
writes nothing. Committed stock is recalculated through a job written in the same
transaction (`request_recalculation`), and e-mail goes out through the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gqlorders import events
from gqlorders.catalog.customers import customer_email, get_customer
from gqlorders.catalog.warehouses import get_warehouse, primary_warehouse
from gqlorders.emails import clean_recipients, default_recipients, queue_email
from gqlorders.errors import DomainError, ErrorCode, Problems
from gqlorders.events import EventType
from gqlorders.models import (
    DocumentKind,
    InvoiceLine,
    PackageLine,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
)
from gqlorders.numbering import (
    clean_explicit_number,
    next_free_number,
    number_taken,
    refuse_taken_number,
    take_next_number,
)
from gqlorders.orders.access import get_sales_order, order_item_ids, require_status
from gqlorders.orders.events import OrderEventType, record_event
from gqlorders.orders.fulfilment import apply_closing_rule
from gqlorders.orders.header import (
    COPIED_FROM_CUSTOMER,
    HEADER_KEYS,
    check_dates,
    check_tax_mode,
    clean_header,
)
from gqlorders.orders.inputs import LineInput, NewSalesOrder, SalesOrderChanges, SendRequest
from gqlorders.orders.lines import MAX_LINES, PricedLine, price_lines
from gqlorders.orders.marketplace_source import AlreadyImported
from gqlorders.orders.statuses import ACCEPTED, EDITABLE, SENDABLE
from gqlorders.orders.totals import (
    apply_statuses,
    apply_totals,
    current_lines,
    goods_item_ids,
    unsaved_lines,
    write_lines,
)
from gqlorders.rows import column
from gqlorders.stock.requests import request_recalculation
from gqlorders.tenancy import Principal
from gqlorders.validation import clean_text

T = TypeVar("T")


class _OrderRowRefused(Exception):
    """The order's own INSERT failed on a constraint (its number, its marketplace order): the
    transaction is void, and the creation decides what to try next."""

    def __init__(self, error: IntegrityError) -> None:
        super().__init__(error)
        self.error = error


async def _collect(problems: Problems, lookup: Awaitable[T]) -> T | None:
    """Await a lookup; a NOT_FOUND joins the other problems instead of hiding them."""
    try:
        return await lookup
    except DomainError as error:
        problems.items.extend(error.problems)
        return None


async def create_sales_order(principal: Principal, data: NewSalesOrder) -> SalesOrder:
    """Create an order for one of the organization's customers (SPEC §3): DRAFT, or CONFIRMED
    with `confirm` or `send` (a marketplace order arrives confirmed, SPEC §9).

    Header defaults come from the customer and the primary warehouse, the tax mode from the
    organization's settings (its row joined to the customer's lookup); the number is the
    counter's next one, or the one given. One transaction writes the order, its lines and the
    `created` event; confirming adds the `confirmed` event (or `closed` too, by the closing
    rule) and a stock recalculation job; `send` queues the e-mail and the `sent` event.

    Raises `DomainError` with every problem of the input at once (NOT_FOUND for the customer,
    warehouse, items or taxes, REQUIRED, INVALID, DUPLICATE_NUMBER), and `AlreadyImported`
    when a concurrent import created the same marketplace order first. A number given by hand
    meanwhile is skipped: the order then takes the next free one.
    """
    organization_id = principal.organization_id
    problems = Problems()
    header = clean_header(problems, {k: getattr(data, k) for k in HEADER_KEYS})
    if not data.lines:
        problems.add(ErrorCode.REQUIRED, ("lines",), "an order needs at least one line")
    send_to = clean_recipients(problems, data.send_to, ("sendTo",))
    customer = await _collect(
        problems,
        get_customer(
            organization_id,
            data.customer_id,
            ("customerId",),
            with_organization=data.tax_mode is None,
        ),
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
        tax_mode=data.tax_mode or customer.organization.default_tax_mode,
    )
    order.update_from_dict(
        {k: v for k, v in header.items() if v is not None or k not in COPIED_FROM_CUSTOMER}
    )
    if data.source is not None:
        order.marketplace = data.source.marketplace
        order.external_id = data.source.external_id
        order.marketplace_updated_at = data.source.updated_at
        order.marketplace_totals = data.source.totals
        order.currency = data.source.currency
    check_dates(problems, order)
    if priced is not None:
        apply_totals(problems, order, priced)
    problems.raise_if_any()
    assert priced is not None
    lines = unsaved_lines(priced)
    apply_statuses(order, lines, goods_item_ids(priced))
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


async def _write_new_order(
    principal: Principal,
    data: NewSalesOrder,
    order: SalesOrder,
    lines: list[SalesOrderLine],
    send_to: list[str],
) -> None:
    """One attempt at the creation's transaction; `_OrderRowRefused` when the row is refused."""
    async with in_transaction():
        try:
            await order.save()
        except IntegrityError as error:
            raise _OrderRowRefused(error) from error
        for line in lines:
            line.sales_order_id = order.id
        await SalesOrderLine.bulk_create(lines)
        await record_event(
            order,
            OrderEventType.CREATED,
            principal.actor,
            {"number": order.number},
            new_order=True,
        )
        if data.send or data.confirm:
            await _confirm(order, principal.actor, new_order=True)
        if data.send:
            await _queue_order_email(order, principal.actor, send_to)


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
        if p.item.id != p.line.item_id and (p.line.quantity_invoiced or p.line.quantity_packed):
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
        await column(InvoiceLine.filter(sales_order_line_id__in=removed_ids), "sales_order_line_id")
    ) | set(
        await column(PackageLine.filter(sales_order_line_id__in=removed_ids), "sales_order_line_id")
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
    """Change the header fields given and, when given, replace the lines (kept lines by id).

    Allowed on DRAFT and CONFIRMED orders (SPEC §3). Under the order's row lock: totals and
    derived statuses are recomputed, the closing rule may close or reopen the order (with its
    event), a committing order whose lines changed gets a stock recalculation job, and the
    `updated` event records which fields and whether the lines changed.

    A draft may switch its tax mode: its rates then read the other way (SPEC §3).

    Raises `DomainError`: NOT_FOUND, INVALID_STATUS, and every problem of the input at once
    (REQUIRED, INVALID, NOT_FOUND for lines, items or taxes; OVER_INVOICED or OVER_PACKED
    below what is already invoiced or packed; INVALID_STATUS for an invoiced or packed line
    removed or given another item, or at `taxMode` for another mode once confirmed).
    """
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        require_status(order, EDITABLE, "edited")
        problems = Problems()
        header = clean_header(problems, changes.fields)
        current = await current_lines(order)
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
        check_tax_mode(problems, order, header)
        order.update_from_dict(header)
        if "date" in header and header["date"] is None:
            order.date = date.today()
        check_dates(problems, order)
        apply_totals(problems, order, priced)
        problems.raise_if_any()
        if changes.lines is not None:
            kept = {p.line.id for p in priced if p.line is not None}
            removed = [p.line.id for p in current if p.line is not None and p.line.id not in kept]
            if removed:
                await SalesOrderLine.filter(id__in=removed).delete()
            lines = await write_lines(order, priced)
        else:
            lines = [p.line for p in current if p.line is not None]
        apply_statuses(order, lines, goods_item_ids(priced))
        await order.save()
        await apply_closing_rule(order, principal.actor)
        if order.status in ACCEPTED and changes.lines is not None:
            touched = {p.item.id for p in current} | {p.item.id for p in priced}
            await request_recalculation(principal.organization_id, touched)
        await record_event(
            order,
            OrderEventType.UPDATED,
            principal.actor,
            {"fields": sorted(changes.fields), "lines": changes.lines is not None},
        )
    return order


async def add_sales_order_lines(
    principal: Principal, order_id: int, new_lines: list[LineInput]
) -> SalesOrder:
    """Bulk add: append lines to a DRAFT or CONFIRMED order (SPEC §3).

    Under the order's row lock: totals and statuses are recomputed, the `lines_added` event
    counts the lines, and a committing order gets a stock recalculation job for their items.

    Raises `DomainError`: NOT_FOUND or INVALID_STATUS at `salesOrderId`; REQUIRED (no lines),
    INVALID (a line with an id, more than MAX_LINES lines in all), and the lines' problems.
    """
    async with in_transaction():
        field = ("salesOrderId",)
        order = await get_sales_order(principal.organization_id, order_id, field, lock=True)
        require_status(order, EDITABLE, "edited", field)
        problems = Problems()
        if not new_lines:
            problems.add(ErrorCode.REQUIRED, ("lines",), "give at least one line to add")
        if any(line.id is not None for line in new_lines):
            problems.add(ErrorCode.INVALID, ("lines",), "new lines cannot carry an id")
        current = await current_lines(order)
        added = await price_lines(principal.organization_id, new_lines, problems)
        if added is None or len(current) + len(added) > MAX_LINES:
            if added is not None:
                problems.add(
                    ErrorCode.INVALID, ("lines",), f"an order has at most {MAX_LINES} lines"
                )
            problems.raise_if_any()
        assert added is not None
        priced = current + added
        apply_totals(problems, order, priced)
        problems.raise_if_any()
        lines = await write_lines(order, priced)
        apply_statuses(order, lines, goods_item_ids(priced))
        await order.save()
        await record_event(
            order, OrderEventType.LINES_ADDED, principal.actor, {"count": len(added)}
        )
        if order.status in ACCEPTED:
            await request_recalculation(principal.organization_id, {p.item.id for p in added})
    return order


async def _confirm(order: SalesOrder, actor: str, *, new_order: bool = False) -> None:
    """DRAFT -> CONFIRMED; an order already fulfilled by the closing rule closes at once."""
    order.status = SalesOrderStatus.CONFIRMED
    await order.save(update_fields=["status", "updated_at"])
    await record_event(order, OrderEventType.CONFIRMED, actor, new_order=new_order)
    await apply_closing_rule(order, actor)
    await request_recalculation(order.organization_id, await order_item_ids(order.id))


async def confirm_sales_order(principal: Principal, order_id: int) -> SalesOrder:
    """DRAFT -> CONFIRMED (SPEC §3), or on to CLOSED when the closing rule already holds.

    Records the `confirmed` event (and `closed`), and writes a stock recalculation job for
    the order's items, whose goods are now committed. Raises `DomainError`: NOT_FOUND, or
    INVALID_STATUS for any order but a draft.
    """
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        require_status(order, (SalesOrderStatus.DRAFT,), "confirmed")
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
        order.organization_id,
        to,
        subject,
        body,
        cc,
        sales_order=order,
    )
    await record_event(order, OrderEventType.SENT, actor, {"to": to, "subject": subject})


async def send_sales_order(principal: Principal, order_id: int, request: SendRequest) -> SalesOrder:
    """E-mail the order; sending a draft confirms it (SPEC §3).

    Allowed on DRAFT, CONFIRMED and CLOSED orders. Queues the e-mail (to the customer's
    address when no recipient is given) through the outbox, and records the `sent` event;
    a draft is confirmed first, as `confirm_sales_order` does (event and stock job).

    Raises `DomainError`: NOT_FOUND, INVALID_STATUS, INVALID recipients, subject or body, and
    REQUIRED when there is no recipient at all.
    """
    problems = Problems()
    to = clean_recipients(problems, request.to, ("to",))
    cc = clean_recipients(problems, request.cc, ("cc",))
    subject = clean_text(problems, request.subject, ("subject",), max_length=300)
    body = clean_text(problems, request.body, ("body",), max_length=20000) or ""
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        require_status(order, SENDABLE, "sent")
        fallback = await customer_email(order.customer_id)
        to = default_recipients(problems, to, fallback, ("to",))
        problems.raise_if_any()
        if order.status == SalesOrderStatus.DRAFT:
            await _confirm(order, principal.actor)
        await _queue_order_email(order, principal.actor, to, cc, subject, body)
    return order


async def void_sales_order(principal: Principal, order_id: int) -> SalesOrder:
    """DRAFT or CONFIRMED -> VOID, while nothing is invoiced, packed or shipped (SPEC §3).

    Records the `voided` event; a confirmed order's goods stop being committed, so it gets a
    stock recalculation job. Raises `DomainError`: NOT_FOUND, or INVALID_STATUS for another
    status or an order with invoiced or packed quantities.
    """
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        require_status(order, EDITABLE, "voided")
        fulfilled = await SalesOrderLine.filter(
            Q(quantity_invoiced__gt=0) | Q(quantity_packed__gt=0), sales_order_id=order.id
        ).exists()
        if fulfilled:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS, ("id",), "an invoiced or packed order cannot be voided"
            )
        was_committing = order.status in ACCEPTED
        order.status = SalesOrderStatus.VOID
        await order.save(update_fields=["status", "updated_at"])
        await record_event(order, OrderEventType.VOIDED, principal.actor)
        if was_committing:
            await request_recalculation(principal.organization_id, await order_item_ids(order.id))
    return order


async def delete_sales_order(principal: Principal, order_id: int) -> None:
    """Delete a DRAFT order with its lines and events (SPEC §3); its number is not handed out
    again. No order event (nothing is left to hold it) and no job; the organization's feed
    gets SALES_ORDER_DELETED with the order as it was.

    Raises `DomainError`: NOT_FOUND, or INVALID_STATUS for any order but a draft, or a draft
    other orders were merged into (void it instead).
    """
    async with in_transaction():
        order = await get_sales_order(principal.organization_id, order_id, lock=True)
        require_status(order, (SalesOrderStatus.DRAFT,), "deleted")
        if await SalesOrder.exists(merged_into_id=order.id):
            raise DomainError.one(
                ErrorCode.INVALID_STATUS,
                ("id",),
                "other orders were merged into this one: void it instead of deleting it",
            )
        await events.record(EventType.SALES_ORDER_DELETED, order, principal.actor)
        await order.delete()
