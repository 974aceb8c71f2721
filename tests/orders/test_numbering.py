"""SPEC §3 "Numbering": AUTO counters and MANUAL numbers for sales orders, per organization."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gqlorders.models import Customer
from gqlorders.numbering import take_next_number
from gqlorders.orders import lifecycle
from gqlorders.tenancy import Scope
from tests.support import CREATE_ORDER, MakeClient, Organization

NUMBERING_FIELDS = "mode prefix nextNumber padding"

SETTINGS_FIELDS = f"""
  currency
  salesOrderNumbering {{ {NUMBERING_FIELDS} }}
  invoiceNumbering {{ {NUMBERING_FIELDS} }}
  closeSalesOrderWhen
"""

SETTINGS = f"""
query {{ settings {{ {SETTINGS_FIELDS} }} }}"""

UPDATE_SETTINGS = f"""
mutation($input: UpdateSettingsInput!) {{
  updateSettings(input: $input) {{
    settings {{ {SETTINGS_FIELDS} }} errors {{ field code message }}
  }}
}}"""

ORDER_COUNT = """
query { salesOrders { totalCount } }"""

ORDER_NUMBERS = """
query { salesOrders(first: 100, sort: {field: NUMBER, direction: ASC}) {
  totalCount edges { node { number } }
} }"""

DELETE_ORDER = """
mutation($input: SalesOrderIdInput!) {
  deleteSalesOrder(input: $input) { deletedId errors { field code message } }
}"""

VOID_ORDER = """
mutation($input: SalesOrderIdInput!) {
  voidSalesOrder(input: $input) { salesOrder { id number status } errors { field code message } }
}"""

DEFAULT_SALES_ORDER_NUMBERING = {"mode": "AUTO", "prefix": "SO-", "nextNumber": 1, "padding": 5}
DEFAULT_INVOICE_NUMBERING = {"mode": "AUTO", "prefix": "INV-", "nextNumber": 1, "padding": 5}


async def order_input(org: Organization, **fields: Any) -> dict[str, Any]:
    """A valid createSalesOrder input (one line), reusing the organization's customer and item."""
    if "customer" not in org.cache:
        org.cache["customer"] = await org.customer()
        org.cache["item"] = await org.item("WIDGET", "10")
    return {
        "customerId": org.cache["customer"],
        "lines": [{"itemId": org.cache["item"], "quantity": "1"}],
        **fields,
    }


async def create_number(org: Organization, **fields: Any) -> str:
    """Create an order (which must succeed) and return its number."""
    payload = await org.api.ok(CREATE_ORDER, await order_input(org, **fields))
    return payload["salesOrder"]["number"]


async def settings(org: Organization) -> dict[str, Any]:
    return (await org.api.data(SETTINGS))["settings"]


async def order_count(org: Organization) -> int:
    return (await org.api.data(ORDER_COUNT))["salesOrders"]["totalCount"]


async def update_numbering(org: Organization, **numbering: Any) -> dict[str, Any]:
    payload = await org.api.ok(UPDATE_SETTINGS, {"salesOrderNumbering": numbering})
    return payload["settings"]


# --- defaults -------------------------------------------------------------------------------


async def test_new_organization_has_default_numbering_settings(org: Organization) -> None:
    current = await settings(org)

    assert current["salesOrderNumbering"] == DEFAULT_SALES_ORDER_NUMBERING
    assert current["invoiceNumbering"] == DEFAULT_INVOICE_NUMBERING


async def test_new_organization_numbers_orders_from_so_00001(org: Organization) -> None:
    numbers = [await create_number(org) for _ in range(3)]

    assert numbers == ["SO-00001", "SO-00002", "SO-00003"]
    current = await settings(org)
    assert current["salesOrderNumbering"]["nextNumber"] == 4


