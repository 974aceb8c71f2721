"""Running a plan: one object level of a list at a time.

For a level (every order of the page, then every line of every order...) each object's fields
are got -- an attribute, or its strawberry resolver called with what it asks for (self, root,
info, its converted arguments: built once per request and field) -- and its leaves serialized
by the level's compiled function (levels.py); the awaitables of the whole level are gathered
at once, so DataLoaders batch per level (when one fails, the others are cancelled and waited
for, and those a failing level never reached closed: nothing of an abandoned run goes on
beside the standard executor's), then the leaves it set aside are completed here and
sub-objects as the next level. What graphql-core would answer with
an error (an exception, a null where the schema says non-null, a value of the wrong type)
abandons the run instead: the standard executor then answers the request.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema, Undefined, default_type_resolver
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import gather_with_cancel, is_iterable
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import convert_arguments
from tortoise.models import Model

from gqlorders.api.compiled.levels import SOURCE, Binding, compile_level, resolved_fields
from gqlorders.api.compiled.planning import (
    AbstractOf,
    DocumentPlan,
    FieldPlan,
    Leaf,
    ListOf,
    ObjectOf,
    ObjectPlan,
)
from gqlorders.api.schema import is_awaitable

LEVEL_SHAPES = 8  # functions compiled per object plan (levels.py), one per shape of its calls
# Types whose values are never awaitable (plain values, rows, enums), learnt as they come.
_NEVER_AWAITABLE: set[type] = {
    type(None),
    bool,
    int,
    float,
    str,
    list,
    dict,
    tuple,
    Decimal,
    date,
    datetime,
}


class Abandoned(Exception):
    """The plan cannot give the standard answer for this request; `reason` labels it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Run:
    """One request's execution of a plan: its context, variables and bound resolvers."""

    def __init__(
        self,
        schema: GraphQLSchema,
        config: StrawberryConfig,
        scalar_registry: Any,
        document: DocumentPlan,
        variables: VariableValues,
        context: Any,
        root_value: Any,
    ) -> None:
        self.schema = schema
        self.config = config
        self.scalar_registry = scalar_registry
        self.document = document
        self.variables = variables
        self.context = context
        self.root_value = root_value
        self.bindings: list[Binding | None] = [None] * document.field_count
        self.abstract_infos: dict[int, GraphQLResolveInfo] = {}

    def binding(self, field: FieldPlan) -> Binding:
        """How this request calls the resolver of `field` (bound once per request)."""
        bound = self.bindings[field.index]
        if bound is None:
            bound = self.bindings[field.index] = self._bind(field)
        return bound

    def _info(self, field: FieldPlan) -> GraphQLResolveInfo:
        assert field.definition is not None
        return self._resolve_info(
            field.name, field.nodes, field.definition.type, field.parent, field.path
        )

    def _resolve_info(
        self,
        name: str,
        nodes: list[Any],
        return_type: Any,
        parent: Any,
        path: Any,
    ) -> GraphQLResolveInfo:
        return GraphQLResolveInfo(
            name,
            nodes,
            return_type,
            parent,
            path,
            self.schema,
            self.document.fragment_definitions,
            self.root_value,
            self.document.operation,
            self.variables,
            self.context,
            is_awaitable,
            None,
            # async_helpers: graphql-core 3.3 types it as required, but only its own executor
            # reads it; the resolvers a plan calls never do (they are strawberry's and ours)
            None,  # type: ignore[arg-type]
        )

    def abstract_info(self, completion: AbstractOf) -> GraphQLResolveInfo:
        """What an abstract type's resolve_type is given (made once per request)."""
        info = self.abstract_infos.get(id(completion))
        if info is None:
            info = self.abstract_infos[id(completion)] = self._resolve_info(
                completion.field_name,
                completion.nodes,
                completion.return_type,
                completion.parent,
                completion.path,
            )
        return info

    def _bind(self, field: FieldPlan) -> Binding:
        """How this request gets `field` from a parent object."""
        assert field.definition is not None and field.attribute is None  # levels read those
        strawberry_field = field.strawberry
        assert strawberry_field is not None and strawberry_field.base_resolver is not None
        resolver = strawberry_field.base_resolver
        function = resolver.wrapped_func
        if isinstance(function, staticmethod | classmethod):  # strawberry binds them to a type
            raise Abandoned("unbound resolver")
        info = self.config.info_class(_raw_info=self._info(field), _field=strawberry_field)
        kwargs: dict[str, Any] = {}
        if field.definition.args:
            given = get_argument_values(field.definition, field.nodes[0], self.variables)
            kwargs = convert_arguments(
                given,
                strawberry_field.arguments,
                scalar_registry=self.scalar_registry,
                config=self.config,
                info=info,
            )
        if resolver.info_parameter is not None:
            kwargs[resolver.info_parameter.name] = info
        parents = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
        if resolver.self_parameter is not None:
            parents.insert(0, resolver.self_parameter.name)
        parents = list(dict.fromkeys(parents))  # `root: Parent[...]` is both root and parent
        positional = _positional(function, parents, kwargs)
        if positional is not None:
            return positional

        def call(source: Any) -> Any:
            arguments = dict(kwargs)
            for name in parents:
                arguments[name] = source
            return function(**arguments)

        return call, (SOURCE,)


