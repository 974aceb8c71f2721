"""SPEC §3 "Tax-inclusive prices": an order's taxMode, its totals both ways, and who may switch.

INCLUSIVE rates contain their tax: each tax group holds round(p/(100 + p) × its gross ×
(1 − discount/sub total)), and the total adds no tax on top.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fulfilment.documents import confirm
from tests.support import CREATE_ORDER, UPDATE_ORDER, Organization

SETTINGS = "query { settings { defaultTaxMode } }"

UPDATE_SETTINGS = """
mutation($input: UpdateSettingsInput!) {
  updateSettings(input: $input) { settings { defaultTaxMode } errors { field code message } }
}"""

TOTALS = """
query($id: ID!) {
  salesOrder(id: $id) {
    taxMode subTotal discount { amount } taxes { tax { name } amount } taxTotal total
  }
}"""

BY_TOTAL = """
query {
  salesOrders(first: 10, sort: {field: TOTAL, direction: ASC}) { edges { node { id total } } }
}"""

# SPEC's example read as net: 0.20 × 59.97 × 63.87/70.97 = 10.79…, 0.055 × 11.00 × … = 0.54…
WORKED_EXAMPLE_EXCLUSIVE = {
    "taxMode": "EXCLUSIVE",
    "subTotal": "70.97",
    "discount": "7.10",
    "taxes": [("VAT 20%", "10.79"), ("VAT 5.5%", "0.54")],
    "taxTotal": "11.33",
    "total": "80.10",  # 63.87 + 11.33 + 4.90
}


def totals(order: dict) -> dict:
    """The order's mode and figures, as a client reads them."""
    return {
        "taxMode": order["taxMode"],
        "subTotal": order["subTotal"],
        "discount": order["discount"]["amount"] if order["discount"] else None,
        "taxes": [(tax["tax"]["name"], tax["amount"]) for tax in order["taxes"]],
        "taxTotal": order["taxTotal"],
        "total": order["total"],
    }


async def read_totals(org: Organization, order_id: str) -> dict:
    return totals((await org.api.data(TOTALS, {"id": order_id}))["salesOrder"])


async def worked_example(org: Organization, tax_mode: str | None) -> dict:
    """SPEC's example: 3 × 19.99 at 20 % and 2 × 5.50 at 5.5 %, 10 % off, 4.90 shipping."""
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    wine = await org.item("WINE", "19.99", taxId=vat)
    bread = await org.item("BREAD", "5.50", taxId=reduced)
    mode = {"taxMode": tax_mode} if tax_mode else {}
    return await org.order(
        customer,
        [{"itemId": wine, "quantity": "3"}, {"itemId": bread, "quantity": "2"}],
        discount={"type": "PERCENTAGE", "value": "10"},
        shippingCharge="4.90",
        **mode,
    )


async def test_the_worked_example_inclusive_to_the_cent(org: Organization) -> None:
    # When SPEC's example is entered at gross prices
    order = await worked_example(org, "INCLUSIVE")

    # Then each group's tax is carved out of its discounted gross, and the total adds none
    assert await read_totals(org, order["id"]) == {
        "taxMode": "INCLUSIVE",
        "subTotal": "70.97",
        "discount": "7.10",  # 10 % of 70.97 = 7.097
        # 20/120 × 59.97 × 63.87/70.97 = 8.995…; 5.5/105.5 × 11.00 × 63.87/70.97 = 0.516…
        "taxes": [("VAT 20%", "9.00"), ("VAT 5.5%", "0.52")],
        "taxTotal": "9.52",
        "total": "68.77",  # 70.97 − 7.10 + 4.90
    }


async def test_a_draft_switched_to_exclusive_reads_its_rates_as_net(org: Organization) -> None:
    # Given SPEC's example as an INCLUSIVE draft
    order = await worked_example(org, "INCLUSIVE")

    # When it switches to EXCLUSIVE
    payload = await org.api.ok(UPDATE_ORDER, {"id": order["id"], "taxMode": "EXCLUSIVE"})

    # Then the same rates are net and every figure is recomputed
    assert await read_totals(org, order["id"]) == WORKED_EXAMPLE_EXCLUSIVE
    assert payload["salesOrder"]["events"][-1] == {
        "type": "updated",
        "actor": "tests",
        "data": {"fields": ["tax_mode"], "lines": False},
    }

    # And back again, to the cent it had
    await org.api.ok(UPDATE_ORDER, {"id": order["id"], "taxMode": "INCLUSIVE"})
    assert (await read_totals(org, order["id"]))["total"] == "68.77"


async def test_the_worked_example_exclusive_stays_as_today(org: Organization) -> None:
    order = await worked_example(org, None)

    assert await read_totals(org, order["id"]) == WORKED_EXAMPLE_EXCLUSIVE


