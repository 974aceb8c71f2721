"""Issue 13: installations sharing one Redis, as deployed: `gqlorders migrate`, `serve` and
`worker` processes on databases of each test's own (PostgreSQL), one Redis database (the tests'),
one SMTP sink. Each installation's worker must run its own jobs only, against its own database.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import POSTGRES_URL
from tests.support import CREATE_CUSTOMER, CREATE_ITEM, GraphQLClient, postgres_only
from tests.workers.support import (
    CREATE_ORDER,
    SEND_ORDER,
    STOCK,
    Mailbox,
    attachments,
    pdf_text,
)

pytestmark = [
    postgres_only("`gqlorders worker` processes need PostgreSQL (SQLite takes one writer)"),
    # two installations: two migrations and four processes on a 2-core machine shared with
    # other test runs (180 s was exceeded)
    pytest.mark.timeout(360),
]

WAIT = 60.0  # a server ready, an e-mail arrived


def command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("gqlorders")), *args]


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = f"gqlorders_installation_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_URL}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def recreate(database_url: str) -> None:
    """Drop the database and create it again under the same name, empty."""
    base, name = database_url.rsplit("/", 1)
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def environment(database_url: str, redis_url: str, data_dir: Path, smtp_url: str) -> dict:
    kept = {"DATABASE_URL", "REDIS_URL", "DATA_DIR", "SMTP_URL", "LOG_FORMAT", "ARQ_QUEUE"}
    return {name: value for name, value in os.environ.items() if name not in kept} | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(data_dir),
        "SMTP_URL": smtp_url,
        "LOG_FORMAT": "text",
    }


def run(env: dict, *args: str) -> str:
    finished = subprocess.run(
        command(*args), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


@contextmanager
def running(env: dict, logs: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    with logs.open("ab") as log:
        process = subprocess.Popen(
            command(*args), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def listening_port(logs: Path) -> int:
    """The port `gqlorders serve --port 0` listens on, from uvicorn's line in `logs`."""
    deadline = time.monotonic() + WAIT
    while not (
        found := re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", logs.read_text())
    ):
        assert time.monotonic() < deadline, logs.read_text()
        await asyncio.sleep(0.2)
    return int(found.group(1))


@asynccontextmanager
async def installation(
    database_url: str, redis_url: str, smtp_url: str, folder: Path
) -> AsyncIterator[GraphQLClient]:
    """`gqlorders migrate`, an organization, then `serve` and `worker` running: a client of the
    API with the organization's token."""
    folder.mkdir(parents=True, exist_ok=True)
    env = environment(database_url, redis_url, folder / "data", smtp_url)
    run(env, "migrate")
    token = json.loads(run(env, "org", "create", "Installation Co"))["token"]
    logs = folder / "processes.log"
    # Port 0, read back from uvicorn's log: a port found free first may be taken meanwhile.
    with running(env, logs, "serve", "--port", "0"), running(env, logs, "worker"):
        port = await listening_port(logs)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + WAIT
            while True:
                with suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                assert time.monotonic() < deadline, logs.read_text()
                await asyncio.sleep(0.2)
            yield GraphQLClient(http, token)


async def send_desks(api: GraphQLClient, buyer: str, desks: int) -> str:
    """A new order of `desks` desks at 411.50 for `buyer`, sent by e-mail; the desk's ID."""
    customer = (await api.ok(CREATE_CUSTOMER, {"name": buyer, "email": buyer}))["customer"]["id"]
    item = {"sku": "DESK", "name": "Desk", "kind": "GOODS", "rate": "411.50"}
    desk = (await api.ok(CREATE_ITEM, item))["item"]["id"]
    lines = [{"itemId": desk, "quantity": str(desks)}]
    order = (await api.ok(CREATE_ORDER, {"customerId": customer, "lines": lines}))["salesOrder"]
    await api.ok(SEND_ORDER, {"id": order["id"]})
    return desk


async def committed(api: GraphQLClient, item_id: str) -> list[str]:
    stock = (await api.data(STOCK, {"id": item_id}))["node"]["stock"]
    return [level["committed"] for level in stock]


async def mails_to(mailbox: Mailbox, buyer: str, count: int = 1) -> list[tuple[str, str]]:
    """(attachment name, PDF text) of the e-mails to `buyer`, once `count` have arrived."""
    deadline = time.monotonic() + WAIT
    while len(found := [m for m in mailbox.messages if m["To"] == buyer]) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} e-mails to {buyer}"
        await asyncio.sleep(0.2)
    return [
        (name or "", pdf_text(content))
        for message in found
        for name, _, content in attachments(message)
    ]


