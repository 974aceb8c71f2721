"""What the log shows of a webhook delivery (issue 17: libraries' loggers at WARNING unless
LOG_LEVEL asks). httpx logs every request it makes at INFO with its whole URL, and a partner's
URL may carry a secret: at the default level none of it reaches the log, in JSON or in text,
while our own INFO lines (the access log: the test's requests) do; LOG_LEVEL applies to the
text log too."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from gqlorders.config import load_settings
from gqlorders.observability import configure_logging
from tests.support import Organization
from tests.webhooks.support import CREATE_ENDPOINT, DELIVERIES, Receiver, receiving

pytestmark = pytest.mark.usefixtures("local_policy", "relaying", "restore_logging")

PARTNER_SECRET = "partner-secret-0042"
ACCESS = "POST /graphql 200"


async def _delivery_logged(
    org: Organization, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[Receiver, str]:
    """Log as `gqlorders serve` does with this environment, have an order delivered to an
    endpoint whose URL carries a secret; the receiver, and what was logged meanwhile."""
    settings = load_settings(environ)
    configure_logging(settings.log_level, settings.log_json)
    with receiving(f"/hooks?key={PARTNER_SECRET}") as receiver:
        await org.api.ok(CREATE_ENDPOINT, {"url": receiver.url})
        customer = await org.customer(name="Acme Furniture")
        desk = await org.item("DESK", "411.50")
        capsys.readouterr()
        await org.order(customer, [{"itemId": desk, "quantity": "3"}])
        await receiver.wait_for(1)
        await _delivered(org)  # its answer came: httpx logged it, if at all
    return receiver, capsys.readouterr().err


async def _delivered(org: Organization) -> None:
    deadline = time.monotonic() + 20
    while (await org.api.data(DELIVERIES))["webhookDeliveries"]["edges"][0]["node"][
        "status"
    ] == "PENDING":
        assert time.monotonic() < deadline, "the delivery did not end"
        await asyncio.sleep(0.05)


async def test_a_delivery_logs_nothing_of_httpx_by_default(
    org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    _, logged = await _delivery_logged(org, {}, capsys)

    lines = [json.loads(line) for line in logged.splitlines()]
    assert PARTNER_SECRET not in logged
    assert {(line["logger"], line["level"], line["message"]) for line in lines} == {
        ("gqlorders.access", "INFO", ACCESS)
    }


async def test_log_level_debug_shows_httpx_requests(
    org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, logged = await _delivery_logged(org, {"LOG_LEVEL": "DEBUG"}, capsys)

    requests = [
        line["message"]
        for line in map(json.loads, logged.splitlines())
        if line["logger"] == "httpx" and line["level"] == "INFO"
    ]
    # (the receiver keeps connections alive: HTTP/1.1)
    assert f'HTTP Request: POST {receiver.url} "HTTP/1.1 200 OK"' in requests


async def test_the_text_log_keeps_the_same_levels(
    org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    _, logged = await _delivery_logged(org, {"LOG_FORMAT": "text"}, capsys)

    assert set(logged.splitlines()) == {f"INFO: gqlorders.access: {ACCESS}"}


async def test_log_level_applies_to_the_text_log(
    org: Organization, capsys: pytest.CaptureFixture[str]
) -> None:
    _, logged = await _delivery_logged(org, {"LOG_FORMAT": "text", "LOG_LEVEL": "WARNING"}, capsys)

    assert logged == ""
