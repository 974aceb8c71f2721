"""Per-request DataLoaders: a relation a list reaches costs one query per page, not per row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeAlias, TypeVar, overload

from strawberry.dataloader import DataLoader
from tortoise.models import Model
from tortoise.queryset import QuerySet
from typing_extensions import TypeIs

from gqlorders.models import (
    Customer,
    Document,
    EmailMessage,
    FeedEvent,
    Invoice,
    InvoiceLine,
    Item,
    MarketplaceConnection,
    OrderEvent,
    Package,
    PackageLine,
    SalesOrder,
    SalesOrderLine,
    StockLevel,
    Tax,
    Warehouse,
)
from gqlorders.orders import count_customers_sales_orders
from gqlorders.rows import fetch

M = TypeVar("M", bound=Model)
K = TypeVar("K")
T = TypeVar("T")
L = TypeVar("L", bound=DataLoader)

# What `ready` gives: the value, or the loader's future of it. (A future, not any awaitable:
# rows are awaitable themselves -- tortoise's Model.__await__ -- so only the future tells.)
Loaded: TypeAlias = T | asyncio.Future[T]


def ready(loader: DataLoader[K, T], key: K) -> Loaded[T]:
    """The value itself when the loader already holds it (prefetched, or loaded earlier in the
    request), otherwise the loader's future of it.

    A resolver returning this completes synchronously on a prefetched page (api/prefetch.py),
    sparing the executor a coroutine and a gather per object, and still batches otherwise: the
    executor awaits an awaitable result. Other callers narrow it with `pending` or `settled`.
    """
    future = loader.cache_map.get(key)
    if (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    ):
        return future.result()
    loading = loader.load(key)
    assert isinstance(loading, asyncio.Future)  # what DataLoader.load makes, typed Awaitable
    return loading


def pending(value: Loaded[T]) -> TypeIs[asyncio.Future[T]]:
    """Whether `ready` gave the loader's future rather than the value."""
    return isinstance(value, asyncio.Future)


async def settled(value: Loaded[T]) -> T:
    """What `ready` gave, once the loader has it."""
    return await value if pending(value) else value


