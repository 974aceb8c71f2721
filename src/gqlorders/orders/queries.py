"""Reading sales orders: the filtered, sorted, keyset-paginated list of the contract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from tortoise.queryset import QuerySet

from gqlorders.models import SalesOrder, SalesOrderStatus
from gqlorders.pagination import (
    Page,
    SortKey,
    count_each,
    matching,
    paginate,
    paginate_each,
    parse_money,
)
from gqlorders.validation import search_term

DEFAULT_STATUSES = [s for s in SalesOrderStatus if s != SalesOrderStatus.MERGED]


class SalesOrderSortField(StrEnum):
    NUMBER = "NUMBER"
    DATE = "DATE"
    TOTAL = "TOTAL"
    CREATED_AT = "CREATED_AT"


SORT_KEYS = {
    SalesOrderSortField.NUMBER: SortKey("number"),
    SalesOrderSortField.DATE: SortKey("date", date.fromisoformat),
    SalesOrderSortField.TOTAL: SortKey("total", parse_money),
    SalesOrderSortField.CREATED_AT: SortKey("created_at", datetime.fromisoformat),
}


@dataclass(frozen=True)
class SalesOrderFilter:
    statuses: list[SalesOrderStatus] | None = None
    customer_id: int | None = None
    search: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    marketplace: str | None = None


def sort_key(field: SalesOrderSortField, descending: bool) -> SortKey:
    key = SORT_KEYS[field]
    return key.reversed() if descending else key


def filtered_sales_orders(organization_id: int, where: SalesOrderFilter) -> QuerySet[SalesOrder]:
    query = SalesOrder.filter(
        organization_id=organization_id, status__in=where.statuses or DEFAULT_STATUSES
    )
    if where.customer_id is not None:
        query = query.filter(customer_id=where.customer_id)
    if term := search_term(where.search):
        query = matching(query, term, "number", "reference_number", "customer__name")
    if where.date_from is not None:
        query = query.filter(date__gte=where.date_from)
    if where.date_to is not None:
        query = query.filter(date__lte=where.date_to)
    if where.marketplace:
        query = query.filter(marketplace=where.marketplace)
    return query


async def list_sales_orders(
    organization_id: int,
    where: SalesOrderFilter,
    sort: SalesOrderSortField = SalesOrderSortField.CREATED_AT,
    descending: bool = True,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page[SalesOrder]:
    return await paginate(
        filtered_sales_orders(organization_id, where),
        sort_key(sort, descending),
        first=first,
        after=after,
        last=last,
        before=before,
    )


# A customer's orders (`Customer.salesOrders`): the order list's defaults, newest first.
CUSTOMER_ORDERS_KEY = sort_key(SalesOrderSortField.CREATED_AT, descending=True)


async def list_customers_sales_orders(
    organization_id: int,
    customer_ids: Collection[int],
    *,
    first: int | None = None,
    after: str | None = None,
    select_related: Sequence[str] = (),
    fetch: Callable[[QuerySet[SalesOrder]], Awaitable[list[SalesOrder]]] | None = None,
) -> dict[int, Page[SalesOrder]]:
    """For each customer, the page `list_sales_orders` gives with the customer as its filter,
    all in one statement: a page of customers with their orders is not one query per customer."""
    return await paginate_each(
        filtered_sales_orders(organization_id, SalesOrderFilter()),
        CUSTOMER_ORDERS_KEY,
        "customer_id",
        customer_ids,
        first=first,
        after=after,
        select_related=select_related,
        fetch=fetch,
    )


async def count_customers_sales_orders(
    organization_id: int, customer_ids: Collection[int]
) -> dict[int, int]:
    """Each customer's number of orders in the order list (merged ones hidden), at once."""
    return await count_each(
        filtered_sales_orders(organization_id, SalesOrderFilter()), "customer_id", customer_ids
    )