async def test_number_is_stored_and_readable(org: Organization) -> None:
    await create_number(org)

    data = await org.api.data(ORDER_NUMBERS)

    assert data["salesOrders"]["totalCount"] == 1
    assert data["salesOrders"]["edges"] == [{"node": {"number": "SO-00001"}}]


async def test_sales_order_numbers_do_not_move_the_invoice_counter(org: Organization) -> None:
    await create_number(org)
    await create_number(org)

    current = await settings(org)

    assert current["invoiceNumbering"] == DEFAULT_INVOICE_NUMBERING


# --- updateSettings -------------------------------------------------------------------------


async def test_update_settings_changes_prefix_next_number_and_padding(org: Organization) -> None:
    # Given the default numbering
    # When the prefix, next number and padding change
    updated = await update_numbering(org, prefix="ORD/", nextNumber=42, padding=3)

    # Then the payload and the settings query show the new numbering, mode untouched
    expected = {"mode": "AUTO", "prefix": "ORD/", "nextNumber": 42, "padding": 3}
    assert updated["salesOrderNumbering"] == expected
    assert (await settings(org))["salesOrderNumbering"] == expected
    # And the next orders follow it
    assert [await create_number(org) for _ in range(2)] == ["ORD/042", "ORD/043"]
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 44


async def test_partial_update_keeps_the_other_numbering_fields(org: Organization) -> None:
    await update_numbering(org, prefix="A-", nextNumber=7, padding=2)

    updated = await update_numbering(org, padding=4)

    assert updated["salesOrderNumbering"] == {
        "mode": "AUTO",
        "prefix": "A-",
        "nextNumber": 7,
        "padding": 4,
    }
    assert await create_number(org) == "A-0007"


async def test_padding_zero_means_no_padding(org: Organization) -> None:
    await update_numbering(org, prefix="SO", nextNumber=9, padding=0)

    assert [await create_number(org) for _ in range(2)] == ["SO9", "SO10"]


async def test_number_longer_than_padding_is_not_truncated(org: Organization) -> None:
    await update_numbering(org, nextNumber=123456)

    assert await create_number(org) == "SO-123456"


async def test_update_settings_changes_close_sales_order_when(org: Organization) -> None:
    payload = await org.api.ok(UPDATE_SETTINGS, {"closeSalesOrderWhen": "INVOICED_AND_SHIPPED"})

    assert payload["settings"]["closeSalesOrderWhen"] == "INVOICED_AND_SHIPPED"
    current = await settings(org)
    assert current["closeSalesOrderWhen"] == "INVOICED_AND_SHIPPED"
    # and the numbering is untouched
    assert current["salesOrderNumbering"] == DEFAULT_SALES_ORDER_NUMBERING
    assert current["invoiceNumbering"] == DEFAULT_INVOICE_NUMBERING


async def test_sales_order_numbering_update_leaves_invoice_numbering_alone(
    org: Organization,
) -> None:
    updated = await update_numbering(org, prefix="X-", nextNumber=5, padding=2)

    assert updated["invoiceNumbering"] == DEFAULT_INVOICE_NUMBERING


async def test_padding_above_twelve_is_invalid_and_changes_nothing(org: Organization) -> None:
    before = await settings(org)

    payload = await org.api.mutate(UPDATE_SETTINGS, {"salesOrderNumbering": {"padding": 13}})

    assert payload["settings"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "salesOrderNumbering", "padding"], "INVALID")
    ]
    assert await settings(org) == before
    assert await create_number(org) == "SO-00001"


async def test_next_number_zero_is_invalid_and_changes_nothing(org: Organization) -> None:
    before = await settings(org)

    payload = await org.api.mutate(UPDATE_SETTINGS, {"salesOrderNumbering": {"nextNumber": 0}})

    assert payload["settings"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "salesOrderNumbering", "nextNumber"], "INVALID")
    ]
    assert await settings(org) == before


