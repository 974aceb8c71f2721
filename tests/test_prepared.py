"""prepared.py: a read built once gives, for every later call, what the query itself gives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from gqlorders import models
from gqlorders.api.ids import decode_id
from gqlorders.orders import SalesOrderFilter, SalesOrderSortField, filtered_sales_orders, sort_key
from gqlorders.pagination import SortKey, paginate
from gqlorders.prepared import PreparedExists, PreparedSelect, fetch_by_shape
from gqlorders.prepared import _by_shape as prepared_shapes
from gqlorders.prepared import _Statement as Statement
from tests.support import Organization, count_queries
from tests.test_rows import state

ITEMS = PreparedSelect(
    lambda organization_id, ids: (
        models.Item.filter(organization_id=organization_id, id__in=ids)
        .select_related("tax")
        .order_by("id")
    )
)
CUSTOMER_BY_NAME = PreparedSelect(
    lambda name, organization_id: models.Customer.filter(
        name=name, organization_id=organization_id
    ).limit(1)
)
NUMBERED = PreparedExists(
    lambda model, organization_id, number, exclude: (
        model.filter(organization_id=organization_id, number=number).exclude(id=exclude)
        if exclude is not None
        else model.filter(organization_id=organization_id, number=number)
    ).exists()
)


async def test_each_call_binds_its_own_values(org: Organization, other_org: Organization) -> None:
    vat = await org.tax("VAT 20%", "20")
    ids = [decode_id(await org.item(f"SKU-{n}", "1.5", taxId=vat), "Item", ()) for n in range(4)]
    foreign = decode_id(await other_org.item("SKU-0", "2"), "Item", ())

    for wanted in ([ids[0]], [ids[2], ids[0]], ids[1:], [ids[3], foreign], ids):
        query = models.Item.filter(organization_id=org.id, id__in=wanted)
        expected = await query.select_related("tax").order_by("id")
        found = await ITEMS(org.id, wanted)
        assert [state(item) for item in found] == [state(item) for item in expected]
        taxes = [None if item.tax is None else item.tax.name for item in found]
        assert taxes == ["VAT 20%"] * len(set(wanted) - {foreign})

    assert await ITEMS(org.id, set(ids[:2])) == await ITEMS(org.id, ids[:2])
    assert await ITEMS(org.id, []) == []
    assert await ITEMS(other_org.id, ids) == []


async def test_arguments_are_bound_in_their_own_places(
    org: Organization, other_org: Organization
) -> None:
    await org.customer(name="Acme")
    await other_org.customer(name="Globex")

    assert [c.name for c in await CUSTOMER_BY_NAME("Acme", org.id)] == ["Acme"]
    assert [c.name for c in await CUSTOMER_BY_NAME("Globex", other_org.id)] == ["Globex"]
    assert await CUSTOMER_BY_NAME("Globex", org.id) == []


async def test_arguments_that_are_not_values_choose_the_query(org: Organization) -> None:
    customer = await org.customer()
    order = await org.order(customer, [{"itemId": await org.item("A", "1"), "quantity": "1"}])
    order_id = decode_id(order["id"], "SalesOrder", ())

    assert await NUMBERED(models.SalesOrder, org.id, order["number"], None)
    assert not await NUMBERED(models.SalesOrder, org.id, order["number"], order_id)
    assert await NUMBERED(models.SalesOrder, org.id, order["number"], order_id + 1)
    assert not await NUMBERED(models.Invoice, org.id, order["number"], None)
    assert not await NUMBERED(models.SalesOrder, org.id + 1, order["number"], None)


async def test_the_statement_is_built_once_and_runs_in_the_current_transaction(
    org: Organization,
) -> None:
    customers = PreparedSelect(
        lambda name, organization_id: models.Customer.filter(
            name=name, organization_id=organization_id
        ).limit(1)
    )
    await customers("warm-up", org.id)
    async with in_transaction():
        await models.Customer.create(organization_id=org.id, name="Uncommitted", currency="USD")
        with count_queries() as sent:
            found = await customers("Uncommitted", org.id)
    assert [c.name for c in found] == ["Uncommitted"]
    assert len(sent) == 1
    assert len(customers._statements) == 1  # one statement, built by the first call


async def test_many_text_values_fit_a_short_column(org: Organization) -> None:
    # Given customers in three currencies, and twelve currency codes (columns of 3 characters)
    for currency in ("USD", "EUR", "GBP"):
        await org.customer(name=currency, currency=currency)
    codes = ["USD", "EUR", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK"]
    in_currencies = PreparedSelect(
        lambda organization_id, currencies: models.Customer.filter(
            organization_id=organization_id, currency__in=currencies
        ).order_by("name")
    )

    # Then each marker fits the column, and each code is bound in its place
    assert [c.name for c in await in_currencies(org.id, codes)] == ["EUR", "USD"]
    assert [c.name for c in await in_currencies(org.id, ["GBP", "XXX", *codes[2:]])] == ["GBP"]
    assert len(in_currencies._statements) == 1


async def test_enums_and_lists_of_enums_choose_the_statement(org: Organization) -> None:
    customer = await org.customer()
    await org.order(customer, [{"itemId": await org.item("A", "1"), "quantity": "1"}])
    by_status = PreparedSelect(
        lambda organization_id, status: models.SalesOrder.filter(
            organization_id=organization_id, status=status
        )
    )
    by_statuses = PreparedSelect(
        lambda organization_id, statuses: models.SalesOrder.filter(
            organization_id=organization_id, status__in=statuses
        )
    )
    draft, confirmed = models.SalesOrderStatus.DRAFT, models.SalesOrderStatus.CONFIRMED

    assert len(await by_status(org.id, draft)) == 1
    assert await by_status(org.id, confirmed) == []
    assert len(await by_statuses(org.id, [draft, confirmed])) == 1
    assert await by_statuses(org.id, [confirmed]) == []
    assert (len(by_status._statements), len(by_statuses._statements)) == (2, 2)


async def test_a_value_that_would_make_a_statement_each_is_refused(org: Organization) -> None:
    on_date = PreparedSelect(
        lambda organization_id, day: models.SalesOrder.filter(
            organization_id=organization_id, date=day
        )
    )
    with pytest.raises(TypeError, match="takes ints, text"):
        await on_date(org.id, date(2026, 1, 1))


async def test_a_value_that_does_not_reach_the_statement_unchanged_is_refused(
    org: Organization,
) -> None:
    numbered = PreparedSelect(
        lambda organization_id, number: models.SalesOrder.filter(
            organization_id=organization_id, number=number
        )
    )
    with pytest.raises(TypeError, match="exactly one parameter"):
        await numbered(org.id, 7)  # a text column: tortoise turns the number into text


async def _walk(
    organization_id: int,
    key: SortKey,
    where: SalesOrderFilter,
    fetch: Callable[[QuerySet[models.SalesOrder]], Awaitable[list[models.SalesOrder]]] | None,
    backwards: bool = False,
) -> list[dict[str, Any]]:
    """Every page of 2 of the order list, forwards with `after` (or backwards with `before`):
    each row's state, its joined customer's included."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await paginate(
            await filtered_sales_orders(organization_id, where),
            key,
            first=None if backwards else 2,
            after=None if backwards else cursor,
            last=2 if backwards else None,
            before=cursor if backwards else None,
            select_related=("customer",),
            fetch=fetch,
        )
        rows = [state(row) for row in page.rows]
        found = rows + found if backwards else found + rows
        if not (page.has_previous_page if backwards else page.has_next_page):
            return found
        cursor = page.cursors[0] if backwards else page.cursors[-1]


