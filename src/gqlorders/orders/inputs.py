"""What a client asks of the order domain, as plain data (no GraphQL types)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gqlorders.catalog.customers import PaymentTerms
from gqlorders.models import DiscountType
from gqlorders.money import TaxMode
from gqlorders.orders.marketplace_source import MarketplaceSource


@dataclass(frozen=True)
class LineInput:
    item_id: int
    quantity: Decimal
    id: int | None = None
    description: str | None = None
    rate: Decimal | None = None
    discount_percent: Decimal | None = None
    tax_id: int | None = None
    tax_given: bool = False  # False: use the item's tax; True with tax_id None: no tax


@dataclass(frozen=True)
class DiscountInput:
    type: DiscountType
    value: Decimal


@dataclass(frozen=True)
class AdjustmentInput:
    amount: Decimal
    label: str | None = None


@dataclass(frozen=True)
class NewSalesOrder:
    customer_id: int
    lines: list[LineInput]
    number: str | None = None
    reference_number: str | None = None
    date: dt.date | None = None
    expected_shipment_date: dt.date | None = None
    delivery_method: str | None = None
    payment_terms: PaymentTerms | None = None
    warehouse_id: int | None = None
    billing_address: dict[str, str | None] | None = None
    shipping_address: dict[str, str | None] | None = None
    discount: DiscountInput | None = None
    shipping_charge: Decimal | None = None
    adjustment: AdjustmentInput | None = None
    notes: str | None = None
    terms: str | None = None
    tax_mode: TaxMode | None = None  # None: the organization's default
    send: bool = False
    send_to: list[str] | None = None
    confirm: bool = False
    source: MarketplaceSource | None = None


@dataclass(frozen=True)
class SalesOrderChanges:
    """The header fields a client gave (absent keys stay as they are; `tax_mode` too) and
    maybe new lines."""

    fields: dict[str, Any] = field(default_factory=dict)
    lines: list[LineInput] | None = None


@dataclass(frozen=True)
class SendRequest:
    to: list[str] | None = None
    cc: list[str] | None = None
    subject: str | None = None
    body: str | None = None
