"""Per-request DataLoaders: a relation a list reaches costs one query per page, not per row."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cache
from typing import Any, Generic, TypeAlias, TypeVar, overload

from strawberry.dataloader import AbstractCache, DataLoader
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
L = TypeVar("L", bound="Loader[Any, Any]")

# What `ready` gives: the value, or the loader's future of it. (A future, not any awaitable:
# rows are awaitable themselves -- tortoise's Model.__await__ -- so only the future tells.)
Loaded: TypeAlias = T | asyncio.Future[T]


_ABSENT: Any = object()


class _Held(AbstractCache[K, T]):
    """A loader's cache that keeps primed values as they are, and the futures of loads.

    strawberry's cache holds a future per key, so priming a page's 500 items made 500 futures
    (with their done-callbacks' bookkeeping) that `ready` then took apart again; a primed value
    gets a future here only if `load` asks for it (`get`)."""

    __slots__ = ("futures", "values")

    def __init__(self) -> None:
        self.values: dict[K, T] = {}
        self.futures: dict[K, asyncio.Future[T]] = {}

    def holds(self, key: K) -> bool:
        return key in self.values or key in self.futures

    def get(self, key: K) -> asyncio.Future[T] | None:
        future = self.futures.get(key)
        if future is None:
            value = self.values.get(key, _ABSENT)
            if value is not _ABSENT:
                future = self.futures[key] = asyncio.get_running_loop().create_future()
                future.set_result(value)
        return future

    def set(self, key: K, value: asyncio.Future[T]) -> None:
        self.values.pop(key, None)
        self.futures[key] = value

    def delete(self, key: K) -> None:
        self.values.pop(key, None)
        self.futures.pop(key, None)

    def clear(self) -> None:
        self.values.clear()
        self.futures.clear()


class Loader(DataLoader[K, T]):
    """A DataLoader whose primed values cost no future (`_Held`): what every loader of
    `Loaders` is, and what `ready` reads."""

    cache_map: _Held[K, T]

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[T]]]) -> None:
        super().__init__(load_fn=load_fn, cache_map=_Held())
        self.load_values = load_fn  # (load_fn's type also allows exceptions for values)

    def holds(self, key: K) -> bool:
        """Whether a value of `key` is in, or on its way (then `load` gives its future)."""
        return self.cache_map.holds(key)

    async def load_all(self, keys: Sequence[K]) -> list[T]:
        """`load_many` for a caller that alone asks for these keys now (a prefetch): the keys
        not held are loaded by one call of the load function and primed, without a future, a
        done-callback and a place in a gather each (a page's 100 orders' lines). A value that
        is an exception is raised, as `load_many` would; unlike `load_many` (which keeps the
        other keys' values and the failed key's future), nothing of that call is kept. One call
        for all the missing keys, whatever max_batch_size (our loaders set none)."""
        held = self.cache_map
        missing = [key for key in dict.fromkeys(keys) if not held.holds(key)]
        if missing:
            loaded = await self.load_values(missing)
            for value in loaded:
                if isinstance(value, BaseException):
                    raise value
            self.prime_many(dict(zip(missing, loaded, strict=True)))
        values = held.values
        if all(key in values for key in keys):
            return [values[key] for key in keys]
        return await self.load_many(keys)  # some were on their way already

    def prime_many(self, data: Mapping[K, T], force: bool = False) -> None:
        """DataLoader.prime_many: a key held already keeps its value unless `force`; a key
        waiting in a batch not yet sent gets the value and leaves the batch."""
        held = self.cache_map
        values, futures = held.values, held.futures
        if force:
            values.update(data)
            for key in data:
                futures.pop(key, None)
        elif not values and not futures:
            values.update(data)
        else:
            for key, value in data.items():
                if key not in values and key not in futures:
                    values[key] = value
        batch = self.batch
        if batch is not None and not batch.dispatched:
            waiting = [task for task in batch.tasks if task.key in data]
            for task in waiting:
                task.future.set_result(data[task.key])
            if waiting:
                batch.tasks = [task for task in batch.tasks if not task.future.done()]


def ready(loader: Loader[K, T], key: K) -> Loaded[T]:
    """The value itself when the loader already holds it (prefetched, or loaded earlier in the
    request), otherwise the loader's future of it.

    A resolver returning this completes synchronously on a prefetched page (api/prefetch.py),
    sparing the executor a coroutine and a gather per object, and still batches otherwise: the
    executor awaits an awaitable result. Other callers narrow it with `pending` or `settled`.
    """
    held = loader.cache_map
    value = held.values.get(key, _ABSENT)
    if value is not _ABSENT:
        return value
    future = held.futures.get(key)
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


def _by_id(organization_id: int, model: type[M]) -> Loader[int, M | None]:
    read = _read_by_id(model)

    async def load(keys: list[int]) -> Sequence[M | None]:
        rows = {row.pk: row for row in await read(organization_id, keys)}
        return [rows.get(key) for key in keys]

    return Loader(load)


def _children(query: Callable[[list[int]], QuerySet[M]], parent: str) -> Loader[int, list[M]]:
    return _grouped(lambda keys: fetch(query(keys)), parent)


def _grouped(
    read: Callable[[list[int]], Awaitable[Sequence[M]]], parent: str
) -> Loader[int, list[M]]:
    """The rows `read` gives for the keys, grouped by their `parent` column."""

    async def load(keys: list[int]) -> Sequence[list[M]]:
        groups: dict[int, list[M]] = defaultdict(list)
        for row in await read(keys):
            groups[getattr(row, parent)].append(row)
        return [groups[key] for key in keys]

    return Loader(load)


def _one_of_each(query: Callable[[list[int]], QuerySet[M]], parent: str) -> Loader[int, M | None]:
    async def load(keys: list[int]) -> Sequence[M | None]:
        rows = {getattr(row, parent): row for row in await fetch(query(keys))}
        return [rows.get(key) for key in keys]

    return Loader(load)


def _order_lines(related: tuple[str, ...]) -> Loader[int, list[SalesOrderLine]]:
    return _grouped(_read_order_lines(related), "sales_order_id")


def _line_by_id() -> Loader[int, SalesOrderLine | None]:
    """Order lines by id; callers reach them only through rows of their own organization."""

    async def load(keys: list[int]) -> Sequence[SalesOrderLine | None]:
        rows = {row.pk: row for row in await fetch(SalesOrderLine.filter(id__in=keys))}
        return [rows.get(key) for key in keys]

    return Loader(load)


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
    warehouses = lazy(  # (rows: api/types' StockLevel.warehouse is typed as the schema's type)
        lambda organization: Loader[int, list[Any]](
            lambda keys: _all_warehouses(organization, keys)
        )
    )
    order_events = lazy(
        lambda _: _children(
            lambda ids: OrderEvent.filter(sales_order_id__in=ids).order_by("at", "id"),
            "sales_order_id",
        )
    )
    customer_order_count = lazy(
        lambda organization: Loader[int, int](lambda ids: _customer_order_counts(organization, ids))
    )

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        # orders' lines with relations joined in (item, tax), for pages that select them
        self.joined_order_lines: dict[tuple[str, ...], Loader[int, list[SalesOrderLine]]] = {}
        self._of_fields: dict[Hashable, Loader[Any, Any]] = {}

    def order_lines_joined(self, related: tuple[str, ...]) -> Loader[int, list[SalesOrderLine]]:
        """Orders' lines with `related` joined into their statement (select_related)."""
        loader = self.joined_order_lines.get(related)
        if loader is None:
            loader = self.joined_order_lines[related] = _order_lines(related)
        return loader

    def of_field(
        self, key: Hashable, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]
    ) -> Loader[Any, Any]:
        """The loader of one field with arguments (`key`), made by its first parent to resolve
        it: every parent of a list resolving that field shares it, so the field costs one batch
        for the whole list -- a nested connection, say, whose page depends on its arguments."""
        loader = self._of_fields.get(key)
        if loader is None:
            loader = self._of_fields[key] = Loader(load)
        return loader
