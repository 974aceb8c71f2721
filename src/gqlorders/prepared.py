"""Reads on the hot path whose SQL is built once instead of at every call.

tortoise builds a query's SQL with pypika each time it runs it: 0.1-0.2 ms of Python per
statement, more than PostgreSQL takes to answer the small lookups every request makes (the
token, an order's customer, warehouse and items, whether a number is taken). A prepared read
builds its query once per database kind and shape, from marker values standing for its
arguments, notes which statement parameter each argument fills, and from then on binds new
values into the same text. Rows become instances through rows.py, so a prepared read returns
what awaiting the query would.

Arguments that are ints or strings (or lists, sets and tuples of them: one marker per element,
one statement per length) are bound as parameters; a model class, None, a bool or an enum member
(or a collection of them) decides the query's shape and is passed to the builder as is; anything
else (a date, a Decimal: a statement per value) is refused with TypeError. A bound argument must
reach exactly one parameter unchanged, as it does for plain integer and text columns; anything
else fails on the first call (TypeError, or the column's own ValueError).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, Generic, TypeVar

from tortoise import connections
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import ExistsQuery, QuerySet

from gqlorders import rows

M = TypeVar("M", bound=Model)
Query = TypeVar("Query", bound="QuerySet[Any] | ExistsQuery")

_COLLECTIONS = (list, tuple, set, frozenset)
_MARKER_BASE = -(2**62)  # no id or quantity comes near it


@dataclass(frozen=True)
class _Statement:
    sql: str
    # per statement parameter: (argument, element or None) it is bound from, or None: constant
    slots: tuple[tuple[int, int | None] | None, ...]
    constants: tuple[Any, ...]
    instances: Callable[[Sequence[Any]], list[Any]] | None  # None: an EXISTS

    def bind(self, args: Sequence[Any]) -> list[Any]:
        values = []
        for slot, constant in zip(self.slots, self.constants):
            if slot is None:
                values.append(constant)
            else:
                argument, element = slot
                value = args[argument]
                values.append(value if element is None else value[element])
        return values


def _is_bound(value: Any) -> bool:
    return type(value) in (int, str)


def _is_shape(value: Any) -> bool:
    """A value that may choose the statement: few distinct ones, each built once."""
    return value is None or isinstance(value, bool | Enum | type)


def _shape(args: Sequence[Any]) -> tuple[Hashable, ...]:
    shape: list[Hashable] = []
    for value in args:
        if _is_bound(value):
            kind: type = type(value)
            shape.append(kind)
        elif isinstance(value, _COLLECTIONS) and value and all(_is_bound(v) for v in value):
            shape.append((type(next(iter(value))), len(value)))
        elif _is_shape(value):
            shape.append((type(value), value))
        elif isinstance(value, _COLLECTIONS) and all(_is_shape(v) for v in value):
            shape.append((type(value), tuple((type(v), v) for v in value)))
        else:
            # a date, a Decimal...: a statement per value would pile up; bind it, or build it in
            raise TypeError(
                f"a prepared read takes ints, text, None, bools, enums, models: {value!r}"
            )
    return tuple(shape)


def _marker(kind: type, number: int) -> int | str:
    # one character: tortoise checks a filter value against the column's max_length (3 for a
    # currency); from Unicode's private use plane, which no stored text uses
    return _MARKER_BASE - number if kind is int else chr(0xF0000 + number)


class _Prepared(Generic[Query]):
    def __init__(self, build: Callable[..., Query]) -> None:
        self._build = build
        self._statements: dict[tuple[Hashable, ...], _Statement] = {}

    async def _run(self, args: tuple[Any, ...]) -> tuple[_Statement, list[Any]]:
        db = connections.get("default")
        args = tuple(list(a) if isinstance(a, set | frozenset) else a for a in args)
        key = (db.capabilities.dialect, *_shape(args))
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = self._prepare(args)
        _, found = await db.execute_query(statement.sql, statement.bind(args))
        return statement, found

    def _prepare(self, args: tuple[Any, ...]) -> _Statement:
        markers: dict[Any, tuple[int, int | None]] = {}
        stand_ins: list[Any] = []
        for index, value in enumerate(args):
            if _is_bound(value):
                marker = _marker(type(value), len(markers))
                markers[marker] = (index, None)
                stand_ins.append(marker)
            elif isinstance(value, list | tuple) and value and all(_is_bound(v) for v in value):
                elements = []
                for element, item in enumerate(value):
                    marker = _marker(type(item), len(markers))
                    markers[marker] = (index, element)
                    elements.append(marker)
                stand_ins.append(elements)
            else:
                stand_ins.append(value)
        query = self._build(*stand_ins)
        if isinstance(query, QuerySet) and not rows.handles(query):
            raise TypeError("rows.py builds no instances for this query: await it instead")
        return _built(query, markers, _is_bound)


def _built(
    query: QuerySet[Any] | ExistsQuery,
    markers: dict[Any, tuple[int, int | None]],
    may_be_marker: Callable[[Any], bool],
) -> _Statement:
    """The statement of `query`, made with `markers` in place of the values to bind: each
    marker must land in exactly one of its parameters (TypeError otherwise)."""
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, parameters = query.query.get_parameterized_sql()
    slots = tuple(markers.get(p) if may_be_marker(p) else None for p in parameters)
    if sorted(filter(None, slots)) != sorted(markers.values()):
        raise TypeError(f"an argument does not land in exactly one parameter of {sql!r}")
    constants = tuple(None if slot else p for slot, p in zip(slots, parameters))
    instances = rows.instances_of(query) if isinstance(query, QuerySet) else None
    return _Statement(sql, slots, constants, instances)


class PreparedSelect(_Prepared[QuerySet[M]]):
    """`PreparedSelect(lambda org, ids: Item.filter(organization_id=org, id__in=ids))`, then
    `await select(org, ids)`: the instances, as `await Item.filter(...)` gives them."""

    async def __call__(self, *args: Any) -> list[M]:
        statement, found = await self._run(args)
        assert statement.instances is not None
        return statement.instances(found)


class PreparedExists(_Prepared[ExistsQuery]):
    """`PreparedExists(lambda org, n: Invoice.filter(organization_id=org, number=n).exists())`."""

    async def __call__(self, *args: Any) -> bool:
        _, found = await self._run(args)
        return bool(found)


# --- a query's SQL built once per shape -------------------------------------------------------

SHAPES_KEPT = 1024  # statements kept by fetch_by_shape (a few per list, sort and filter set)
_DATETIME_MARKER = datetime(1, 1, 2, tzinfo=UTC)  # no stored time comes near it
_DATE_MARKER = date(1, 1, 2)
_NOT_PREPARED = object()  # a shape whose values do not reach the statement unchanged

_by_shape: dict[Hashable, _Statement | object] = {}


def _value_marker(value: Any, number: int) -> Any | None:
    """A marker standing for `value` in a statement built once, or None: not bound (it is
    part of the shape, or refused)."""
    kind = type(value)
    if kind is int:  # (not text: its field validates it -- a length -- when tortoise builds it)
        return _marker(kind, number)
    if kind is datetime and value.utcoffset() is not None:  # (a naive one is made aware)
        return _DATETIME_MARKER + timedelta(microseconds=number)
    if kind is date:
        return _DATE_MARKER + timedelta(days=number)
    return None


class _Unshaped(Exception):
    """A filter value that is neither bound nor part of the shape (an expression...)."""


def _marked_filter(
    value: Any, values: list[Any], markers: dict[Any, tuple[int, int | None]]
) -> tuple[Hashable, Any]:
    """(its part of the shape, its stand-in in the statement built once)."""
    marker = _value_marker(value, len(markers))
    if marker is not None:
        markers[marker] = (len(values), None)
        values.append(value)
        return type(value).__name__, marker  # int, datetime or date
    if isinstance(value, list | tuple) and value:
        stand_ins = [_value_marker(element, len(markers) + i) for i, element in enumerate(value)]
        if all(stand_in is not None for stand_in in stand_ins):
            for stand_in, element in zip(stand_ins, value, strict=True):
                markers[stand_in] = (len(values), None)
                values.append(element)
            kinds = tuple(type(element).__name__ for element in value)
            return (type(value).__name__, kinds), type(value)(stand_ins)
    if _is_shape(value):
        return (type(value), value), value
    if isinstance(value, list | tuple) and all(_is_shape(element) for element in value):
        return (type(value), tuple((type(e), e) for e in value)), value
    raise _Unshaped


def _marked(
    q: Q, values: list[Any], markers: dict[Any, tuple[int, int | None]]
) -> tuple[Hashable, Q]:
    """A Q's shape (its structure, and the values that choose the statement), and a copy of
    it with markers in place of its bound values, in the order `values` gets them."""
    filters = {}
    shape: list[Hashable] = [q.join_type, q._is_negated]
    for key, value in q.filters.items():
        part, filters[key] = _marked_filter(value, values, markers)
        shape.append((key, part))
    children = []
    for child in q.children:
        part, marked_child = _marked(child, values, markers)
        shape.append(part)
        children.append(marked_child)
    marked = copy(q)
    marked.filters = filters
    marked.children = tuple(children)
    return tuple(shape), marked


def _is_plain(query: QuerySet[Any]) -> bool:
    """Filters, ordering, select_related, limit and offset only: what a shape holds."""
    return rows.handles(query) and not (
        query._filter_kwargs
        or query._joined_tables
        or query._distinct
        or query._having
        or query._custom_filters
        or query._group_bys
        or query._force_indexes
        or query._use_indexes
    )


async def fetch_by_shape(query: QuerySet[M]) -> list[M]:
    """`rows.fetch(query)`, its SQL built once per shape of the query instead of by tortoise
    and pypika at every call (~0.4 ms of Python for a page of the order list, whose filters,
    sort and cursor are built at every request): the shape is the query's structure -- model,
    filters (with their enums, None and bools), ordering, joins, limit -- its ints, aware
    datetimes and dates are bound as parameters. A query with anything else (text, which
    tortoise's field validates as it builds the query; an expression, a Decimal...), or whose
    values do not reach the statement unchanged, is built each time as before (~0.4 ms: the
    pages after the first in number order, any page filtered by marketplace or searched)."""
    if not _is_plain(query):
        return await rows.fetch(query)
    values: list[Any] = []
    markers: dict[Any, tuple[int, int | None]] = {}
    try:
        filters = [_marked(q, values, markers) for q in query._q_objects]
    except _Unshaped:
        return await rows.fetch(query)
    query._choose_db_if_not_chosen()
    db = query._db
    key = (
        db.connection_name,
        db.capabilities.dialect,
        query.model,
        tuple(shape for shape, _ in filters),
        tuple(query._orderings),
        tuple(sorted(query._select_related)),
        query._limit,
        query._offset,
    )
    try:
        statement = _by_shape.get(key)
    except TypeError:  # an ordering by an expression...: no shape
        return await rows.fetch(query)
    if statement is None:
        marked = query._clone()
        marked._q_objects = [q for _, q in filters]
        try:
            statement = _built(marked, markers, _is_marker)
        except Exception:  # a marker its field refuses (an enum, a length...): built each time
            statement = _NOT_PREPARED
        if len(_by_shape) >= SHAPES_KEPT:  # the least recently used goes
            _by_shape.pop(next(iter(_by_shape)))
    else:
        del _by_shape[key]  # (put back last: most recently used)
    _by_shape[key] = statement
    if not isinstance(statement, _Statement):
        return await rows.fetch(query)
    assert statement.instances is not None
    _, found = await db.execute_query(statement.sql, statement.bind(values))
    return statement.instances(found)


def _is_marker(value: Any) -> bool:
    return type(value) in (int, datetime, date)
