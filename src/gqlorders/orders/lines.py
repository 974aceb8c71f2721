"""Turning line inputs into priced order lines: item and tax defaults, checks, amounts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gqlorders.errors import ErrorCode, FieldPath, Problems
from gqlorders.models import Item, ItemKind, SalesOrderLine, Tax
from gqlorders.money import HUNDRED, line_amount
from gqlorders.orders.inputs import LineInput
from gqlorders.prepared import PreparedSelect
from gqlorders.validation import check_decimal, clean_text

MAX_LINES = 500
MAX_LINE_AMOUNT = Decimal("1e12")  # totals stay far inside the 64-bit scaled columns

# Every order creation and edit asks it: built once per number of items (prepared.py).
_ITEMS_WITH_TAXES = PreparedSelect(
    lambda organization_id, item_ids: Item.filter(
        organization_id=organization_id, id__in=item_ids
    ).select_related("tax")
)


@dataclass
class PricedLine:
    """A checked line, ready to be written: a new one, or an existing one (`line`) to update."""

    item: Item
    description: str | None
    quantity: Decimal
    rate: Decimal
    discount_percent: Decimal
    tax: Tax | None
    amount: Decimal
    line: SalesOrderLine | None = None

    @property
    def is_goods(self) -> bool:
        return self.item.kind == ItemKind.GOODS


async def price_lines(
    organization_id: int,
    inputs: list[LineInput],
    problems: Problems,
    field: FieldPath = ("lines",),
    existing: dict[int, SalesOrderLine] | None = None,
) -> list[PricedLine] | None:
    """Check each line against the organization's items and taxes (one query, with the items'
    own taxes joined in; a second one only for other taxes a line names).

    Returns None when any line is wrong (its problems are reported): totals and cross-line
    checks of a partly wrong list would only add misleading errors. An existing line (given
    by id) keeps its own rate, discount, tax and description unless new ones are given.
    """
    if len(inputs) > MAX_LINES:
        problems.add(ErrorCode.INVALID, field, f"an order has at most {MAX_LINES} lines")
        return None
    existing = existing or {}
    item_ids = {line.item_id for line in inputs}
    items = {i.id: i for i in await _ITEMS_WITH_TAXES(organization_id, item_ids)}
    # An item's tax is the organization's (checked when the item is saved); checked again here
    # because the join itself is not scoped.
    taxes = {
        item.tax.id: item.tax
        for item in items.values()
        if item.tax is not None and item.tax.organization_id == organization_id
    }
    named = {line.tax_id for line in inputs if line.tax_id is not None}
    named |= {line.tax_id for line in existing.values() if line.tax_id is not None}
    if named - taxes.keys():
        taxes.update(
            (t.id, t)
            for t in await Tax.filter(organization_id=organization_id, id__in=named - taxes.keys())
        )
    line_problems = Problems()
    priced = []
    seen_ids: set[int] = set()
    for index, data in enumerate(inputs):
        path = (*field, index)
        before = len(line_problems.items)
        item = items.get(data.item_id)
        line = None
        if data.id is not None:
            line = existing.get(data.id)
            if line is None:
                line_problems.add(ErrorCode.NOT_FOUND, (*path, "id"), "no such line on this order")
            elif data.id in seen_ids:
                line_problems.add(ErrorCode.INVALID, (*path, "id"), "this line is listed twice")
            seen_ids.add(data.id)
        if item is None:
            line_problems.add(ErrorCode.NOT_FOUND, (*path, "itemId"), "no such item")
        if data.tax_given and data.tax_id is not None and data.tax_id not in taxes:
            line_problems.add(ErrorCode.NOT_FOUND, (*path, "taxId"), "no such tax")
        check_decimal(
            line_problems, data.quantity, (*path, "quantity"), places=4, exclusive_minimum=True
        )
        check_decimal(line_problems, data.rate, (*path, "rate"), places=4)
        check_decimal(
            line_problems,
            data.discount_percent,
            (*path, "discountPercent"),
            places=2,
            maximum=HUNDRED,
        )
        description = clean_text(
            line_problems, data.description, (*path, "description"), max_length=2000
        )
        if item is None or len(line_problems.items) > before:
            continue
        kept = line if line is not None and line.item_id == item.id else None
        if data.tax_given:
            tax = taxes.get(data.tax_id) if data.tax_id is not None else None
        elif kept is not None:
            tax = taxes.get(kept.tax_id)
        else:
            tax = taxes.get(item.tax_id)
        rate = _first_given(data.rate, kept.rate if kept else None, item.rate)
        discount = _first_given(
            data.discount_percent, kept.discount_percent if kept else None, Decimal(0)
        )
        if description is None:
            description = kept.description if kept and kept.description else item.name
        if data.quantity * rate > MAX_LINE_AMOUNT:
            line_problems.add(
                ErrorCode.INVALID, (*path, "quantity"), "the line amount is out of range"
            )
            continue
        priced.append(
            PricedLine(
                item=item,
                description=description,
                quantity=data.quantity,
                rate=rate,
                discount_percent=discount,
                tax=tax,
                amount=line_amount(data.quantity, rate, discount),
                line=line,
            )
        )
    problems.extend(line_problems)
    return None if line_problems else priced


def _first_given(*values: Decimal | None) -> Decimal:
    return next(value for value in values if value is not None)
