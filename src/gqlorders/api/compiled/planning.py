"""Plans: a persisted document walked once against the schema.

A `DocumentPlan` holds what depends on the document alone (parsed, validated with the
standard path's rules, its operation, the variables its @include/@skip and page sizes read).
An `ObjectPlan` is one variant of its selection, for one set of @include/@skip values: the
fields of each object level collected exactly as graphql-core collects them, each with how
its value is got (an attribute, or its strawberry resolver called directly) and completed (a
leaf's serializer, a list, an object's own plan). Anything a plan cannot mirror exactly is
`Unsupported`, and the request goes to the standard executor.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import (
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues
from graphql.pyutils import Path
from graphql.validation import ASTValidationRule
from strawberry.types.field import StrawberryField

from gqlorders.api.limits import parse_limited, request_problems
from gqlorders.api.types.common import RowOf

if TYPE_CHECKING:
    from gqlorders.api.compiled.levels import Level

TYPENAME = "__typename"
CONDITIONS = frozenset({"include", "skip"})  # the only directives a plan evaluates
MAX_VARIANTS = 16  # @include/@skip combinations planned per document
PAGE_ARGUMENTS = frozenset({"first", "last"})  # what the cost limiter reads from variables


class Unsupported(Exception):
    """The document (or this variant of it) is left to the standard executor; `reason` is the
    fallback metric's label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Leaf:
    serialize: Callable[[Any], Any]
    nullable: bool
    plain_strings: bool  # String or ID: a str serializes to itself


@dataclass(slots=True)
class ListOf:
    of: Completion
    nullable: bool


@dataclass(slots=True)
class ObjectOf:
    plan: ObjectPlan
    nullable: bool


@dataclass(slots=True)
class AbstractOf:
    """An interface or union: a plan per possible type, chosen per object by the abstract
    type's own resolve_type (strawberry's), as graphql-core chooses."""

    type: GraphQLInterfaceType | GraphQLUnionType
    plans: dict[str, ObjectPlan]
    nullable: bool
    field_name: str
    nodes: list[FieldNode]
    return_type: GraphQLOutputType
    parent: GraphQLObjectType
    path: Path


Completion = Leaf | ListOf | ObjectOf | AbstractOf


@dataclass(slots=True)
class FieldPlan:
    """One response key of an object level."""

    index: int  # this field's slot in a run's per-request tables
    key: str
    name: str
    nodes: list[FieldNode]
    definition: GraphQLField | None  # None for __typename
    parent: GraphQLObjectType
    completion: Completion | None  # None for __typename
    path: Path  # list positions read as 0: no resolver of ours reads them
    strawberry: StrawberryField | None
    attribute: Callable[[Any], Any] | None  # a field without resolver: its attribute


@dataclass(slots=True)
class ObjectPlan:
    type: GraphQLObjectType
    fields: list[FieldPlan]
    is_type_of: Callable[[Any, Any], Any] | None
    # the class is_type_of checks with isinstance alone (api/types/common.py RowOf), if it says so
    row_model: builtins.type | None = None
    keys: tuple[str, ...] = ()  # the response keys, in order
    # its functions (levels.py), by the shape of its resolvers' calls, compiled when first run
    levels: dict[tuple[tuple[bool, ...], ...], Level] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = tuple(field.key for field in self.fields)


@dataclass(slots=True)
class DocumentPlan:
    query: str
    document: DocumentNode
    operation: OperationDefinitionNode
    fragment_definitions: dict[str, FragmentDefinitionNode]
    fragments: dict[str, FragmentDetails]
    condition_variables: tuple[str, ...]
    page_variables: tuple[str, ...]
    variants: dict[tuple[Any, ...], ObjectPlan | Unsupported] = field(default_factory=dict)
    costs: dict[tuple[Any, ...], int] = field(default_factory=dict)
    field_count: int = 0

    def variant(self, schema: GraphQLSchema, variables: VariableValues) -> ObjectPlan:
        """The plan for these @include/@skip values, made the first time they are seen."""
        key = tuple(variables.coerced.get(name) for name in self.condition_variables)
        plan = self.variants.get(key)
        if plan is None:
            if len(self.variants) >= MAX_VARIANTS:
                raise Unsupported("variants")
            try:
                plan = _Planner(schema, self, variables).root()
            except Unsupported as unsupported:
                plan = unsupported
            self.variants[key] = plan
        if isinstance(plan, Unsupported):
            raise plan
        return plan


