"""An order's marketplace origin (SPEC §9): an imported order is created once per external id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class AlreadyImported(Exception):
    """A concurrent import created the same marketplace order first: the importer then
    treats the payload as a re-delivery of that order."""


@dataclass(frozen=True)
class MarketplaceSource:
    """Where an imported order comes from (SPEC §9); it arrives confirmed, in its currency."""

    marketplace: str
    external_id: str
    updated_at: datetime
    currency: str
    totals: dict[str, str]
