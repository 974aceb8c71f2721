"""An order's lines and what derives from them: line rows, totals and statuses (SPEC §3).

The functions here write inside the caller's transaction; they neither lock nor record events.
"""

from __future__ import annotations

from decimal import Decimal

from gqlorders.errors import ErrorCode, Problems
from gqlorders.models import DiscountType, Item, SalesOrder, SalesOrderLine, Tax
from gqlorders.money import TaxedAmount, document_totals, line_amount, order_discount
from gqlorders.orders.lines import PricedLine
from gqlorders.orders.statuses import invoiced_status, shipped_status

MAX_TOTAL = Decimal("1e13")  # far inside the 64-bit scaled money columns


def apply_totals(problems: Problems, order: SalesOrder, lines: list[PricedLine]) -> None:
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
        tax_mode=order.tax_mode,
    )
    if max(abs(totals.sub_total), abs(totals.total)) > MAX_TOTAL:
        problems.add(ErrorCode.INVALID, ("lines",), "the order total is out of range")
        return
    order.sub_total = totals.sub_total
    order.discount_amount = totals.discount_amount
    order.tax_totals = totals.stored_taxes()
    order.tax_total = totals.tax_total
    order.total = totals.total


def apply_statuses(order: SalesOrder, lines: list[SalesOrderLine], goods: set[int]) -> None:
    """Store the invoiced and shipped statuses the lines give (`goods`: the goods items)."""
    order.invoiced_status = invoiced_status(
        (line.quantity, line.quantity_invoiced) for line in lines
    )
    order.shipped_status = shipped_status(
        (line.quantity, line.quantity_shipped) for line in lines if line.item_id in goods
    )


async def current_lines(order: SalesOrder) -> list[PricedLine]:
    """The order's saved lines as priced lines, with their items and taxes (three queries)."""
    lines = await SalesOrderLine.filter(sales_order_id=order.id).order_by("position", "id")
    items = {i.id: i for i in await Item.filter(id__in={line.item_id for line in lines})}
    tax_ids = {line.tax_id for line in lines if line.tax_id is not None}
    taxes = {t.id: t for t in await Tax.filter(id__in=tax_ids)} if tax_ids else {}
    return [
        PricedLine(
            item=items[line.item_id],
            description=line.description,
            quantity=line.quantity,
            rate=line.rate,
            discount_percent=line.discount_percent,
            tax=taxes.get(line.tax_id),
            amount=line.amount,
            line=line,
        )
        for line in lines
    ]


async def write_lines(order: SalesOrder, priced: list[PricedLine]) -> list[SalesOrderLine]:
    """Save the full list of lines in order: update kept lines, insert new ones."""
    saved = []
    for position, p in enumerate(priced):
        line = p.line or SalesOrderLine(sales_order_id=order.id)
        line.position = position
        line.item_id = p.item.id
        line.description = p.description
        line.quantity = p.quantity
        line.rate = p.rate
        line.discount_percent = p.discount_percent
        line.tax_id = p.tax.id if p.tax else None
        line.amount = p.amount
        await line.save()
        saved.append(line)
    return saved


def unsaved_lines(priced: list[PricedLine]) -> list[SalesOrderLine]:
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


def goods_item_ids(priced: list[PricedLine]) -> set[int]:
    """The items of these lines that are goods (only they ship, SPEC §3)."""
    return {p.item.id for p in priced if p.is_goods}


async def reprice_order(order: SalesOrder) -> None:
    """Recompute line amounts, totals and statuses from the saved lines (after a merge)."""
    priced = await current_lines(order)
    for p in priced:
        p.amount = line_amount(p.quantity, p.rate, p.discount_percent)
        if p.line is not None and p.line.amount != p.amount:
            p.line.amount = p.amount
            await p.line.save(update_fields=["amount"])
    problems = Problems()
    apply_totals(problems, order, priced)
    problems.raise_if_any()
    apply_statuses(order, [p.line for p in priced if p.line is not None], goods_item_ids(priced))
    await order.save()
