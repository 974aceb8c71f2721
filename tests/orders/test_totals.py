"""SPEC §3 "Money": totals to the cent, half-up rounding at the specified points."""

from __future__ import annotations

from tests.support import Organization


async def test_line_amount_rounds_half_up(org: Organization) -> None:
    # Given an item sold at 0.125 (kept exactly as given)
    customer = await org.customer()
    item = await org.item("WIDGET", "0.125")

    # When one unit is ordered
    order = await org.order(customer, [{"itemId": item, "quantity": "1"}])

    # Then the line amount rounds 0.125 half-up to 0.13
    line = order["lines"][0]
    assert line["rate"] == "0.125"
    assert line["amount"] == "0.13"
    assert order["subTotal"] == "0.13"
    assert order["total"] == "0.13"


async def test_percentage_discount_and_several_taxes(org: Organization) -> None:
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    chair = await org.item("CHAIR", "89.90", taxId=vat)
    coffee = await org.item("COFFEE", "24.80", taxId=reduced)
    service = await org.item("SETUP", "65", kind="SERVICE")

    order = await org.order(
        customer,
        [
            {"itemId": chair, "quantity": "3", "discountPercent": "12.5"},  # 235.99 (235.9875)
            {"itemId": coffee, "quantity": "2.5"},  # 62.00
            {"itemId": service, "quantity": "1.25"},  # 81.25, no tax
        ],
        discount={"type": "PERCENTAGE", "value": "7.5"},
        shippingCharge="12.40",
        adjustment={"label": "Rounding", "amount": "-0.33"},
    )

    assert [line["amount"] for line in order["lines"]] == ["235.99", "62.00", "81.25"]
    assert order["subTotal"] == "379.24"
    # 7.5 % of 379.24 = 28.443 -> 28.44
    assert order["discount"] == {"type": "PERCENTAGE", "value": "7.50", "amount": "28.44"}
    # VAT 20%: 0.20 × 235.99 × (1 − 28.44/379.24) = 43.6584… -> 43.66
    # VAT 5.5%: 0.055 × 62.00 × (1 − 28.44/379.24) = 3.1543… -> 3.15
    assert order["taxes"] == [
        {"tax": {"name": "VAT 20%"}, "amount": "43.66"},
        {"tax": {"name": "VAT 5.5%"}, "amount": "3.15"},
    ]
    assert order["taxTotal"] == "46.81"
    assert order["shippingCharge"] == "12.40"
    assert order["adjustment"] == {"label": "Rounding", "amount": "-0.33"}
    # 379.24 − 28.44 + 46.81 + 12.40 − 0.33
    assert order["total"] == "409.68"


async def test_amount_discount_spreads_over_tax_groups(org: Organization) -> None:
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    lamp = await org.item("LAMP", "129.50", taxId=vat)

    order = await org.order(
        customer,
        [{"itemId": lamp, "quantity": "3"}],
        discount={"type": "AMOUNT", "value": "50"},
    )

    assert order["subTotal"] == "388.50"
    assert order["discount"] == {"type": "AMOUNT", "value": "50.00", "amount": "50.00"}
    # 0.20 × 388.50 × (1 − 50/388.50) = 67.70
    assert order["taxes"] == [{"tax": {"name": "VAT 20%"}, "amount": "67.70"}]
    assert order["total"] == "406.20"


async def test_lines_with_the_same_tax_are_taxed_together(org: Organization) -> None:
    # Rounding per group, not per line: 3 × round(0.20 × 0.05) would give 0.03
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    pin = await org.item("PIN", "0.05", taxId=vat)

    order = await org.order(customer, [{"itemId": pin, "quantity": "1"} for _ in range(3)])

    assert order["subTotal"] == "0.15"
    assert order["taxes"] == [{"tax": {"name": "VAT 20%"}, "amount": "0.03"}]
    assert order["taxTotal"] == "0.03"
    assert order["total"] == "0.18"


async def test_explicit_null_tax_overrides_the_items_tax(org: Organization) -> None:
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    chair = await org.item("CHAIR", "10", taxId=vat)

    order = await org.order(
        customer,
        [{"itemId": chair, "quantity": "1"}, {"itemId": chair, "quantity": "1", "taxId": None}],
    )

    assert [line["tax"] for line in order["lines"]] == [{"name": "VAT 20%"}, None]
    assert order["taxTotal"] == "2.00"
    assert order["total"] == "22.00"
