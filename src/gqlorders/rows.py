"""Run a read query and build its model instances without the ORM's per-row generic path.

A page of 100 orders reads ~1,200 rows (orders with their customers and warehouses, lines with
their items, taxes); building them is the largest part of a request after the executor itself.
tortoise's `_init_from_db` goes through a keyword dict and each scaled decimal column's
`to_python_value` (a division and a quantize per value), and rows of a `select_related` query
through a dict split per row. Here a plan is made once per query -- column position, attribute,
converter -- compiled into a function that fills a new instance's `__dict__` in straight-line
code; scaled decimals become `Decimal(n).scaleb(-places)`, the very same value (digits and
exponent) the field would give.

The result is what `await query` returns, attribute for attribute (tests/test_rows.py checks it
on both databases); a JSON or datetime column is converted when first read (`Deferred`),
into what tortoise would have set. It relies on tortoise internals pinned in pyproject
(tortoise-orm 1.1); a query this module does not handle (prefetch_related, annotations,
.only(), .first()) is simply awaited by `fetch` (prepared.py refuses one: see `handles`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import Enum
from functools import cache, lru_cache
from typing import Any, TypeVar, cast

from tortoise.fields.data import (
    CharEnumFieldInstance,
    DatetimeField,
    IntEnumFieldInstance,
    JSONField,
)
from tortoise.models import Model
from tortoise.queryset import QuerySet

from gqlorders.models.fields import ScaledDecimalField

M = TypeVar("M", bound=Model)

Converter = Callable[[Any], Any] | None
Columns = list[tuple[int, str, Converter]]  # (position in the row, attribute, converter)

_new = object.__new__
KNOWN_SCALED = 4096  # decimal values kept per number of places
COMPILED_PLANS = 1024  # row constructors kept (a few per query shape)

# converter -> (its fast path as an expression of `value`, falling back to `{convert}(value)`;
# the names it reads): what `_compiled` writes into a constructor instead of a call per value
# (~0.1 us each, ~6,000 values a page). Each is the converter's own first test and result.
_INLINE: dict[Callable[[Any], Any], tuple[str, dict[str, Any]]] = {}


@cache
def _scaled(places: int) -> Callable[[Any], Decimal]:
    """The stored integer as its Decimal; the first KNOWN_SCALED values met are kept (a Decimal
    is immutable): quantities, rates and zeros repeat on every page, ~0.4 us each to make."""
    exponent = -places
    known: dict[int, Decimal] = {}

    def convert(value: Any) -> Decimal:
        if type(value) is not int:  # (a Decimal 5 would find the int 5's entry)
            return value if isinstance(value, Decimal) else Decimal(int(value)).scaleb(exponent)
        found = known.get(value)
        if found is None:
            found = Decimal(value).scaleb(exponent)
            if len(known) < KNOWN_SCALED:
                known[value] = found
        return found

    _INLINE[convert] = (
        "(found if type(value) is int and (found := {known}.get(value)) is not None"
        " else {convert}(value))",
        {"known": known},
    )
    return convert


@cache
def _enum_member(enum_type: type[Enum]) -> Callable[[Any], Enum]:
    """`enum_type(value)` (what the enum fields give) by a dict lookup: Enum's call costs ~1 µs
    per value, and a page has thousands (statuses, kinds)."""
    members = {member.value: member for member in enum_type}

    def convert(value: Any) -> Enum:
        member = members.get(value)
        return member if member is not None else enum_type(value)

    _INLINE[convert] = (
        "(found if (found := {members}.get(value)) is not None else {convert}(value))",
        {"members": members},
    )
    return convert


def _converters(model: type[Model]) -> dict[str, tuple[str, Converter]]:
    """column -> (attribute, converter), as `Model._init_from_db` treats each column. Read from
    the model's meta at every query: it depends on the database the ORM was opened on."""
    meta = model._meta
    found: dict[str, tuple[str, Converter]] = {}
    for column, attribute, _ in meta.db_native_fields:
        found[column] = (attribute, None)
    for column, attribute, field in meta.db_default_fields:
        found[column] = (attribute, field.field_type)
    for column, attribute, field in meta.db_complex_fields:
        if type(field) is ScaledDecimalField:
            found[column] = (attribute, _scaled(field.places))
        elif isinstance(field, CharEnumFieldInstance | IntEnumFieldInstance):
            found[column] = (attribute, _enum_member(field.enum_type))
        elif type(field) in (DatetimeField, JSONField) and (
            deferred := _deferred(model, attribute)
        ):
            # (tortoise's own conversion on the first read, ~0.6 us: most are never read; a
            # page in createdAt order reads its orders' for their cursors)
            found[column] = (attribute, deferred)
        else:
            found[column] = (attribute, field.to_python_value)
    return found


