"""SPEC §10: every invalid input is a UserError naming the field and a code, and changes nothing.

Each test sends one bad request, checks the exact `field` path and `code`, then checks that
nothing was written (no order, customer, item or tax more; an edited order exactly as before).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import (
    CREATE_CUSTOMER,
    CREATE_ITEM,
    CREATE_ORDER,
    CREATE_TAX,
    ORDER,
    UPDATE_ORDER,
    Organization,
)

ORDER_COUNT = "{ salesOrders { totalCount } }"
CUSTOMER_COUNT = "{ customers { totalCount } }"
ITEMS = "{ items { totalCount edges { node { sku name rate } } } }"
TAXES = "{ taxes { name } }"


def errors_of(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    """(field, code) of each user error; every error also carries a human message."""
    assert all(error["message"] for error in payload["errors"]), payload["errors"]
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def order_count(org: Organization) -> int:
    return (await org.api.data(ORDER_COUNT))["salesOrders"]["totalCount"]


async def create_refused(org: Organization, input: dict[str, Any]) -> list[tuple[list[str], str]]:
    """The user errors of a createSalesOrder that must fail, after checking it wrote nothing."""
    payload = await org.api.mutate(CREATE_ORDER, input)
    assert payload["salesOrder"] is None
    assert await order_count(org) == 0
    return errors_of(payload)


@pytest.fixture
async def customer(org: Organization) -> str:
    return await org.customer()


@pytest.fixture
async def chair(org: Organization) -> str:
    return await org.item("CHAIR", "10")


# --- lines --------------------------------------------------------------------------------


async def test_an_order_needs_a_line(org: Organization, customer: str) -> None:
    errors = await create_refused(org, {"customerId": customer, "lines": []})

    assert errors == [(["input", "lines"], "REQUIRED")]


@pytest.mark.parametrize("quantity", ["0", "-1", "1.00001"])
async def test_quantity_is_positive_with_at_most_four_decimals(
    org: Organization, customer: str, chair: str, quantity: str
) -> None:
    errors = await create_refused(
        org, {"customerId": customer, "lines": [{"itemId": chair, "quantity": quantity}]}
    )

    assert errors == [(["input", "lines", "0", "quantity"], "INVALID")]


async def test_quantity_with_four_decimals_is_accepted(
    org: Organization, customer: str, chair: str
) -> None:
    # The boundary of the rule above: 4 decimals are fine
    order = await org.order(customer, [{"itemId": chair, "quantity": "1.0001"}])

    assert order["lines"][0]["quantity"] == "1.0001"
    assert order["lines"][0]["amount"] == "10.00"


async def test_rate_cannot_be_negative(org: Organization, customer: str, chair: str) -> None:
    errors = await create_refused(
        org,
        {"customerId": customer, "lines": [{"itemId": chair, "quantity": "1", "rate": "-0.01"}]},
    )

    assert errors == [(["input", "lines", "0", "rate"], "INVALID")]


@pytest.mark.parametrize("percent", ["100.5", "1.234", "-1"])
async def test_line_discount_is_a_percentage_with_two_decimals(
    org: Organization, customer: str, chair: str, percent: str
) -> None:
    errors = await create_refused(
        org,
        {
            "customerId": customer,
            "lines": [{"itemId": chair, "quantity": "1", "discountPercent": percent}],
        },
    )

    assert errors == [(["input", "lines", "0", "discountPercent"], "INVALID")]


async def test_unknown_item_is_not_found(org: Organization, customer: str) -> None:
    errors = await create_refused(
        org, {"customerId": customer, "lines": [{"itemId": "no-such-item", "quantity": "1"}]}
    )

    assert errors == [(["input", "lines", "0", "itemId"], "NOT_FOUND")]


async def test_another_organizations_item_is_not_found(
    org: Organization, other_org: Organization, customer: str
) -> None:
    # Given an item that exists, but in another organization
    foreign = await other_org.item("CHAIR", "10")

    # When it is ordered
    errors = await create_refused(
        org, {"customerId": customer, "lines": [{"itemId": foreign, "quantity": "1"}]}
    )

    # Then it is as unknown as an ID that never existed
    assert errors == [(["input", "lines", "0", "itemId"], "NOT_FOUND")]
    assert (await other_org.api.data(ORDER_COUNT))["salesOrders"]["totalCount"] == 0


async def test_a_customer_id_is_not_an_item_id(org: Organization, customer: str) -> None:
    errors = await create_refused(
        org, {"customerId": customer, "lines": [{"itemId": customer, "quantity": "1"}]}
    )

    assert errors == [(["input", "lines", "0", "itemId"], "NOT_FOUND")]


async def test_another_organizations_tax_is_not_found(
    org: Organization, other_org: Organization, customer: str, chair: str
) -> None:
    foreign = await other_org.tax("VAT 20%", "20")

    errors = await create_refused(
        org,
        {"customerId": customer, "lines": [{"itemId": chair, "quantity": "1", "taxId": foreign}]},
    )

    assert errors == [(["input", "lines", "0", "taxId"], "NOT_FOUND")]


# --- header -------------------------------------------------------------------------------


async def test_another_organizations_customer_is_not_found(
    org: Organization, other_org: Organization, chair: str
) -> None:
    foreign = await other_org.customer()

    errors = await create_refused(
        org, {"customerId": foreign, "lines": [{"itemId": chair, "quantity": "1"}]}
    )

    assert errors == [(["input", "customerId"], "NOT_FOUND")]
    assert (await other_org.api.data(ORDER_COUNT))["salesOrders"]["totalCount"] == 0


async def test_expected_shipment_cannot_precede_the_order_date(
    org: Organization, customer: str, chair: str
) -> None:
    errors = await create_refused(
        org,
        {
            "customerId": customer,
            "lines": [{"itemId": chair, "quantity": "1"}],
            "date": "2024-05-10",
            "expectedShipmentDate": "2024-05-09",
        },
    )

    assert errors == [(["input", "expectedShipmentDate"], "INVALID")]


async def test_shipping_charge_cannot_be_negative(
    org: Organization, customer: str, chair: str
) -> None:
    errors = await create_refused(
        org,
        {
            "customerId": customer,
            "lines": [{"itemId": chair, "quantity": "1"}],
            "shippingCharge": "-5",
        },
    )

    assert errors == [(["input", "shippingCharge"], "INVALID")]


async def test_amount_discount_cannot_exceed_the_sub_total(
    org: Organization, customer: str, chair: str
) -> None:
    # Given a sub total of 20.00
    input = {"customerId": customer, "lines": [{"itemId": chair, "quantity": "2"}]}

    # When the fixed discount is one cent more
    errors = await create_refused(org, {**input, "discount": {"type": "AMOUNT", "value": "20.01"}})

    # Then it is refused
    assert errors == [(["input", "discount", "value"], "INVALID")]


async def test_amount_discount_equal_to_the_sub_total_is_accepted(
    org: Organization, customer: str, chair: str
) -> None:
    # The boundary of the rule above
    order = await org.order(
        customer,
        [{"itemId": chair, "quantity": "2"}],
        discount={"type": "AMOUNT", "value": "20"},
    )

    assert order["discount"] == {"type": "AMOUNT", "value": "20.00", "amount": "20.00"}
    assert order["total"] == "0.00"


async def test_every_problem_is_reported_at_once(
    org: Organization, other_org: Organization, customer: str, chair: str
) -> None:
    # Given a request with five independent mistakes
    foreign = await other_org.item("DESK", "100")
    input = {
        "customerId": customer,
        "date": "2024-05-10",
        "expectedShipmentDate": "2024-05-01",
        "shippingCharge": "-1",
        "lines": [
            {"itemId": chair, "quantity": "0"},
            {"itemId": foreign, "quantity": "1"},
            {"itemId": chair, "quantity": "1", "discountPercent": "101"},
        ],
    }

    # When it is sent
    errors = await create_refused(org, input)

    # Then each one is named (in no particular order)
    assert sorted(errors) == sorted(
        [
            (["input", "shippingCharge"], "INVALID"),
            (["input", "expectedShipmentDate"], "INVALID"),
            (["input", "lines", "0", "quantity"], "INVALID"),
            (["input", "lines", "1", "itemId"], "NOT_FOUND"),
            (["input", "lines", "2", "discountPercent"], "INVALID"),
        ]
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"shippingCharge": "abc"},
        {"lines": [{"quantity": "abc"}]},
        {"lines": [{"quantity": "1", "rate": "1,5"}]},
        {"discount": {"type": "PERCENTAGE", "value": "NaN"}},
    ],
    ids=["shipping-charge", "quantity", "rate", "discount-nan"],
)
async def test_a_malformed_decimal_is_a_graphql_error(
    org: Organization, customer: str, chair: str, bad: dict[str, Any]
) -> None:
    # Given an otherwise valid order with one malformed Decimal string
    input: dict[str, Any] = {"customerId": customer, "lines": [{"itemId": chair, "quantity": "1"}]}
    for key, value in bad.items():
        if key == "lines":
            value = [{"itemId": chair, **line} for line in value]
        input[key] = value

    # When it is sent (GraphQLClient.execute checks the HTTP status is 200, not 500)
    body = await org.api.execute(CREATE_ORDER, {"input": input})

    # Then the request is refused before running, with a readable error and nothing written
    assert body.get("data") is None
    assert len(body["errors"]) == 1
    message = body["errors"][0]["message"]
    assert "Decimal" in message or "decimal" in message, message
    assert "Traceback" not in message
    assert await order_count(org) == 0


# --- editing ----------------------------------------------------------------------------


async def test_an_invalid_update_changes_nothing(
    org: Organization, customer: str, chair: str
) -> None:
    # Given a saved order
    order = await org.order(customer, [{"itemId": chair, "quantity": "2"}], notes="Original")
    before = (await org.api.data(ORDER, {"id": order["id"]}))["salesOrder"]

    # When an update mixes valid changes with an invalid line
    payload = await org.api.mutate(
        UPDATE_ORDER,
        {
            "id": order["id"],
            "notes": "Changed",
            "shippingCharge": "5",
            "lines": [
                {"id": order["lines"][0]["id"], "itemId": chair, "quantity": "3"},
                {"itemId": chair, "quantity": "-1"},
            ],
        },
    )

    # Then it is refused as a whole: the order, its lines and its events are as they were
    assert payload["salesOrder"] is None
    assert errors_of(payload) == [(["input", "lines", "1", "quantity"], "INVALID")]
    assert (await org.api.data(ORDER, {"id": order["id"]}))["salesOrder"] == before


async def test_an_update_cannot_remove_every_line(
    org: Organization, customer: str, chair: str
) -> None:
    order = await org.order(customer, [{"itemId": chair, "quantity": "2"}])
    before = (await org.api.data(ORDER, {"id": order["id"]}))["salesOrder"]

    payload = await org.api.mutate(UPDATE_ORDER, {"id": order["id"], "lines": []})

    assert errors_of(payload) == [(["input", "lines"], "REQUIRED")]
    assert (await org.api.data(ORDER, {"id": order["id"]}))["salesOrder"] == before


# --- master data --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input", "field", "code"),
    [
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": "Acme", "email": "not-an-email"}, "email", "INVALID"),
        ({"name": "Acme", "currency": "EURO"}, "currency", "INVALID"),
    ],
    ids=["blank-name", "bad-email", "bad-currency"],
)
async def test_invalid_customer_is_refused(
    org: Organization, input: dict[str, Any], field: str, code: str
) -> None:
    payload = await org.api.mutate(CREATE_CUSTOMER, input)

    assert payload["customer"] is None
    assert errors_of(payload) == [(["input", field], code)]
    assert (await org.api.data(CUSTOMER_COUNT))["customers"]["totalCount"] == 0


async def test_duplicate_sku_is_refused(org: Organization) -> None:
    # Given an item CHAIR
    await org.item("CHAIR", "10")

    # When another item takes the same SKU
    payload = await org.api.mutate(
        CREATE_ITEM, {"sku": "CHAIR", "name": "Other chair", "kind": "GOODS", "rate": "20"}
    )

    # Then it is refused and the first item is untouched
    assert payload["item"] is None
    assert errors_of(payload) == [(["input", "sku"], "DUPLICATE_SKU")]
    items = (await org.api.data(ITEMS))["items"]
    assert items["totalCount"] == 1
    assert items["edges"][0]["node"] == {"sku": "CHAIR", "name": "Chair", "rate": "10.00"}


async def test_the_same_sku_in_another_organization_is_fine(
    org: Organization, other_org: Organization
) -> None:
    await other_org.item("CHAIR", "10")

    await org.item("CHAIR", "12")

    assert (await org.api.data(ITEMS))["items"]["totalCount"] == 1


async def test_tax_percentage_above_100_is_refused(org: Organization) -> None:
    payload = await org.api.mutate(CREATE_TAX, {"name": "Impossible", "percentage": "120"})

    assert payload["tax"] is None
    assert errors_of(payload) == [(["input", "percentage"], "INVALID")]
    assert (await org.api.data(TAXES))["taxes"] == []