async def test_a_tie_rounds_half_up(org: Organization) -> None:
    # 59.97 at 20 % inclusive holds exactly 9.995 of tax
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    wine = await org.item("WINE", "19.99", taxId=vat)

    order = await org.order(customer, [{"itemId": wine, "quantity": "3"}], taxMode="INCLUSIVE")

    assert await read_totals(org, order["id"]) == {
        "taxMode": "INCLUSIVE",
        "subTotal": "59.97",
        "discount": None,
        "taxes": [("VAT 20%", "10.00")],
        "taxTotal": "10.00",
        "total": "59.97",
    }


async def test_an_amount_discount_spreads_over_gross_groups(org: Organization) -> None:
    # Given gross lines at 20 %, 5.5 % and untaxed, a fixed discount, shipping and adjustment
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    lamp = await org.item("LAMP", "129.50", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)
    setup = await org.item("SETUP", "65", kind="SERVICE")

    order = await org.order(
        customer,
        [
            {"itemId": lamp, "quantity": "3", "discountPercent": "5"},  # 369.075 -> 369.08
            {"itemId": coffee, "quantity": "2.5"},  # 62.00
            {"itemId": setup, "quantity": "1"},  # 65.00, no tax
        ],
        taxMode="INCLUSIVE",
        discount={"type": "AMOUNT", "value": "50"},
        shippingCharge="9.90",
        adjustment={"label": "Rounding", "amount": "-0.08"},
    )

    assert await read_totals(org, order["id"]) == {
        "taxMode": "INCLUSIVE",
        "subTotal": "496.08",
        "discount": "50.00",
        # 20/120 × 369.08 × 446.08/496.08 = 55.312…; 5.5/105.5 × 62.00 × 446.08/496.08 = 2.906…
        "taxes": [("VAT 20%", "55.31"), ("VAT 5.5%", "2.91")],
        "taxTotal": "58.22",
        "total": "455.90",  # 496.08 − 50.00 + 9.90 − 0.08
    }


async def test_new_orders_take_the_organizations_default_mode(org: Organization) -> None:
    # Given an organization that has never chosen: EXCLUSIVE
    assert (await org.api.data(SETTINGS))["settings"] == {"defaultTaxMode": "EXCLUSIVE"}
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    wine = await org.item("WINE", "12.00", taxId=vat)

    # When it sells at gross prices from now on
    payload = await org.api.ok(UPDATE_SETTINGS, {"defaultTaxMode": "INCLUSIVE"})
    assert payload["settings"] == {"defaultTaxMode": "INCLUSIVE"}

    # Then an order naming no mode is INCLUSIVE, and one naming EXCLUSIVE keeps it
    default = await org.order(customer, [{"itemId": wine, "quantity": "1"}])
    named = await org.order(customer, [{"itemId": wine, "quantity": "1"}], taxMode="EXCLUSIVE")
    assert (await read_totals(org, default["id"]))["taxes"] == [("VAT 20%", "2.00")]
    assert (await read_totals(org, default["id"]))["total"] == "12.00"
    assert (await read_totals(org, named["id"]))["total"] == "14.40"


async def test_a_confirmed_order_keeps_its_mode(org: Organization) -> None:
    # Given a confirmed INCLUSIVE order
    order = await worked_example(org, "INCLUSIVE")
    await confirm(org, order["id"])
    before = await read_totals(org, order["id"])

    # When a client switches it, with a note
    payload = await org.api.mutate(
        UPDATE_ORDER, {"id": order["id"], "taxMode": "EXCLUSIVE", "notes": "net, please"}
    )

    # Then it is refused at taxMode, and nothing changed
    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "taxMode"], "INVALID_STATUS")
    ]
    assert "only a draft" in payload["errors"][0]["message"]
    assert await read_totals(org, order["id"]) == before
    # while naming the mode it already has is no change at all
    same = await org.api.ok(UPDATE_ORDER, {"id": order["id"], "taxMode": "INCLUSIVE"})
    assert same["salesOrder"]["total"] == "68.77"


async def test_sorting_by_total_reads_what_the_customer_pays(org: Organization) -> None:
    # Given 100.00 net at 20 % (120.00 to pay) and 110.00 gross at 20 % (110.00 to pay)
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    lamp = await org.item("LAMP", "100", taxId=vat)
    net = await org.order(customer, [{"itemId": lamp, "quantity": "1"}])
    gross = await org.order(
        customer, [{"itemId": lamp, "quantity": "1", "rate": "110"}], taxMode="INCLUSIVE"
    )

    # When the orders are listed by total
    data = await org.api.data(BY_TOTAL)

    # Then the gross order, which adds no tax, comes first
    assert [edge["node"] for edge in data["salesOrders"]["edges"]] == [
        {"id": gross["id"], "total": "110.00"},
        {"id": net["id"], "total": "120.00"},
    ]


