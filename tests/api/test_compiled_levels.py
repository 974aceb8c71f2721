"""A plan's levels (api/compiled/levels.py) over objects that break the schema's promises, or
keep them in unusual ways: what a level reads off its fast path (nulls, awaitables, subclasses,
other types) is completed exactly as the standard executor completes it, or the run is handed
to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from prometheus_client import REGISTRY
from strawberry.schema.config import StrawberryConfig

from gqlorders.api.compiled import CompiledQueries
from gqlorders.api.compiled.execution import LEVEL_SHAPES
from gqlorders.api.compiled.planning import DocumentPlan, ListOf, ObjectOf, ObjectPlan
from gqlorders.api.context import Context
from gqlorders.api.scalars import DecimalScalar
from gqlorders.api.schema import build_schema
from gqlorders.api.serialization import encode_response
from gqlorders.models import SalesOrderStatus

THINGS = "{ things { name label amount maybe status } }"
ASYNC_LEAVES = "{ things { name later } }"
RESOLVERS = (
    '{ things { twice: times(count: 2) once: times(count: 1) tagged a: tagged(suffix: "?") } }'
)


@dataclass
class Row:
    """What the level reads: attributes of any type (the schema's promise is not checked)."""

    name: Any = "chair"
    label: Any = None
    amount: Any = Decimal("1.50")
    maybe: Any = None
    status: Any = SalesOrderStatus.DRAFT


class Name(str):
    """A str subclass: not the level's plain str, so serialized as the scalar does."""


@strawberry.type
class Thing:
    name: str
    label: str | None
    amount: Decimal
    maybe: Decimal | None
    status: SalesOrderStatus

    @strawberry.field
    async def later(self, root: strawberry.Parent[Row]) -> Decimal:
        await asyncio.sleep(0)
        return root.amount

    @strawberry.field
    def times(self, root: strawberry.Parent[Row], count: int) -> Decimal:
        return root.amount * count

    @strawberry.field
    def pick(self, root: strawberry.Parent[Row], label: str | None = strawberry.UNSET) -> str:
        return root.name if label is strawberry.UNSET else f"{label}"  # absent: no argument

    @strawberry.field
    def tagged(self, root: strawberry.Parent[Row], *, suffix: str = "!") -> str:
        return f"{root.name}{suffix}"  # a keyword-only parameter: called with keywords


@strawberry.type
class Probe:
    @strawberry.field
    def things(self, info: strawberry.Info) -> list[Thing]:
        return info.root_value


def probe_schema() -> strawberry.Schema:
    """A schema of its own, with the extensions the compiled path reproduces."""
    return strawberry.Schema(
        query=Probe,
        config=StrawberryConfig(scalar_map={Decimal: DecimalScalar}),
        extensions=build_schema().extensions,
    )


def fallback_count(reason: str) -> float:
    sample = REGISTRY.get_sample_value("gqlorders_compiled_fallbacks_total", {"reason": reason})
    return sample or 0.0


async def both(
    query: str,
    rows: list[Row],
    variables: dict[str, Any] | None = None,
    compiled: CompiledQueries | None = None,
) -> tuple[Any, Any]:
    """(the standard executor's result, the plan's or None when it handed the request back)."""
    schema = compiled.schema if compiled else probe_schema()
    compiled = compiled or CompiledQueries(schema, (), 10_000, 10_000)
    context = Context(None, None)
    standard = await schema.execute(
        query, variable_values=variables, root_value=rows, context_value=context
    )
    plan = await compiled.execute(query, variables, None, Context(None, None), rows)
    return standard, plan


async def test_nulls_subclasses_and_equal_decimals_give_the_standard_bytes() -> None:
    negative_zero, zero = Decimal("-0.00"), Decimal("0.00")
    rows = [
        Row(),
        Row(name=Name("stool"), label="oak", amount=negative_zero, maybe=zero),
        Row(amount=zero, maybe=negative_zero, status=SalesOrderStatus.CONFIRMED),
        Row(amount=Decimal("1.5"), maybe=Decimal("0.125"), label=Name("pine")),
        Row(amount=negative_zero, maybe=Decimal("1E+2"), status="CLOSED"),  # the enum's value
    ]

    standard, plan = await both(THINGS, rows)

    assert standard.errors is None
    assert plan is not None
    amounts = [thing["amount"] for thing in plan.data["things"]]
    assert amounts == ["1.50", "-0.00", "0.00", "1.50", "-0.00"]
    assert [thing["maybe"] for thing in plan.data["things"]] == [
        None,
        "0.00",
        "-0.00",
        "0.125",
        "100.00",
    ]
    assert encode_response({"data": plan.data}) == encode_response({"data": standard.data})


async def test_awaitable_leaves_are_awaited_with_the_level_and_serialized() -> None:
    rows = [Row(amount=Decimal("-0.00")), Row(amount=Decimal("2.5000"))]

    standard, plan = await both(ASYNC_LEAVES, rows)

    assert plan is not None
    assert (
        plan.data
        == standard.data
        == {"things": [{"name": "chair", "later": "-0.00"}, {"name": "chair", "later": "2.50"}]}
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (Row(name=None), "null"),  # a null in a non-null String
        (Row(amount=None), "null"),  # ... in a non-null Decimal
        (Row(status=None), "null"),  # ... in a non-null enum
        (Row(amount=5), "error"),  # an int where a Decimal is promised: its serializer fails
        (Row(name=["chair"]), "error"),  # a list where a String is promised
        (Row(status="LOST"), "error"),  # no value of the enum
    ],
)
async def test_what_breaks_the_schema_goes_to_the_standard_executor(row: Row, reason: str) -> None:
    before = fallback_count(reason)

    standard, plan = await both(THINGS, [Row(), row])

    assert plan is None
    assert standard.errors
    assert fallback_count(reason) == before + 1