def _by_id(organization_id: int, model: type[M]) -> DataLoader[int, M | None]:
    async def load(keys: list[int]) -> Sequence[M | None]:
        rows = {
            row.pk: row
            for row in await fetch(model.filter(organization_id=organization_id, id__in=keys))
        }
        return [rows.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _children(query: Callable[[list[int]], QuerySet[M]], parent: str) -> DataLoader[int, list[M]]:
    async def load(keys: list[int]) -> Sequence[list[M]]:
        groups: dict[int, list[M]] = defaultdict(list)
        for row in await fetch(query(keys)):
            groups[getattr(row, parent)].append(row)
        return [groups[key] for key in keys]

    return DataLoader(load_fn=load)


def _one_of_each(
    query: Callable[[list[int]], QuerySet[M]], parent: str
) -> DataLoader[int, M | None]:
    async def load(keys: list[int]) -> Sequence[M | None]:
        rows = {getattr(row, parent): row for row in await fetch(query(keys))}
        return [rows.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _line_by_id() -> DataLoader[int, SalesOrderLine | None]:
    """Order lines by id; callers reach them only through rows of their own organization."""

    async def load(keys: list[int]) -> Sequence[SalesOrderLine | None]:
        rows = {row.pk: row for row in await fetch(SalesOrderLine.filter(id__in=keys))}
        return [rows.get(key) for key in keys]

    return DataLoader(load_fn=load)


async def _all_warehouses(organization_id: int, keys: list[int]) -> list[list[Warehouse]]:
    """The organization's warehouses (one key: the organization), primary first."""
    rows = await fetch(
        Warehouse.filter(organization_id=organization_id).order_by("-is_primary", "name", "id")
    )
    return [rows for _ in keys]


async def _customer_order_counts(organization_id: int, keys: list[int]) -> list[int]:
    counts = await count_customers_sales_orders(organization_id, keys)
    return [counts[key] for key in keys]


class _MadeOnFirstUse(Generic[L]):
    """A loader of `Loaders`, made from the organization's id the first time it is read, then
    kept on the instance (which a non-data descriptor lets shadow it)."""

    def __init__(self, make: Callable[[int], L]) -> None:
        self.make = make

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, loaders: None, owner: type | None = None) -> _MadeOnFirstUse[L]: ...

    @overload
    def __get__(self, loaders: Loaders, owner: type | None = None) -> L: ...

    def __get__(self, loaders: Loaders | None, owner: type | None = None) -> L | _MadeOnFirstUse[L]:
        if loaders is None:  # read on the class (introspection, documentation tools)
            return self
        loader = loaders.__dict__[self.name] = self.make(loaders.organization_id)
        return loader


lazy = _MadeOnFirstUse


class Loaders:
    """Every loader of one request, all scoped to the caller's organization. Each is made on
    first use: a request (or a subscription's event) needs a few of them, and making all of
    them each time was most of a live subscription's CPU (bench/README.md "live")."""

    customer = lazy(lambda organization: _by_id(organization, Customer))
    warehouse = lazy(lambda organization: _by_id(organization, Warehouse))
    item = lazy(lambda organization: _by_id(organization, Item))
    tax = lazy(lambda organization: _by_id(organization, Tax))
    sales_order = lazy(lambda organization: _by_id(organization, SalesOrder))
    invoice = lazy(lambda organization: _by_id(organization, Invoice))
    package = lazy(lambda organization: _by_id(organization, Package))
    event = lazy(lambda organization: _by_id(organization, FeedEvent))
    marketplace_connection = lazy(lambda organization: _by_id(organization, MarketplaceConnection))
    order_lines = lazy(
        lambda _: _children(
            lambda ids: SalesOrderLine.filter(sales_order_id__in=ids).order_by("position", "id"),
            "sales_order_id",
        )
    )
    # the same lines with their items joined in, for pages that select the items
    order_lines_with_items = lazy(
        lambda _: _children(
            lambda ids: (
                SalesOrderLine.filter(sales_order_id__in=ids)
                .select_related("item")
                .order_by("position", "id")
            ),
            "sales_order_id",
        )
    )
    order_invoices = lazy(
        lambda _: _children(
            lambda ids: Invoice.filter(sales_order_id__in=ids).order_by("created_at", "id"),
            "sales_order_id",
        )
    )
    order_packages = lazy(
        lambda _: _children(
            lambda ids: Package.filter(sales_order_id__in=ids).order_by("created_at", "id"),
            "sales_order_id",
        )
    )
    order_emails = lazy(
        lambda _: _children(
            lambda ids: EmailMessage.filter(sales_order_id__in=ids).order_by("created_at", "id"),
            "sales_order_id",
        )
    )
    invoice_emails = lazy(
        lambda _: _children(
            lambda ids: EmailMessage.filter(invoice_id__in=ids).order_by("created_at", "id"),
            "invoice_id",
        )
    )
    invoice_lines = lazy(
        lambda _: _children(
            lambda ids: InvoiceLine.filter(invoice_id__in=ids).order_by("position", "id"),
            "invoice_id",
        )
    )
    package_lines = lazy(
        lambda _: _children(
            lambda ids: PackageLine.filter(package_id__in=ids).order_by("id"), "package_id"
        )
    )
    order_line = lazy(lambda _: _line_by_id())
    order_document = lazy(
        lambda _: _one_of_each(
            lambda ids: Document.filter(sales_order_id__in=ids), "sales_order_id"
        )
    )
    invoice_document = lazy(
        lambda _: _one_of_each(lambda ids: Document.filter(invoice_id__in=ids), "invoice_id")
    )
    stock_levels = lazy(
        lambda organization: _children(
            lambda ids: StockLevel.filter(organization_id=organization, item_id__in=ids),
            "item_id",
        )
    )
    warehouses = lazy(
        lambda organization: DataLoader(load_fn=lambda keys: _all_warehouses(organization, keys))
    )
    order_events = lazy(
        lambda _: _children(
            lambda ids: OrderEvent.filter(sales_order_id__in=ids).order_by("at", "id"),
            "sales_order_id",
        )
    )
    customer_order_count = lazy(
        lambda organization: DataLoader(
            load_fn=lambda ids: _customer_order_counts(organization, ids)
        )
    )

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self._of_fields: dict[Hashable, DataLoader[Any, Any]] = {}

    def of_field(
        self, key: Hashable, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]
    ) -> DataLoader[Any, Any]:
        """The loader of one field with arguments (`key`), made by its first parent to resolve
        it: every parent of a list resolving that field shares it, so the field costs one batch
        for the whole list -- a nested connection, say, whose page depends on its arguments."""
        loader = self._of_fields.get(key)
        if loader is None:
            loader = self._of_fields[key] = DataLoader(load_fn=load)
        return loader
