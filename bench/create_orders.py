"""Benchmark createSalesOrder throughput against a running server, on PostgreSQL.

Creates a throw-away database, migrates it, fills a catalog with COPY (3 taxes, 2,000 goods
items, 200 customers with addresses and payment terms), starts a real server
(`gqlorders serve`, LOG_FORMAT=text, in-process job runner) and drives it with aiohttp (or
httpx, --client): for each level of 1, 10 and 50 concurrent clients, every client creates
orders of 5 lines (random customer and items, quantities with up to 4 decimals) back to back
for --duration seconds.

Beside it, the floor: the same rows -- the order with its totals and tax totals, its 5 lines,
its "created" event, and the number taken from the organization's sequence row by an UPDATE
committed on its own just before, as the API takes it -- inserted with asyncpg, one transaction
per order, with as many concurrent workers and as many connections as the server's pool
(tortoise's default, 5).

Printed per level: orders/s, p50 and p99 latency of both, and the ratio API / raw (goal
>= 1/4); the CPU time per order of the server, the client and PostgreSQL (from /proc); and the
SQL statements one creation issues (counted in-process through the same app, before the server
starts).

With --idempotency-key, each level also runs the API with a new Idempotency-Key on every
request (README "Idempotent writes"), right after the unkeyed run, and prints keyed against
unkeyed (goal: at most 15 % slower).

    .venv/bin/python bench/create_orders.py                 # ~1.5 minutes
    .venv/bin/python bench/create_orders.py --duration 15 --levels 1,10,50,100
    .venv/bin/python bench/create_orders.py --levels 1,10 --idempotency-key

The PostgreSQL server is GQLORDERS_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432);
the database is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
from _support import log, machine, run, throwaway_database
from tortoise import Tortoise

from gqlorders import database
from gqlorders.api.ids import encode_id
from gqlorders.app import create_app
from gqlorders.config import load_settings
from gqlorders.money import TaxedAmount, document_totals, line_amount
from gqlorders.tenancy import create_organization, create_token

GOAL_RATIO = 0.25
GOAL_KEYED_SLOWDOWN = 0.15
SCALE = 10**4
LINES = 5

CREATE = """
mutation($input: CreateSalesOrderInput!) {
  createSalesOrder(input: $input) {
    salesOrder { id number total }
    errors { field code message }
  }
}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,50", help="concurrent clients (1,10,50)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level (8)")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds before each (1.5)")
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20241128)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument(
        "--server-workers", type=int, default=1, help="processes of `gqlorders serve` (1)"
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=5,
        help="connections per server process (DATABASE_URL ?maxsize=N; 5, tortoise's default);"
        " the raw floor gets as many as all processes",
    )
    parser.add_argument(
        "--idempotency-key",
        action="store_true",
        help="also run each level with a new Idempotency-Key per request, and compare",
    )
    parser.add_argument(
        "--client",
        choices=("aiohttp", "httpx"),
        default="aiohttp",
        help="HTTP client driving the server (aiohttp: ~0.4 ms of CPU per request here; httpx"
        " ~1-3 ms, taken from the same 2 cores as the server's)",
    )
    return parser.parse_args(argv)


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    organization_id: int
    warehouse_id: int
    taxes: dict[int, int]  # id -> percentage scaled by 10**4
    items: dict[int, tuple[int, int | None]]  # id -> (rate scaled, tax id)
    customers: dict[int, dict[str, Any]]  # id -> the columns an order copies


