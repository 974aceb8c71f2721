"""SPEC §9: signed webhooks (connectMarketplace, POST /webhooks/<key>, the inbox, retries) and the
`gqlorders import` command for sync jobs.

A verified delivery is answered 202, stored as an InboxMessage and imported by a background job
(the tests wait for it with the runner's `drain()`); anything unsigned, wrongly signed or
tampered with is answered 401 and stored nowhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gqlorders import jobs
from gqlorders.models import InboxMessage, SalesOrder
from tests.fulfilment.documents import errors_of
from tests.marketplaces.test_import import (
    IPODS,
    REPO_ROOT,
    WOO_SKUS,
    counts,
    create_items,
    shopify_rest,
    woo_order,
)
from tests.support import Organization

SECRET = "whsec-7f3a9c2e"

CONNECT = """
mutation($input: ConnectMarketplaceInput!) {
  connectMarketplace(input: $input) {
    connection { id marketplace webhookUrl } errors { field code message }
  }
}"""

INBOX_FIELDS = """
  id marketplace state error attempts receivedAt
  salesOrder {
    id status total customer { name email } lines { quantity item { sku } }
    source { channel marketplace externalId }
  }
"""

INBOX = f"""
query($state: InboxState) {{ marketplaceInbox(state: $state) {{ {INBOX_FIELDS} }} }}"""

RETRY = f"""
mutation($input: InboxMessageIdInput!) {{
  retryInboxMessage(input: $input) {{
    message {{ {INBOX_FIELDS} }} errors {{ field code message }}
  }}
}}"""


@dataclass(frozen=True)
class Marketplace:
    name: str
    header: str
    body: Callable[[], dict[str, Any]]  # the order as the webhook sends it
    skus: tuple[str, ...]
    external_id: str
    customer: dict[str, str]
    total: str


SHOPIFY = Marketplace(
    name="shopify",
    header="X-Shopify-Hmac-Sha256",
    body=lambda: shopify_rest()["order"],  # orders/create: the order without the wrapper
    skus=tuple(IPODS),
    external_id="450789469",
    customer={"name": "Bob Norman", "email": "bob.norman@mail.example.com"},
    total="622.22",
)
WOOCOMMERCE = Marketplace(
    name="woocommerce",
    header="X-WC-Webhook-Signature",
    body=woo_order,
    skus=tuple(WOO_SKUS),
    external_id="727",
    customer={"name": "John Doe", "email": "john.doe@example.com"},
    total="29.35",
)
SIGNED = [SHOPIFY, WOOCOMMERCE]


def sign(body: bytes, secret: str = SECRET) -> str:
    """base64(HMAC-SHA256(secret, raw body)): Shopify's and WooCommerce's scheme alike."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def raw(marketplace: Marketplace) -> bytes:
    return json.dumps(marketplace.body()).encode()


async def connect(org: Organization, marketplace: str, secret: str = SECRET) -> str:
    """The webhook URL of a new connection."""
    payload = await org.api.ok(CONNECT, {"marketplace": marketplace, "webhookSecret": secret})
    return payload["connection"]["webhookUrl"]


async def post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await http.post(
        url, content=body, headers={"Content-Type": "application/json", **headers}
    )


async def deliver(
    http: httpx.AsyncClient, url: str, marketplace: Marketplace, body: bytes | None = None
) -> httpx.Response:
    """A correctly signed delivery."""
    body = raw(marketplace) if body is None else body
    return await post(http, url, body, {marketplace.header: sign(body)})


async def drain() -> None:
    """Wait for the import jobs the webhooks started in the background."""
    runner = jobs.current_runner()
    assert runner is not None
    await runner.drain()


async def inbox(org: Organization, state: str | None = None) -> list[dict[str, Any]]:
    return (await org.api.data(INBOX, {"state": state}))["marketplaceInbox"]


async def stored(org: Organization) -> dict[str, int]:
    return {
        "inbox": await InboxMessage.filter(organization_id=org.id).count(),
        "orders": await SalesOrder.filter(organization_id=org.id).count(),
    }


# --- connections -----------------------------------------------------------------------------


