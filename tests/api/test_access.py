"""SPEC §1 "Tenancy and access": bearer tokens, scopes, revocation, isolation and the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from gqlorders.api.ids import encode_id
from gqlorders.models import ApiToken
from gqlorders.tenancy import Scope, create_token, hash_token, revoke_token
from tests.support import (
    CREATE_CUSTOMER,
    CREATE_ITEM,
    CREATE_TAX,
    GraphQLClient,
    MakeClient,
    Organization,
)

PROJECT = Path(__file__).resolve().parents[2]
GQLORDERS = PROJECT / ".venv" / "bin" / "gqlorders"

WAREHOUSES = "query { warehouses { name } }"

CUSTOMERS = "query { customers { totalCount edges { node { id name } } } }"

ITEMS = "query { items { totalCount edges { node { id sku } } } }"

ORDER_STATE = """
query($id: ID!) { salesOrder(id: $id) { id number status notes referenceNumber } }"""

ORDER_NUMBERS = "query { salesOrders { totalCount edges { node { id number } } } }"

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"

CREATE_WAREHOUSE = """
mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { warehouse { id name isPrimary } errors { field code } }
}"""

UPDATE_ORDER = """
mutation($input: UpdateSalesOrderInput!) {
  updateSalesOrder(input: $input) { salesOrder { id notes } errors { field code message } }
}"""

CONFIRM_ORDER = """
mutation($input: SalesOrderIdInput!) {
  confirmSalesOrder(input: $input) { salesOrder { id status } errors { field code message } }
}"""

VOID_ORDER = """
mutation($input: SalesOrderIdInput!) {
  voidSalesOrder(input: $input) { salesOrder { id status } errors { field code message } }
}"""


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def draft_order(org: Organization, **fields: Any) -> dict[str, Any]:
    customer = await org.customer()
    item = await org.item("WIDGET", "10")
    return await org.order(customer, [{"itemId": item, "quantity": "1"}], **fields)


# --- authentication -------------------------------------------------------------------------


async def test_a_request_without_a_token_is_unauthenticated(http: httpx.AsyncClient) -> None:
    anonymous = GraphQLClient(http, None)

    body = await anonymous.execute(ORDER_STATE, {"id": encode_id("SalesOrder", 1)})

    # HTTP 200 (checked by the client), a GraphQL error, and no data for the field
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["path"] == ["salesOrder"]
    assert body["data"] == {"salesOrder": None}


async def test_an_unknown_token_is_unauthenticated(http: httpx.AsyncClient) -> None:
    stranger = GraphQLClient(http, "gqo_" + "x" * 43)

    body = await stranger.execute(WAREHOUSES)

    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_a_malformed_authorization_header_is_unauthenticated(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql", json={"query": WAREHOUSES}, headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )

    assert response.status_code == 200
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_a_revoked_token_is_refused_at_once(org: Organization) -> None:
    # Given a token that has just been used successfully
    assert (await org.api.data(WAREHOUSES))["warehouses"] == [{"name": "Primary warehouse"}]
    assert org.api.token is not None
    token = await ApiToken.get(token_hash=hash_token(org.api.token))

    # When it is revoked
    assert await revoke_token(token.id) is True

    # Then the very next request with it is refused
    body = await org.api.execute(WAREHOUSES)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_revoking_one_token_leaves_the_others_working(
    org: Organization, make_client: MakeClient
) -> None:
    reader = await make_client(org, Scope.ORDERS_READ)
    assert reader.token is not None
    token = await ApiToken.get(token_hash=hash_token(reader.token))

    await revoke_token(token.id)

    assert error_codes(await reader.execute(WAREHOUSES)) == ["UNAUTHENTICATED"]
    assert (await org.api.data(WAREHOUSES))["warehouses"] == [{"name": "Primary warehouse"}]


async def test_tokens_are_stored_hashed(org: Organization) -> None:
    secret = await create_token(org.id, frozenset({Scope.ORDERS_READ}), name="hashed")

    row = await ApiToken.get(token_hash=hash_token(secret))

    assert row.token_hash != secret
    assert secret not in row.token_hash
    assert not await ApiToken.filter(token_hash=secret).exists()
    assert row.scopes == "orders:read"


# --- scopes ---------------------------------------------------------------------------------


async def test_a_read_only_token_cannot_create_a_customer(
    org: Organization, make_client: MakeClient
) -> None:
    reader = await make_client(org, Scope.ORDERS_READ)

    body = await reader.execute(CREATE_CUSTOMER, {"input": {"name": "Sneaky"}})

    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["createCustomer"]
    assert body["data"] is None
    # and nothing was written
    assert (await org.api.data(CUSTOMERS))["customers"]["totalCount"] == 0


async def test_a_read_only_token_can_read(org: Organization, make_client: MakeClient) -> None:
    await org.customer(name="Acme")
    reader = await make_client(org, Scope.ORDERS_READ)

    data = await reader.data(CUSTOMERS)

    assert data["customers"]["totalCount"] == 1
    assert [edge["node"]["name"] for edge in data["customers"]["edges"]] == ["Acme"]


async def test_creating_items_needs_inventory_write(
    org: Organization, make_client: MakeClient
) -> None:
    writer = await make_client(org, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.SETTINGS_WRITE)
    stock_keeper = await make_client(org, Scope.INVENTORY_WRITE)
    item = {"sku": "BOLT", "name": "Bolt", "kind": "GOODS", "rate": "1.50"}

    refused = await writer.execute(CREATE_ITEM, {"input": item})
    created = await stock_keeper.mutate(CREATE_ITEM, item)

    assert error_codes(refused) == ["FORBIDDEN"]
    assert created["errors"] == []
    assert created["item"]["sku"] == "BOLT"
    assert (await org.api.data(ITEMS))["items"]["totalCount"] == 1


async def test_creating_warehouses_needs_inventory_write(
    org: Organization, make_client: MakeClient
) -> None:
    writer = await make_client(org, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.SETTINGS_WRITE)
    stock_keeper = await make_client(org, Scope.INVENTORY_WRITE)

    refused = await writer.execute(CREATE_WAREHOUSE, {"input": {"name": "Annex"}})
    created = await stock_keeper.mutate(CREATE_WAREHOUSE, {"name": "Annex"})

    assert error_codes(refused) == ["FORBIDDEN"]
    assert created["errors"] == []
    assert created["warehouse"]["name"] == "Annex"
    assert (await org.api.data(WAREHOUSES))["warehouses"] == [
        {"name": "Primary warehouse"},
        {"name": "Annex"},
    ]


async def test_creating_taxes_needs_settings_write(
    org: Organization, make_client: MakeClient
) -> None:
    writer = await make_client(org, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.INVENTORY_WRITE)
    admin = await make_client(org, Scope.SETTINGS_WRITE)

    refused = await writer.execute(CREATE_TAX, {"input": {"name": "VAT", "percentage": "20"}})
    created = await admin.mutate(CREATE_TAX, {"name": "VAT", "percentage": "20"})

    assert error_codes(refused) == ["FORBIDDEN"]
    assert created["errors"] == []
    assert created["tax"]["name"] == "VAT"


async def test_a_token_without_orders_read_cannot_read(
    org: Organization, make_client: MakeClient
) -> None:
    stock_keeper = await make_client(org, Scope.INVENTORY_WRITE)

    body = await stock_keeper.execute(CUSTOMERS)

    assert error_codes(body) == ["FORBIDDEN"]


# --- isolation between organizations --------------------------------------------------------


async def test_another_organizations_order_cannot_be_read(
    org: Organization, other_org: Organization
) -> None:
    theirs = await draft_order(other_org)

    data = await org.api.data(ORDER_STATE, {"id": theirs["id"]})

    assert data == {"salesOrder": None}


async def test_another_organizations_order_is_not_a_node(
    org: Organization, other_org: Organization
) -> None:
    theirs = await draft_order(other_org)

    data = await org.api.data(NODE, {"id": theirs["id"]})

    assert data == {"node": None}
    # while its own organization does see it
    assert (await other_org.api.data(NODE, {"id": theirs["id"]}))["node"] == {
        "__typename": "SalesOrder",
        "id": theirs["id"],
    }


async def test_another_organizations_order_cannot_be_updated(
    org: Organization, other_org: Organization
) -> None:
    theirs = await draft_order(other_org, notes="Original notes")

    payload = await org.api.mutate(UPDATE_ORDER, {"id": theirs["id"], "notes": "Hijacked"})

    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["input", "id"], "NOT_FOUND")]
    after = (await other_org.api.data(ORDER_STATE, {"id": theirs["id"]}))["salesOrder"]
    assert after["notes"] == "Original notes"
    assert after["status"] == "DRAFT"


async def test_another_organizations_order_cannot_be_confirmed(
    org: Organization, other_org: Organization
) -> None:
    theirs = await draft_order(other_org)

    payload = await org.api.mutate(CONFIRM_ORDER, {"id": theirs["id"]})

    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["input", "id"], "NOT_FOUND")]
    after = (await other_org.api.data(ORDER_STATE, {"id": theirs["id"]}))["salesOrder"]
    assert after["status"] == "DRAFT"


async def test_another_organizations_order_cannot_be_voided(
    org: Organization, other_org: Organization
) -> None:
    theirs = await draft_order(other_org)

    payload = await org.api.mutate(VOID_ORDER, {"id": theirs["id"]})

    assert payload["salesOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["input", "id"], "NOT_FOUND")]
    after = (await other_org.api.data(ORDER_STATE, {"id": theirs["id"]}))["salesOrder"]
    assert after["status"] == "DRAFT"


async def test_a_missing_order_and_another_organizations_order_look_the_same(
    org: Organization, other_org: Organization
) -> None:
    theirs = await draft_order(other_org)
    never_created = encode_id("SalesOrder", 2**62)

    foreign = await org.api.mutate(CONFIRM_ORDER, {"id": theirs["id"]})
    missing = await org.api.mutate(CONFIRM_ORDER, {"id": never_created})

    assert foreign["errors"][0]["code"] == missing["errors"][0]["code"] == "NOT_FOUND"
    assert foreign["errors"][0]["message"] == missing["errors"][0]["message"]


async def test_lists_never_show_another_organizations_records(
    org: Organization, other_org: Organization
) -> None:
    # Given both organizations have a customer, an item and an order
    for each in (other_org, org):
        customer = await each.customer(name=f"Customer of {each.id}")
        item = await each.item(f"SKU-{each.id}", "10")
        each.cache["order"] = await each.order(customer, [{"itemId": item, "quantity": "1"}])
        each.cache["ids"] = (customer, item)

    # When the first lists its orders, customers and items
    orders = (await org.api.data(ORDER_NUMBERS))["salesOrders"]
    customers = (await org.api.data(CUSTOMERS))["customers"]
    items = (await org.api.data(ITEMS))["items"]

    # Then only its own records appear, and the counts agree
    my_customer, my_item = org.cache["ids"]
    assert orders["totalCount"] == 1
    assert [edge["node"]["id"] for edge in orders["edges"]] == [org.cache["order"]["id"]]
    assert customers["totalCount"] == 1
    assert [edge["node"]["id"] for edge in customers["edges"]] == [my_customer]
    assert items["totalCount"] == 1
    assert [edge["node"]["id"] for edge in items["edges"]] == [my_item]


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose DATABASE_URL is a fresh, migrated SQLite file."""
    data_dir = tmp_path_factory.mktemp("cli")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{data_dir / 'cli.sqlite3'}",
        "DATA_DIR": str(data_dir),
    }
    env.pop("REDIS_URL", None)
    result = gqlorders(env, "migrate")
    assert result.returncode == 0, result.stderr
    return env