def plan_document(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    rules: Sequence[type[ASTValidationRule]],
    max_tokens: int,
) -> DocumentPlan:
    """What a persisted query's text gives once parsed and checked as the standard path does
    (api/limits.py; its cost, which depends on the variables, is checked per request);
    Unsupported when the standard path would refuse or answer it with anything but data, or it
    uses what plans do not mirror."""
    try:
        document = parse_limited(query, max_tokens)
    except GraphQLError:
        raise Unsupported("parse") from None
    if request_problems(schema, document, {}, rules, max_cost=0, cost=0):
        raise Unsupported("invalid")
    operation = _operation(document, operation_name)
    fragment_definitions: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                raise Unsupported("fragment variables")
            fragment_definitions[definition.name.value] = definition
    conditions, pages = _variables_read(document)
    return DocumentPlan(
        query=query,
        document=document,
        operation=operation,
        fragment_definitions=fragment_definitions,
        fragments={name: FragmentDetails(d) for name, d in fragment_definitions.items()},
        condition_variables=conditions,
        page_variables=pages,
    )


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        chosen = operations if len(operations) == 1 else []
    else:
        chosen = [o for o in operations if o.name and o.name.value == operation_name]
    if not chosen:
        raise Unsupported("operation")
    if chosen[0].operation != OperationType.QUERY:
        raise Unsupported("not a query")
    return chosen[0]


def _variables_read(document: DocumentNode) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The variables @include/@skip read, and those page sizes (first, last) read; refuses
    any other directive."""
    conditions: set[str] = set()
    pages: set[str] = set()

    class Reader(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value not in CONDITIONS:
                raise Unsupported(f"directive @{node.name.value}")
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    conditions.add(argument.value.name.value)

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            for argument in node.arguments or ():
                value = argument.value
                if argument.name.value in PAGE_ARGUMENTS and isinstance(value, VariableNode):
                    pages.add(value.name.value)

    visit(document, Reader())
    return tuple(sorted(conditions)), tuple(sorted(pages))


class _Planner:
    """Walks one variant of the operation's selection."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentPlan, variables: VariableValues
    ) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.count = 0
        self.field: tuple[str, list[FieldNode], GraphQLOutputType, GraphQLObjectType]

    def root(self) -> ObjectPlan:
        root_type = self.schema.query_type
        if root_type is None:
            raise Unsupported("no query type")
        collected = collect_fields(
            self.schema,
            self.document.fragments,
            self.variables,
            root_type,
            self.document.operation,
        )
        plan = self._object(root_type, collected.grouped_field_set, None)
        self.document.field_count = max(self.document.field_count, self.count)
        return plan

    def _object(
        self, type_: GraphQLObjectType, grouped: dict[str, Any], path: Path | None
    ) -> ObjectPlan:
        fields = [
            self._field(type_, key, details, path.add_key(key, type_.name) if path else None)
            for key, details in grouped.items()
        ]
        is_type_of = type_.is_type_of
        checked = getattr(is_type_of, "__func__", None)  # (a classmethod's function)
        row_model = checked.row_model if isinstance(checked, RowOf) else None
        return ObjectPlan(
            type=type_,
            fields=fields,
            is_type_of=is_type_of,
            row_model=row_model if isinstance(row_model, type) else None,
        )

    def _field(
        self, parent: GraphQLObjectType, key: str, details: list[Any], path: Path | None
    ) -> FieldPlan:
        nodes = [detail.node for detail in details]
        if any(detail.defer_usage is not None for detail in details):
            raise Unsupported("defer")
        name = nodes[0].name.value
        path = path or Path(None, key, parent.name)
        index = self.count
        self.count += 1
        if name == TYPENAME:
            return FieldPlan(index, key, name, nodes, None, parent, None, path, None, None)
        if name.startswith("__"):
            raise Unsupported("introspection")
        definition = parent.fields[name]
        strawberry_field = definition.extensions.get("strawberry-definition")
        if not isinstance(strawberry_field, StrawberryField) or strawberry_field.extensions:
            raise Unsupported("field extensions")
        attribute = None
        if strawberry_field.base_resolver is None:
            attribute = operator.attrgetter(strawberry_field.python_name)
        self.field = (name, nodes, definition.type, parent)
        completion = self._completion(definition.type, details, path)
        return FieldPlan(
            index,
            key,
            name,
            nodes,
            definition,
            parent,
            completion,
            path,
            strawberry_field,
            attribute,
        )

    def _completion(self, type_: GraphQLOutputType, details: list[Any], path: Path) -> Completion:
        nullable = True
        if isinstance(type_, GraphQLNonNull):
            nullable = False
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return ListOf(self._completion(type_.of_type, details, path.add_key(0)), nullable)
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            plain = isinstance(type_, GraphQLScalarType) and type_.name in ("String", "ID")
            return Leaf(type_.serialize, nullable, plain)
        if isinstance(type_, GraphQLObjectType):
            return ObjectOf(self._object_of(type_, details, path), nullable)
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            name, nodes, return_type, parent = self.field
            plans = {
                possible.name: self._object_of(possible, details, path)
                for possible in self.schema.get_possible_types(type_)
            }
            return AbstractOf(type_, plans, nullable, name, nodes, return_type, parent, path)
        raise Unsupported("output type")

    def _object_of(self, type_: GraphQLObjectType, details: list[Any], path: Path) -> ObjectPlan:
        collected = collect_subfields(
            self.schema,
            self.document.fragments,
            self.variables,
            self.document.operation,
            type_,
            details,
        )
        if collected.new_defer_usages:
            raise Unsupported("defer")
        return self._object(type_, collected.grouped_field_set, path)
