"""Keyset (cursor) pagination done in SQL, for every connection of the API.

A cursor is the sort key of a row plus its id, so a page never skips or repeats rows when
others are inserted meanwhile, and the database walks an index instead of an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from gqlorders.errors import DomainError, ErrorCode
from gqlorders.validation import is_storable

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


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
    """The cursor names its sort column, so a cursor of another sort order is refused."""
    text = json.dumps(
        [column, str(value) if value is not None else None, row_id], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


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
    `fetch` runs the page's statement instead of awaiting it (api/rows.py builds rows faster).
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