# --- any INCLUSIVE order ---------------------------------------------------------------------

PERCENTAGES = ["20", "5.5", "7.7", "10", "2.1"]
LINE = st.fixed_dictionaries(
    {
        "quantity": st.decimals("0.0001", "40", places=4),
        "rate": st.decimals("0", "500", places=4),
        "discountPercent": st.decimals("0", "100", places=2),
        "tax": st.sampled_from([None, *range(len(PERCENTAGES))]),
    }
)
ORDERS = st.fixed_dictionaries(
    {
        "lines": st.lists(LINE, min_size=1, max_size=6),
        # no discount, a percentage, or an amount: that part of the sub total (so that it is
        # never more than the sub total, which the API refuses)
        "discount": st.one_of(
            st.none(),
            st.tuples(st.just("PERCENTAGE"), st.decimals("0", "100", places=2)),
            st.tuples(st.just("AMOUNT"), st.decimals("0", "1", places=4)),
        ),
        "shippingCharge": st.decimals("0", "50", places=2),
        "adjustment": st.decimals("-20", "20", places=2),
    }
)


def share(percentage: str) -> Fraction:
    """p/(100 + p): the part of a gross amount that is its tax."""
    p = Fraction(percentage)
    return p / (100 + p)


def cents(value: Fraction) -> Decimal:
    """round(value) half-up to 2 places, computed exactly."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=ORDERS)
async def test_any_inclusive_order_carves_each_tax_out_of_its_gross(
    org: Organization, drawn: dict
) -> None:
    # Given the organization's taxes and one item (created once for every example)
    if "taxes" not in org.cache:
        org.cache["customer"] = await org.customer()
        org.cache["item"] = await org.item("ANY", "1")
        org.cache["taxes"] = [await org.tax(f"T{p}", p) for p in PERCENTAGES]
    taxes = org.cache["taxes"]
    lines = [
        {
            "itemId": org.cache["item"],
            "quantity": str(line["quantity"]),
            "rate": str(line["rate"]),
            "discountPercent": str(line["discountPercent"]),
            "taxId": None if line["tax"] is None else taxes[line["tax"]],
        }
        for line in drawn["lines"]
    ]
    discount = None
    if drawn["discount"] is not None:
        kind, value = drawn["discount"]
        if kind == "AMOUNT":  # the drawn part of the sub total, in cents, rounded down
            drawn_sub_total = sum(
                (
                    cents(
                        Fraction(line["quantity"])
                        * Fraction(line["rate"])
                        * (1 - Fraction(line["discountPercent"]) / 100)
                    )
                    for line in drawn["lines"]
                ),
                Decimal(0),
            )
            value = (drawn_sub_total * value).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        discount = {"type": kind, "value": str(value)}

    # When it is entered at gross prices
    payload = await org.api.ok(
        CREATE_ORDER,
        {
            "customerId": org.cache["customer"],
            "lines": lines,
            "taxMode": "INCLUSIVE",
            "discount": discount,
            "shippingCharge": str(drawn["shippingCharge"]),
            "adjustment": {"amount": str(drawn["adjustment"])},
        },
    )
    order = payload["salesOrder"]

    # Then total = sub total − discount + shipping + adjustment (the taxes are inside)
    sub_total = Decimal(order["subTotal"])
    off = Decimal(order["discount"]["amount"]) if order["discount"] else Decimal(0)
    if discount is not None and discount["type"] == "AMOUNT":
        assert off == Decimal(discount["value"])
    assert Decimal(order["total"]) == (
        sub_total - off + drawn["shippingCharge"] + drawn["adjustment"]
    )
    # and each tax = round(p/(100 + p) × its group's gross × (1 − discount/sub total))
    gross: dict[str, Decimal] = {}
    for line in order["lines"]:
        if line["tax"] is not None:
            name = line["tax"]["name"]
            gross[name] = gross.get(name, Decimal(0)) + Decimal(line["amount"])
    factor = 1 - Fraction(off) / Fraction(sub_total) if sub_total else Fraction(1)
    expected = [
        (name, str(cents(share(name.removeprefix("T")) * Fraction(amount) * factor)))
        for name, amount in gross.items()
    ]
    assert [(t["tax"]["name"], t["amount"]) for t in order["taxes"]] == expected
    assert Decimal(order["taxTotal"]) == sum((Decimal(a) for _, a in expected), Decimal(0))