async def test_resolvers_are_called_with_their_arguments_positionally_or_by_keyword() -> None:
    rows = [Row(amount=Decimal("1.25")), Row(name="stool", amount=Decimal("-0.00"))]

    standard, plan = await both(RESOLVERS, rows)

    assert plan is not None
    assert (
        plan.data
        == standard.data
        == {
            "things": [
                {"twice": "2.50", "once": "1.25", "tagged": "chair!", "a": "chair?"},
                {"twice": "-0.00", "once": "-0.00", "tagged": "stool!", "a": "stool?"},
            ]
        }
    )


async def test_every_set_of_optional_arguments_given_gets_the_standard_answer() -> None:
    # each argument given or not is another shape of the level's calls: 16 here, more than a
    # plan compiles a level for (the rest call their resolvers through a function of the row)
    names = "abcd"
    query = (
        "query("
        + ", ".join(f"${name}: String" for name in names)
        + ") { things { "
        + " ".join(f"{name}: pick(label: ${name})" for name in names)
        + " } }"
    )
    compiled = CompiledQueries(probe_schema(), (), 10_000, 10_000)
    for given in range(2 ** len(names)):
        variables = {name: name.upper() for bit, name in enumerate(names) if given >> bit & 1}

        standard, plan = await both(query, [Row()], variables, compiled)

        assert plan is not None
        expected = {name: variables.get(name, "chair") for name in names}
        assert plan.data == standard.data == {"things": [expected]}
    plans: list[ObjectPlan] = []
    for document in compiled.documents.values():  # the plan answered each: none was refused
        assert isinstance(document, DocumentPlan)
        for variant in document.variants.values():
            assert isinstance(variant, ObjectPlan)
            plans.append(variant)
    things_list = plans[0].fields[0].completion
    assert isinstance(things_list, ListOf) and isinstance(things_list.of, ObjectOf)
    things = things_list.of.plan
    assert len(things.levels) == LEVEL_SHAPES  # none given: the shape the others then use