def _positional(
    function: Callable[..., Any], parents: list[str], kwargs: dict[str, Any]
) -> Binding | None:
    """A call of `function` with positional arguments only (no dict built per object), when
    its parameters are all plain ones that the parent object or `kwargs` fill: the level calls
    it directly, the object in its places (levels.py)."""
    parameters = _parameters(function)
    if parameters is None:
        return None
    slots: list[Any] = []
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            return None
        if parameter.name in parents:
            slots.append(SOURCE)
        elif parameter.name in kwargs:
            slots.append(kwargs[parameter.name])
        else:
            return None
    if len(slots) != len(parents) + len(kwargs):
        return None
    return function, tuple(slots)


@cache
def _parameters(function: Callable[..., Any]) -> tuple[inspect.Parameter, ...] | None:
    """A resolver's parameters, read once per function (not per request and field)."""
    try:
        return tuple(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None


async def execute(run: Run, plan: ObjectPlan) -> dict[str, Any]:
    """The operation's `data`."""
    return (await _objects(run, plan, [run.root_value]))[0]


async def _objects(run: Run, plan: ObjectPlan, sources: list[Any]) -> list[dict[str, Any]]:
    fields = plan.fields
    bindings = [run.binding(fields[number]) for number in resolved_fields(plan)]
    shape = tuple(tuple(slot is SOURCE for slot in slots) for _, slots in bindings)
    level = plan.levels.get(shape)
    if level is None and len(plan.levels) >= LEVEL_SHAPES:
        # a shape per set of optional arguments given: past a few, each resolver is called
        # through a function of the object alone (one shape, whatever the variables)
        bindings = [_of_source(binding) for binding in bindings]
        shape = tuple((True,) for _ in bindings)
        level = plan.levels.get(shape)
    if level is None:
        level = plan.levels[shape] = compile_level(
            plan, shape, _NEVER_AWAITABLE, _awaitable, _discard, Abandoned
        )
    arguments = [
        value
        for function, slots in bindings
        for value in (function, *(slot for slot in slots if slot is not SOURCE))
    ]
    objects, slow, waiting, columns = level.build(sources, *arguments)
    try:
        late = [
            index
            for index, (_, _, value) in enumerate(slow)
            if type(value) not in _NEVER_AWAITABLE and _awaitable(value)
        ]
    except BaseException:
        _discard(awaitable for _, _, awaitable in waiting)
        _discard(value for _, _, value in slow)
        raise
    if waiting or late:
        values = await gather_with_cancel(
            *(awaitable for _, _, awaitable in waiting), *(slow[index][2] for index in late)
        )
        for (column, position, _), value in zip(waiting, values[: len(waiting)], strict=True):
            column[position] = value
        for index, value in zip(late, values[len(waiting) :], strict=True):
            position, number, _ = slow[index]
            slow[index] = (position, number, value)
    keys = plan.keys
    for position, number, value in slow:
        completion = fields[number].completion
        assert type(completion) is Leaf
        objects[position][keys[number]] = _leaves(completion, [value])[0]
    for number, column in zip(level.columns, columns, strict=True):
        key = keys[number]
        completed = await _complete(run, fields[number].completion, column)
        for output, value in zip(objects, completed, strict=True):
            output[key] = value
    return objects


def _of_source(binding: Binding) -> Binding:
    """The same call, as a function of the object alone."""
    function, slots = binding
    if slots == (SOURCE,):
        return binding
    return (
        lambda source: function(*[source if slot is SOURCE else slot for slot in slots]),
        (SOURCE,),
    )


def _discard(awaitables: Iterable[Awaitable[Any]]) -> None:
    """Awaitables a level made before it failed, never to be awaited: a coroutine is closed
    (no "never awaited" warning, nothing of its body runs) and a future cancelled (a
    DataLoader whose every queued load is cancelled sends no query)."""
    for awaitable in awaitables:
        if inspect.iscoroutine(awaitable):
            awaitable.close()
        elif isinstance(awaitable, asyncio.Future):
            awaitable.cancel()


def _awaitable(value: Any) -> bool:
    if is_awaitable(value):
        return True
    if isinstance(value, Model | Enum):
        _NEVER_AWAITABLE.add(type(value))
    return False


def _leaves(leaf: Leaf, values: list[Any]) -> list[Any]:
    serialize = leaf.serialize
    plain = leaf.plain_strings
    completed: list[Any] = []
    for value in values:
        if value is None:
            if not leaf.nullable:
                raise Abandoned("null")
            completed.append(None)
        elif plain and type(value) is str:
            completed.append(value)
        else:
            serialized = serialize(value)
            if serialized is None or serialized is Undefined:
                raise Abandoned("serialize")
            completed.append(serialized)
    return completed


async def _complete(run: Run, completion: Any, values: list[Any]) -> list[Any]:
    if type(completion) is Leaf:
        return _leaves(completion, values)
    if type(completion) is ListOf:
        return await _lists(run, completion, values)
    if type(completion) is AbstractOf:
        return await _abstract(run, completion, values)
    return await _objects_or_null(run, completion, values)


async def _abstract(run: Run, completion: AbstractOf, values: list[Any]) -> list[Any]:
    """Each object completed by the plan of the type its abstract type resolves it to, the
    objects of one type together."""
    resolve_type = completion.type.resolve_type or default_type_resolver
    info = run.abstract_info(completion)
    groups: dict[str, list[int]] = {}
    for position, value in enumerate(values):
        if value is None:
            if not completion.nullable:
                raise Abandoned("null")
            continue
        if isinstance(value, Exception):
            raise Abandoned("error value")
        name = resolve_type(value, info, completion.type)
        if not isinstance(name, str) or name not in completion.plans:
            raise Abandoned("runtime type")
        groups.setdefault(name, []).append(position)
    completed: list[Any] = [None] * len(values)
    for name, positions in groups.items():
        plan = completion.plans[name]
        sources = [values[position] for position in positions]
        _check_types(plan, sources)
        for position, output in zip(positions, await _objects(run, plan, sources), strict=True):
            completed[position] = output
    return completed


async def _lists(run: Run, completion: ListOf, values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    sizes: list[int | None] = []
    try:
        for value in values:
            if value is None:
                if not completion.nullable:
                    raise Abandoned("null")
                sizes.append(None)
                continue
            if not is_iterable(value):  # what graphql-core's list completion accepts
                raise Abandoned("not a list")
            items = list(value)
            sizes.append(len(items))
            flat.extend(items)
    except BaseException:
        _discard(flat)
        raise
    waiting = [
        position
        for position, item in enumerate(flat)
        if type(item) not in _NEVER_AWAITABLE and _awaitable(item)
    ]
    if waiting:
        awaited = await gather_with_cancel(*(flat[p] for p in waiting))
        for position, item in zip(waiting, awaited, strict=True):
            flat[position] = item
    inner = await _complete(run, completion.of, flat)
    completed: list[Any] = []
    start = 0
    for size in sizes:
        if size is None:
            completed.append(None)
        else:
            completed.append(inner[start : start + size])
            start += size
    return completed


async def _objects_or_null(run: Run, completion: ObjectOf, values: list[Any]) -> list[Any]:
    plan = completion.plan
    present = [value for value in values if value is not None]
    if len(present) != len(values) and not completion.nullable:
        raise Abandoned("null")
    _check_types(plan, present)
    if len(present) == len(values):
        return await _objects(run, plan, present)
    objects = iter(await _objects(run, plan, present))
    return [None if value is None else next(objects) for value in values]


def _check_types(plan: ObjectPlan, values: list[Any]) -> None:
    """Each value is of the object type, as its is_type_of says when given no info (strawberry's
    own read none): anything but a plain yes (an awaitable answer, one that needs the info and
    fails) gives the request to the standard executor, which calls it as graphql-core does. An
    exception as value is an error there. A row type's is_type_of is its isinstance, made here."""
    row_model = plan.row_model
    if row_model is not None:
        for value in values:
            if not isinstance(value, row_model):
                raise Abandoned("error value" if isinstance(value, Exception) else "type")
        return
    for value in values:
        if isinstance(value, Exception):
            raise Abandoned("error value")
    is_type_of = plan.is_type_of
    if is_type_of is None:
        return
    for value in values:
        answer = is_type_of(value, None)
        if answer is True:
            continue
        if is_awaitable(answer):
            _discard([answer])
            raise Abandoned("awaitable is_type_of")
        if not answer:
            raise Abandoned("type")
