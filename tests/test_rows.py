"""rows.py builds exactly the instances tortoise builds, joined relations included."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.models import Model

from gqlorders import jobs, models
from gqlorders.rows import fetch
from tests.fulfilment.documents import SEND_ORDER, confirm, invoice, package
from tests.support import Organization


def state(instance: Model) -> dict[str, Any]:
    """Every attribute of an instance, joined relations by their own state; decimals by their
    text (digits and exponent), datetimes with their offset and zone, everything else by value
    and type."""
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