async def test_negative_padding_is_invalid(org: Organization) -> None:
    payload = await org.api.mutate(UPDATE_SETTINGS, {"salesOrderNumbering": {"padding": -1}})

    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "salesOrderNumbering", "padding"], "INVALID")
    ]
    assert (await settings(org))["salesOrderNumbering"] == DEFAULT_SALES_ORDER_NUMBERING


async def test_prefix_longer_than_twenty_is_invalid_and_changes_nothing(
    org: Organization,
) -> None:
    before = await settings(org)

    payload = await org.api.mutate(UPDATE_SETTINGS, {"salesOrderNumbering": {"prefix": "P" * 21}})

    assert payload["settings"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "salesOrderNumbering", "prefix"], "INVALID")
    ]
    assert await settings(org) == before


async def test_prefix_of_twenty_characters_is_accepted(org: Organization) -> None:
    updated = await update_numbering(org, prefix="P" * 20)

    assert updated["salesOrderNumbering"]["prefix"] == "P" * 20
    assert await create_number(org) == "P" * 20 + "00001"


async def test_one_invalid_field_rejects_the_whole_update(org: Organization) -> None:
    # Given valid changes mixed with invalid ones, in both numberings and the closing rule
    before = await settings(org)

    payload = await org.api.mutate(
        UPDATE_SETTINGS,
        {
            "salesOrderNumbering": {"prefix": "NEW-", "nextNumber": 50, "padding": 13},
            "invoiceNumbering": {"prefix": "I" * 21, "mode": "MANUAL"},
            "closeSalesOrderWhen": "SHIPPED",
        },
    )

    # Then every problem is reported at its own field
    assert payload["settings"] is None
    assert sorted((e["field"], e["code"]) for e in payload["errors"]) == [
        (["input", "invoiceNumbering", "prefix"], "INVALID"),
        (["input", "salesOrderNumbering", "padding"], "INVALID"),
    ]
    # And nothing changed, not even the valid parts
    assert await settings(org) == before
    assert await create_number(org) == "SO-00001"


async def test_update_settings_without_settings_scope_is_forbidden(
    org: Organization, make_client: MakeClient
) -> None:
    # Given a token that can read and write orders, but not settings
    client = await make_client(org, Scope.ORDERS_READ, Scope.ORDERS_WRITE)
    before = await settings(org)

    # When it tries to change the numbering
    body = await client.execute(
        UPDATE_SETTINGS, {"input": {"salesOrderNumbering": {"nextNumber": 100}}}
    )

    # Then it gets a FORBIDDEN GraphQL error and nothing changes
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert body["data"] is None
    assert await settings(org) == before
    assert await create_number(org) == "SO-00001"


async def test_settings_scope_alone_may_update_settings(
    org: Organization, make_client: MakeClient
) -> None:
    client = await make_client(org, Scope.SETTINGS_WRITE)

    payload = await client.ok(UPDATE_SETTINGS, {"salesOrderNumbering": {"nextNumber": 100}})

    assert payload["settings"]["salesOrderNumbering"]["nextNumber"] == 100
    assert await create_number(org) == "SO-00100"


# --- explicit numbers in AUTO mode ----------------------------------------------------------


async def test_explicit_number_in_auto_mode_is_kept_and_does_not_move_the_counter(
    org: Organization,
) -> None:
    # When an order is created with an explicit number in AUTO mode
    explicit = await create_number(org, number="WEB-777")

    # Then it keeps that number and the counter does not move
    assert explicit == "WEB-777"
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 1
    assert await create_number(org) == "SO-00001"


async def test_auto_skips_numbers_taken_by_hand(org: Organization) -> None:
    # Given SO-00002 taken by hand before any automatic number
    assert await create_number(org, number="SO-00002") == "SO-00002"

    # When orders are created automatically
    numbers = [await create_number(org) for _ in range(3)]

    # Then SO-00002 is skipped
    assert numbers == ["SO-00001", "SO-00003", "SO-00004"]
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 5


