"""prepared.py: a read built once gives, for every later call, what the query itself gives."""

from __future__ import annotations

from datetime import date

import pytest
from tortoise.transactions import in_transaction

from gqlorders import models
from gqlorders.api.ids import decode_id
from gqlorders.prepared import PreparedExists, PreparedSelect
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
        assert [item.tax.name for item in found] == ["VAT 20%"] * len(set(wanted) - {foreign})

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