async def fill_catalog(conn: asyncpg.Connection, args: argparse.Namespace, org: int) -> Catalog:
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    warehouse_id = await conn.fetchval(
        "SELECT id FROM warehouse WHERE organization_id = $1 AND is_primary", org
    )
    percentages = [20 * SCALE, 55_000, 10 * SCALE]
    tax_ids = list(range(1, 4))
    await conn.copy_records_to_table(
        "tax",
        columns=("id", "organization_id", "name", "percentage", "created_at"),
        records=[
            (tid, org, f"VAT {pct / SCALE:g}%", pct, now) for tid, pct in zip(tax_ids, percentages)
        ],
    )
    items = {}
    item_rows = []
    for item_id in range(1, args.items + 1):
        rate = rng.randint(1, 200_000) * 100
        tax_id = tax_ids[item_id % 3] if item_id % 10 else None
        items[item_id] = (rate, tax_id)
        item_rows.append(
            (item_id, org, f"SKU-{item_id:06d}", f"Item {item_id}", "GOODS", rate, tax_id, now)
        )
    await conn.copy_records_to_table(
        "item",
        columns=(
            "id",
            "organization_id",
            "sku",
            "name",
            "kind",
            "rate",
            "tax_id",
            "created_at",
        ),
        records=item_rows,
    )
    customers = {}
    customer_rows = []
    for customer_id in range(1, args.customers + 1):
        address = {
            "attention": f"Buyer {customer_id}",
            "street1": f"{customer_id} Main Street",
            "street2": None,
            "city": "Springfield",
            "state": None,
            "zip": f"{10000 + customer_id}",
            "country": "US",
        }
        customers[customer_id] = {
            "currency": "USD",
            "payment_terms_days": 30,
            "payment_terms_label": "Net 30",
            "address": json.dumps(address),
        }
        customer_rows.append(
            (
                customer_id,
                org,
                f"Customer {customer_id:04d}",
                f"buyer{customer_id}@example.com",
                "USD",
                30,
                "Net 30",
                json.dumps(address),
                json.dumps(address),
                now,
                now,
            )
        )
    await conn.copy_records_to_table(
        "customer",
        columns=(
            "id",
            "organization_id",
            "name",
            "email",
            "currency",
            "payment_terms_days",
            "payment_terms_label",
            "billing_address",
            "shipping_address",
            "created_at",
            "updated_at",
        ),
        records=customer_rows,
    )
    for table in ("tax", "item", "customer"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT MAX(id) + 1 FROM {table}), false)"
        )
    # Statistics of the catalog, as autovacuum would gather them within a minute: without them
    # the planner reads the organization's 2,000 items for an order's 5. Not of the empty order
    # tables: "analyzed, 0 rows" would make the server's first plans (kept by its connections
    # until autovacuum analyzes again) scan them whole, which a new database never has.
    await conn.execute("ANALYZE tax, item, customer")
    return Catalog(org, warehouse_id, dict(zip(tax_ids, percentages)), items, customers)


@dataclass(frozen=True)
class OrderSpec:
    customer_id: int
    lines: list[tuple[int, int]]  # (item id, quantity scaled by 10**4)


def random_order(rng: random.Random, catalog: Catalog) -> OrderSpec:
    customer = rng.choice(list(catalog.customers))
    items = rng.sample(list(catalog.items), LINES)
    quantities = [
        rng.randint(1, 20) * SCALE if rng.random() < 0.7 else rng.randint(1, 99_999) for _ in items
    ]
    return OrderSpec(customer, list(zip(items, quantities)))


def _decimal(scaled: int, places: int = 4) -> Decimal:
    return Decimal(scaled).scaleb(-places)


def mutation_input(spec: OrderSpec) -> dict[str, Any]:
    return {
        "customerId": encode_id("Customer", spec.customer_id),
        "lines": [
            {"itemId": encode_id("Item", item), "quantity": str(_decimal(quantity))}
            for item, quantity in spec.lines
        ],
    }


# --- the raw floor ----------------------------------------------------------------------------

NEXT_NUMBER = """
UPDATE number_sequence SET next_number = next_number + 1
WHERE organization_id = $1 AND document = 'SALES_ORDER'
RETURNING prefix, next_number - 1 AS number, padding
"""
INSERT_ORDER = """
INSERT INTO sales_order (
    organization_id, number, customer_id, status, invoiced_status, shipped_status, date,
    payment_terms_days, payment_terms_label, warehouse_id, currency, billing_address,
    shipping_address, discount_amount, shipping_charge, sub_total, tax_totals, tax_total, total,
    created_at, updated_at)
VALUES ($1, $2, $3, 'DRAFT', 'NOT_INVOICED', 'NOT_SHIPPED', $4, $5, $6, $7, $8, $9, $9,
        0, 0, $10, $11, $12, $13, $14, $14)
RETURNING id
"""
INSERT_LINES = """
INSERT INTO sales_order_line (
    sales_order_id, position, item_id, quantity, rate, discount_percent, tax_id, amount,
    quantity_invoiced, quantity_packed, quantity_shipped)
SELECT $1, position, item_id, quantity, rate, 0, tax_id, amount, 0, 0, 0
FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
    AS t(position, item_id, quantity, rate, tax_id, amount)
"""
INSERT_EVENT = """
INSERT INTO order_event (sales_order_id, type, at, actor, data) VALUES ($1, 'created', $2, $3, $4)
"""


