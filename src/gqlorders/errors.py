"""Domain errors: one ErrorCode enum shared by the domain and the API (contract `ErrorCode`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

FieldPath = tuple[str | int, ...]


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE_NUMBER = "DUPLICATE_NUMBER"
    DUPLICATE_SKU = "DUPLICATE_SKU"
    INVALID_STATUS = "INVALID_STATUS"
    OVER_INVOICED = "OVER_INVOICED"
    OVER_PACKED = "OVER_PACKED"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    MERGE_COUNT = "MERGE_COUNT"
    MERGE_DIFFERENT_CUSTOMER = "MERGE_DIFFERENT_CUSTOMER"
    MERGE_DIFFERENT_ADDRESS = "MERGE_DIFFERENT_ADDRESS"
    MERGE_DIFFERENT_STATUS = "MERGE_DIFFERENT_STATUS"
    MERGE_HAS_PACKAGES = "MERGE_HAS_PACKAGES"
    MERGE_HAS_INVOICES = "MERGE_HAS_INVOICES"
    MERGE_MARKETPLACE_ORDER = "MERGE_MARKETPLACE_ORDER"
    MERGE_DIFFERENT_CURRENCY = "MERGE_DIFFERENT_CURRENCY"
    MERGE_DIFFERENT_WAREHOUSE = "MERGE_DIFFERENT_WAREHOUSE"
    MERGE_DIFFERENT_TAX_MODE = "MERGE_DIFFERENT_TAX_MODE"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    UNKNOWN_MARKETPLACE = "UNKNOWN_MARKETPLACE"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    EVENT_CURSOR_EXPIRED = "EVENT_CURSOR_EXPIRED"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: what, where (path inside the input) and why."""

    code: ErrorCode
    field: FieldPath
    message: str


class DomainError(Exception):
    """A business rule refused the request; nothing was written. Carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))

    @classmethod
    def one(cls, code: ErrorCode, field: Iterable[str | int], message: str) -> DomainError:
        return cls([Problem(code, tuple(field), message)])


class Problems:
    """Collects validation problems so that a client learns every mistake in one round trip."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, code: ErrorCode, field: Iterable[str | int], message: str) -> None:
        self.items.append(Problem(code, tuple(field), message))

    def extend(self, other: Problems) -> None:
        self.items.extend(other.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise DomainError(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)
