"""Reading sales orders: the filtered, sorted, keyset-paginated list of the contract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Term
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet, ValuesQuery

from gqlorders.models import Customer, SalesOrder, SalesOrderStatus
from gqlorders.models.sales_orders import MARKETPLACE_LENGTH
from gqlorders.numbering import MAX_NUMBER_LENGTH
from gqlorders.orders.statuses import LISTED_BY_DEFAULT
from gqlorders.pagination import (
    Page,
    SortKey,
    count_each,
    paginate_each,
    parse_money,
)
from gqlorders.rows import column
from gqlorders.validation import is_storable, search_term


class SalesOrderSortField(StrEnum):
    NUMBER = "NUMBER"
    DATE = "DATE"
    TOTAL = "TOTAL"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


def _stored_number(value: str) -> str:
    """A number cursor's value, if a number can be it (else the cursor is not ours: INVALID,
    not a query the column would refuse)."""
    if len(value) > MAX_NUMBER_LENGTH or not is_storable(value):
        raise ValueError("not a number")
    return value


SORT_KEYS = {
    SalesOrderSortField.NUMBER: SortKey("number", _stored_number),
    SalesOrderSortField.DATE: SortKey("date", date.fromisoformat),
    SalesOrderSortField.TOTAL: SortKey("total", parse_money),
    SalesOrderSortField.CREATED_AT: SortKey("created_at", datetime.fromisoformat),
    SalesOrderSortField.UPDATED_AT: SortKey("updated_at", datetime.fromisoformat),
}
# A customer's orders (`Customer.salesOrders`): the order list's defaults, newest first.
CUSTOMER_ORDERS_KEY = SORT_KEYS[SalesOrderSortField.CREATED_AT].reversed()
# A term in more customers' names than this is matched through a subquery instead of a list.
MATCHED_CUSTOMERS_LISTED = 200


@dataclass(frozen=True)
class SalesOrderFilter:
    statuses: list[SalesOrderStatus] | None = None
    customer_id: int | None = None
    search: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    marketplace: str | None = None
    updated_after: datetime | None = None


def sort_key(field: SalesOrderSortField, descending: bool) -> SortKey:
    key = SORT_KEYS[field]
    return key.reversed() if descending else key


class _AnyOfSubquery(Term):
    """`ANY(ARRAY(<query>))`, PostgreSQL's right-hand side for `column = ANY(...)`."""

    def __init__(self, query: QuerySet[Any] | ValuesQuery[Any]) -> None:
        super().__init__()
        self.query = query

    def get_sql(self, ctx: SqlContext) -> str:
        subquery = Subquery(self.query).get_sql(ctx.copy(subquery=True, with_alias=False))
        return f"ANY(ARRAY{subquery})"


async def _search_condition(organization_id: int, term: str) -> Q:
    """Orders whose number, reference number or customer's name contains `term`, ignoring case
    (SPEC §3 order list), written so that PostgreSQL can answer it from indexes.

    Matching the customer's name through a join (`customer__name__icontains`) puts a column of
    another table in the OR, and PostgreSQL then reads every order of the organization to check
    it. So the matching customers are asked first, on their own (0009's trigram index on their
    name, in the organization: an order's customer always is of the order's organization), and
    the order query gets their ids: all three conditions are then about the order row, the
    number and reference number through migration 0010's trigram indexes and `customer_id`
    through the (organization, customer) index, ORed in one bitmap scan -- and the planner knows
    how many customers matched (none, often), instead of counting on ten customers' orders and
    walking the list for a rare term. A term in very many names (a short one) keeps them in a
    subquery (`= ANY(ARRAY(...))` on PostgreSQL, which runs it once before the scan; an `IN
    (subquery)` inside an OR cannot use an index).
    """
    customers = Customer.filter(organization_id=organization_id, name__icontains=term)
    matched = await column(customers.limit(MATCHED_CUSTOMERS_LISTED + 1), "id")
    condition = Q(number__icontains=term) | Q(reference_number__icontains=term)
    if not matched:
        return condition
    if len(matched) <= MATCHED_CUSTOMERS_LISTED:
        # padded to a power of two (the last id repeated): 9 statement texts in all, not 200,
        # in the connections' caches of prepared statements
        ids = list(matched)
        ids += ids[-1:] * ((1 << (len(ids) - 1).bit_length()) - len(ids))
        return condition | Q(customer_id__in=ids)
    if SalesOrder._meta.db.capabilities.dialect == "postgres":
        return condition | Q(customer_id=_AnyOfSubquery(customers.values("id")))
    return condition | Q(customer_id__in=Subquery(customers.values("id")))


async def filtered_sales_orders(
    organization_id: int, where: SalesOrderFilter
) -> QuerySet[SalesOrder]:
    # (the statuses as a set, in one order: the same filter whatever order a client lists
    # them in, one prepared statement -- prepared.fetch_by_shape -- not one per permutation)
    statuses = sorted(set(where.statuses or LISTED_BY_DEFAULT))
    query = SalesOrder.filter(organization_id=organization_id, status__in=statuses)
    if where.customer_id is not None:
        query = query.filter(customer_id=where.customer_id)
    if term := search_term(where.search):
        # no stored text can contain a term that cannot be stored (a NUL character)
        condition = (
            await _search_condition(organization_id, term) if is_storable(term) else Q(id__lt=0)
        )
        query = query.filter(condition)
    if where.date_from is not None:
        query = query.filter(date__gte=where.date_from)
    if where.date_to is not None:
        query = query.filter(date__lte=where.date_to)
    if where.marketplace:
        # no order's marketplace can be longer than its column (or hold a NUL): nothing matches
        # (tortoise would refuse a longer value, PostgreSQL a NUL: an internal error)
        storable = len(where.marketplace) <= MARKETPLACE_LENGTH and is_storable(where.marketplace)
        query = query.filter(Q(marketplace=where.marketplace) if storable else Q(id__lt=0))
    if where.updated_after is not None:
        query = query.filter(updated_at__gt=where.updated_after)
    return query


async def list_customers_sales_orders(
    organization_id: int,
    customer_ids: Collection[int],
    *,
    first: int | None = None,
    after: str | None = None,
    select_related: Sequence[str] = (),
    fetch: Callable[[QuerySet[SalesOrder]], Awaitable[list[SalesOrder]]] | None = None,
) -> dict[int, Page[SalesOrder]]:
    """For each customer, the page of the order list with the customer as its filter, all in
    one statement: a page of customers with their orders is not one query per customer."""
    return await paginate_each(
        await filtered_sales_orders(organization_id, SalesOrderFilter()),
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
    orders = await filtered_sales_orders(organization_id, SalesOrderFilter())
    return await count_each(orders, "customer_id", customer_ids)
