"""Types shared by every part of the schema: Node, PageInfo, addresses, payment terms, enums."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.models import Model

from gqlorders import models, money
from gqlorders.api.ids import encode_id
from gqlorders.pagination import Page
from gqlorders.validation import ADDRESS_FIELDS

T = TypeVar("T")


# strawberry.enum registers an enum class itself, under its class name, and returns it: the
# API's enums are the domain's classes, so that annotations with them are real types (mypy).
# Every module registers its enums so, one call each.
ItemKind = models.ItemKind
SalesOrderStatus = models.SalesOrderStatus
InvoicedStatus = models.InvoicedStatus
ShippedStatus = models.ShippedStatus
DiscountType = models.DiscountType
NumberingMode = models.NumberingMode
CloseSalesOrderWhen = models.CloseSalesOrderWhen
TaxMode = money.TaxMode
strawberry.enum(ItemKind)
strawberry.enum(SalesOrderStatus)
strawberry.enum(InvoicedStatus)
strawberry.enum(ShippedStatus)
strawberry.enum(DiscountType)
strawberry.enum(NumberingMode)
strawberry.enum(CloseSalesOrderWhen)
strawberry.enum(
    TaxMode,
    description="How a document's rates read: net (taxes added) or gross (taxes contained).",
)


@strawberry.interface
class Node:
    """An object with a global ID, fetchable with `node(id:)`."""

    id: strawberry.ID


def global_id(type_name: str) -> strawberry.ID:
    """The `id` field of a Node type whose root values are rows: the row's global ID."""

    def resolve(root: strawberry.Parent[Any]) -> strawberry.ID:
        return strawberry.ID(encode_id(type_name, root.id))

    return strawberry.field(resolver=resolve)


@dataclass(frozen=True, slots=True)
class RowOf:
    """An `is_type_of` that is `isinstance(obj, row_model)` and nothing else: compiled plans
    (api/compiled/planning.py) read `row_model` and check the type themselves, without a call
    per object."""

    row_model: type[Model]

    def __call__(self, cls: type, obj: Any, info: Any) -> bool:
        return isinstance(obj, self.row_model)


def is_row_of(model: type[Model]) -> Any:
    """`is_type_of` for a GraphQL type whose root values are rows of `model`."""
    return classmethod(RowOf(model))


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        return cls(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        )


@strawberry.type
class Address:
    attention: str | None = None
    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    @classmethod
    def of(cls, stored: dict[str, str | None] | None) -> Address | None:
        return cls(**stored) if stored else None


@strawberry.input
class AddressInput:
    attention: str | None = None
    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    def to_domain(self) -> dict[str, str | None]:
        return {key: getattr(self, key) for key in ADDRESS_FIELDS}


def address_or_none(value: AddressInput | None) -> dict[str, str | None] | None:
    return value.to_domain() if value is not None else None


@strawberry.type
class PaymentTerms:
    days: int
    label: str

    @classmethod
    def of(cls, days: int | None, label: str | None) -> PaymentTerms | None:
        return cls(days=days, label=label or "") if days is not None else None


@strawberry.input
class PaymentTermsInput:
    days: int
    label: str | None = None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """A Relay connection; strawberry names `Connection[Customer]` "CustomerConnection"."""

    edges: list[Edge[T]]
    page_info: PageInfo
    page: strawberry.Private[Page[Any]]
    count: strawberry.Private[Callable[[], Awaitable[int]] | None] = None  # a batched count

    @strawberry.field
    async def total_count(self) -> int:
        """Counted only when selected: the list itself never pays for it."""
        if self.count is not None:
            return await self.count()
        return await self.page.query.count()


def connection(
    page: Page[Any], count: Callable[[], Awaitable[int]] | None = None
) -> Connection[Any]:
    """`count` gives totalCount in place of counting `page.query` alone: a DataLoader's, say,
    so that the connections of a list are counted in one statement."""
    edges = [Edge(cursor=cursor, node=row) for cursor, row in zip(page.cursors, page.rows)]
    return Connection(edges=edges, page_info=PageInfo.of(page), page=page, count=count)
