"""Live updates against real `gqlorders serve` processes: the connection limits and their close
codes, pings, a revoked token, shutdown, and delivery across server processes (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.live_client import live_client
from tests.live_server import (
    GQLORDERS,
    PROJECT,
    LiveServer,
    free_port,
    gqlorders,
    live_server,
    server_env,
    stop,
    throwaway_database,
)
from tests.support import postgres_only

EVENTS = "subscription { events { node { type resourceId } } }"
CREATE_ORDER = """
mutation {
  createCustomer(input: {name: "Acme"}) { customer { id } }
  createItem(input: {sku: "CHAIR", name: "Chair", kind: GOODS, rate: "10.00"}) { item { id } }
}"""
ORDER = """
mutation($customer: ID!, $item: ID!) {
  createSalesOrder(input: {customerId: $customer, lines: [{itemId: $item, quantity: "1"}]}) {
    salesOrder { id }
  }
}"""
LIMITS = {
    "LIVE_MAX_SUBSCRIPTIONS": "2",
    "LIVE_MAX_CONNECTIONS": "2",
    "LIVE_TOKEN_RECHECK": "1s",
    "LIVE_KEEPALIVE": "2s",
}

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class Served:
    server: LiveServer
    env: dict[str, str]  # for `gqlorders` commands on the same database

    @property
    def url(self) -> str:
        return self.server.base.replace("http://", "ws://") + "/graphql"


@pytest.fixture(scope="module")
def served(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("live")
    with throwaway_database(backend, data_dir) as url:
        env = {**server_env(url, data_dir), **LIMITS}
        with live_server(env) as server:
            yield Served(server, env)


async def create_order(base: str, token: str) -> str:
    """A new order's id, created over HTTP."""
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
        headers = {"Authorization": f"Bearer {token}"}
        made = (await http.post("/graphql", json={"query": CREATE_ORDER}, headers=headers)).json()
        variables = {
            "customer": made["data"]["createCustomer"]["customer"]["id"],
            "item": made["data"]["createItem"]["item"]["id"],
        }
        answer = await http.post(
            "/graphql", json={"query": ORDER, "variables": variables}, headers=headers
        )
        return answer.json()["data"]["createSalesOrder"]["salesOrder"]["id"]


async def test_a_subscription_over_the_limit_closes_the_connection_with_4413(
    served: Served,
) -> None:
    async with live_client(served.url, served.server.token) as client:
        await client.subscribe(EVENTS)
        await client.subscribe(EVENTS)
        await client.subscribe(EVENTS)

        assert await client.closed() == (4413, "at most 2 subscriptions on one connection")


async def test_an_organizations_connection_over_the_limit_is_closed_with_4503(
    served: Served,
) -> None:
    url, token = served.url, served.server.token
    async with live_client(url, token), live_client(url, token), live_client(url) as third:
        await third.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert await third.closed() == (
            4503,
            "this organization has 2 connections open here already",
        )
    await asyncio.sleep(0.5)  # the server sees the others close
    async with live_client(url, token) as again:  # room again
        await again.subscribe(EVENTS)


async def test_a_client_that_answers_no_ping_is_closed_with_4408(served: Served) -> None:
    async with live_client(served.url, served.server.token) as client:
        started = time.monotonic()
        ping = await asyncio.wait_for(client.socket.recv(), 10)
        assert json.loads(ping) == {"type": "ping"}
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(client.socket.recv(), 10)

        assert client.socket.close_code == 4408
        assert client.socket.close_reason == "no pong to the last ping"
        assert time.monotonic() - started < 5


async def test_a_revoked_tokens_connection_closes_within_seconds(served: Served) -> None:
    token = json.loads(
        gqlorders(served.env, "token", "create", "--org", "1", "--scopes", "orders:read")
    )["token"]
    async with live_client(served.url, token) as client:
        await client.subscribe(EVENTS)

        revoking = time.monotonic()
        revoked = asyncio.create_task(
            asyncio.to_thread(gqlorders, served.env, "token", "revoke", token)
        )

        assert await client.closed(timeout=20) == (4403, "the token was revoked")
        assert time.monotonic() - revoking < 15
        assert json.loads(await revoked) == {"revoked": True}


async def test_every_connection_of_a_revoked_token_closes(served: Served) -> None:
    # Given two sockets on one token (its rechecks are shared by the process's connections),
    # of an organization of its own (LIVE_MAX_CONNECTIONS is 2 per organization here)
    token = json.loads(gqlorders(served.env, "org", "create", "Revoked Co"))["token"]
    async with (
        live_client(served.url, token) as first,
        live_client(served.url, token) as second,
    ):
        await first.subscribe(EVENTS)
        await second.subscribe(EVENTS)

        # When the token is revoked
        revoking = time.monotonic()
        revoked = await asyncio.to_thread(gqlorders, served.env, "token", "revoke", token)
        assert json.loads(revoked) == {"revoked": True}

        # Then both close with 4403, within the recheck's bound
        closes = await asyncio.gather(first.closed(timeout=20), second.closed(timeout=20))
        assert closes == [(4403, "the token was revoked")] * 2
        assert time.monotonic() - revoking < 15