class Deferred:
    """A JSON or datetime column of the instances this module builds, converted when first
    read: a page's orders and customers carry ~480 addresses and tax totals (~0.55 us each to
    decode), and its rows ~800 timestamps (~0.3 us each to move to the default zone), that most
    queries never read. The instance keeps the column's raw value under `raw_key` (a key no
    attribute can have) and this descriptor, on the model's class, converts it with the
    field's own `to_python_value` on the first read and puts the value where tortoise would
    have put it: from then on the instance is exactly tortoise's (a value set meanwhile, as
    an auto_now save sets one, is the instance's attribute and wins over the raw one).
    Instances tortoise builds always hold the attribute, so the descriptor is never asked for
    theirs; on the class, or on an instance without the column (`.only()`), it answers as
    before: no such attribute."""

    __slots__ = ("attribute", "decode", "raw_key")

    def __init__(self, attribute: str, decode: Callable[[Any], Any]) -> None:
        self.attribute = attribute
        self.raw_key = f"raw {attribute}"
        self.decode = decode

    def __call__(self, value: Any) -> Any:  # (a converter: what the column's value becomes)
        return self.decode(value)

    def __get__(self, instance: Model | None, owner: type | None = None) -> Any:
        if instance is not None:
            values = instance.__dict__
            raw = values.get(self.raw_key, _NOT_READ)
            if raw is not _NOT_READ:
                # (converted before the raw value goes: one that fails stays, and fails again)
                value = values[self.attribute] = self.decode(raw)
                del values[self.raw_key]
                return value
        name = owner.__name__ if instance is None and owner else type(instance).__name__
        raise AttributeError(f"{name!r} object has no attribute {self.attribute!r}")


_NOT_READ: Any = object()
_deferred_columns: dict[tuple[type[Model], str], Deferred | None] = {}


def _deferred(model: type[Model], attribute: str) -> Deferred | None:
    """The model's descriptor of this column, set on the class the first time; None if the
    class has something of that name already (then the column is converted at once)."""
    key = (model, attribute)
    if key not in _deferred_columns:
        deferred = None
        if not hasattr(model, attribute):
            deferred = Deferred(attribute, model._meta.fields_map[attribute].to_python_value)
            setattr(model, attribute, deferred)
        _deferred_columns[key] = deferred
    return _deferred_columns[key]


def _plan(model: type[Model], keys: Sequence[str], start: int, stop: int) -> Columns:
    converters = _converters(model)
    columns = []
    for position in range(start, stop):
        column = keys[position].rsplit(".", 1)[-1]  # "sales_order__customer.name" -> "name"
        attribute, convert = converters[column]
        columns.append((position, attribute, convert))
    return columns


def _constructor(model: type[M], columns: Columns) -> Callable[[Any], M]:
    return cast(Callable[[Any], M], _compiled(model, tuple(columns), _custom_pk(model)))