@pytest.mark.parametrize("marketplace", SIGNED, ids=lambda m: m.name)
async def test_connecting_gives_a_webhook_url(org: Organization, marketplace: Marketplace) -> None:
    payload = await org.api.ok(CONNECT, {"marketplace": marketplace.name, "webhookSecret": SECRET})

    connection = payload["connection"]
    assert connection["marketplace"] == marketplace.name
    url = connection["webhookUrl"]
    assert url.startswith("/webhooks/")
    assert len(url.removeprefix("/webhooks/")) >= 32  # unguessable
    assert connection["id"]
    # every connection has its own URL
    assert await connect(org, marketplace.name) != url


async def test_connecting_needs_a_known_marketplace_and_a_secret(org: Organization) -> None:
    unknown = await org.api.mutate(CONNECT, {"marketplace": "ebay", "webhookSecret": SECRET})
    blank = await org.api.mutate(CONNECT, {"marketplace": "shopify", "webhookSecret": "  "})

    assert errors_of(unknown) == [(["input", "marketplace"], "UNKNOWN_MARKETPLACE")]
    assert errors_of(blank) == [(["input", "webhookSecret"], "REQUIRED")]
    assert unknown["connection"] is None
    assert blank["connection"] is None


# --- signed deliveries -----------------------------------------------------------------------


@pytest.mark.parametrize("marketplace", SIGNED, ids=lambda m: m.name)
async def test_a_signed_delivery_is_stored_and_imported(
    org: Organization, http: httpx.AsyncClient, marketplace: Marketplace
) -> None:
    # Given the order's items and a connection
    await create_items(org, *marketplace.skus)
    url = await connect(org, marketplace.name)

    # When the marketplace posts an order signed with the connection's secret
    response = await deliver(http, url, marketplace)
    await drain()

    # Then it is accepted, stored in the inbox, and imported as a confirmed order
    assert response.status_code == 202, response.text
    (message,) = await inbox(org)
    assert response.json() == {"received": message["id"]}
    assert message["marketplace"] == marketplace.name
    assert message["state"] == "IMPORTED"
    assert message["error"] is None
    assert message["attempts"] == 1
    order = message["salesOrder"]
    assert order["status"] == "CONFIRMED"
    assert order["source"] == {
        "channel": "MARKETPLACE",
        "marketplace": marketplace.name,
        "externalId": marketplace.external_id,
    }
    assert order["customer"] == marketplace.customer
    assert [line["item"]["sku"] for line in order["lines"]] == list(marketplace.skus)
    assert order["total"] == marketplace.total
    assert await stored(org) == {"inbox": 1, "orders": 1}


async def test_the_signature_header_name_is_not_case_sensitive(
    org: Organization, http: httpx.AsyncClient
) -> None:
    await create_items(org, *IPODS)
    url = await connect(org, "shopify")
    body = raw(SHOPIFY)

    response = await post(http, url, body, {"x-shopify-hmac-sha256": sign(body)})
    await drain()

    assert response.status_code == 202
    assert [message["state"] for message in await inbox(org)] == ["IMPORTED"]


def tamper(body: bytes) -> bytes:
    """The body with one byte changed: the first line's price 199.00 -> 999.00 (Shopify) or
    its quantity 2 -> 9 (WooCommerce)."""
    for before, after in (
        (b'"price": "199.00"', b'"price": "999.00"'),
        (b'"quantity": 2', b'"quantity": 9'),
    ):
        if before in body:
            changed = body.replace(before, after, 1)
            assert sum(a != b for a, b in zip(body, changed)) == 1
            return changed
    raise AssertionError("nothing to tamper with")


REFUSALS: dict[str, Callable[[Marketplace, bytes], dict[str, str]]] = {
    "no signature": lambda m, body: {},
    "empty signature": lambda m, body: {m.header: ""},
    "another secret": lambda m, body: {m.header: sign(body, "not-the-secret")},
    "not base64": lambda m, body: {m.header: "sha256=abc"},
    "the other marketplace's header": lambda m, body: {
        (WOOCOMMERCE if m is SHOPIFY else SHOPIFY).header: sign(body)
    },
}