async def raw_create(pool: asyncpg.Pool, catalog: Catalog, spec: OrderSpec, actor: str) -> None:
    """The rows createSalesOrder writes for `spec`, in one transaction."""
    positions, items, quantities, rates, tax_ids, amounts, taxed = [], [], [], [], [], [], []
    for position, (item_id, quantity) in enumerate(spec.lines):
        rate, tax_id = catalog.items[item_id]
        amount = line_amount(_decimal(quantity), _decimal(rate), Decimal(0))
        positions.append(position)
        items.append(item_id)
        quantities.append(quantity)
        rates.append(rate)
        tax_ids.append(tax_id)
        amounts.append(int(amount * 100))
        percentage = _decimal(catalog.taxes[tax_id]) if tax_id else None
        taxed.append(TaxedAmount(amount, tax_id, percentage))
    totals = document_totals(taxed, Decimal(0), Decimal(0), Decimal(0))
    tax_totals = json.dumps([{"tax_id": key, "amount": str(value)} for key, value in totals.taxes])
    customer = catalog.customers[spec.customer_id]
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        sequence = await conn.fetchrow(NEXT_NUMBER, catalog.organization_id)
        assert sequence is not None  # the organization's numbering row, made with it
        number = f"{sequence['prefix']}{sequence['number']:0{sequence['padding']}d}"
        async with conn.transaction():
            order_id = await conn.fetchval(
                INSERT_ORDER,
                catalog.organization_id,
                number,
                spec.customer_id,
                date.today(),
                customer["payment_terms_days"],
                customer["payment_terms_label"],
                catalog.warehouse_id,
                customer["currency"],
                customer["address"],
                int(totals.sub_total * 100),
                tax_totals,
                int(totals.tax_total * 100),
                int(totals.total * 100),
                now,
            )
            await conn.execute(
                INSERT_LINES, order_id, positions, items, quantities, rates, tax_ids, amounts
            )
            await conn.execute(INSERT_EVENT, order_id, now, actor, json.dumps({"number": number}))


# --- driving ----------------------------------------------------------------------------------


@dataclass
class CpuSeconds:
    """CPU seconds used during a level by each party sharing the machine's cores."""

    server: float | None  # the gqlorders server (all its processes); None for the raw floor
    client: float  # this process: httpx or asyncpg, the workers, the bookkeeping
    postgres: float  # every PostgreSQL process (backends, WAL writer, ...)


@dataclass
class LevelResult:
    clients: int
    orders: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu: CpuSeconds

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0

    def per_order_ms(self, seconds: float | None) -> str:
        return f"{seconds * 1000 / self.orders:5.2f}" if seconds and self.orders else "    -"


