"""A plan's object level as straight-line Python, compiled once per `ObjectPlan`.

Building a level (every order of a page, every line of every order...) field by field cost a
call, an awaitable test and an append per field and object, a serializer call per leaf, then a
`dict(zip(keys, values))` per object: most of a page's plan. The level's function reads each
object's fields in one pass -- attributes directly (`source.number`), resolvers called with
the object -- serializes the leaves whose value has the expected type right there (a `str`
for String and ID, a `Decimal` by its kept text, a value of a type never awaitable through the
scalar's serializer) and builds the object's dict in one display. Anything else is set aside
for `execution` to complete as before, the same way as before: a leaf's value of another type
(a null, an awaitable, a subclass), and each object, list or abstract field's values, the
level's awaitables gathered at once.

The text is made from the plan alone, never from the document: fields are numbered, response
keys, serializers and resolvers passed in as names; only a strawberry field's `python_name`
(the schema's own code) is written as an attribute, when it is a plain identifier.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from graphql import GraphQLEnumType, Undefined

from gqlorders.api.compiled.planning import FieldPlan, Leaf, ObjectPlan
from gqlorders.api.scalars import keep_text, kept_texts, serialize_decimal

# What a level's function gives: its objects' dicts; the leaves set aside, as (object's
# position, field number, value); the awaitables of object fields, as (column, position,
# awaitable); and the raw values of each object field (in `Level.columns` order).
Built = tuple[
    list[dict[str, Any]],
    list[tuple[int, int, Any]],
    list[tuple[list[Any], int, Any]],
    tuple[list[Any], ...],
]


SOURCE = object()  # where the object goes in a resolver's arguments
# A request's resolver: a function and its arguments, SOURCE where the object goes.
Binding = tuple[Callable[..., Any], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Level:
    build: Callable[..., Built]
    columns: tuple[int, ...]  # field numbers of the object, list and abstract fields


def resolved_fields(plan: ObjectPlan) -> list[int]:
    """The numbers of the fields a resolver gets: a level is given each one's function and
    arguments (a `Binding`), in this order, after its objects."""
    return [
        number
        for number, field in enumerate(plan.fields)
        if field.definition is not None and field.attribute is None
    ]


def compile_level(
    plan: ObjectPlan,
    shape: tuple[tuple[bool, ...], ...],
    never_awaitable: set[type],
    awaitable: Callable[[Any], bool],
    discard: Callable[..., None],
    abandoned: type[Exception],
) -> Level:
    """The level's function: `build(sources, *arguments)`, the arguments each resolver's
    function then those of its arguments that are not the object; `shape` says, for each
    resolved field, which of its arguments are the object. `never_awaitable` is read when it
    runs (types are added to it as they are met)."""
    names: dict[str, Any] = {
        "Decimal": Decimal,
        "keep_text": keep_text,
        "kept_text": kept_texts.get,
        "Undefined": Undefined,
        "never": never_awaitable,
        "awaitable": awaitable,
        "discard": discard,
        "Abandoned": abandoned,
    }
    calls = dict(zip(resolved_fields(plan), shape, strict=True))
    parameters: list[str] = []
    columns: list[int] = []
    body: list[str] = []
    entries: list[str] = []
    for number, field in enumerate(plan.fields):
        names[f"key_{number}"] = field.key
        value = f"value_{number}"
        entries.append(f"key_{number}: {value}")
        if field.definition is None:  # __typename
            names[f"typename_{number}"] = field.parent.name
            body.append(f"{value} = typename_{number}")
            continue
        body.append(f"{value} = {_read(field, number, names, calls.get(number), parameters)}")
        completion = field.completion
        if type(completion) is Leaf:
            body.extend(_leaf(completion, number, names))
        else:
            columns.append(number)
            body.append(
                f"if type({value}) not in never and awaitable({value}): "
                f"waiting.append((column_{number}, position, {value}))"
            )
            body.append(f"column_{number}.append({value})")
    body.append("add({" + ", ".join(entries) + "})")
    lines = [
        "def build(" + ", ".join(["sources", *parameters]) + "):",
        "    objects = []",
        "    add = objects.append",
        "    slow = []",
        "    waiting = []",
        *(f"    column_{number} = []" for number in columns),
        "    try:",
        "        for position, source in enumerate(sources):",
        *(f"            {line}" for line in body),
        "    except BaseException:",
        "        discard([entry[2] for entry in waiting])",
        "        discard([entry[2] for entry in slow])",
        "        raise",
        "    return objects, slow, waiting, ("
        + "".join(f"column_{number}, " for number in columns)
        + ")",
    ]
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<level of {plan.type.name}>", "exec"), names)
    return Level(names["build"], tuple(columns))


def _read(
    field: FieldPlan,
    number: int,
    names: dict[str, Any],
    call: tuple[bool, ...] | None,
    parameters: list[str],
) -> str:
    """How the field's value is read from `source`: an attribute, or its resolver called with
    the object and the request's arguments (parameters of the level's function)."""
    if call is None:
        assert field.attribute is not None and field.strawberry is not None
        attribute = field.strawberry.python_name
        if attribute.isidentifier() and not keyword.iskeyword(attribute):
            return f"source.{attribute}"
        names[f"attribute_{number}"] = field.attribute
        return f"attribute_{number}(source)"
    parameters.append(f"resolve_{number}")
    arguments = []
    for position, is_source in enumerate(call):
        if is_source:
            arguments.append("source")
        else:
            parameters.append(f"argument_{number}_{position}")
            arguments.append(f"argument_{number}_{position}")
    return f"resolve_{number}(" + ", ".join(arguments) + ")"


def _leaf(leaf: Leaf, number: int, names: dict[str, Any]) -> list[str]:
    """The leaf serialized when its value has the expected type, else set aside (a null of a
    non-null field too: `execution` abandons the run for it)."""
    value = f"value_{number}"
    aside = f"slow.append((position, {number}, {value}))"
    null = "pass" if leaf.nullable else aside
    if leaf.plain_strings:
        if leaf.nullable:
            return [f"if type({value}) is not str and {value} is not None: {aside}"]
        return [f"if type({value}) is not str: {aside}"]
    if leaf.serialize is serialize_decimal:
        return [  # serialize_decimal's kept text looked up here, without a call
            f"if type({value}) is Decimal:",
            f"    kept = kept_text(id({value}))",
            f"    {value} = kept[1] if kept is not None and kept[0] is {value}"
            f" else keep_text({value})",
            f"elif {value} is None: {null}",
            f"else: {aside}",
        ]
    names[f"serialize_{number}"] = leaf.serialize
    members = _enum_names(leaf)
    if members is not None:  # a member's name looked up, not searched for among the values
        names[f"enum_{number}"], names[f"members_{number}"] = members
        return [
            f"if type({value}) is enum_{number}: {value} = members_{number}[{value}]",
            f"elif {value} is None: {null}",
            f"elif type({value}) in never:",
            f"    {value} = serialize_{number}({value})",
            f"    if {value} is None or {value} is Undefined: raise Abandoned('serialize')",
            f"else: {aside}",
        ]
    return [
        f"if {value} is None: {null}",
        f"elif type({value}) in never:",
        f"    {value} = serialize_{number}({value})",
        f"    if {value} is None or {value} is Undefined: raise Abandoned('serialize')",
        f"else: {aside}",
    ]


def _enum_names(leaf: Leaf) -> tuple[type[Enum], dict[Enum, str]] | None:
    """A strawberry enum's Python class and what its serializer gives for each member, asked
    of it once: it searches the type's values for the member's on every call (~0.5 us)."""
    owner = getattr(leaf.serialize, "__self__", None)
    enum = getattr(owner, "wrapped_cls", None)
    if not isinstance(owner, GraphQLEnumType) or not isinstance(enum, type):
        return None
    if not issubclass(enum, Enum):
        return None
    members: dict[Enum, str] = {}
    for member in enum:
        try:
            name = leaf.serialize(member)
        except Exception:  # the member has no value in the schema: left to the serializer
            return None
        if not isinstance(name, str):
            return None
        members[member] = name
    return enum, members