async def test_auto_skips_numbers_taken_by_hand_without_padding(org: Organization) -> None:
    # Given numbering without padding, and SO9 and SO10 taken by hand
    await update_numbering(org, prefix="SO", nextNumber=8, padding=0)
    for number in ("SO9", "SO10"):
        await create_number(org, number=number)

    # Then automatic numbers go around them
    assert [await create_number(org) for _ in range(2)] == ["SO8", "SO11"]


async def test_auto_skips_numbers_taken_by_hand_longer_than_the_padding(org: Organization) -> None:
    # Given SO-123456 taken by hand, and the counter there with a padding of 5
    await create_number(org, number="SO-123456")
    await update_numbering(org, nextNumber=123456)

    # Then the automatic number is the next one, not truncated
    assert await create_number(org) == "SO-123457"
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 123458


async def test_auto_skips_a_run_of_numbers_taken_by_hand(org: Organization) -> None:
    for number in ("SO-00001", "SO-00002", "SO-00003"):
        await create_number(org, number=number)

    assert await create_number(org) == "SO-00004"


async def test_lowering_next_number_never_reuses_a_number(org: Organization) -> None:
    # Given three automatic numbers
    for _ in range(3):
        await create_number(org)

    # When the counter is set back to 1
    await update_numbering(org, nextNumber=1)

    # Then the next order still gets a number never handed out before
    assert await create_number(org) == "SO-00004"
    assert await order_count(org) == 4


async def test_number_of_a_deleted_draft_is_not_handed_out_again(org: Organization) -> None:
    # Given SO-00001 created, then deleted while a draft
    first = await org.api.ok(CREATE_ORDER, await order_input(org))
    assert first["salesOrder"]["number"] == "SO-00001"
    deleted = await org.api.ok(DELETE_ORDER, {"id": first["salesOrder"]["id"]})
    assert deleted["deletedId"] == first["salesOrder"]["id"]

    # When another order is created
    # Then the counter has moved on: SO-00001 is never handed out twice
    assert await create_number(org) == "SO-00002"


# --- MANUAL mode ----------------------------------------------------------------------------


async def test_manual_mode_requires_a_number(org: Organization) -> None:
    # Given MANUAL numbering
    updated = await update_numbering(org, mode="MANUAL")
    assert updated["salesOrderNumbering"]["mode"] == "MANUAL"

    # When an order is created without a number
    payload = await org.api.mutate(CREATE_ORDER, await order_input(org))

    # Then it is refused at input.number and nothing is created
    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "REQUIRED")
    ]
    assert await order_count(org) == 0
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 1


async def test_manual_mode_rejects_an_explicit_null_number(org: Organization) -> None:
    await update_numbering(org, mode="MANUAL")

    payload = await org.api.mutate(CREATE_ORDER, await order_input(org, number=None))

    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "REQUIRED")
    ]
    assert await order_count(org) == 0


async def test_manual_mode_rejects_a_blank_number(org: Organization) -> None:
    await update_numbering(org, mode="MANUAL")

    payload = await org.api.mutate(CREATE_ORDER, await order_input(org, number="   "))

    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "REQUIRED")
    ]
    assert await order_count(org) == 0


async def test_manual_mode_keeps_the_given_number(org: Organization) -> None:
    await update_numbering(org, mode="MANUAL")

    assert await create_number(org, number="2024/0001") == "2024/0001"
    assert await create_number(org, number="SO-00001") == "SO-00001"
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 1


async def test_back_to_auto_continues_the_counter_and_skips_manual_numbers(
    org: Organization,
) -> None:
    # Given SO-00001 automatic, then SO-00002 given by hand in MANUAL mode
    assert await create_number(org) == "SO-00001"
    await update_numbering(org, mode="MANUAL")
    await create_number(org, number="SO-00002")

    # When numbering goes back to AUTO
    await update_numbering(org, mode="AUTO")

    # Then the counter continues, skipping the hand-given number
    assert await create_number(org) == "SO-00003"


# --- uniqueness -----------------------------------------------------------------------------