async def _orders(org: Organization) -> None:
    """Five orders of org, two of them of the same day and total."""
    customer = await org.customer(name="Acme")
    item = await org.item("A", "1.25")
    for quantity in ("1", "2", "2", "3", "5"):
        await org.order(
            customer, [{"itemId": item, "quantity": quantity}], date=f"2024-03-0{quantity}"
        )


WHERES = [  # (filter, orders it lists)
    (SalesOrderFilter(), 5),
    (SalesOrderFilter(statuses=[models.SalesOrderStatus.DRAFT], date_from=date(2024, 3, 2)), 4),
    (SalesOrderFilter(search="acm"), 5),  # ILIKE: the term does not reach the statement as is
    (SalesOrderFilter(updated_after=datetime(2000, 1, 1, tzinfo=UTC)), 5),
    (SalesOrderFilter(updated_after=datetime(2000, 1, 1)), 5),  # naive: tortoise makes it aware
]


@pytest.mark.filterwarnings("ignore:DateTimeField updated_at received a naive datetime")
async def test_pages_built_once_per_shape_are_the_pages_tortoise_builds(
    org: Organization,
) -> None:
    await _orders(org)

    for field in SalesOrderSortField:
        for descending in (False, True):
            key = sort_key(field, descending)
            for where, listed in WHERES:
                for backwards in (False, True):
                    expected = await _walk(org.id, key, where, None, backwards)
                    assert len(expected) == listed
                    assert await _walk(org.id, key, where, fetch_by_shape, backwards) == expected