@pytest.mark.parametrize("marketplace", SIGNED, ids=lambda m: m.name)
@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_a_delivery_without_a_valid_signature_is_refused_and_not_stored(
    org: Organization, http: httpx.AsyncClient, marketplace: Marketplace, refusal: str
) -> None:
    # Given a connection and the order's items
    await create_items(org, *marketplace.skus)
    url = await connect(org, marketplace.name)
    body = raw(marketplace)

    # When the order is posted without a valid signature
    response = await post(http, url, body, REFUSALS[refusal](marketplace, body))
    await drain()

    # Then it is refused, and neither a message nor an order is stored
    assert response.status_code == 401
    assert response.json() == {"error": "missing or invalid signature"}
    assert await stored(org) == {"inbox": 0, "orders": 0}
    assert await inbox(org) == []


@pytest.mark.parametrize("marketplace", SIGNED, ids=lambda m: m.name)
async def test_a_tampered_body_is_refused_and_not_stored(
    org: Organization, http: httpx.AsyncClient, marketplace: Marketplace
) -> None:
    # Given a correctly signed body
    await create_items(org, *marketplace.skus)
    url = await connect(org, marketplace.name)
    body = raw(marketplace)
    signature = sign(body)

    # When one byte of it is changed on the way
    response = await post(http, url, tamper(body), {marketplace.header: signature})
    await drain()

    # Then the signature no longer matches
    assert response.status_code == 401
    assert await stored(org) == {"inbox": 0, "orders": 0}


@pytest.mark.parametrize("marketplace", SIGNED, ids=lambda m: m.name)
async def test_an_unknown_webhook_key_is_refused(
    org: Organization, http: httpx.AsyncClient, marketplace: Marketplace
) -> None:
    # Given a connection, and a URL that is not one (signed with the right secret all the same)
    await create_items(org, *marketplace.skus)
    url = await connect(org, marketplace.name)
    everywhere = await InboxMessage.all().count()

    response = await deliver(http, url + "x", marketplace)
    await drain()

    assert response.status_code == 401
    assert await stored(org) == {"inbox": 0, "orders": 0}
    assert await InboxMessage.all().count() == everywhere


async def test_a_delivery_signed_with_another_connections_secret_is_refused(
    org: Organization, other_org: Organization, http: httpx.AsyncClient
) -> None:
    # Given two organizations connected to Shopify with different secrets
    await create_items(org, *IPODS)
    mine = await connect(org, "shopify", "secret-of-org")
    await connect(other_org, "shopify", "secret-of-other-org")
    body = raw(SHOPIFY)

    # When a body signed with the other organization's secret is posted to this URL
    response = await post(http, mine, body, {SHOPIFY.header: sign(body, "secret-of-other-org")})
    await drain()

    assert response.status_code == 401
    assert await stored(org) == {"inbox": 0, "orders": 0}
    assert await stored(other_org) == {"inbox": 0, "orders": 0}


async def test_amazon_has_no_webhooks(org: Organization, http: httpx.AsyncClient) -> None:
    # Amazon pushes no signed HTTP webhooks: an Amazon connection accepts no delivery
    url = await connect(org, "amazon")
    body = b'{"order": {}}'

    response = await post(http, url, body, {"X-Amz-Signature": sign(body)})

    assert response.status_code == 401
    assert await stored(org) == {"inbox": 0, "orders": 0}


async def test_a_delivery_goes_to_its_connections_organization(
    org: Organization, other_org: Organization, http: httpx.AsyncClient
) -> None:
    await create_items(org, *IPODS)
    await create_items(other_org, *IPODS)
    url = await connect(other_org, "shopify")

    response = await deliver(http, url, SHOPIFY)
    await drain()

    assert response.status_code == 202
    assert await stored(org) == {"inbox": 0, "orders": 0}
    assert await stored(other_org) == {"inbox": 1, "orders": 1}
    assert await inbox(org) == []


# --- failures, retries, duplicates -----------------------------------------------------------


