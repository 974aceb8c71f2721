"""Merging two orders of one customer into one (SPEC §4).

Both order rows are locked in ascending id order (the same order for every request, so two
overlapping merges wait for each other instead of deadlocking); the second merge then sees
the first one's result (an order already MERGED) and is refused, so no line is ever lost or
counted twice.
"""

from __future__ import annotations

from decimal import Decimal

from tortoise.transactions import in_transaction

from gqlorders.errors import DomainError, ErrorCode, Problem
from gqlorders.models import (
    Invoice,
    InvoiceStatus,
    Package,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
)
from gqlorders.orders.access import get_sales_order, order_item_ids
from gqlorders.orders.events import OrderEventType, record_event
from gqlorders.orders.statuses import ACCEPTED, MERGEABLE
from gqlorders.orders.totals import reprice_order
from gqlorders.rows import column
from gqlorders.stock.requests import request_recalculation
from gqlorders.tenancy import Principal


def has_active_invoices(invoices: list[Invoice]) -> bool:
    """A void invoice gives everything back: only the others block a merge."""
    return any(invoice.status != InvoiceStatus.VOID for invoice in invoices)


def merge_blockers(order: SalesOrder, has_packages: bool, has_invoices: bool) -> list[ErrorCode]:
    """Reasons this order cannot take part in any merge right now, whatever the other order."""
    blockers = []
    if order.status not in MERGEABLE:
        blockers.append(ErrorCode.INVALID_STATUS)
    if has_packages:
        blockers.append(ErrorCode.MERGE_HAS_PACKAGES)
    if has_invoices:
        blockers.append(ErrorCode.MERGE_HAS_INVOICES)
    if order.marketplace is not None:
        blockers.append(ErrorCode.MERGE_MARKETPLACE_ORDER)
    return blockers


async def orders_with_packages(order_ids: list[int]) -> set[int]:
    return set(await column(Package.filter(sales_order_id__in=order_ids), "sales_order_id"))


async def orders_with_invoices(order_ids: list[int]) -> set[int]:
    return set(
        await column(
            Invoice.filter(sales_order_id__in=order_ids).exclude(status=InvoiceStatus.VOID),
            "sales_order_id",
        )
    )


def _problem(code: ErrorCode, message: str) -> Problem:
    return Problem(code, ("ids",), message)


async def _merge_problems(first: SalesOrder, second: SalesOrder) -> list[Problem]:
    pair = [first.id, second.id]
    packaged, invoiced = await orders_with_packages(pair), await orders_with_invoices(pair)
    problems = []
    if first.customer_id != second.customer_id:
        problems.append(_problem(ErrorCode.MERGE_DIFFERENT_CUSTOMER, "the customers differ"))
    if (first.billing_address, first.shipping_address) != (
        second.billing_address,
        second.shipping_address,
    ):
        problems.append(_problem(ErrorCode.MERGE_DIFFERENT_ADDRESS, "the addresses differ"))
    if first.status != second.status:
        problems.append(_problem(ErrorCode.MERGE_DIFFERENT_STATUS, "the statuses differ"))
    if any(order.status not in MERGEABLE for order in (first, second)):
        problems.append(
            _problem(ErrorCode.INVALID_STATUS, "only draft or confirmed orders can be merged")
        )
    if packaged:
        problems.append(_problem(ErrorCode.MERGE_HAS_PACKAGES, "an order has packages"))
    if invoiced:
        problems.append(_problem(ErrorCode.MERGE_HAS_INVOICES, "an order has invoices"))
    if first.marketplace or second.marketplace:
        problems.append(
            _problem(ErrorCode.MERGE_MARKETPLACE_ORDER, "marketplace orders are never merged")
        )
    if first.currency != second.currency:
        problems.append(_problem(ErrorCode.MERGE_DIFFERENT_CURRENCY, "the currencies differ"))
    if first.warehouse_id != second.warehouse_id:
        problems.append(_problem(ErrorCode.MERGE_DIFFERENT_WAREHOUSE, "the warehouses differ"))
    if first.tax_mode != second.tax_mode:
        # One order's rates are net and the other's gross: their lines cannot be summed as one.
        problems.append(
            _problem(ErrorCode.MERGE_DIFFERENT_TAX_MODE, "one order's prices include tax")
        )
    return problems


