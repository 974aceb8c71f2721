"""SPEC §2 "Master data": customers, items, warehouses and taxes, and `node(id:)` for each."""

from __future__ import annotations

from typing import Any

from tests.support import Organization

CUSTOMER_FIELDS = """
  id name email phone currency
  paymentTerms { days label }
  billingAddress { attention street1 street2 city state zip country }
  shippingAddress { attention street1 street2 city state zip country }
"""

CREATE_CUSTOMER = f"""
mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} errors {{ field code }} }}
}}"""

UPDATE_CUSTOMER = f"""
mutation($input: UpdateCustomerInput!) {{
  updateCustomer(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} errors {{ field code }} }}
}}"""

CUSTOMER = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Customer {{ {CUSTOMER_FIELDS} }} }} }}"""

CREATE_ITEM = """
mutation($input: CreateItemInput!) {
  createItem(input: $input) {
    item { id sku name kind rate unit reorderLevel tax { id name percentage } }
    errors { field code }
  }
}"""

CREATE_WAREHOUSE = """
mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { warehouse { id name isPrimary } errors { field code } }
}"""

WAREHOUSES = "query { warehouses { id name isPrimary } }"

TAXES = "query { taxes { id name percentage } }"

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Customer { name }
    ... on Item { sku }
    ... on Tax { name percentage }
    ... on Warehouse { name isPrimary }
  }
}"""

ADDRESS = {
    "attention": "Receiving",
    "street1": "1 Harbour Road",
    "street2": None,
    "city": "Rotterdam",
    "state": None,
    "zip": "3011",
    "country": "NL",
}


async def create_customer(org: Organization, **fields: Any) -> dict[str, Any]:
    return (await org.api.ok(CREATE_CUSTOMER, {"name": "Acme", **fields}))["customer"]


# --- customers ------------------------------------------------------------------------------


async def test_payment_terms_get_a_net_label(org: Organization) -> None:
    customer = await create_customer(org, paymentTerms={"days": 30})

    assert customer["paymentTerms"] == {"days": 30, "label": "Net 30"}


async def test_a_given_payment_terms_label_is_kept(org: Organization) -> None:
    customer = await create_customer(org, paymentTerms={"days": 45, "label": "45 days EOM"})

    assert customer["paymentTerms"] == {"days": 45, "label": "45 days EOM"}


async def test_currency_defaults_to_the_organizations(org: Organization) -> None:
    customer = await create_customer(org)

    assert customer["currency"] == "EUR"


async def test_a_customer_may_have_its_own_currency(org: Organization) -> None:
    customer = await create_customer(org, currency="usd")

    assert customer["currency"] == "USD"


async def test_a_new_customer_has_every_given_field(org: Organization) -> None:
    customer = await create_customer(
        org,
        name="  Acme Trading  ",
        email="buyer@acme.example",
        phone="+31 10 123 4567",
        billingAddress=ADDRESS,
    )

    assert customer == {
        "id": customer["id"],
        "name": "Acme Trading",
        "email": "buyer@acme.example",
        "phone": "+31 10 123 4567",
        "currency": "EUR",
        "paymentTerms": None,
        "billingAddress": ADDRESS,
        "shippingAddress": None,
    }


async def test_update_changes_only_the_given_fields(org: Organization) -> None:
    # Given a customer with a name, e-mail, phone, terms and address
    customer = await create_customer(
        org,
        email="buyer@acme.example",
        phone="555-0100",
        paymentTerms={"days": 30},
        billingAddress=ADDRESS,
    )

    # When only its phone changes
    payload = await org.api.ok(UPDATE_CUSTOMER, {"id": customer["id"], "phone": "555-0199"})

    # Then everything else is as it was, in the answer and when read again
    expected = {**customer, "phone": "555-0199"}
    assert payload["customer"] == expected
    assert (await org.api.data(CUSTOMER, {"id": customer["id"]}))["node"] == expected


async def test_update_with_an_explicit_null_clears_the_email(org: Organization) -> None:
    customer = await create_customer(org, email="buyer@acme.example", phone="555-0100")

    payload = await org.api.ok(UPDATE_CUSTOMER, {"id": customer["id"], "email": None})

    assert payload["customer"]["email"] is None
    assert payload["customer"]["phone"] == "555-0100"
    assert (await org.api.data(CUSTOMER, {"id": customer["id"]}))["node"]["email"] is None


async def test_update_cannot_clear_the_name(org: Organization) -> None:
    customer = await create_customer(org, name="Acme")

    payload = await org.api.mutate(UPDATE_CUSTOMER, {"id": customer["id"], "name": None})

    assert payload == {
        "customer": None,
        "errors": [{"field": ["input", "name"], "code": "REQUIRED"}],
    }
    assert (await org.api.data(CUSTOMER, {"id": customer["id"]}))["node"]["name"] == "Acme"