async def test_a_failed_import_stays_in_the_inbox_until_retried(
    org: Organization, http: httpx.AsyncClient
) -> None:
    # Given a connection, and only two of the order's three items
    await create_items(org, "IPOD2008GREEN", "IPOD2008BLACK")
    url = await connect(org, "shopify")

    # When the order is delivered
    response = await deliver(http, url, SHOPIFY)
    await drain()

    # Then it is accepted and stored, but its import failed, naming the unknown SKU
    assert response.status_code == 202
    (failed,) = await inbox(org)
    assert failed["state"] == "FAILED"
    assert failed["attempts"] == 1
    assert failed["salesOrder"] is None
    assert "UNKNOWN_SKU" in failed["error"]
    assert "IPOD2008RED" in failed["error"]
    assert await inbox(org, "FAILED") == [failed]
    assert await inbox(org, "IMPORTED") == []
    assert await counts(org) == {"orders": 0, "lines": 0, "customers": 0, "taxes": 0}

    # When the item is created and the message retried
    await create_items(org, "IPOD2008RED")
    payload = await org.api.ok(RETRY, {"id": failed["id"]})

    # Then it is imported, and the order exists
    message = payload["message"]
    assert message["id"] == failed["id"]
    assert message["state"] == "IMPORTED"
    assert message["error"] is None
    assert message["attempts"] == 2
    assert message["salesOrder"]["status"] == "CONFIRMED"
    assert message["salesOrder"]["total"] == "622.22"
    assert await inbox(org) == [message]
    assert await counts(org) == {"orders": 1, "lines": 3, "customers": 1, "taxes": 1}


async def test_a_retry_that_fails_again_keeps_the_message_failed(
    org: Organization, http: httpx.AsyncClient
) -> None:
    url = await connect(org, "shopify")
    await deliver(http, url, SHOPIFY)
    await drain()
    (failed,) = await inbox(org)

    payload = await org.api.ok(RETRY, {"id": failed["id"]})

    message = payload["message"]
    assert message["state"] == "FAILED"
    assert message["attempts"] == 2
    assert "IPOD2008GREEN" in message["error"]
    assert await stored(org) == {"inbox": 1, "orders": 0}


async def test_an_imported_message_is_not_retried(
    org: Organization, http: httpx.AsyncClient
) -> None:
    await create_items(org, *IPODS)
    url = await connect(org, "shopify")
    await deliver(http, url, SHOPIFY)
    await drain()
    (imported,) = await inbox(org)

    payload = await org.api.mutate(RETRY, {"id": imported["id"]})

    assert errors_of(payload) == [(["input", "id"], "INVALID_STATUS")]
    assert await inbox(org) == [imported]


async def test_another_organizations_message_is_not_found(
    org: Organization, other_org: Organization, http: httpx.AsyncClient
) -> None:
    url = await connect(other_org, "shopify")
    await deliver(http, url, SHOPIFY)
    await drain()
    (theirs,) = await inbox(other_org)

    payload = await org.api.mutate(RETRY, {"id": theirs["id"]})

    assert errors_of(payload) == [(["input", "id"], "NOT_FOUND")]
    assert (await inbox(other_org))[0]["attempts"] == 1


async def test_a_body_that_is_not_json_fails_in_the_inbox(
    org: Organization, http: httpx.AsyncClient
) -> None:
    # A correctly signed body is stored whatever it holds; its import then fails
    url = await connect(org, "shopify")
    body = b"order #1001, three iPods"

    response = await post(http, url, body, {SHOPIFY.header: sign(body)})
    await drain()

    assert response.status_code == 202
    (message,) = await inbox(org)
    assert message["state"] == "FAILED"
    assert message["error"].startswith("INVALID_PAYLOAD")
    assert await stored(org) == {"inbox": 1, "orders": 0}


@pytest.mark.parametrize("marketplace", SIGNED, ids=lambda m: m.name)
async def test_the_same_delivery_twice_is_one_order(
    org: Organization, http: httpx.AsyncClient, marketplace: Marketplace
) -> None:
    # Given a connection and the order's items
    await create_items(org, *marketplace.skus)
    url = await connect(org, marketplace.name)
    body = raw(marketplace)

    # When the marketplace delivers the same order twice (a retry after a timeout, say)
    first = await deliver(http, url, marketplace, body)
    second = await deliver(http, url, marketplace, body)
    await drain()

    # Then both deliveries are kept and imported, into one and the same order
    assert (first.status_code, second.status_code) == (202, 202)
    messages = await inbox(org)
    assert [message["state"] for message in messages] == ["IMPORTED", "IMPORTED"]
    assert messages[0]["salesOrder"]["id"] == messages[1]["salesOrder"]["id"]
    assert await stored(org) == {"inbox": 2, "orders": 1}


