"""Keyset (cursor) pagination done in SQL, for every connection of the API.

A cursor is the sort key of a row plus its id, so a page never skips or repeats rows when
others are inserted meanwhile, and the database walks an index instead of an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pypika_tortoise import Order
from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.context import SqlContext
from pypika_tortoise.functions import Cast, Function
from pypika_tortoise.terms import Array, Term
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count
from tortoise.models import Model
from tortoise.queryset import AwaitableQuery, QuerySet

from gqlorders.errors import DomainError, ErrorCode
from gqlorders.validation import is_storable

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# The group a lateral page is of, qualified: unqualified, a column of the page's own table of that
# name would win over it.
_EACH_GROUP = RawSQL('"each_group"."value"')


@dataclass(frozen=True)
class SortKey:
    """A column to sort by, and how its values travel inside a cursor."""

    column: str
    parse: Callable[[str], Any] = str
    descending: bool = False

    def reversed(self) -> SortKey:
        return SortKey(self.column, self.parse, not self.descending)


@dataclass
class Page(Generic[M]):
    rows: list[M]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    query: QuerySet[M]  # the filtered query without paging, for totalCount


def parse_money(text: str) -> Decimal:
    """A money value from a cursor: finite, cents, and within the column's range."""
    value = Decimal(text)
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) >= 10**15:
        raise ValueError(text)
    return value


