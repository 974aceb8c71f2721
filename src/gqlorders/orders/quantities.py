"""Which quantities of an order's lines a fulfilment step (invoice, package) takes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from gqlorders.errors import ErrorCode, FieldPath, Problems
from gqlorders.models import SalesOrderLine
from gqlorders.validation import check_decimal


@dataclass(frozen=True)
class QuantityRequest:
    """A quantity of one order line, for an invoice or a package."""

    sales_order_line_id: int
    quantity: Decimal


def requested_quantities(
    problems: Problems,
    requests: list[QuantityRequest] | None,
    order_lines: dict[int, SalesOrderLine],
    remaining: dict[int, Decimal],
    over_code: ErrorCode,
    verb: str,
) -> dict[int, Decimal]:
    """Quantities per order line: all that remains by default, else the checked requests."""
    if requests is None:
        return {line_id: qty for line_id, qty in remaining.items() if qty > 0}
    if not requests:
        problems.add(ErrorCode.REQUIRED, ("lines",), f"give at least one line to {verb}")
    wanted: dict[int, Decimal] = defaultdict(Decimal)
    for index, request in enumerate(requests):
        path: FieldPath = ("lines", index)
        if request.sales_order_line_id not in order_lines:
            problems.add(
                ErrorCode.NOT_FOUND, (*path, "salesOrderLineId"), "no such line on this order"
            )
            continue
        if request.sales_order_line_id not in remaining:
            problems.add(
                ErrorCode.INVALID, (*path, "salesOrderLineId"), f"this line cannot be {verb}ed"
            )
            continue
        check_decimal(
            problems, request.quantity, (*path, "quantity"), places=4, exclusive_minimum=True
        )
        wanted[request.sales_order_line_id] += request.quantity
        left = remaining[request.sales_order_line_id]
        if wanted[request.sales_order_line_id] > left:
            problems.add(
                over_code, (*path, "quantity"), f"only {left.normalize():f} remains to {verb}"
            )
    return {line_id: qty for line_id, qty in wanted.items() if qty > 0}