def gqlorders(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GQLORDERS), *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli_database(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite://"))


def test_cli_org_create_prints_one_json_line(cli_env: dict[str, str]) -> None:
    result = gqlorders(cli_env, "org", "create", "Cli Co")

    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert set(printed) == {"organization_id", "token"}
    assert isinstance(printed["organization_id"], int)
    assert isinstance(printed["token"], str) and printed["token"]
    # the organization has its primary warehouse, and the token every scope, stored hashed
    with cli_database(cli_env) as db:
        warehouses = db.execute(
            "SELECT name, is_primary FROM warehouse WHERE organization_id = ?",
            (printed["organization_id"],),
        ).fetchall()
        tokens = db.execute(
            "SELECT token_hash, scopes FROM api_token WHERE organization_id = ?",
            (printed["organization_id"],),
        ).fetchall()
    assert warehouses == [("Primary warehouse", 1)]
    assert len(tokens) == 1
    token_hash, scopes = tokens[0]
    assert token_hash == hash_token(printed["token"]) != printed["token"]
    assert set(scopes.split(",")) == {scope.value for scope in Scope}


def test_cli_token_create_prints_a_token_with_the_given_scopes(cli_env: dict[str, str]) -> None:
    organization_id = json.loads(gqlorders(cli_env, "org", "create", "Token Co").stdout)[
        "organization_id"
    ]

    result = gqlorders(
        cli_env, "token", "create", "--org", str(organization_id), "--scopes", "orders:read"
    )

    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert set(printed) == {"token"}
    with cli_database(cli_env) as db:
        (scopes,) = db.execute(
            "SELECT scopes FROM api_token WHERE token_hash = ?", (hash_token(printed["token"]),)
        ).fetchone()
    assert scopes == "orders:read"


def test_cli_token_create_refuses_an_unknown_scope(cli_env: dict[str, str]) -> None:
    organization_id = json.loads(gqlorders(cli_env, "org", "create", "Scope Co").stdout)[
        "organization_id"
    ]

    result = gqlorders(
        cli_env, "token", "create", "--org", str(organization_id), "--scopes", "orders:admin"
    )

    assert result.returncode != 0
    assert result.stdout == ""
    assert "orders:admin" in result.stderr
    with cli_database(cli_env) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM api_token WHERE organization_id = ?", (organization_id,)
        ).fetchone()
    assert count == 1  # only the token `org create` issued


UPDATE_CUSTOMER_WITH_ORDERS = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { name salesOrders { totalCount } } }
}"""


async def test_a_write_only_token_cannot_list_orders_through_a_customer(
    org: Organization, make_client: MakeClient
) -> None:
    # Given a customer with an order, and a token that may write orders but not read them
    customer = await org.customer(name="Acme")
    await org.order(customer, [{"itemId": await org.item("BOLT", "1.50"), "quantity": "2"}])
    writer = await make_client(org, Scope.ORDERS_WRITE)

    # When it updates the customer and asks for the customer's orders in the result
    body = await writer.execute(
        UPDATE_CUSTOMER_WITH_ORDERS, {"input": {"id": customer, "phone": "+33 1 23 45 67 89"}}
    )

    # Then the orders are refused (the update itself went through)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["updateCustomer", "customer", "salesOrders"]