@pytest.fixture
def fresh_env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A server environment on a new database of the run's backend."""
    with throwaway_database(backend, tmp_path) as url:
        yield server_env(url, tmp_path)


async def test_shutdown_closes_every_socket_with_1012(fresh_env: dict[str, str]) -> None:
    """SIGTERM: each client gets a close frame saying "service restart" (reconnect, resume
    with `after`), and the process exits cleanly."""
    with live_server(fresh_env) as server:
        ws = server.base.replace("http://", "ws://") + "/graphql"
        async with live_client(ws, server.token) as client:
            await client.subscribe(EVENTS)
            await asyncio.sleep(0.2)

            server.process.send_signal(signal.SIGTERM)

            assert await client.closed() == (1012, "")
        # uvicorn shuts down gracefully, then ends by the signal it caught
        assert await asyncio.to_thread(server.process.wait, 30) == -signal.SIGTERM
        assert "Application shutdown complete." in server.log.read_text()


async def test_a_connection_over_the_process_limit_is_closed_with_1013(
    fresh_env: dict[str, str],
) -> None:
    """Every open socket counts, authenticated or not; the one over LIVE_MAX_PROCESS_CONNECTIONS
    is told to try again later (graphql-ws clients reconnect after 1013, with backoff)."""
    with live_server({**fresh_env, "LIVE_MAX_PROCESS_CONNECTIONS": "2"}) as server:
        ws = server.base.replace("http://", "ws://") + "/graphql"
        async with live_client(ws, server.token), live_client(ws) as second:
            async with live_client(ws) as third:
                assert await third.closed() == (
                    1013,
                    "this server process has 2 connections open: try again later",
                )
            assert await second.init(server.token) == {"type": "connection_ack"}
        await asyncio.sleep(0.5)  # the server sees both close
        async with live_client(ws, server.token) as again:  # room again
            await again.subscribe(EVENTS)


@postgres_only("several server processes need PostgreSQL")
async def test_an_event_committed_through_one_server_process_reaches_another(
    fresh_env: dict[str, str], tmp_path: Path
) -> None:
    with live_server(fresh_env) as first, second_server(fresh_env, tmp_path) as second:
        async with live_client(second, first.token) as client:
            await client.subscribe(EVENTS)
            await asyncio.sleep(0.5)

            order = await create_order(first.base, first.token)

            node = (await client.next())["data"]["events"]["node"]
            assert node == {"type": "SALES_ORDER_CREATED", "resourceId": order}


@postgres_only("the LISTEN connection exists on PostgreSQL only")
async def test_without_its_listen_connection_a_subscription_ends_with_an_error_until_it_is_back(
    fresh_env: dict[str, str],
) -> None:
    """LIVE_LISTEN_URL names an address where nothing answers yet: a subscription is told so at
    once (no hang) and completes; the reader keeps trying (with backoff), and once the address
    leads to PostgreSQL, subscriptions work."""
    port = free_port()
    database = urlsplit(fresh_env["DATABASE_URL"])
    listen = database._replace(netloc=f"{database.username}@127.0.0.1:{port}").geturl()
    env = {**fresh_env, "LIVE_LISTEN_URL": listen}
    with live_server(env) as server:
        ws = server.base.replace("http://", "ws://") + "/graphql"
        async with live_client(ws, server.token) as client:
            id = await client.subscribe(EVENTS)

            assert await client.next() == {
                "data": None,
                "errors": [
                    {
                        "message": "live updates are unavailable right now: subscribe again"
                        " later (with `after`, to miss nothing)",
                        "extensions": {"code": "UNAVAILABLE"},
                    }
                ],
            }
            assert await client.receive() == {"id": id, "type": "complete"}

        async with relay(port, to=(database.hostname or "", database.port or 5432)):
            node = await event_once_live(ws, server.base, server.token)

        assert node["type"] == "SALES_ORDER_CREATED"


async def event_once_live(ws: str, base: str, token: str) -> dict[str, Any]:
    """Subscribe until the subscription is live (the reader listens again), then create an
    order: its event."""
    deadline = time.monotonic() + 90
    async with live_client(ws, token) as client:
        while True:
            assert time.monotonic() < deadline, "the reader never listened again"
            id = await client.subscribe(EVENTS)
            try:
                answer = await client.receive(timeout=1)
            except TimeoutError:  # no error at once: live
                break
            assert answer["payload"]["errors"][0]["extensions"]["code"] == "UNAVAILABLE", answer
            assert await client.receive() == {"id": id, "type": "complete"}
        order = await create_order(base, token)
        node = (await client.next())["data"]["events"]["node"]
        assert node["resourceId"] == order
        return node


@contextlib.asynccontextmanager
async def relay(port: int, to: tuple[str, int]) -> AsyncIterator[None]:
    """A TCP relay from 127.0.0.1:port to `to` (host, port) while the block runs."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connected(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection(*to)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(connected, "127.0.0.1", port)
    async with server:
        yield


@contextmanager
def second_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Another `gqlorders serve` on the same (migrated) database: its WebSocket URL."""
    port = free_port()
    with (tmp_path / "second.log").open("wb") as log:
        process = subprocess.Popen(
            [str(GQLORDERS), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "second.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "second.log").read_text()
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False)
                if up.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        stop(process)
