"""rows.py builds exactly the instances tortoise builds, joined relations included."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from tortoise.fields import DatetimeField, JSONField
from tortoise.models import Model

from gqlorders import jobs, models
from gqlorders.rows import fetch
from tests.fulfilment.documents import SEND_ORDER, confirm, invoice, package
from tests.support import Organization


def state(instance: Model) -> dict[str, Any]:
    """Every attribute of an instance (once its JSON and datetime columns are read), joined
    relations by their own state; decimals by their text (digits and exponent), datetimes with
    their offset and zone, everything else by value and type."""
    for name, field in instance._meta.fields_map.items():
        if isinstance(field, JSONField | DatetimeField) and name not in vars(instance):
            getattr(instance, name, None)  # a column rows.py defers: converted when read
    found: dict[str, Any] = {}
    for name, value in vars(instance).items():
        if isinstance(value, Model):
            found[name] = (type(value), state(value))
        elif isinstance(value, Decimal):
            found[name] = (Decimal, str(value))
        elif isinstance(value, datetime):  # its offset too, which == does not compare
            found[name] = (datetime, value.isoformat(), value.tzinfo)
        else:
            found[name] = (type(value), value)
    return found


async def same_rows(query: Any) -> int:
    """`query` (which must have an ORDER BY: two runs of a statement without one may list the
    rows in different orders) built by tortoise and by `fetch`, compared row by row."""
    expected = await query
    built = await fetch(query)
    assert [state(row) for row in built] == [state(row) for row in expected]
    return len(built)


async def test_fetched_rows_are_the_rows_tortoise_builds(org: Organization) -> None:
    customer = await org.customer(
        name="Acme", billingAddress={"street1": "1 Main St", "city": "Springfield"}
    )
    vat = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.9", taxId=vat, reorderLevel="2.125")
    service = await org.item("SETUP", "150", kind="SERVICE")
    lines = [
        {"itemId": chair, "quantity": "2.0625", "discountPercent": "12.5"},
        {"itemId": service, "quantity": "1", "taxId": vat},
    ]
    orders = [await org.order(customer, lines, notes="n", shippingCharge="4.5") for _ in range(3)]
    for order in orders:
        await confirm(org, order["id"])
    await invoice(org, orders[0]["id"])
    await package(org, orders[1]["id"])
    await org.api.ok(SEND_ORDER, {"id": orders[2]["id"]})
    runner = jobs.current_runner()
    if runner is not None:
        await runner.drain()

    mine = {"organization_id": org.id}
    order_ids = await models.SalesOrder.filter(**mine).values_list("id", flat=True)
    counts = [
        await same_rows(
            models.SalesOrder.filter(**mine).select_related("customer", "warehouse").order_by("id")
        ),
        await same_rows(models.SalesOrder.filter(**mine).order_by("-created_at", "-id").limit(2)),
        await same_rows(
            models.SalesOrderLine.filter(sales_order_id__in=order_ids)
            .select_related("item")
            .order_by("id")
        ),
        await same_rows(
            models.SalesOrderLine.filter(sales_order_id__in=order_ids)
            .select_related("item", "tax")
            .order_by("id")
        ),  # taxes met again and again, and lines without one
        await same_rows(
            models.SalesOrderLine.filter(sales_order_id__in=order_ids)
            .select_related("sales_order__customer", "tax")
            .order_by("id")
        ),  # a relation of a relation: rows.py's path-following join
        await same_rows(models.Customer.filter(**mine).order_by("id")),
        await same_rows(models.Item.filter(**mine).order_by("id")),
        await same_rows(models.Tax.filter(**mine).order_by("id")),
        await same_rows(models.Warehouse.filter(**mine).order_by("id")),
        await same_rows(models.Invoice.filter(**mine).order_by("id")),
        await same_rows(models.InvoiceLine.filter(invoice__organization_id=org.id).order_by("id")),
        await same_rows(models.Package.filter(**mine).order_by("id")),
        await same_rows(models.PackageLine.filter(package__organization_id=org.id).order_by("id")),
        await same_rows(models.OrderEvent.filter(sales_order_id__in=order_ids).order_by("id")),
        await same_rows(models.EmailMessage.filter(**mine).order_by("id")),
        await same_rows(models.StockLevel.filter(**mine).order_by("id")),
    ]
    assert all(counts), counts  # every kind of row was compared
    assert await fetch(models.Tax.filter(id=-1)) == []


async def test_a_json_column_is_decoded_when_first_read_into_what_tortoise_gives(
    org: Organization,
) -> None:
    # Given an order with a billing address and no shipping address
    address = {"street1": "1 Main St", "city": "Springfield"}
    customer = await org.customer(name="Acme", billingAddress=address)
    await org.order(customer, [{"itemId": await org.item("A", "1"), "quantity": "2"}])
    query = models.SalesOrder.filter(organization_id=org.id).select_related("customer")
    (expected,) = await query
    (built,) = await fetch(query)

    # When nothing has read them, the addresses are text, and null is null at once
    assert "billing_address" not in vars(built) and "billing_address" not in vars(built.customer)
    assert vars(built)["shipping_address"] is None

    # Then the first read decodes it, as tortoise did, and keeps it
    assert built.billing_address == expected.billing_address
    assert built.billing_address is not None
    assert built.billing_address["city"] == "Springfield"
    assert built.billing_address is built.billing_address
    assert built.tax_totals == expected.tax_totals == []
    assert state(built) == state(expected)

    # A model's class still has no such attribute, nor an instance built without the column
    assert not hasattr(models.SalesOrder, "billing_address")
    (partial,) = await models.SalesOrder.filter(organization_id=org.id).only("id", "number")
    with pytest.raises(AttributeError, match="billing_address"):
        _ = partial.billing_address
    built.billing_address = None  # and a value set by hand stays
    assert built.billing_address is None


async def test_a_datetime_column_is_converted_when_first_read_and_a_save_sets_its_own(
    org: Organization,
) -> None:
    # Given an order, built by tortoise and by fetch
    customer = await org.customer(name="Acme")
    await org.order(customer, [{"itemId": await org.item("A", "1"), "quantity": "2"}])
    query = models.SalesOrder.filter(organization_id=org.id)
    (expected,) = await query
    (built,) = await fetch(query)

    # When nothing has read them, its timestamps are not converted yet
    assert "created_at" not in vars(built) and "updated_at" not in vars(built)

    # Then the first read gives tortoise's value (in the default zone, with its offset)
    assert built.created_at == expected.created_at
    assert built.created_at.tzinfo == expected.created_at.tzinfo
    assert built.created_at is built.created_at

    # And a save that sets one itself (auto_now), never read before, keeps the value it set,
    # not the raw one the row came with
    assert "updated_at" not in vars(built)
    built.notes = "changed"
    await built.save(update_fields=["notes", "updated_at"])
    assert built.updated_at > expected.updated_at
    assert (await models.SalesOrder.get(id=built.id)).updated_at == built.updated_at


async def test_a_column_that_fails_to_convert_fails_again_on_the_next_read(
    org: Organization,
) -> None:
    # Given an order built by fetch, whose billing address's raw text is broken
    customer = await org.customer(name="Acme", billingAddress={"city": "Springfield"})
    await org.order(customer, [{"itemId": await org.item("A", "1"), "quantity": "2"}])
    (built,) = await fetch(models.SalesOrder.filter(organization_id=org.id))
    vars(built)["raw billing_address"] = "{not json"

    # Then each read fails the same way: the raw value is not lost by the first one
    for _ in range(2):
        with pytest.raises(Exception) as failed:
            _ = built.billing_address
        assert not isinstance(failed.value, AttributeError)