@lru_cache(maxsize=COMPILED_PLANS)
def _compiled(
    model: type[Model], columns: tuple[tuple[int, str, Converter], ...], custom_pk: bool
) -> Any:
    """One function per plan that fills a new instance's `__dict__` from a row in straight-line
    code (`values["id"] = row[0]` ...): a loop over the plan's (position, attribute, converter)
    costs a tuple unpacking and two tests per column, ~1,100 rows x 5-37 columns per page.
    Kept by plan (compiling costs ~0.2 ms, as much as building a page's orders): a query that
    `fetch` plans at every call, the page's, finds its constructor again.
    The text is made from the plan alone: attributes are the model's own identifiers (checked),
    positions ints; converters are passed as names, with the fast path of ours written in
    (`_INLINE`: a value the converter would take its own first branch for costs no call)."""
    names: dict[str, Any] = {"new": _new, "model": model}
    body = [
        "instance = new(model)",
        "values = instance.__dict__",
        "values['_partial'] = False",
        "values['_saved_in_db'] = True",
        f"values['_custom_generated_pk'] = {custom_pk!r}",
        "values['_await_when_save'] = {}",
    ]
    for position, attribute, convert in columns:
        if not attribute.isidentifier():
            raise ValueError(f"{model.__name__}: not an attribute name: {attribute!r}")
        if convert is None:
            body.append(f"values[{attribute!r}] = row[{int(position)}]")
        elif isinstance(convert, Deferred):  # None as is, else the text under its raw key
            body.append(f"value = row[{int(position)}]")
            body.append(f"values[{attribute!r} if value is None else {convert.raw_key!r}] = value")
        else:
            names[f"convert_{position}"] = convert
            expression = f"convert_{position}(value)"
            inline = _INLINE.get(convert)
            if inline is not None:
                template, reads = inline
                for name, value in reads.items():
                    names[f"{name}_{position}"] = value
                expression = template.format(
                    convert=f"convert_{position}", **{name: f"{name}_{position}" for name in reads}
                )
            body.append(
                f"values[{attribute!r}] = None if (value := row[{int(position)}]) is None"
                f" else {expression}"
            )
    body.append("return instance")
    source = "def build(row):\n    " + "\n    ".join(body) + "\n"
    exec(compile(source, f"<rows of {model.__name__}>", "exec"), names)
    return names["build"]


def _custom_pk(model: type[Model]) -> bool:
    meta = model._meta
    return meta.db_pk_column not in meta.generated_db_fields


def handles(query: QuerySet[Any]) -> bool:
    """Whether `fetch` builds this query's instances itself (else it awaits the query)."""
    return not (
        query._prefetch_map
        or query._annotations
        or query._fields_for_select
        or query._single
        or query._select_for_update
    )


async def fetch(query: QuerySet[M]) -> list[M]:
    """The rows of `query` as model instances, with select_related relations attached."""
    if not handles(query):
        return list(await query)
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, values = query.query.get_parameterized_sql()
    _, rows = await query._db.execute_query(sql, values)
    return instances_of(query)(rows)


def instances_of(query: QuerySet[M]) -> Callable[[Sequence[Any]], list[M]]:
    """What turns the rows of `query` (made, not necessarily run) into its instances. The plan is
    made from the first non-empty result's column names and kept for the next ones."""
    model = query.model
    related = list(query._select_related_idx)
    build: Callable[[Sequence[Any]], list[M]] | None = None

    def instances(rows: Sequence[Any]) -> list[M]:
        nonlocal build
        if not rows:
            return []
        if build is None:
            keys = list(rows[0].keys())
            build = _joined(model, keys, related) if related else _plain(model, keys)
        return build(rows)

    return instances


def _plain(model: type[M], keys: list[str]) -> Callable[[Sequence[Any]], list[M]]:
    build = _constructor(model, _plan(model, keys, 0, len(keys)))
    return lambda rows: [build(row) for row in rows]


