"""Invoiced and shipped statuses, derived from line quantities in one place (SPEC §3)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from gqlorders.models import InvoicedStatus, ShippedStatus


def invoiced_status(lines: Iterable[tuple[Decimal, Decimal]]) -> InvoicedStatus:
    """From (quantity, quantity invoiced) per line."""
    pairs = list(lines)
    if all(done <= 0 for _, done in pairs):
        return InvoicedStatus.NOT_INVOICED
    if all(done >= qty for qty, done in pairs):
        return InvoicedStatus.INVOICED
    return InvoicedStatus.PARTIALLY_INVOICED


def shipped_status(goods_lines: Iterable[tuple[Decimal, Decimal]]) -> ShippedStatus:
    """From (quantity, quantity shipped) per goods line; services never ship, so an order
    without goods counts as shipped."""
    pairs = list(goods_lines)
    if all(done >= qty for qty, done in pairs):
        return ShippedStatus.SHIPPED
    if all(done <= 0 for _, done in pairs):
        return ShippedStatus.NOT_SHIPPED
    return ShippedStatus.PARTIALLY_SHIPPED