def encode_cursor(column: str, value: Any, row_id: int) -> str:
    """The cursor names its sort column, so a cursor of another sort order is refused.

    Its JSON is written directly when json.dumps would write the texts as they are (printable
    ASCII without quote or backslash: column names, dates, numbers) and the id is an int:
    the same bytes at half the cost (a page makes one per row). Anything else goes json.dumps's
    way."""
    text = str(value) if value is not None else None
    both = f"{column}{text}"
    if (
        text is not None
        and type(row_id) is int
        and both.isascii()
        and both.isprintable()
        and '"' not in both
        and "\\" not in both
    ):
        encoded = f'["{column}","{text}",{row_id}]'
    else:
        encoded = json.dumps([column, text, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(encoded.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey, field: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        column, value, row_id = json.loads(raw)
        if column != key.column or not isinstance(value, str):
            raise ValueError
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id < 2**63:
            raise ValueError
        return key.parse(value), row_id
    except (ValueError, TypeError, ArithmeticError, binascii.Error, UnicodeDecodeError):
        raise DomainError.one(ErrorCode.INVALID, (field,), "not a valid cursor") from None


def _after(key: SortKey, value: Any, row_id: int) -> Q:
    """Rows strictly after (value, id) in the key's direction, id breaking ties the same way.

    The leading `column <= value` (>= ascending) says nothing new, but it is what lets the
    database start the index scan at the cursor: without it the OR below is only a filter, and
    a page N rows deep reads and discards N rows first.
    """
    op = "lt" if key.descending else "gt"
    bound = Q(**{f"{key.column}__{op}e": value})
    return bound & (
        Q(**{f"{key.column}__{op}": value}) | Q(**{key.column: value, f"id__{op}": row_id})
    )


def _ordering(key: SortKey) -> list[str]:
    sign = "-" if key.descending else ""
    return [f"{sign}{key.column}", f"{sign}id"]


def matching(query: QuerySet[M], term: str, *lookups: str) -> QuerySet[M]:
    """Rows whose given text columns contain `term` (case-insensitive)."""
    if not is_storable(term):  # no stored text can contain it
        return query.filter(id__lt=0)
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{f"{lookup}__icontains": term})
    return query.filter(condition)


def page_size(requested: int | None, field: str) -> int:
    if requested is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= requested <= MAX_PAGE_SIZE:
        raise DomainError.one(
            ErrorCode.INVALID, (field,), f"{field} must be between 0 and {MAX_PAGE_SIZE}"
        )
    return requested


async def paginate(
    query: QuerySet[M],
    key: SortKey,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    select_related: Sequence[str] = (),
    fetch: Callable[[QuerySet[M]], Awaitable[list[M]]] | None = None,
) -> Page[M]:
    """One page of `query` in `key` order: `first`/`after` forwards, `last`/`before` backwards.

    `select_related` joins to-one relations into the page's statement (not into totalCount's);
    `fetch` runs the page's statement instead of awaiting it (rows.py builds rows faster).
    """
    if first is not None and last is not None:
        raise DomainError.one(ErrorCode.INVALID, ("last",), "give first or last, not both")
    backwards = last is not None or (before is not None and first is None)
    walk = key.reversed() if backwards else key
    size = page_size(last if backwards else first, "last" if backwards else "first")
    cursor = before if backwards else after
    paged = query
    if cursor is not None:
        value, row_id = decode_cursor(cursor, key, "before" if backwards else "after")
        paged = paged.filter(_after(walk, value, row_id))
    other = after if backwards else before
    if other is not None:
        value, row_id = decode_cursor(other, key, "after" if backwards else "before")
        paged = paged.filter(_after(walk.reversed(), value, row_id))
    if select_related:
        paged = paged.select_related(*select_related)
    paged = paged.order_by(*_ordering(walk)).limit(size + 1)
    rows = list(await (fetch(paged) if fetch is not None else paged))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    cursors = [encode_cursor(key.column, getattr(row, key.column), row.pk) for row in rows]
    return Page(
        rows=rows,
        cursors=cursors,
        has_next_page=more if not backwards else before is not None,
        has_previous_page=more if backwards else after is not None,
        query=query,
    )


def _first_of_each(query: QuerySet[M], key: SortKey, group: str, limit: int) -> Any:
    """A subquery of the ids of the first `limit` rows of `query` in each `group`, in `key` order,
    for SQLite (3.25+), which has no LATERAL: `_first_of_each_lateral` is PostgreSQL's.

    ROW_NUMBER() numbers each group's rows; a window function cannot be filtered in the WHERE of
    its own select, hence the derived table. Every row of the groups is read to be numbered.
    """
    meta = query.model._meta
    table = meta.basetable
    direction = Order.desc if key.descending else Order.asc
    rank = (
        RowNumber()
        .over(table[meta.fields_db_projection[group]])
        .orderby(table[meta.fields_db_projection[key.column]], order=direction)
        .orderby(table[meta.db_pk_column], order=direction)
    )
    numbered = query.annotate(group_rank=rank).values(meta.pk_attr, "group_rank")
    ranked = Subquery(numbered).as_("ranked")
    return (
        meta.db.query_class.from_(ranked)
        .select(ranked[meta.pk_attr])
        .where(ranked.group_rank <= limit)
    )


class _LateralPages(Term):
    """`SELECT id FROM unnest(<groups>) AS each_group(value) CROSS JOIN LATERAL (<page>) AS page`:
    `page` runs once per group, with `each_group.value` standing for the group (pypika writes
    neither a column alias list nor LATERAL, hence the text around the two rendered terms)."""

    def __init__(self, groups: Term, page: AwaitableQuery[Any], pk: str) -> None:
        super().__init__()
        self.groups = groups
        self.page = page
        self.pk = pk  # the name `page` selects the primary key as

    def get_sql(self, ctx: SqlContext) -> str:
        inner = ctx.copy(subquery=True, with_alias=False)
        groups = self.groups.get_sql(inner)
        page = Subquery(self.page).get_sql(inner)
        return (
            f'(SELECT "page"."{self.pk}" FROM {groups} "each_group"("value")'
            f' CROSS JOIN LATERAL {page} "page")'
        )


def _first_of_each_lateral(
    query: QuerySet[M], key: SortKey, group: str, groups: list[Any], limit: int
) -> Term:
    """A subquery of the ids of the first `limit` rows of `query` in each of `groups`, in `key`
    order, on PostgreSQL: each group's page is the `ORDER BY key LIMIT limit` of its own list,
    which an index on (the query's scope, group, key, id) serves with one short scan per group
    -- a group's other rows are never read, however many it has."""
    meta = query.model._meta
    field = meta.fields_map[group]
    values = [field.to_db_value(value, query.model) for value in groups]
    array_type = f"{field.get_for_dialect(meta.db.capabilities.dialect, 'SQL_TYPE')}[]"
    each_group = Function("unnest", Cast(Array(*values), array_type))  # one parameter
    page = (
        query.filter(**{group: _EACH_GROUP})
        .order_by(*_ordering(key))
        .limit(limit)
        .values(meta.pk_attr)
    )
    return _LateralPages(each_group, page, meta.pk_attr)


async def paginate_each(
    query: QuerySet[M],
    key: SortKey,
    group: str,
    groups: Collection[Any],
    *,
    first: int | None = None,
    after: str | None = None,
    select_related: Sequence[str] = (),
    fetch: Callable[[QuerySet[M]], Awaitable[list[M]]] | None = None,
) -> dict[Any, Page[M]]:
    """`paginate(query.filter(group=g), key, first=..., after=...)` for every g of `groups`, in
    one statement whatever their number: a list of parents with a page of children each costs
    one query for all the children, not one per parent. On PostgreSQL each group's page reads
    that group's first rows only, as its own list would (`_first_of_each_lateral`); on SQLite
    every row of the groups is numbered (`_first_of_each`).

    Forwards only. The same `after` applies to every group: a cursor names a place in the sort,
    not in a group, so each group's page starts after it exactly as that group's own list does.
    """
    size = page_size(first, "first")
    cursor = decode_cursor(after, key, "after") if after is not None else None
    fetched: dict[Any, list[M]] = defaultdict(list)
    if groups:
        pk = query.model._meta.pk_attr
        if query.model._meta.db.capabilities.dialect == "postgres":
            listed = query if cursor is None else query.filter(_after(key, *cursor))
            ids = _first_of_each_lateral(listed, key, group, list(groups), size + 1)
            # the ids found already pass the group and cursor filters: their rows are read by
            # primary key, still under the query's own filters (it stays scoped by itself)
            paged = query.filter(**{f"{pk}__in": ids})
        else:
            paged = query.filter(**{f"{group}__in": list(groups)})
            if cursor is not None:
                paged = paged.filter(_after(key, *cursor))
            # the page keeps its own filters beside the ids: it is scoped by itself, and the
            # database reads it through the same index as the subquery
            paged = paged.filter(**{f"{pk}__in": _first_of_each(paged, key, group, size + 1)})
        if select_related:
            paged = paged.select_related(*select_related)
        paged = paged.order_by(*_ordering(key))
        for row in await (fetch(paged) if fetch is not None else paged):
            fetched[getattr(row, group)].append(row)
    pages = {}
    for value in groups:
        rows = fetched[value][:size]
        pages[value] = Page(
            rows=rows,
            cursors=[encode_cursor(key.column, getattr(row, key.column), row.pk) for row in rows],
            has_next_page=len(fetched[value]) > size,
            has_previous_page=after is not None,
            query=query.filter(**{group: value}),
        )
    return pages


async def count_each(query: QuerySet[M], group: str, groups: Collection[Any]) -> dict[Any, int]:
    """`query.filter(group=g).count()` for every g of `groups`, in one GROUP BY statement."""
    counts = dict.fromkeys(groups, 0)
    if groups:
        counted = (
            query.filter(**{f"{group}__in": list(groups)})
            .annotate(rows=Count(query.model._meta.pk_attr))
            .group_by(group)
            .values(group, "rows")
        )
        counts.update((row[group], row["rows"]) for row in await counted)
    return counts