async def test_a_newer_delivery_updates_the_order(
    org: Organization, http: httpx.AsyncClient
) -> None:
    # Given an order that came by webhook
    await create_items(org, *IPODS)
    url = await connect(org, "shopify")
    await deliver(http, url, SHOPIFY)
    await drain()

    # When orders/updated arrives with two green iPods
    updated = shopify_rest()["order"]
    updated["updated_at"] = "2008-01-11T09:30:00-05:00"
    updated["line_items"][0]["quantity"] = 2
    response = await deliver(http, url, SHOPIFY, json.dumps(updated).encode())
    await drain()

    # Then the one order has the new quantity
    assert response.status_code == 202
    newest, oldest = await inbox(org)
    assert newest["salesOrder"]["id"] == oldest["salesOrder"]["id"]
    assert [line["quantity"] for line in newest["salesOrder"]["lines"]] == ["2.00", "1.00", "1.00"]
    assert newest["salesOrder"]["total"] == "833.16"
    assert await stored(org) == {"inbox": 2, "orders": 1}


# --- gqlorders import (sync jobs) --------------------------------------------------------------

CREATE_ITEMS_SCRIPT = """
import asyncio, sys
from decimal import Decimal
from gqlorders import database
from gqlorders.catalog.items import NewItem, create_item
from gqlorders.config import load_settings
from gqlorders.models import ItemKind

async def main(org, skus):
    async with database.connected(load_settings()):
        for sku in skus:
            await create_item(org, NewItem(sku, sku.title(), ItemKind.GOODS, Decimal("1.00")))

asyncio.run(main(int(sys.argv[1]), sys.argv[2:]))
"""


def gqlorders_command() -> list[str]:
    """The installed `gqlorders` script beside this Python, else the same entry point."""
    script = Path(sys.executable).with_name("gqlorders")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gqlorders.cli"]


@pytest.mark.timeout(180)
def test_the_import_command(tmp_path: Path) -> None:
    database = tmp_path / "cli.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{database}",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_FORMAT": "text",
    }
    env.pop("REDIS_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )

    def gqlorders(*args: str) -> subprocess.CompletedProcess[str]:
        return run(*gqlorders_command(), *args)

    def summary(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
        return json.loads(result.stdout.strip().splitlines()[-1])

    # Given a migrated database with an organization and the order's items
    assert gqlorders("migrate").returncode == 0
    created = gqlorders("org", "create", "Shop", "--currency", "USD")
    assert created.returncode == 0, created.stderr
    org = str(json.loads(created.stdout)["organization_id"])
    items = run(sys.executable, "-c", CREATE_ITEMS_SCRIPT, org, *IPODS)
    assert items.returncode == 0, items.stderr
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([shopify_rest()]), encoding="utf-8")

    # When the file is imported
    result = gqlorders("import", "shopify", str(orders), "--org", org)

    # Then one order is created, and the summary says so
    assert result.returncode == 0, result.stderr
    assert summary(result) == {"created": 1, "updated": 0, "failed": 0}
    with sqlite3.connect(database) as db:
        assert db.execute(
            "SELECT status, marketplace, external_id FROM sales_order"
        ).fetchall() == [("CONFIRMED", "shopify", "450789469")]

    # When the same file is imported again, the order is found, not duplicated
    again = gqlorders("import", "shopify", str(orders), "--org", org)
    assert again.returncode == 0, again.stderr
    assert summary(again) == {"created": 0, "updated": 1, "failed": 0}

    # When a file (JSON lines) holds an order with an unknown SKU besides a good one
    unknown = shopify_rest()["order"]
    unknown["id"] = 450789470
    unknown["line_items"][1]["sku"] = "IPOD2008SILVER"
    good = shopify_rest()["order"]
    good["id"] = 450789471
    lines = tmp_path / "orders.jsonl"
    lines.write_text(f"{json.dumps(unknown)}\n{json.dumps(good)}\n", encoding="utf-8")
    failed = gqlorders("import", "shopify", str(lines), "--org", org)

    # Then that order fails, naming the SKU, the other is imported, and the exit status is 1
    assert failed.returncode == 1
    assert summary(failed) == {"created": 1, "updated": 0, "failed": 1}
    assert "IPOD2008SILVER" in failed.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM sales_order").fetchone() == (2,)
