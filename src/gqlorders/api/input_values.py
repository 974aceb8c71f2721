"""Building our input classes from GraphQL input values with a plan made once per type.

Strawberry converts an input by walking its fields' annotations on every request (name
conversion, type resolution, generic checks for every field of every line): a fifth of the
CPU of a 5-line createSalesOrder. Our input types are plain -- scalars, enums, lists, optional
values and other input types -- so each type gets, when the schema is built, the list of its
fields with a converter for each, and strawberry's `from_input` hook (its extension point for
integrations that build their own inputs) uses it. Same results as strawberry's own conversion
(tests/api/test_input_values.py compares them): omitted fields keep their Python default (UNSET
included), fields without one default to None, lists are copied (graphql-core shares default
values between requests). A type this does not cover (`Maybe`, `GlobalID`) fails the schema
build, not a request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

import strawberry
from strawberry.relay import GlobalID
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import InputContext, _is_leaf_type
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.lazy_type import LazyType

Convert = Callable[[Any, InputContext], Any]


class InputPlan:
    """How to build one input class: its fields' GraphQL names, Python names and converters."""

    def __init__(
        self,
        definition: StrawberryObjectDefinition,
        config: StrawberryConfig,
        scalar_registry: Mapping[object, Any],
    ) -> None:
        self.nulls = {
            field.python_name: None
            for field in definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }
        self.fields = [
            (
                config.name_converter.from_field(field),
                field.python_name,
                _converter(field.resolve_type(type_definition=definition), scalar_registry),
            )
            for field in definition.fields
        ]

    def build(self, cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        """strawberry's `from_input` hook."""
        kwargs = dict(self.nulls)
        for graphql_name, python_name, convert in self.fields:
            if graphql_name in value:
                item = value[graphql_name]
                kwargs[python_name] = item if convert is None else convert(item, context)
        return cls(**kwargs)


def _converter(type_: Any, scalar_registry: Mapping[object, Any]) -> Convert | None:
    """A converter for values of `type_`, or None when graphql-core's value is already it."""
    if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
        raise TypeError(f"{type_!r} inputs need strawberry's own conversion")
    if isinstance(type_, LazyType):
        return _converter(type_.resolve_type(), scalar_registry)
    if isinstance(type_, StrawberryOptional):
        inner = _converter(type_.of_type, scalar_registry)
        if inner is None:
            return None
        return lambda value, ctx: None if value is None else inner(value, ctx)
    if isinstance(type_, StrawberryList):
        item = _converter(type_.of_type, scalar_registry)
        if item is None:
            return lambda value, ctx: list(value)
        return lambda value, ctx: [item(x, ctx) for x in value]
    if _is_leaf_type(type_, scalar_registry) or has_enum_definition(type_):
        return None
    if has_object_definition(type_) and type_.__strawberry_definition__.is_input:
        nested, definition = type_, type_.__strawberry_definition__

        def nested_value(value: Any, ctx: Any) -> Any:
            build = definition.from_input  # its own type's hook (set below for every input type)
            assert build is not None
            return build(nested, value, ctx)

        return nested_value
    raise TypeError(f"no plan for input values of {type_!r}")


def use_input_plans(schema: strawberry.Schema) -> None:
    """Make every input type of `schema` build itself from its plan."""
    registry = schema.schema_converter.scalar_registry
    for concrete in schema.schema_converter.type_map.values():
        definition = concrete.definition
        if isinstance(definition, StrawberryObjectDefinition) and definition.is_input:
            definition.from_input = InputPlan(definition, schema.config, registry).build