def _joined(
    model: type[M], keys: list[str], related: list[Any]
) -> Callable[[Sequence[Any]], list[M]]:
    """select_related: the base model's columns first, then each related model's, in order.
    A related row met again in the same result (the tax of many lines) is built once."""
    build_base = _constructor(model, _plan(model, keys, 0, related[0][1]))
    base_path = related[0][4]
    joins = []
    start = related[0][1]
    for related_model, count, *_, full_path in related[1:]:
        columns = _plan(related_model, keys, start, start + count)
        pk = related_model._meta.pk_attr
        # (select_related without .only() selects every column of the relation, its key too)
        pk_position = next(p for p, attribute, _ in columns if attribute == pk)
        *parent_path, attribute = full_path
        build_related = _constructor(related_model, columns)
        joins.append((tuple(parent_path), f"_{attribute}", build_related, pk_position))
        start += count
    if all(parent_path == base_path for parent_path, *_ in joins):
        return _joined_to_base(build_base, [join[1:] for join in joins])

    def build(rows: Sequence[Any]) -> list[M]:
        instances = []
        built: list[dict[Any, Model]] = [{} for _ in joins]
        for row in rows:
            instance = build_base(row)
            by_path: dict[Any, Model] = {base_path: instance}
            for join, seen in zip(joins, built, strict=True):
                parent_path, attribute, build_related, pk_position = join
                value = None
                pk = row[pk_position]
                if pk is not None:
                    value = seen.get(pk)
                    if value is None:
                        value = seen[pk] = build_related(row)
                    by_path[(*parent_path, attribute[1:])] = value
                parent = by_path.get(parent_path)
                if parent is not None:
                    parent.__dict__[attribute] = value
            instances.append(instance)
        return instances

    return build


def _joined_to_base(
    build_base: Callable[[Any], M], joins: list[tuple[str, Callable[[Any], Model], int]]
) -> Callable[[Sequence[Any]], list[M]]:
    """select_related of the base model's own relations only (lines with their item and tax,
    orders with their customer and warehouse): no path to follow per row."""
    return cast(Callable[[Sequence[Any]], list[M]], _compiled_joins(build_base, tuple(joins)))


@lru_cache(maxsize=COMPILED_PLANS)
def _compiled_joins(
    build_base: Callable[[Any], Model], joins: tuple[tuple[str, Callable[[Any], Model], int], ...]
) -> Any:
    """The loop of `_joined_to_base` compiled with each join written out: a loop over the joins
    cost a tuple unpacking and a zip per row and join, about as much as building a line. Kept
    by plan as the row constructors are (their functions are found again for the same plan);
    the text holds only attribute names (checked) and positions."""
    names: dict[str, Any] = {"build_base": build_base}
    body = [
        "instances = []",
        "append = instances.append",
        *(f"seen_{number} = {{}}" for number in range(len(joins))),
        "for row in rows:",
        "    instance = build_base(row)",
        "    values = instance.__dict__",
    ]
    for number, (attribute, build_related, pk_position) in enumerate(joins):
        if not attribute[1:].isidentifier() or not attribute.startswith("_"):
            raise ValueError(f"not a relation's attribute: {attribute!r}")
        names[f"build_{number}"] = build_related
        body += [
            f"    if (pk := row[{int(pk_position)}]) is None:",
            f"        values[{attribute!r}] = None",
            "    else:",
            f"        if (related := seen_{number}.get(pk)) is None:",
            f"            related = seen_{number}[pk] = build_{number}(row)",
            f"        values[{attribute!r}] = related",
        ]
    body += ["    append(instance)", "return instances"]
    source = "def build(rows):\n    " + "\n    ".join(body) + "\n"
    exec(compile(source, "<rows joined>", "exec"), names)
    return names["build"]


async def column(query: QuerySet[Any], field: str) -> list[Any]:
    """`field` of every row `query` selects, in its order: `values_list(field, flat=True)`,
    whose result tortoise 1.1 types as tuples."""
    return cast(list[Any], await query.values_list(field, flat=True))
