"""Server-side request forgery: without WEBHOOK_ALLOW_PRIVATE an endpoint must be https and
reach public addresses only -- checked when it is saved and again on each attempt. Only names
and addresses are tried here: no traffic leaves the machine."""

from __future__ import annotations

import asyncio
import time

import pytest

from gqlorders.webhooks import policy
from tests.support import Organization
from tests.webhooks.conftest import configured
from tests.webhooks.support import CREATE_ENDPOINT, DELIVERIES, Receiver

PRIVATE = "a private, loopback or link-local address: webhooks go to public addresses only"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/hooks", f"127.0.0.1 resolves to 127.0.0.1, {PRIVATE}"),
        ("https://10.1.2.3/hooks", f"10.1.2.3 resolves to 10.1.2.3, {PRIVATE}"),
        (
            "https://169.254.169.254/latest/meta-data/",
            f"169.254.169.254 resolves to 169.254.169.254, {PRIVATE}",
        ),
        ("https://[::1]:8443/hooks", f"::1 resolves to ::1, {PRIVATE}"),
        ("https://[::ffff:10.0.0.1]/", f"::ffff:10.0.0.1 resolves to ::ffff:a00:1, {PRIVATE}"),
        ("https://localhost/hooks", f"localhost resolves to 127.0.0.1, {PRIVATE}"),
        ("http://partner.example/hooks", "the URL must start with https://"),
        ("ftp://partner.example/", "the URL must start with https://"),
        ("https://user:pw@partner.example/", "the URL may not hold a user name or password"),
        ("not a url", "the URL must start with https://"),
        ("https://", "the URL has no host"),
    ],
)
async def test_an_endpoint_that_could_reach_inside_is_refused_when_saved(
    org: Organization, url: str, message: str
) -> None:
    payload = await org.api.mutate(CREATE_ENDPOINT, {"url": url})
    assert payload["webhookEndpoint"] is None
    assert payload["errors"] == [{"field": ["input", "url"], "code": "INVALID", "message": message}]


async def test_the_address_is_checked_again_on_each_attempt(
    org: Organization, receiver: Receiver, relaying: None
) -> None:
    # Given an endpoint saved while private addresses were allowed, at a name of 127.0.0.1
    # (as a public name could come to resolve to a private address later)
    url = receiver.url.replace("http://127.0.0.1", "https://localhost")
    with configured(policy.Policy(allow_private=True)):
        await org.api.ok(CREATE_ENDPOINT, {"url": url})

    # When an event is delivered without that allowance
    item = await org.item("DESK", "10")
    await org.order(await org.customer(), [{"itemId": item, "quantity": "1"}])

    # Then nothing is sent: the attempt was refused before connecting, and says why
    deadline = time.monotonic() + 20
    while True:
        edges = (await org.api.data(DELIVERIES))["webhookDeliveries"]["edges"]
        if (edges and edges[0]["node"]["attempts"]) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    attempt = edges[0]["node"]["attempts"][0]
    assert (attempt["responseStatus"], attempt["responseExcerpt"]) == (
        None,
        f"refused: localhost resolves to 127.0.0.1, {PRIVATE}",
    )
    assert edges[0]["node"]["status"] == "PENDING"  # retried: the address may change back
    assert receiver.messages == []