async def run_level(
    clients: int,
    seconds: float,
    warmup: float,
    create: Callable[[random.Random], Awaitable[bool]],
    seed: int,
    server_pid: int | None = None,
) -> LevelResult:
    """`clients` workers calling `create` back to back; counted after `warmup` seconds."""
    started = time.perf_counter()
    counting_from = started + warmup
    until = counting_from + seconds
    latencies: list[float] = []
    errors = 0
    at_start: tuple[float | None, float, float] = (None, 0.0, 0.0)

    def cpu_now() -> tuple[float | None, float, float]:
        server = process_cpu(server_pid) if server_pid is not None else None
        return server, time.process_time(), postgres_cpu()

    async def worker(index: int) -> None:
        nonlocal errors
        rng = random.Random(seed * 1000 + index)
        while (now := time.perf_counter()) < until:
            ok = await create(rng)
            done = time.perf_counter()
            if now >= counting_from:
                latencies.append(done - now)
                errors += not ok

    async def mark() -> None:
        nonlocal at_start
        await asyncio.sleep(warmup)
        at_start = cpu_now()

    await asyncio.gather(mark(), *(worker(i) for i in range(clients)))
    at_end = cpu_now()
    elapsed = time.perf_counter() - counting_from
    server = None
    if at_start[0] is not None and at_end[0] is not None:
        server = at_end[0] - at_start[0]
    cpu = CpuSeconds(server, at_end[1] - at_start[1], at_end[2] - at_start[2])
    return LevelResult(clients, len(latencies), elapsed, latencies, errors, cpu)


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(process: int | str) -> list[str]:
    return Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process and its children (uvicorn workers) have used so
    far, from /proc; None once it is gone."""
    try:
        fields = _stat(pid)
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    # utime, stime, and cutime, cstime: children that exited (a restarted worker)
    total = sum(int(fields[index]) for index in (11, 12, 13, 14))
    for child in children:
        with contextlib.suppress(OSError):
            child_fields = _stat(int(child))
            total += int(child_fields[11]) + int(child_fields[12])
    return total / _TICKS


def postgres_cpu() -> float:
    """CPU seconds used so far by PostgreSQL on this machine: its live processes, and through
    the postmaster's children time those that exited (backends of closed connections,
    autovacuum workers), which a sum over live processes alone would lose."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = _stat(entry.name)
            total += int(fields[11]) + int(fields[12])
            parent = Path(f"/proc/{fields[1]}/comm").read_text().strip()
            if parent != "postgres":  # the postmaster: add what its exited children used
                total += int(fields[13]) + int(fields[14])
    return total / _TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(
    url: str, data_dir: Path, port: int, log_path: Path, workers: int
) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "LOG_FORMAT": "text",
    }
    env.pop("REDIS_URL", None)
    executable = Path(sys.executable).parent / "gqlorders"
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            [str(executable), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


Post = Callable[[dict[str, Any] | None, dict[str, str] | None], Awaitable[tuple[int, Any]]]


@contextlib.asynccontextmanager
async def api_client(kind: str, base_url: str, token: str, connections: int) -> AsyncIterator[Post]:
    """`post(payload, headers)` -> (status, JSON body): POST /graphql with the token (and the
    extra headers); `post(None)`: GET /healthz. One keep-alive connection per concurrent
    client."""
    headers = {"Authorization": f"Bearer {token}"}
    if kind == "httpx":
        limits = httpx.Limits(max_connections=connections + 10, max_keepalive_connections=None)
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, limits=limits, timeout=60
        ) as client:

            async def post_httpx(
                payload: dict[str, Any] | None, extra: dict[str, str] | None = None
            ) -> tuple[int, Any]:
                if payload is None:
                    response = await client.get("/healthz")
                    return response.status_code, None
                response = await client.post("/graphql", json=payload, headers=extra)
                if response.status_code != 200:
                    return response.status_code, None
                return response.status_code, response.json()

            yield post_httpx
        return
    connector = aiohttp.TCPConnector(limit=connections + 10)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        base_url, headers=headers, connector=connector, timeout=timeout
    ) as session:

        async def post_aiohttp(
            payload: dict[str, Any] | None, extra: dict[str, str] | None = None
        ) -> tuple[int, Any]:
            if payload is None:
                async with session.get("/healthz") as response:
                    return response.status, None
            async with session.post("/graphql", json=payload, headers=extra) as response:
                if response.status != 200:
                    return response.status, None
                return response.status, await response.json()

        yield post_aiohttp


async def wait_ready(post: Post, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the server exited with {process.returncode}:\n{output}")
        with contextlib.suppress(httpx.HTTPError, aiohttp.ClientError):
            if (await post(None, None))[0] == 200:
                return
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready within 60 s")


class StatementLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args or ()
        self.statements.append(str(args[0]) if isinstance(args, tuple) and args else "?")


async def statements_of_one_creation(
    settings: Any, token: str, spec: OrderSpec, keyed: bool = False
) -> list[str]:
    """The SQL statements one createSalesOrder request sends (in-process, same app), with a new
    Idempotency-Key if `keyed`."""
    app = create_app(settings, manage_database=False)
    handler = StatementLog()
    logger = logging.getLogger("tortoise.db_client")
    previous = logger.level
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        payload = {"query": CREATE, "variables": {"input": mutation_input(spec)}}
        await client.post("/graphql", json=payload, headers=headers)  # warm
        if keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            response = await client.post("/graphql", json=payload, headers=headers)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous)
    body = response.json()
    if body.get("errors") or body["data"]["createSalesOrder"]["errors"]:
        raise SystemExit(f"createSalesOrder failed: {body}")
    return handler.statements


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


