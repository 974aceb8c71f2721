"""Per-request DataLoaders: a relation a list reaches costs one query per page, not per row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cache
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
from gqlorders.prepared import PreparedSelect
from gqlorders.rows import fetch

M = TypeVar("M", bound=Model)
K = TypeVar("K")

PREPARED_KEYS = 100  # a hot loader's batches up to this size run SQL built once per size
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


class _Read(Generic[M]):
    """A hot loader's read, `build(*args, keys)`: its SQL built once per number of keys
    (prepared.py) up to PREPARED_KEYS, instead of by tortoise and pypika at every request
    (0.1-0.3 ms of Python a statement, more than a detail query's SQL takes); larger batches,
    rare, are built each time rather than kept."""

    def __init__(self, build: Callable[..., QuerySet[M]]) -> None:
        self.build = build
        self.prepared = PreparedSelect(build)

    async def __call__(self, *args: Any) -> list[M]:
        if len(args[-1]) <= PREPARED_KEYS:
            return await self.prepared(*args)
        return await fetch(self.build(*args))


@cache
def _read_by_id(model: type[M]) -> _Read[M]:
    return _Read(
        lambda organization_id, ids: model.filter(organization_id=organization_id, id__in=ids)
    )


@cache
def _read_order_lines(related: tuple[str, ...]) -> _Read[SalesOrderLine]:
    def query(ids: list[int]) -> QuerySet[SalesOrderLine]:
        lines = SalesOrderLine.filter(sales_order_id__in=ids)
        if related:
            lines = lines.select_related(*related)
        return lines.order_by("position", "id")

    return _Read(query)


def _by_id(organization_id: int, model: type[M]) -> DataLoader[int, M | None]:
    read = _read_by_id(model)

    async def load(keys: list[int]) -> Sequence[M | None]:
        rows = {row.pk: row for row in await read(organization_id, keys)}
        return [rows.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _children(query: Callable[[list[int]], QuerySet[M]], parent: str) -> DataLoader[int, list[M]]:
    return _grouped(lambda keys: fetch(query(keys)), parent)


def _grouped(
    read: Callable[[list[int]], Awaitable[Sequence[M]]], parent: str
) -> DataLoader[int, list[M]]:
    """The rows `read` gives for the keys, grouped by their `parent` column."""

    async def load(keys: list[int]) -> Sequence[list[M]]:
        groups: dict[int, list[M]] = defaultdict(list)
        for row in await read(keys):
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


def _order_lines(related: tuple[str, ...]) -> DataLoader[int, list[SalesOrderLine]]:
    return _grouped(_read_order_lines(related), "sales_order_id")


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
    order_lines = lazy(lambda _: _order_lines(()))
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
        # orders' lines with relations joined in (item, tax), for pages that select them
        self.joined_order_lines: dict[tuple[str, ...], DataLoader[int, list[SalesOrderLine]]] = {}
        self._of_fields: dict[Hashable, DataLoader[Any, Any]] = {}

    def order_lines_joined(self, related: tuple[str, ...]) -> DataLoader[int, list[SalesOrderLine]]:
        """Orders' lines with `related` joined into their statement (select_related)."""
        loader = self.joined_order_lines.get(related)
        if loader is None:
            loader = self.joined_order_lines[related] = _order_lines(related)
        return loader

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