async def test_explicit_duplicate_of_an_automatic_number_is_refused(org: Organization) -> None:
    # Given SO-00001 handed out automatically
    await create_number(org)

    # When another order claims SO-00001 explicitly
    payload = await org.api.mutate(CREATE_ORDER, await order_input(org, number="SO-00001"))

    # Then DUPLICATE_NUMBER at input.number, and nothing is created
    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "DUPLICATE_NUMBER")
    ]
    assert await order_count(org) == 1


async def test_explicit_duplicate_of_an_explicit_number_is_refused(org: Organization) -> None:
    await create_number(org, number="WEB-1")

    payload = await org.api.mutate(CREATE_ORDER, await order_input(org, number="WEB-1"))

    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "DUPLICATE_NUMBER")
    ]
    assert await order_count(org) == 1
    # and the refused attempt did not move the counter
    assert await create_number(org) == "SO-00001"


async def test_duplicate_in_manual_mode_is_refused(org: Organization) -> None:
    await update_numbering(org, mode="MANUAL")
    await create_number(org, number="M-1")

    payload = await org.api.mutate(CREATE_ORDER, await order_input(org, number="M-1"))

    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "DUPLICATE_NUMBER")
    ]
    assert await order_count(org) == 1


async def test_concurrent_creations_with_the_same_explicit_number_create_one_order(
    org: Organization,
) -> None:
    input = await order_input(org, number="RACE-1")

    payloads = await asyncio.gather(*(org.api.mutate(CREATE_ORDER, input) for _ in range(5)))

    created = [p["salesOrder"]["number"] for p in payloads if p["salesOrder"] is not None]
    refused = [[(e["field"], e["code"]) for e in p["errors"]] for p in payloads if p["errors"]]
    assert created == ["RACE-1"]
    assert refused == [[(["input", "number"], "DUPLICATE_NUMBER")]] * 4
    assert await order_count(org) == 1


async def test_number_of_a_void_order_stays_taken(org: Organization) -> None:
    # Given SO-00001, voided
    first = await org.api.ok(CREATE_ORDER, await order_input(org))
    voided = await org.api.ok(VOID_ORDER, {"id": first["salesOrder"]["id"]})
    assert voided["salesOrder"]["status"] == "VOID"
    assert voided["salesOrder"]["number"] == "SO-00001"

    # When another order claims SO-00001 explicitly
    payload = await org.api.mutate(CREATE_ORDER, await order_input(org, number="SO-00001"))

    # Then the number is still taken
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "number"], "DUPLICATE_NUMBER")
    ]
    assert await order_count(org) == 1
    assert await create_number(org) == "SO-00002"


# --- tenancy --------------------------------------------------------------------------------


async def test_numbers_are_per_organization(org: Organization, other_org: Organization) -> None:
    # Given an order in one organization
    assert await create_number(org) == "SO-00001"

    # When another organization creates its first order
    # Then it gets SO-00001 too: counters are per organization
    assert await create_number(other_org) == "SO-00001"
    assert await create_number(org) == "SO-00002"
    assert await create_number(other_org) == "SO-00002"


async def test_same_explicit_number_is_allowed_in_two_organizations(
    org: Organization, other_org: Organization
) -> None:
    assert await create_number(org, number="WEB-1") == "WEB-1"

    assert await create_number(other_org, number="WEB-1") == "WEB-1"


async def test_settings_are_per_organization(org: Organization, other_org: Organization) -> None:
    await update_numbering(org, prefix="A-", nextNumber=10, mode="MANUAL")

    assert (await settings(other_org))["salesOrderNumbering"] == DEFAULT_SALES_ORDER_NUMBERING
    assert await create_number(other_org) == "SO-00001"


# --- concurrency ----------------------------------------------------------------------------