async def test_a_blank_customer_name_is_required(org: Organization) -> None:
    payload = await org.api.mutate(CREATE_CUSTOMER, {"name": "   "})

    assert payload == {
        "customer": None,
        "errors": [{"field": ["input", "name"], "code": "REQUIRED"}],
    }


async def test_an_invalid_email_and_currency_are_each_reported(org: Organization) -> None:
    payload = await org.api.mutate(
        CREATE_CUSTOMER, {"name": "Acme", "email": "not-an-email", "currency": "EURO"}
    )

    assert payload["customer"] is None
    assert sorted((tuple(e["field"]), e["code"]) for e in payload["errors"]) == [
        (("input", "currency"), "INVALID"),
        (("input", "email"), "INVALID"),
    ]


async def test_a_nul_character_in_a_name_is_answered_with_a_user_error_or_kept(
    org: Organization,
) -> None:
    # SPEC §10: whatever the database can store, the client gets an answer, never a failure
    body = await org.api.execute(CREATE_CUSTOMER, {"input": {"name": "Acme\u0000Evil"}})

    assert "errors" not in body, body["errors"]
    payload = body["data"]["createCustomer"]
    if payload["customer"] is not None:
        assert payload["customer"]["name"] == "Acme\u0000Evil"
    else:
        assert [error["field"] for error in payload["errors"]] == [["input", "name"]]


async def test_another_organizations_customer_cannot_be_updated(
    org: Organization, other_org: Organization
) -> None:
    theirs = await create_customer(other_org, name="Theirs")

    payload = await org.api.mutate(UPDATE_CUSTOMER, {"id": theirs["id"], "name": "Mine now"})

    assert payload == {
        "customer": None,
        "errors": [{"field": ["input", "id"], "code": "NOT_FOUND"}],
    }
    assert (await other_org.api.data(CUSTOMER, {"id": theirs["id"]}))["node"]["name"] == "Theirs"


# --- items ----------------------------------------------------------------------------------


async def test_create_goods_with_a_default_tax(org: Organization) -> None:
    vat = await org.tax("VAT 20%", "20")

    payload = await org.api.ok(
        CREATE_ITEM,
        {
            "sku": "CHAIR-01",
            "name": "Office chair",
            "kind": "GOODS",
            "rate": "89.90",
            "unit": "pcs",
            "taxId": vat,
            "reorderLevel": "5.00",
        },
    )

    item = payload["item"]
    assert item == {
        "id": item["id"],
        "sku": "CHAIR-01",
        "name": "Office chair",
        "kind": "GOODS",
        "rate": "89.90",
        "unit": "pcs",
        "reorderLevel": "5.00",
        "tax": {"id": vat, "name": "VAT 20%", "percentage": "20.00"},
    }


async def test_create_a_service_without_tax(org: Organization) -> None:
    payload = await org.api.ok(
        CREATE_ITEM, {"sku": "SETUP", "name": "Installation", "kind": "SERVICE", "rate": "65"}
    )

    item = payload["item"]
    assert (item["kind"], item["rate"], item["unit"], item["reorderLevel"], item["tax"]) == (
        "SERVICE",
        "65.00",
        None,
        None,
        None,
    )


async def test_a_sku_is_unique_in_the_organization(
    org: Organization, other_org: Organization
) -> None:
    await org.item("CHAIR-01", "10")
    await other_org.item("CHAIR-01", "10")  # another organization may use the same SKU

    payload = await org.api.mutate(
        CREATE_ITEM, {"sku": "CHAIR-01", "name": "Again", "kind": "GOODS", "rate": "12"}
    )

    assert payload == {
        "item": None,
        "errors": [{"field": ["input", "sku"], "code": "DUPLICATE_SKU"}],
    }


async def test_an_item_cannot_use_another_organizations_tax(
    org: Organization, other_org: Organization
) -> None:
    their_tax = await other_org.tax("VAT 20%", "20")

    payload = await org.api.mutate(
        CREATE_ITEM,
        {"sku": "CHAIR", "name": "Chair", "kind": "GOODS", "rate": "10", "taxId": their_tax},
    )

    assert payload == {
        "item": None,
        "errors": [{"field": ["input", "taxId"], "code": "NOT_FOUND"}],
    }


# --- warehouses and taxes -------------------------------------------------------------------