async def settled_committed(api: GraphQLClient, item_id: str, expected: list[str]) -> list[str]:
    """Committed stock once its job ran (or what it is after the wait)."""
    deadline = time.monotonic() + WAIT
    while (figures := await committed(api, item_id)) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return figures


async def test_two_installations_on_one_redis_each_run_their_own_jobs(
    tmp_path: Path, redis_url: str, mailbox: Mailbox
) -> None:
    # Given two installations on one Redis, both running, their outbox rows with the same ids
    async with (
        scratch_database() as first_db,
        scratch_database() as second_db,
        installation(first_db, redis_url, mailbox.url, tmp_path / "first") as first,
        installation(second_db, redis_url, mailbox.url, tmp_path / "second") as second,
    ):
        # When each sends an order: 3 desks to a@first.example, 5 to b@second.example
        first_desk = await send_desks(first, "a@first.example", 3)
        second_desk = await send_desks(second, "b@second.example", 5)

        # Then each e-mail went out once with its own order's PDF, and each database's stock
        # was committed by its own worker
        [(name, text)] = await mails_to(mailbox, "a@first.example")
        assert name == "SO-00001.pdf"
        assert "1234.50" in text
        [(name, text)] = await mails_to(mailbox, "b@second.example")
        assert name == "SO-00001.pdf"
        assert "2057.50" in text
        assert await settled_committed(first, first_desk, ["3.00"]) == ["3.00"]
        assert await settled_committed(second, second_desk, ["5.00"]) == ["5.00"]
    assert len(mailbox.messages) == 2
    # And each worker's log (LOG_FORMAT=text, LOG_LEVEL unset) says where it took its jobs
    # from and that it stopped, without arq's line per job (render_pdf, send_email...)
    for folder in ("first", "second"):
        log = (tmp_path / folder / "processes.log").read_text()
        ours = [line for line in log.splitlines() if ": gqlorders.workers: " in line]
        assert [re.sub(r"[0-9a-f]{32}", "<id>", line) for line in ours] == [
            "INFO: gqlorders.workers: worker started: the jobs of queue gqlorders:<id>",
            "INFO: gqlorders.workers: worker stopped",
        ]
        assert "send_email(" not in log


async def test_a_database_dropped_and_created_again_under_the_same_redis_runs_its_jobs(
    tmp_path: Path, redis_url: str, mailbox: Mailbox
) -> None:
    # Given an installation whose jobs ran, leaving their results in Redis
    async with scratch_database() as database_url:
        async with installation(database_url, redis_url, mailbox.url, tmp_path / "before") as api:
            desk = await send_desks(api, "buyer@acme.example", 3)
            assert len(await mails_to(mailbox, "buyer@acme.example")) == 1
            assert await settled_committed(api, desk, ["3.00"]) == ["3.00"]

        # When its database is dropped, created again, and the same order sent again
        await recreate(database_url)
        async with installation(database_url, redis_url, mailbox.url, tmp_path / "after") as api:
            desk = await send_desks(api, "buyer@acme.example", 3)

            # Then its jobs ran too: a second e-mail with the PDF, the stock committed
            [_, (name, text)] = await mails_to(mailbox, "buyer@acme.example", count=2)
            assert name == "SO-00001.pdf"
            assert "1234.50" in text
            assert await settled_committed(api, desk, ["3.00"]) == ["3.00"]


async def test_a_worker_refuses_a_queue_another_installation_claimed(
    tmp_path: Path, redis_url: str, mailbox: Mailbox
) -> None:
    # Given ARQ_QUEUE=orders claimed on this Redis by another installation
    async with scratch_database() as database_url, Redis.from_url(redis_url) as redis:
        other = uuid.uuid4().hex
        await redis.set("gqlorders:queue-owner:orders", other)
        env = environment(database_url, redis_url, tmp_path, mailbox.url) | {"ARQ_QUEUE": "orders"}
        run(env, "migrate")

        # When a worker of this database is started on it
        started = subprocess.run(
            command("worker"), env=env, capture_output=True, text=True, timeout=60, check=False
        )

        # Then it refuses, saying whose queue it is, and the claim is unchanged
        status = json.loads(run(env, "jobs", "status"))
        assert started.returncode == 1
        assert started.stderr.startswith("gqlorders worker: the arq queue 'orders'")
        assert f"belongs to installation {other}" in started.stderr
        assert f"this database is installation {status['installation_id']}" in started.stderr
        assert "Traceback" not in started.stderr
        assert await redis.get("gqlorders:queue-owner:orders") == other.encode()
        assert status == {
            "installation_id": status["installation_id"],
            "queue": "orders",
            "queue_owner": other,
            "queued_in_redis": 0,
            "waiting": 0,
            "dispatched_not_done": 0,
            "oldest_waiting_seconds": None,
        }