async def test_concurrent_creations_get_distinct_consecutive_numbers(org: Organization) -> None:
    # Given one valid order input
    input = await order_input(org)

    # When 30 orders are created at once over the same HTTP client
    payloads = await asyncio.gather(*(org.api.mutate(CREATE_ORDER, input) for _ in range(30)))

    # Then all succeed with 30 distinct numbers, exactly SO-00001..SO-00030
    assert [p["errors"] for p in payloads] == [[]] * 30
    numbers = sorted(p["salesOrder"]["number"] for p in payloads)
    assert numbers == [f"SO-{n:05d}" for n in range(1, 31)]
    assert await order_count(org) == 30
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 31


async def test_a_number_given_by_hand_after_the_counter_handed_it_out_is_skipped(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an automatic creation that has taken SO-00001 from the counter, and another request
    # that gives SO-00001 by hand before the first one writes its order
    auto, by_hand = await order_input(org), await order_input(org, number="SO-00001")
    taken_by_hand: list[str] = []

    async def counter_then_a_hand(*args: Any) -> str:
        number = await take_next_number(*args)
        if not taken_by_hand:
            taken_by_hand.append(await create_number(org, **by_hand))
        return number

    monkeypatch.setattr(lifecycle, "take_next_number", counter_then_a_hand)

    # When the automatic creation writes its order
    payload = await org.api.ok(CREATE_ORDER, auto)

    # Then the unique number is kept by the hand, and the automatic order takes the next one
    assert taken_by_hand == ["SO-00001"]
    assert payload["salesOrder"]["number"] == "SO-00002"
    assert await order_count(org) == 2
    assert (await settings(org))["salesOrderNumbering"]["nextNumber"] == 3


async def test_a_creation_that_fails_after_taking_its_number_leaves_a_gap_never_a_repeat(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a creation that fails (a server error) once its order row is written
    input = await order_input(org)

    async def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(lifecycle, "record_event", failing)
    body = await org.api.execute(CREATE_ORDER, {"input": input})
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    monkeypatch.undo()

    # Then nothing of it remains, its number is not handed out again: the next order skips it
    assert await order_count(org) == 0
    assert await create_number(org) == "SO-00002"


async def test_a_refused_order_row_whose_number_is_free_is_a_server_error_not_a_duplicate(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a creation whose customer vanished before its order row was written (the row then
    # breaks a foreign key: a constraint, but not the number's)
    input = await order_input(org)
    vanished = Customer(id=10**12, organization_id=org.id, name="Gone", currency="EUR")

    async def vanished_customer(*args: Any) -> Customer:
        return vanished

    monkeypatch.setattr(lifecycle, "get_customer", vanished_customer)

    # When it is created
    body = await org.api.execute(CREATE_ORDER, {"input": input})

    # Then it fails as the server error it is, not as "number SO-00001 is already used"
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert body["data"] is None
    assert await order_count(org) == 0


async def test_concurrent_automatic_and_explicit_numbers_never_collide(org: Organization) -> None:
    # Given explicit claims on SO-00003 and SO-00005 racing with 10 automatic creations
    auto = await order_input(org)
    claims = ["SO-00003", "SO-00005"]
    inputs = [auto] * 10 + [await order_input(org, number=number) for number in claims]

    payloads = await asyncio.gather(*(org.api.mutate(CREATE_ORDER, i) for i in inputs))

    # Then every automatic creation succeeds
    assert [p["errors"] for p in payloads[:10]] == [[]] * 10
    # And each claim either gets its number or, if the counter got there first, is refused
    for claim, payload in zip(claims, payloads[10:], strict=True):
        if payload["salesOrder"] is not None:
            assert payload["salesOrder"]["number"] == claim
        else:
            assert [(e["field"], e["code"]) for e in payload["errors"]] == [
                (["input", "number"], "DUPLICATE_NUMBER")
            ]
    # And no number was ever given to two orders
    numbers = [p["salesOrder"]["number"] for p in payloads if p["salesOrder"] is not None]
    assert len(set(numbers)) == len(numbers)
    assert await order_count(org) == len(numbers)