async def test_a_new_organization_has_its_primary_warehouse(org: Organization) -> None:
    warehouses = (await org.api.data(WAREHOUSES))["warehouses"]

    assert [(w["name"], w["isPrimary"]) for w in warehouses] == [("Primary warehouse", True)]


async def test_a_created_warehouse_is_not_primary_and_lists_after_the_primary(
    org: Organization,
) -> None:
    payload = await org.api.ok(CREATE_WAREHOUSE, {"name": "Annex"})

    warehouses = (await org.api.data(WAREHOUSES))["warehouses"]

    assert payload["warehouse"]["isPrimary"] is False
    assert [(w["name"], w["isPrimary"]) for w in warehouses] == [
        ("Primary warehouse", True),
        ("Annex", False),
    ]
    assert warehouses[1]["id"] == payload["warehouse"]["id"]


async def test_the_primary_warehouse_lists_first_whatever_the_names(org: Organization) -> None:
    await org.api.ok(CREATE_WAREHOUSE, {"name": "Zeta depot"})
    await org.api.ok(CREATE_WAREHOUSE, {"name": "Alpha depot"})

    warehouses = (await org.api.data(WAREHOUSES))["warehouses"]

    assert warehouses[0]["name"] == "Primary warehouse"
    assert [w["isPrimary"] for w in warehouses] == [True, False, False]
    assert {w["name"] for w in warehouses[1:]} == {"Zeta depot", "Alpha depot"}


async def test_taxes_lists_the_created_taxes(org: Organization, other_org: Organization) -> None:
    standard = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    await other_org.tax("GST 10%", "10")

    taxes = (await org.api.data(TAXES))["taxes"]

    assert taxes == [
        {"id": standard, "name": "VAT 20%", "percentage": "20.00"},
        {"id": reduced, "name": "VAT 5.5%", "percentage": "5.50"},
    ]


async def test_a_tax_percentage_is_at_most_100(org: Organization) -> None:
    payload = await org.api.mutate(
        """
        mutation($input: CreateTaxInput!) {
          createTax(input: $input) { tax { id } errors { field code } }
        }""",
        {"name": "Too much", "percentage": "100.5"},
    )

    assert payload == {
        "tax": None,
        "errors": [{"field": ["input", "percentage"], "code": "INVALID"}],
    }


# --- node(id:) ------------------------------------------------------------------------------


async def test_node_resolves_a_customer(org: Organization) -> None:
    customer = await org.customer(name="Acme")

    node = (await org.api.data(NODE, {"id": customer}))["node"]

    assert node == {"__typename": "Customer", "id": customer, "name": "Acme"}


async def test_node_resolves_an_item(org: Organization) -> None:
    item = await org.item("CHAIR-01", "10")

    node = (await org.api.data(NODE, {"id": item}))["node"]

    assert node == {"__typename": "Item", "id": item, "sku": "CHAIR-01"}


async def test_node_resolves_a_tax(org: Organization) -> None:
    tax = await org.tax("VAT 20%", "20")

    node = (await org.api.data(NODE, {"id": tax}))["node"]

    assert node == {"__typename": "Tax", "id": tax, "name": "VAT 20%", "percentage": "20.00"}


async def test_node_resolves_a_warehouse(org: Organization) -> None:
    (primary,) = (await org.api.data(WAREHOUSES))["warehouses"]

    node = (await org.api.data(NODE, {"id": primary["id"]}))["node"]

    assert node == {
        "__typename": "Warehouse",
        "id": primary["id"],
        "name": "Primary warehouse",
        "isPrimary": True,
    }


async def test_ids_are_unique_across_types(org: Organization) -> None:
    ids = [
        await org.customer(),
        await org.item("CHAIR-01", "10"),
        await org.tax("VAT 20%", "20"),
        (await org.api.data(WAREHOUSES))["warehouses"][0]["id"],
    ]

    assert len(set(ids)) == 4
    typenames = [(await org.api.data(NODE, {"id": id}))["node"]["__typename"] for id in ids]
    assert typenames == ["Customer", "Item", "Tax", "Warehouse"]


async def test_node_of_another_organizations_records_is_null(
    org: Organization, other_org: Organization
) -> None:
    ids = [
        await other_org.customer(),
        await other_org.item("CHAIR-01", "10"),
        await other_org.tax("VAT 20%", "20"),
        (await other_org.api.data(WAREHOUSES))["warehouses"][0]["id"],
    ]

    nodes = [(await org.api.data(NODE, {"id": id}))["node"] for id in ids]

    assert nodes == [None, None, None, None]


async def test_node_of_a_malformed_id_is_null(org: Organization) -> None:
    data = await org.api.data(NODE, {"id": "definitely not an id"})

    assert data == {"node": None}
