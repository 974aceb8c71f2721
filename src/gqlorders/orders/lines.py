"""Turning line inputs into priced order lines: item and tax defaults, checks, amounts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gqlorders.errors import ErrorCode, FieldPath, Problems
from gqlorders.models import Item, ItemKind, SalesOrderLine, Tax
from gqlorders.money import line_amount
from gqlorders.orders.inputs import LineInput
from gqlorders.validation import check_decimal, clean_text

MAX_LINES = 500
HUNDRED = Decimal(100)


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
) -> list[PricedLine]:
    """Check each line against the organization's items and taxes (two queries in all)."""
    if len(inputs) > MAX_LINES:
        problems.add(ErrorCode.INVALID, field, f"an order has at most {MAX_LINES} lines")
        return []
    item_ids = {line.item_id for line in inputs}
    tax_ids = {line.tax_id for line in inputs if line.tax_id is not None}
    items = {i.id: i for i in await Item.filter(organization_id=organization_id, id__in=item_ids)}
    tax_ids |= {item.tax_id for item in items.values() if item.tax_id is not None}  # type: ignore[attr-defined]
    taxes = {t.id: t for t in await Tax.filter(organization_id=organization_id, id__in=tax_ids)}
    priced = []
    for index, data in enumerate(inputs):
        path = (*field, index)
        item = items.get(data.item_id)
        line = None
        if data.id is not None:
            line = (existing or {}).get(data.id)
            if line is None:
                problems.add(ErrorCode.NOT_FOUND, (*path, "id"), "no such line on this order")
        if item is None:
            problems.add(ErrorCode.NOT_FOUND, (*path, "itemId"), "no such item")
        if data.tax_given and data.tax_id is not None and data.tax_id not in taxes:
            problems.add(ErrorCode.NOT_FOUND, (*path, "taxId"), "no such tax")
        check_decimal(
            problems, data.quantity, (*path, "quantity"), places=4, exclusive_minimum=True
        )
        check_decimal(problems, data.rate, (*path, "rate"), places=4)
        check_decimal(
            problems, data.discount_percent, (*path, "discountPercent"), places=2, maximum=HUNDRED
        )
        description = clean_text(
            problems, data.description, (*path, "description"), max_length=2000
        )
        if item is None or problems:
            continue
        if data.tax_given:
            tax = taxes.get(data.tax_id) if data.tax_id is not None else None
        else:
            tax = taxes.get(item.tax_id)  # type: ignore[attr-defined]
        rate = data.rate if data.rate is not None else item.rate
        discount = data.discount_percent if data.discount_percent is not None else Decimal(0)
        priced.append(
            PricedLine(
                item=item,
                description=description if description is not None else item.name,
                quantity=data.quantity,
                rate=rate,
                discount_percent=discount,
                tax=tax,
                amount=line_amount(data.quantity, rate, discount),
                line=line,
            )
        )
    return priced