async def test_a_shape_is_built_once_and_each_call_binds_its_own_values(
    org: Organization, other_org: Organization
) -> None:
    await _orders(org)
    await _orders(other_org)
    key = sort_key(SalesOrderSortField.CREATED_AT, True)  # cursors of aware datetimes
    prepared_shapes.clear()
    await _walk(org.id, key, SalesOrderFilter(), fetch_by_shape)
    shapes = set(prepared_shapes)
    assert len(shapes) == 2  # the first page, and those after a cursor

    for organization_id in (other_org.id, org.id):
        with count_queries() as sent:
            found = await _walk(organization_id, key, SalesOrderFilter(), fetch_by_shape)
        assert found == await _walk(organization_id, key, SalesOrderFilter(), None)
        assert {row["organization_id"][1] for row in found} == {organization_id}
        assert len(sent) == 3  # pages of 2, 2 and 1
    assert set(prepared_shapes) == shapes
    assert all(isinstance(prepared_shapes[shape], Statement) for shape in shapes)


async def test_shapes_whose_values_do_not_reach_the_statement_as_they_are_are_built_each_time(
    org: Organization,
) -> None:
    await _orders(org)
    searched = SalesOrderFilter(search="acm")
    prepared_shapes.clear()

    await _walk(org.id, sort_key(SalesOrderSortField.NUMBER, False), searched, fetch_by_shape)
    await _walk(
        org.id, sort_key(SalesOrderSortField.TOTAL, False), SalesOrderFilter(), fetch_by_shape
    )

    # kept: the first page by total only; the search's pages (text: its field validates it)
    # and a page after a total's cursor (a Decimal) are no shapes at all
    kept = [isinstance(statement, Statement) for statement in prepared_shapes.values()]
    assert kept == [True]


async def test_text_values_are_not_bound_and_their_field_still_validates_them(
    org: Organization,
) -> None:
    # Given orders, and filters by a text column (its field checks a value's length)
    await _orders(org)
    prepared_shapes.clear()
    key = sort_key(SalesOrderSortField.NUMBER, False)

    # When a page is filtered by a marketplace
    found = await _walk(org.id, key, SalesOrderFilter(marketplace="shopify"), fetch_by_shape)

    # Then it is built each time, as tortoise builds it: text is no shape, nothing is kept
    assert found == await _walk(org.id, key, SalesOrderFilter(marketplace="shopify"), None)
    assert not prepared_shapes

    # And a marketplace longer than any stored one (which its field would refuse: an internal
    # error) matches nothing
    assert await _walk(org.id, key, SalesOrderFilter(marketplace="x" * 60), fetch_by_shape) == []


async def test_statuses_in_any_order_are_one_shape(org: Organization) -> None:
    await _orders(org)
    prepared_shapes.clear()
    key = sort_key(SalesOrderSortField.NUMBER, False)
    draft, confirmed = models.SalesOrderStatus.DRAFT, models.SalesOrderStatus.CONFIRMED

    one = await _walk(org.id, key, SalesOrderFilter(statuses=[draft, confirmed]), fetch_by_shape)
    other = await _walk(org.id, key, SalesOrderFilter(statuses=[confirmed, draft]), fetch_by_shape)

    assert one == other
    assert len(prepared_shapes) == 1


async def test_a_value_its_field_refuses_in_a_statement_built_once_is_built_each_time(
    org: Organization,
) -> None:
    # Given a filter whose stand-in its field refuses when the statement is built: an int for
    # the 3-character currency (its stand-in is 20 characters: tortoise's ValidationError)
    await _orders(org)
    prepared_shapes.clear()
    query = models.SalesOrder.filter(organization_id=org.id, currency=1).order_by("id")

    # Then the query is answered as tortoise answers it, built each time (the shape is kept
    # as not prepared)
    assert [state(row) for row in await fetch_by_shape(query)] == [
        state(row) for row in await query
    ]
    assert [isinstance(statement, Statement) for statement in prepared_shapes.values()] == [False]


async def test_the_least_recently_used_shape_is_dropped_first(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gqlorders.prepared.SHAPES_KEPT", 2)
    prepared_shapes.clear()
    mine = models.SalesOrder.filter(organization_id=org.id)
    a, b, c = (mine.order_by(field) for field in ("id", "number", "date"))

    for query in (a, b, a, c):  # a used again after b: b is the least recently used
        await fetch_by_shape(query)

    kept = [shape[4] for shape in prepared_shapes if isinstance(shape, tuple)]  # orderings
    assert kept == [tuple(a._orderings), tuple(c._orderings)]