async def bench(args: argparse.Namespace, url: str, data_dir: Path) -> int:
    levels = [int(level) for level in args.levels.split(",")]
    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "LOG_FORMAT": "text"})
    await database.migrate(settings)
    async with database.connected(settings):
        organization = await create_organization("Bench Co", "USD")
        token = await create_token(organization.id, name="bench")
        conn = await asyncpg.connect(url)
        try:
            server_version = await conn.fetchval("SHOW server_version")
            catalog = await fill_catalog(conn, args, organization.id)
        finally:
            await conn.close()
        log(
            f"catalog: {len(catalog.items):,} items, {len(catalog.customers)} customers, "
            f"{len(catalog.taxes)} taxes"
        )
        rng = random.Random(args.seed)
        sent = await statements_of_one_creation(settings, token, random_order(rng, catalog))
        if args.idempotency_key:
            keyed_sent = await statements_of_one_creation(
                settings, token, random_order(rng, catalog), keyed=True
            )
    await Tortoise.close_connections()
    log(f"SQL statements of one createSalesOrder ({LINES} lines): {len(sent)} (+ BEGIN/COMMIT)")
    for statement in sent:
        log("  " + " ".join(statement.split())[:150])
    if args.idempotency_key:
        log(f"with an Idempotency-Key: {len(keyed_sent)} (+ BEGIN/COMMIT); not in the unkeyed:")
        for statement in keyed_sent:
            if statement not in sent:
                log("  " + " ".join(statement.split())[:150])

    port = free_port()
    api_results: list[LevelResult] = []
    keyed_results: list[LevelResult] = []
    raw_results: list[LevelResult] = []
    failures = 0
    server_url = f"{url}?maxsize={args.pool}"
    log_path = data_dir / "server.log"
    with server(server_url, data_dir, port, log_path, args.server_workers) as process:
        async with api_client(args.client, f"http://127.0.0.1:{port}", token, max(levels)) as post:
            await wait_ready(post, process, log_path)
            log(f"server pid {process.pid} on port {port}, driven by {args.client}")

            async def api_create(rng: random.Random, keyed: bool = False) -> bool:
                spec = random_order(rng, catalog)
                payload = {"query": CREATE, "variables": {"input": mutation_input(spec)}}
                key = {"Idempotency-Key": str(uuid.uuid4())} if keyed else None
                status, body = await post(payload, key)
                if status != 200 or body is None:
                    return False
                return not body.get("errors") and not body["data"]["createSalesOrder"]["errors"]

            async def keyed_create(rng: random.Random) -> bool:
                return await api_create(rng, keyed=True)

            connections = args.pool * args.server_workers  # as many as all server processes
            pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
            try:

                async def raw(rng: random.Random) -> bool:
                    await raw_create(pool, catalog, random_order(rng, catalog), "bench")
                    return True

                for clients in levels:
                    log(f"{clients} client(s): API ...")
                    api_results.append(
                        await run_level(
                            clients,
                            args.duration,
                            args.warmup,
                            api_create,
                            args.seed + clients,
                            process.pid,
                        )
                    )
                    if args.idempotency_key:
                        log(f"{clients} client(s): API with an Idempotency-Key ...")
                        keyed_results.append(
                            await run_level(
                                clients,
                                args.duration,
                                args.warmup,
                                keyed_create,
                                args.seed + clients,
                                process.pid,
                            )
                        )
                    log(f"{clients} client(s): raw asyncpg ...")
                    raw_results.append(
                        await run_level(
                            clients, args.duration, args.warmup, raw, args.seed + 7 * clients
                        )
                    )
            finally:
                await pool.close()

    conn = await asyncpg.connect(url)
    try:
        counted = await conn.fetchval(
            "SELECT count(*) FROM sales_order WHERE organization_id = $1", organization.id
        )
        lines = await conn.fetchval("SELECT count(*) FROM sales_order_line")
        numbers = await conn.fetchval(
            "SELECT count(DISTINCT number) FROM sales_order WHERE organization_id = $1",
            organization.id,
        )
    finally:
        await conn.close()

    log("")
    log(f"machine: {machine(server_version)}")
    log(
        f"server: {args.server_workers} process(es) of {args.pool} connections, in-process jobs,"
        f" LOG_FORMAT=text; client: {args.client}"
    )
    log(
        f"{'clients':>7} | {'API orders/s':>12} {'p50 ms':>7} {'p99 ms':>7} "
        f"| {'raw orders/s':>12} {'p50 ms':>7} {'p99 ms':>7} | {'API/raw':>7}"
    )
    ratios = []
    for api, raw_result in zip(api_results, raw_results):
        ratio = api.rate / raw_result.rate
        ratios.append(ratio)
        log(
            f"{api.clients:>7} | {api.rate:12.1f} {_ms(api.percentile(0.5))} "
            f"{_ms(api.percentile(0.99))} | {raw_result.rate:12.1f} "
            f"{_ms(raw_result.percentile(0.5))} {_ms(raw_result.percentile(0.99))} "
            f"| {ratio:7.3f}"
        )
        failures += api.errors + raw_result.errors
    log("CPU ms per order (2 cores = 2000 ms/s shared by all three)")
    log(
        f"{'clients':>7} | {'API: server':>11} {'client':>6} {'postgres':>8} "
        f"| {'raw: client':>11} {'postgres':>8}"
    )
    for api, raw_result in zip(api_results, raw_results):
        log(
            f"{api.clients:>7} | {api.per_order_ms(api.cpu.server):>11} "
            f"{api.per_order_ms(api.cpu.client):>6} {api.per_order_ms(api.cpu.postgres):>8} | "
            f"{raw_result.per_order_ms(raw_result.cpu.client):>11} "
            f"{raw_result.per_order_ms(raw_result.cpu.postgres):>8}"
        )
    if keyed_results:
        log("keyed (a new Idempotency-Key per request) against unkeyed API; CPU: the server's")
        log(
            f"{'clients':>7} | {'keyed/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>6} "
            f"| {'unkeyed/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>6} | {'slower':>7}"
        )
        for keyed, api in zip(keyed_results, api_results):
            slower = 1 - keyed.rate / api.rate
            log(
                f"{keyed.clients:>7} | {keyed.rate:8.1f} {_ms(keyed.percentile(0.5))} "
                f"{_ms(keyed.percentile(0.99))} {keyed.per_order_ms(keyed.cpu.server):>6} "
                f"| {api.rate:9.1f} {_ms(api.percentile(0.5))} {_ms(api.percentile(0.99))} "
                f"{api.per_order_ms(api.cpu.server):>6} | {slower:7.1%}"
            )
            failures += keyed.errors
        worst = max(1 - k.rate / a.rate for k, a in zip(keyed_results, api_results))
        verdict = "within" if worst <= GOAL_KEYED_SLOWDOWN else "ABOVE"
        log(f"keyed: at most {worst:.1%} slower ({verdict} the goal of {GOAL_KEYED_SLOWDOWN:.0%})")
    log(
        f"orders written: {counted:,} with {lines:,} lines, {numbers:,} distinct numbers; "
        f"failed requests: {failures}"
    )
    verdict = "within" if min(ratios) >= GOAL_RATIO else "BELOW"
    log(
        "summary: createSalesOrder ("
        + ", ".join(
            f"{a.clients} clients {a.rate:.0f}/s p50 {a.percentile(0.5) * 1000:.0f} ms "
            f"p99 {a.percentile(0.99) * 1000:.0f} ms vs raw {r.rate:.0f}/s ratio "
            f"{a.rate / r.rate:.2f}"
            for a, r in zip(api_results, raw_results)
        )
        + f"); lowest ratio {min(ratios):.2f} ({verdict} {GOAL_RATIO}); "
        f"{len(sent)} statements per creation"
    )
    return 1 if failures or numbers != counted else 0


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    async with throwaway_database(args.keep) as (url, data_dir):
        return await bench(args, url, data_dir)


if __name__ == "__main__":
    sys.exit(run(main()))