def _line_key(line: SalesOrderLine) -> tuple:
    return (line.item_id, line.rate, line.discount_percent, line.tax_id)


def _joined(*texts: str | None) -> str | None:
    parts = [text.strip() for text in texts if text and text.strip()]
    return "\n\n".join(parts) or None


async def merge_sales_orders(
    principal: Principal, order_ids: list[int]
) -> tuple[SalesOrder, SalesOrder]:
    """Merge two orders; returns (survivor, merged). The order created first survives.

    Both must be of one customer, addresses, currency, warehouse and tax mode, both DRAFT or both
    CONFIRMED, with no package, no active invoice and no marketplace origin (SPEC §4). The
    survivor takes the other's lines (combining equal ones), shipping charge, adjustment and
    notes, and is repriced; the other becomes MERGED. Records `merged` on the survivor and
    `merged_into` on the other; a confirmed survivor gets a stock recalculation job.

    Raises `DomainError`: MERGE_COUNT unless two different ids are given, NOT_FOUND, and every
    unmet precondition at once (MERGE_DIFFERENT_*, INVALID_STATUS, MERGE_HAS_PACKAGES,
    MERGE_HAS_INVOICES, MERGE_MARKETPLACE_ORDER).
    """
    if len(order_ids) != 2 or order_ids[0] == order_ids[1]:
        raise DomainError.one(
            ErrorCode.MERGE_COUNT, ("ids",), "give exactly two different orders to merge"
        )
    async with in_transaction():
        locked = {}
        for order_id in sorted(order_ids):
            field = ("ids", order_ids.index(order_id))
            locked[order_id] = await get_sales_order(
                principal.organization_id, order_id, field, lock=True
            )
        first, second = sorted(locked.values(), key=lambda o: (o.created_at, o.id))
        problems = await _merge_problems(first, second)
        if problems:
            raise DomainError(problems)
        survivor, merged = first, second
        survivor_lines = await SalesOrderLine.filter(sales_order_id=survivor.id).order_by(
            "position", "id"
        )
        kept = {_line_key(line): line for line in survivor_lines}
        position = max((line.position for line in survivor_lines), default=-1) + 1
        for line in await SalesOrderLine.filter(sales_order_id=merged.id).order_by(
            "position", "id"
        ):
            same = kept.get(_line_key(line))
            if same is not None:
                same.quantity = same.quantity + line.quantity
                await same.save(update_fields=["quantity"])
                continue
            await SalesOrderLine.create(
                sales_order_id=survivor.id,
                position=position,
                item_id=line.item_id,
                description=line.description,
                quantity=line.quantity,
                rate=line.rate,
                discount_percent=line.discount_percent,
                tax_id=line.tax_id,
            )
            position += 1
        survivor.shipping_charge = survivor.shipping_charge + merged.shipping_charge
        if merged.adjustment_amount is not None:
            survivor.adjustment_amount = (survivor.adjustment_amount or Decimal(0)) + (
                merged.adjustment_amount
            )
            survivor.adjustment_label = survivor.adjustment_label or merged.adjustment_label
        survivor.notes = _joined(survivor.notes, merged.notes)
        await reprice_order(survivor)
        merged.status = SalesOrderStatus.MERGED
        merged.merged_into_id = survivor.id
        await merged.save(update_fields=["status", "merged_into_id", "updated_at"])
        if survivor.status in ACCEPTED:
            await request_recalculation(
                principal.organization_id, await order_item_ids(survivor.id)
            )
        await record_event(
            survivor, OrderEventType.MERGED, principal.actor, {"from": merged.number}
        )
        await record_event(
            merged, OrderEventType.MERGED_INTO, principal.actor, {"into": survivor.number}
        )
    return survivor, merged
