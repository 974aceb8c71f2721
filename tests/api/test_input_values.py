"""Our input plans (api/input_values.py) build exactly what strawberry's own conversion builds,
for every input type of the schema: every field given, every optional field null, and none."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.types.arguments import convert_argument
from strawberry.types.base import (
    StrawberryList,
    StrawberryObjectDefinition,
    StrawberryOptional,
    has_object_definition,
)

from gqlorders.api.schema import schema

INPUT_TYPES = sorted(
    (
        concrete.definition
        for concrete in schema.schema_converter.type_map.values()
        if isinstance(concrete.definition, StrawberryObjectDefinition)
        and concrete.definition.is_input
    ),
    key=lambda definition: definition.name,
)


def value_of(type_: Any, nulls: bool) -> Any:
    """A GraphQL input value of `type_`: leaves are unique objects (both conversions must pass
    them through untouched), lists have two items, optional values are null when `nulls`."""
    if isinstance(type_, StrawberryOptional):
        return None if nulls else value_of(type_.of_type, nulls)
    if isinstance(type_, StrawberryList):
        return [value_of(type_.of_type, nulls) for _ in range(2)]
    if has_object_definition(type_) and type_.__strawberry_definition__.is_input:
        return input_value(type_.__strawberry_definition__, nulls)
    return object()


def input_value(definition: StrawberryObjectDefinition, nulls: bool) -> dict[str, Any]:
    return {
        schema.config.name_converter.from_field(field): value_of(
            field.resolve_type(type_definition=definition), nulls
        )
        for field in definition.fields
    }


def strawberrys_own(definition: StrawberryObjectDefinition, value: dict[str, Any]) -> Any:
    """What strawberry builds without our hooks (removed for the call, then put back)."""
    hooks = {d.name: d.from_input for d in INPUT_TYPES}
    for d in INPUT_TYPES:
        d.from_input = None
    try:
        return convert_argument(
            value, definition.origin, schema.schema_converter.scalar_registry, schema.config
        )
    finally:
        for d in INPUT_TYPES:
            d.from_input = hooks[d.name]


def ours(definition: StrawberryObjectDefinition, value: dict[str, Any]) -> Any:
    return convert_argument(
        value, definition.origin, schema.schema_converter.scalar_registry, schema.config
    )


def test_every_input_type_has_a_plan() -> None:
    assert len(INPUT_TYPES) > 20
    assert all(definition.from_input is not None for definition in INPUT_TYPES)


@pytest.mark.parametrize("definition", INPUT_TYPES, ids=lambda definition: definition.name)
@pytest.mark.parametrize("shape", ["every field", "optional fields null", "no field"])
def test_a_plan_builds_what_strawberry_builds(
    definition: StrawberryObjectDefinition, shape: str
) -> None:
    value = {} if shape == "no field" else input_value(definition, shape != "every field")

    built = ours(definition, value)

    assert type(built) is definition.origin
    assert built == strawberrys_own(definition, value)
    # lists are copies: graphql-core hands every request the same default list
    assert not list_ids(built) & list_ids(value)


def list_ids(value: Any) -> set[int]:
    """The ids of the lists in a value, an input object or a dict, at any depth."""
    if isinstance(value, list):
        return {id(value)}.union(*(list_ids(item) for item in value))
    if isinstance(value, dict):
        return set().union(*(list_ids(item) for item in value.values()))
    if has_object_definition(type(value)):
        return list_ids(vars(value))
    return set()
