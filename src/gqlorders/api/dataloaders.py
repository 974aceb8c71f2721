"""Per-request DataLoaders: a relation a list reaches costs one query per page, not per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from gqlorders.models import (
    Customer,
    Item,
    OrderEvent,
    SalesOrder,
    SalesOrderLine,
    Tax,
    Warehouse,
)

M = TypeVar("M", bound=Model)


def _by_id(organization_id: int, model: type[M]) -> DataLoader[int, M | None]:
    async def load(keys: list[int]) -> Sequence[M | None]:
        rows = {
            row.pk: row for row in await model.filter(organization_id=organization_id, id__in=keys)
        }
        return [rows.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _children(
    fetch: Callable[[list[int]], Iterable[M]] | Callable, parent: str
) -> DataLoader[int, list[M]]:
    async def load(keys: list[int]) -> Sequence[list[M]]:
        groups: dict[int, list[M]] = defaultdict(list)
        for row in await fetch(keys):
            groups[getattr(row, parent)].append(row)
        return [groups[key] for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """Every loader of one request, all scoped to the caller's organization."""

    def __init__(self, organization_id: int) -> None:
        self.customer = _by_id(organization_id, Customer)
        self.warehouse = _by_id(organization_id, Warehouse)
        self.item = _by_id(organization_id, Item)
        self.tax = _by_id(organization_id, Tax)
        self.sales_order = _by_id(organization_id, SalesOrder)
        self.order_lines = _children(
            lambda ids: SalesOrderLine.filter(sales_order_id__in=ids).order_by("position", "id"),
            "sales_order_id",
        )
        self.order_events = _children(
            lambda ids: OrderEvent.filter(sales_order_id__in=ids).order_by("at", "id"),
            "sales_order_id",
        )
