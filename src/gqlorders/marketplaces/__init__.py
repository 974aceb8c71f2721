"""Marketplace adapters (SPEC §9): the protocol, the registry, and the normalized order.

This is the face the adapters see, and it imports no domain. An adapter only maps a
marketplace's own payload to a `MarketplaceOrder` and checks webhook signatures; everything
else (customers, items, idempotency, orders) is the core's job in
`gqlorders.marketplaces.importing`. Adapters are found through the `gqlorders.marketplaces`
entry-point group, so a third party adds one by installing a package:

    [project.entry-points."gqlorders.marketplaces"]
    mymarket = "my_package.adapter:adapter"      # an object following MarketplaceAdapter
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger("gqlorders.marketplaces")

ENTRY_POINT_GROUP = "gqlorders.marketplaces"


class InvalidPayload(ValueError):
    """The payload is not an order of this marketplace (or not a consistent one)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class MarketplaceAddress:
    attention: str | None = None
    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "attention": self.attention,
            "street1": self.street1,
            "street2": self.street2,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
        }


@dataclass(frozen=True)
class MarketplaceLine:
    """One order line as the marketplace sold it.

    `unit_price` is per unit and as the marketplace sent it (gross when the order's prices
    include tax); `discount` and `tax` are the line's whole discount and tax amounts;
    `tax_percentage` is the rate in percent when the marketplace says it (else derived).
    """

    sku: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    tax_percentage: Decimal | None = None


@dataclass(frozen=True)
class MarketplaceTotals:
    """The marketplace's own figures, kept beside ours (they may round differently)."""

    sub_total: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class MarketplaceCustomer:
    name: str
    email: str | None = None
    phone: str | None = None
    identity: str | None = None  # the marketplace's buyer id, used when there is no e-mail


@dataclass(frozen=True)
class MarketplaceOrder:
    external_id: str  # kept as a string: Shopify ids exceed 2**53
    name: str  # the number buyers see, e.g. "#1001"
    updated_at: datetime
    order_date: date
    currency: str
    customer: MarketplaceCustomer
    lines: list[MarketplaceLine]
    totals: MarketplaceTotals
    prices_include_tax: bool = False
    shipping_charge: Decimal = Decimal(0)
    billing_address: MarketplaceAddress | None = None
    shipping_address: MarketplaceAddress | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MarketplaceAdapter(Protocol):
    name: str  # e.g. "shopify": the `marketplace` argument of importMarketplaceOrder

    def parse_order(self, payload: Any) -> MarketplaceOrder:
        """Map the marketplace's payload; raise InvalidPayload when it is not its order."""
        ...

    def verify_webhook(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        """Whether a webhook delivery is signed with `secret` by the marketplace's scheme."""
        ...


def verify_base64_hmac_sha256(body: bytes, signature: str | None, secret: str) -> bool:
    """The scheme Shopify and WooCommerce share: base64(HMAC-SHA256(secret, raw body)),
    compared in constant time."""
    if not signature or not secret:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


@cache
def installed_adapters() -> dict[str, MarketplaceAdapter]:
    """Every adapter installed under the entry-point group, by name."""
    adapters: dict[str, MarketplaceAdapter] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            adapter = entry_point.load()
        except Exception:
            logger.exception("marketplace adapter %s failed to load", entry_point.name)
            continue
        if not isinstance(adapter, MarketplaceAdapter):
            logger.error("marketplace adapter %s does not follow the protocol", entry_point.name)
            continue
        adapters[adapter.name] = adapter
    return adapters


def get_adapter(name: str) -> MarketplaceAdapter | None:
    return installed_adapters().get(name)
