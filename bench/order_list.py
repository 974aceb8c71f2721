"""Benchmark the GraphQL order list against its two floors, on PostgreSQL.

Creates a throw-away database, migrates it, fills it with COPY (the benchmarked organization
with 20,000 orders of 5 lines, and a second organization of the same size that every query
must filter out), then times one page of 100 orders -- customer, lines, item and tax: about
6,000 fields -- several ways, interleaved round by round so that load changes hit them all alike:

request
    POST /graphql through the real ASGI app (`create_app`), in-process: middleware, token
    lookup, parsing, validation, the limits extensions, the resolvers, the DataLoaders' SQL,
    tortoise decoding its rows, and the JSON encoding of the response. The app is called
    directly as an ASGI callable (no HTTP client in the timing).

executor floor
    `schema.execute()` of the same document, with the same schema (`build_schema` with the
    app's limits, so the same extensions), the same types and resolvers, and a fresh context
    per run whose DataLoaders are primed with the rows a real request loaded once (tortoise
    model instances kept in memory); the root `salesOrders` resolver gets the same `Page`
    of in-memory rows (the page function is swapped for the run). Then the JSON encoding
    strawberry's view does (`json.dumps`, compact). What is left out is exactly what the
    server adds on top of the executor: ASGI and middleware, authentication, SQL round
    trips, and turning database rows into Python objects. The floor still pays for our
    resolvers and loaders' Python (argument injection, DataLoader futures, Decimal
    formatting): that is measured separately by the profile (--profile), not hidden.

database floor
    What the page costs without GraphQL: two hand-written asyncpg queries (the keyset page
    joined to its customers; the page's lines joined to items and taxes) and building and
    serializing the same JSON by hand (scaled integers formatted as the Decimal scalar does).
    Its JSON is checked to be identical to the request's.

persisted
    The same request as an SPA sends it after issue 16: the document's hash alone (APQ), which
    runs the query's compiled plan (src/gqlorders/api/compiled); checked byte for byte against
    the request's answer. Beside the executor floor, a compiled floor: that plan over the same
    in-memory rows. Then `ratio persisted / database floor: X`, also for the single-order
    detail query and a page of 1,000 feed events, each against its own asyncpg floor.

Also printed: the SQL statements of one request (with and without totalCount), and EXPLAIN
(ANALYZE, BUFFERS) of the statements the request sends -- the list query (first page and a
deep keyset page) and each loader's query.

    .venv/bin/python bench/order_list.py                  # ~1-2 minutes
    .venv/bin/python bench/order_list.py --rounds 400 --profile
    .venv/bin/python bench/order_list.py --profile-html /tmp/order_list.html

The PostgreSQL server is GQLORDERS_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432);
the database is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import gc
import hashlib
import json
import logging
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from _support import log, machine, run, throwaway_database
from prometheus_client import REGISTRY

from gqlorders import database
from gqlorders.api import queries as api_queries
from gqlorders.api.compiled import CompiledQueries
from gqlorders.api.context import Context
from gqlorders.api.dataloaders import Loader
from gqlorders.api.ids import parse_id
from gqlorders.api.schema import build_schema
from gqlorders.api.serialization import encode_response
from gqlorders.app import create_app, settle_garbage_collector
from gqlorders.config import load_settings
from gqlorders.tenancy import authenticate, create_organization, create_token

GOAL_RATIO = 1.5
SCALE = 10**4  # quantities, rates and percentages (models/fields.py QuantityField)

QUERY = """
query OrderList($first: Int!, $after: String) {
  salesOrders(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id number status date currency subTotal taxTotal total
        customer { id name }
        lines {
          quantity rate amount
          item { sku name }
          tax { name percentage }
        }
      }
    }
  }
}"""

WITH_TOTAL = QUERY.replace("pageInfo {", "totalCount\n    pageInfo {")
DETAIL = """
query OrderDetail($id: ID!) {
  salesOrder(id: $id) {
    id number status date currency subTotal taxTotal total
    customer { id name }
    lines {
      quantity rate amount
      item { sku name }
      tax { name percentage }
    }
  }
}"""
FEED = """
query Feed($after: String) {
  events(first: 1000, after: $after) {
    edges { cursor node { id type occurredAt actor resourceId data } }
    pageInfo { hasNextPage endCursor }
  }
}"""
FEED_EVENTS = 1000  # one page of the feed (its largest)
FILL_FEED = """
INSERT INTO feed_event (organization_id, type, actor, resource_type, resource_key, occurred_at,
                        data, position)
SELECT $1, 'SALES_ORDER_UPDATED', 'bench', 'SalesOrder', n,
       TIMESTAMPTZ '2024-06-01 12:00:00+00' + n * INTERVAL '1 second',
       jsonb_build_object('id', 'U2FsZXNPcmRlcjox', 'number', 'SO-' || n, 'status', 'CONFIRMED',
                          'total', '125.00', 'currency', 'EUR'),
       nextval('feed_event_position')
FROM generate_series(1, $2) AS n
"""
PERSISTED_GOAL = 2.0  # issue 17: persisted path / database floor

# (status, cumulative probability); MERGED orders are outside the default list.
STATUS_MIX = (
    ("CONFIRMED", 0.45),
    ("CLOSED", 0.65),
    ("DRAFT", 0.90),
    ("VOID", 0.98),
    ("MERGED", 1.00),
)

ORDER_COLUMNS = (
    "id",
    "organization_id",
    "number",
    "reference_number",
    "customer_id",
    "status",
    "invoiced_status",
    "shipped_status",
    "date",
    "expected_shipment_date",
    "payment_terms_days",
    "payment_terms_label",
    "warehouse_id",
    "currency",
    "billing_address",
    "shipping_address",
    "discount_amount",
    "shipping_charge",
    "sub_total",
    "tax_totals",
    "tax_total",
    "total",
    "created_at",
    "updated_at",
)
LINE_COLUMNS = (
    "id",
    "sales_order_id",
    "position",
    "item_id",
    "description",
    "quantity",
    "rate",
    "discount_percent",
    "tax_id",
    "amount",
    "quantity_invoiced",
    "quantity_packed",
    "quantity_shipped",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="orders of the org (20000)")
    parser.add_argument("--lines-per-order", type=int, default=5)
    parser.add_argument(
        "--other-orders", type=int, default=20_000, help="orders of a second organization"
    )
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--first", type=int, default=100, help="page size (100)")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (200)")
    parser.add_argument("--seed", type=int, default=20241128)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument(
        "--profile", action="store_true", help="pyinstrument profile of the request (text)"
    )
    parser.add_argument("--profile-html", help="also write the profile as HTML to this file")
    parser.add_argument("--profile-requests", type=int, default=100)
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN output")
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the bench's own objects (rows kept in memory for the floors) to the garbage "
        "collector, with its default thresholds: by default they are frozen before timing and "
        "the youngest generation enlarged, as the served app does once started",
    )
    parser.add_argument(
        "--indexes", action="store_true", help="also plan the list with candidate indexes"
    )
    return parser.parse_args(argv)


# --- filling ----------------------------------------------------------------------------------


def _half_up(numerator: int, denominator: int) -> int:
    return (numerator + denominator // 2) // denominator


class Filler:
    """Generates consistent rows (line amounts, order totals and tax totals add up) and COPYs
    them; ids are assigned here so that lines can point at their orders."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.now = datetime(2024, 6, 1, tzinfo=UTC)
        self.next_id: dict[str, int] = {}

    def _ids(self, table: str, count: int) -> list[int]:
        start = self.next_id.get(table, 1)
        self.next_id[table] = start + count
        return list(range(start, start + count))

    async def fill(self, conn: asyncpg.Connection, organization_id: int, orders: int) -> None:
        rng = self.rng
        warehouse_id = await conn.fetchval(
            "SELECT id FROM warehouse WHERE organization_id = $1 AND is_primary",
            organization_id,
        )
        # taxes
        tax_ids = self._ids("tax", 3)
        percentages = [20 * SCALE, 55_000, 10 * SCALE]  # 20 %, 5.5 %, 10 %
        await conn.copy_records_to_table(
            "tax",
            columns=("id", "organization_id", "name", "percentage", "created_at"),
            records=[
                (tid, organization_id, f"VAT {pct / SCALE:g}%", pct, self.now)
                for tid, pct in zip(tax_ids, percentages)
            ],
        )
        tax_pct = dict(zip(tax_ids, percentages))
        # items
        item_ids = self._ids("item", self.args.items)
        items: dict[int, tuple[int, int | None]] = {}  # id -> (rate, tax id)
        item_records = []
        for n, item_id in enumerate(item_ids):
            rate = rng.randint(1, 200_000) * 100  # 0.01 .. 2000.00
            tax_id = tax_ids[n % 3] if n % 10 else None
            items[item_id] = (rate, tax_id)
            item_records.append(
                (
                    item_id,
                    organization_id,
                    f"SKU-{organization_id}-{n:06d}",
                    f"Item {n} of organization {organization_id}",
                    "GOODS",
                    rate,
                    "pcs",
                    tax_id,
                    self.now,
                )
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
                "unit",
                "tax_id",
                "created_at",
            ),
            records=item_records,
        )
        # customers
        customer_ids = self._ids("customer", self.args.customers)
        addresses = {}
        customer_records = []
        for n, customer_id in enumerate(customer_ids):
            address = json.dumps(
                {
                    "attention": f"Buyer {n}",
                    "street1": f"{n} Main Street",
                    "street2": None,
                    "city": "Springfield",
                    "state": None,
                    "zip": f"{10000 + n}",
                    "country": "US",
                }
            )
            addresses[customer_id] = address
            customer_records.append(
                (
                    customer_id,
                    organization_id,
                    f"Customer {n:04d} of {organization_id}",
                    f"buyer{n}@customer{organization_id}.example",
                    "USD",
                    30,
                    "Net 30",
                    address,
                    address,
                    self.now,
                    self.now,
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
            records=customer_records,
        )
        # orders and lines, in chunks
        per_order = self.args.lines_per_order
        chunk = 10_000
        item_list = list(items)
        for start in range(0, orders, chunk):
            order_records, line_records = [], []
            for order_id in self._ids("sales_order", min(chunk, orders - start)):
                line_ids = self._ids("sales_order_line", per_order)
                draw = rng.random()
                status = next(s for s, upto in STATUS_MIX if draw < upto)
                sub_total = 0
                bases: dict[int, int] = {}
                for position, (line_id, item_id) in enumerate(
                    zip(line_ids, rng.sample(item_list, per_order))
                ):
                    rate, tax_id = items[item_id]
                    if rng.random() < 0.1:  # a line taxed otherwise than its item
                        tax_id = rng.choice(tax_ids)
                    quantity = (
                        rng.randint(1, 20) * SCALE if rng.random() < 0.7 else rng.randint(1, 99_999)
                    )
                    amount = _half_up(quantity * rate, SCALE * SCALE // 100)
                    sub_total += amount
                    if tax_id is not None:
                        bases[tax_id] = bases.get(tax_id, 0) + amount
                    shipped = quantity if status == "CLOSED" else 0
                    line_records.append(
                        (
                            line_id,
                            order_id,
                            position,
                            item_id,
                            None,
                            quantity,
                            rate,
                            0,
                            tax_id,
                            amount,
                            shipped,
                            shipped,
                            shipped,
                        )
                    )
                taxes = [
                    (tid, _half_up(base * tax_pct[tid], 100 * SCALE)) for tid, base in bases.items()
                ]
                tax_total = sum(amount for _, amount in taxes)
                shipping = rng.choice((0, 0, 500, 1500))
                customer_id = rng.choice(customer_ids)
                # distinct creation times one minute apart, with a tie every 50 orders
                created = self.now - timedelta(minutes=order_id - (order_id % 50 == 0))
                day = created.date()
                order_records.append(
                    (
                        order_id,
                        organization_id,
                        f"SO-{order_id:07d}",
                        f"PO-{order_id}" if rng.random() < 0.3 else None,
                        customer_id,
                        status,
                        "INVOICED" if status == "CLOSED" else "NOT_INVOICED",
                        "SHIPPED" if status == "CLOSED" else "NOT_SHIPPED",
                        day,
                        day + timedelta(days=7),
                        30,
                        "Net 30",
                        warehouse_id,
                        "USD",
                        addresses[customer_id],
                        addresses[customer_id],
                        0,
                        shipping,
                        sub_total,
                        json.dumps(
                            [
                                {"tax_id": tid, "amount": f"{a // 100}.{a % 100:02d}"}
                                for tid, a in taxes
                            ]
                        ),
                        tax_total,
                        sub_total + tax_total + shipping,
                        created,
                        created,
                    )
                )
            await conn.copy_records_to_table(
                "sales_order", columns=ORDER_COLUMNS, records=order_records
            )
            await conn.copy_records_to_table(
                "sales_order_line", columns=LINE_COLUMNS, records=line_records
            )
        await conn.execute(
            "UPDATE number_sequence SET next_number = $2 "
            "WHERE organization_id = $1 AND document = 'SALES_ORDER'",
            organization_id,
            self.next_id["sales_order"],
        )

    async def finish(self, conn: asyncpg.Connection) -> None:
        for table in ("tax", "item", "customer", "sales_order", "sales_order_line"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )


# --- the three ways to produce the page --------------------------------------------------------


class AsgiClient:
    """Calls the ASGI app directly: one POST, the response body collected."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ]

    async def post(self, path: str, payload: dict[str, Any]) -> bytes:
        body = json.dumps(payload).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
            "state": {},
        }
        done = asyncio.Event()
        given = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await self.app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {b''.join(chunks)[:500]!r}")
        return b"".join(chunks)


def persisted(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The request as an SPA sends a known persisted query: the document's hash alone."""
    sha256 = hashlib.sha256(query.encode()).hexdigest()
    return {
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}},
    }


async def register(client: AsgiClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Send the document with its hash once (as Apollo's client does after
    PERSISTED_QUERY_NOT_FOUND), then the payload of the hash alone."""
    payload = persisted(query, variables)
    await client.post("/graphql", {"query": query, **payload})
    return payload


class ExecutorFloor:
    """schema.execute() against in-memory rows: the same schema and resolvers, no I/O."""

    def __init__(self, schema: Any, principal: Any, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.principal = principal
        self.variables = variables
        self.page: Any = None
        self.primed: dict[str | tuple[str, ...], dict[Any, Any]] = {}
        limits = load_settings().limits
        self.compiled = CompiledQueries(
            schema, schema.limit_rules, limits.max_tokens, limits.max_cost
        )

    async def capture(self) -> None:
        """Run the query once against the database, keeping the page and what loaders got."""
        context = Context(request=None, principal=self.principal)

        def keeping(real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def keep_page(*args: Any, **kwargs: Any) -> Any:
                page = await real(*args, **kwargs)
                self.page = self.page or page
                return page

            return keep_page

        with contextlib.ExitStack() as stack:
            for owner, name in PAGE_FUNCTIONS:
                if hasattr(owner, name):
                    stack.enter_context(swapped(owner, name, keeping(getattr(owner, name))))
            result = await self.schema.execute(
                QUERY, variable_values=self.variables, context_value=context
            )
        if result.errors:
            raise RuntimeError(result.errors)
        loaders: dict[Any, Any] = {**vars(context.loaders), **context.loaders.joined_order_lines}
        for name, loader in loaders.items():
            if not isinstance(loader, Loader):
                continue
            held = dict(loader.cache_map.values)  # primed, and loaded (their futures)
            held.update((key, future.result()) for key, future in loader.cache_map.futures.items())
            if held:
                self.primed[name] = held

    def context(self) -> Context:
        return PrimedContext(request=None, principal=self.principal, primed=self.primed)

    async def page_in_memory(self, *args: Any, **kwargs: Any) -> Any:
        return self.page

    async def run(self, context: Context, compiled: bool = False) -> tuple[bytes, float]:
        """(JSON, seconds of execute alone); `compiled`: the persisted path's plan
        (api/compiled) in place of schema.execute, and its encoder (orjson)."""
        with contextlib.ExitStack() as stack:
            for owner, name in PAGE_FUNCTIONS:
                if hasattr(owner, name):
                    stack.enter_context(swapped(owner, name, self.page_in_memory))
            started = time.perf_counter()
            if compiled:
                result = await self.compiled.execute(QUERY, self.variables, None, context, None)
            else:
                result = await self.schema.execute(
                    QUERY, variable_values=self.variables, context_value=context
                )
            executed = time.perf_counter() - started
        if result is None or result.errors:
            raise RuntimeError(result and result.errors)
        if compiled:
            return encode_response({"data": result.data}), executed
        return json.dumps({"data": result.data}, separators=(",", ":")).encode(), executed


# Where the salesOrders resolver gets its page from (the keyset query): swapped for the floor.
PAGE_FUNCTIONS = ((api_queries, "paginate"),)


@contextlib.contextmanager
def swapped(owner: Any, name: str, value: Any) -> Iterator[None]:
    previous = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, previous)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _quantity(scaled: int) -> str:
    """The Decimal scalar's text of a value scaled by 10**4: two places, more if they count."""
    sign = "-" if scaled < 0 else ""
    whole, fraction = divmod(abs(scaled), SCALE)
    if fraction % 100 == 0:
        return f"{sign}{whole}.{fraction // 100:02d}"
    return f"{sign}{whole}.{f'{fraction:04d}'.rstrip('0')}"


PAGE_SQL = """
SELECT o.id, o.number, o.status, o.date, o.currency, o.sub_total, o.tax_total, o.total,
       o.created_at, o.customer_id, c.name AS customer_name
FROM sales_order o JOIN customer c ON c.id = o.customer_id
WHERE o.organization_id = $1 AND o.status <> 'MERGED'
ORDER BY o.created_at DESC, o.id DESC
LIMIT $2
"""
LINES_SQL = """
SELECT l.sales_order_id, l.quantity, l.rate, l.amount, i.sku, i.name AS item_name,
       t.name AS tax_name, t.percentage
FROM sales_order_line l
JOIN item i ON i.id = l.item_id
LEFT JOIN tax t ON t.id = l.tax_id
WHERE l.sales_order_id = ANY($1::bigint[])
ORDER BY l.sales_order_id, l.position, l.id
"""


DETAIL_SQL = """
SELECT o.id, o.number, o.status, o.date, o.currency, o.sub_total, o.tax_total, o.total,
       o.created_at, o.customer_id, c.name AS customer_name
FROM sales_order o JOIN customer c ON c.id = o.customer_id
WHERE o.organization_id = $1 AND o.id = $2
"""
FEED_SQL = """
SELECT id, type, actor, resource_type, resource_key, occurred_at, data, position
FROM feed_event WHERE organization_id = $1 AND position IS NOT NULL
ORDER BY position LIMIT $2
"""


async def _order_lines(conn: asyncpg.Connection, orders: list[Any]) -> dict[int, list[Any]]:
    lines: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in orders}
    for line in await conn.fetch(LINES_SQL, list(lines)):
        tax = (
            {"name": line["tax_name"], "percentage": _quantity(line["percentage"])}
            if line["tax_name"] is not None
            else None
        )
        lines[line["sales_order_id"]].append(
            {
                "quantity": _quantity(line["quantity"]),
                "rate": _quantity(line["rate"]),
                "amount": _money(line["amount"]),
                "item": {"sku": line["sku"], "name": line["item_name"]},
                "tax": tax,
            }
        )
    return lines


def _order_node(row: Any, lines: list[Any]) -> dict[str, Any]:
    return {
        "id": _b64(f"SalesOrder:{row['id']}"),
        "number": row["number"],
        "status": row["status"],
        "date": row["date"].isoformat(),
        "currency": row["currency"],
        "subTotal": _money(row["sub_total"]),
        "taxTotal": _money(row["tax_total"]),
        "total": _money(row["total"]),
        "customer": {"id": _b64(f"Customer:{row['customer_id']}"), "name": row["customer_name"]},
        "lines": lines,
    }


async def database_floor(conn: asyncpg.Connection, organization_id: int, first: int) -> bytes:
    """The page with two asyncpg queries and hand-made JSON (the same JSON as the API's)."""
    orders = await conn.fetch(PAGE_SQL, organization_id, first + 1)
    more = len(orders) > first
    orders = orders[:first]
    lines = await _order_lines(conn, orders)
    edges = []
    for row in orders:
        cursor = json.dumps(
            ["created_at", str(row["created_at"]), row["id"]], separators=(",", ":")
        )
        edges.append({"cursor": _b64(cursor), "node": _order_node(row, lines[row["id"]])})
    data = {
        "salesOrders": {
            "pageInfo": {
                "hasNextPage": more,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }
    }
    return json.dumps({"data": data}, separators=(",", ":")).encode()


async def detail_floor(conn: asyncpg.Connection, organization_id: int, order_id: int) -> bytes:
    """One order as the detail query gives it, by hand: two asyncpg queries."""
    orders = await conn.fetch(DETAIL_SQL, organization_id, order_id)
    lines = await _order_lines(conn, orders)
    node = _order_node(orders[0], lines[orders[0]["id"]]) if orders else None
    return json.dumps({"data": {"salesOrder": node}}, separators=(",", ":")).encode()


async def feed_floor(conn: asyncpg.Connection, organization_id: int, first: int) -> bytes:
    """A page of the event feed by hand: one asyncpg query (cursors as the feed writes them)."""
    rows = await conn.fetch(FEED_SQL, organization_id, first + 1)
    edges = []
    for row in rows[:first]:
        at = row["occurred_at"]
        node = {
            "id": _b64(f"Event:{row['id']}"),
            "type": row["type"],
            "occurredAt": at.isoformat(),
            "actor": row["actor"],
            "resourceId": _b64(f"{row['resource_type']}:{row['resource_key']}"),
            "data": json.loads(row["data"]),
        }
        cursor = _b64(f"feed:{row['position']}:{int(at.timestamp())}")
        edges.append({"cursor": cursor, "node": node})
    page_info = {
        "hasNextPage": len(rows) > first,
        "endCursor": edges[-1]["cursor"] if edges else None,
    }
    data = {"events": {"edges": edges, "pageInfo": page_info}}
    return json.dumps({"data": data}, separators=(",", ":")).encode()


# --- measuring --------------------------------------------------------------------------------


class StatementLog(logging.Handler):
    """Every SQL statement tortoise sends (with its parameters) while attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[tuple[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args or ()
        if isinstance(args, tuple) and len(args) == 2:
            self.statements.append((str(args[0]), args[1]))
        else:
            self.statements.append((record.getMessage(), None))


@contextlib.contextmanager
def statements() -> Iterator[list[tuple[str, Any]]]:
    handler = StatementLog()
    logger = logging.getLogger("tortoise.db_client")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def count_fields(value: Any) -> int:
    """Fields in a GraphQL response's data: every key of every object."""
    if isinstance(value, dict):
        return sum(1 + count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(v) for v in value)
    return 0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p10 = ordered[len(ordered) // 10]
    p90 = ordered[(len(ordered) * 9) // 10]
    return (
        f"median {_ms(statistics.median(values))}  (p10 {p10 * 1000:.2f}, p90 {p90 * 1000:.2f}, "
        f"min {ordered[0] * 1000:.2f})"
    )


def _abbreviate(line: str) -> str:
    """A statement or plan line with its long lists of ids or placeholders shortened."""
    line = re.sub(
        r"'\{([0-9,]{60,})\}'", lambda m: f"'{{<{m.group(1).count(',') + 1} ids>}}'", line
    )
    return re.sub(
        r"\(((?:\$\d+,){8,}\$\d+)\)", lambda m: f"(<{m.group(1).count(',') + 1} params>)", line
    )


async def explain(conn: asyncpg.Connection, sql: str, values: Any, title: str) -> None:
    log(f"\nEXPLAIN (ANALYZE, BUFFERS) -- {title}:")
    log("  " + _abbreviate(" ".join(sql.split()))[:400])
    args = list(values) if values else []
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    for row in rows:
        log("  " + _abbreviate(row[0]))


async def interleaved(
    rounds: int, actions: dict[str, Callable[[], Awaitable[Any]]]
) -> dict[str, list[float]]:
    """Wall-clock seconds of each action per round, and under "<name> cpu" the CPU seconds
    this process spent (robust to other processes competing for the CPUs, but blind to the
    time PostgreSQL works for us)."""
    timings: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, action in actions.items():
            cpu = time.process_time()
            started = time.perf_counter()
            await action()
            timings.setdefault(name, []).append(time.perf_counter() - started)
            timings.setdefault(f"{name} cpu", []).append(time.process_time() - cpu)
    return timings


async def profile_requests(
    client: AsgiClient, payload: dict[str, Any], count: int, html: str | None
) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        log("\n--profile needs pyinstrument (the bench extra): .venv/bin/pip install -e '.[bench]'")
        return
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    for _ in range(count):
        await client.post("/graphql", payload)
    profiler.stop()
    log(f"\npyinstrument profile of {count} requests:")
    log(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))
    if html:
        Path(html).write_text(profiler.output_html(), encoding="utf-8")
        log(f"profile written to {html}")


@dataclasses.dataclass
class PrimedContext(Context):
    """A context whose loaders start with what the capture loaded -- also those of the copy
    the compiled path runs its plan on (api/compiled/runner.py makes it with loaders of its
    own, through __post_init__ and so this fresh_loaders)."""

    primed: dict[Any, dict[Any, Any]] = dataclasses.field(default_factory=dict)

    def fresh_loaders(self) -> None:
        super().fresh_loaders()
        loaders = self.loaders
        for name, values in self.primed.items():
            if isinstance(name, tuple):  # the lines with these relations joined in
                loaders.order_lines_joined(name).prime_many(values)
            else:
                getattr(loaders, name).prime_many(values)


def compiled_total() -> float:
    return REGISTRY.get_sample_value("gqlorders_compiled_queries_total") or 0.0


class CompiledRuns:
    """Counts what should have run a compiled plan, to check afterwards that all of it did (a
    fallback would time the standard executor under the persisted path's name)."""

    def __init__(self) -> None:
        self.expected = 0
        self.before = compiled_total()

    def all_ran(self, title: str) -> bool:
        ran = compiled_total() - self.before
        log(f"{title}: {ran:.0f} of {self.expected} compiled runs answered by their plan")
        return ran == self.expected


def settle(freeze: bool) -> None:
    """Before timing: what exists now collected, and with `freeze` the garbage collector set as
    `gqlorders serve` sets it after startup (create_app(freeze_after_startup=True):
    `settle_garbage_collector`, gc.freeze and a larger youngest generation): otherwise every
    full collection during the timing walks the bench's own rows and contexts, which no server
    holds."""
    gc.collect()
    if freeze:
        settle_garbage_collector()


async def persisted_beside(
    title: str,
    client: AsgiClient,
    query: str,
    variables: dict[str, Any],
    floor: Callable[[], Awaitable[bytes]],
    rounds: int,
    freeze: bool,
) -> tuple[float, bool]:
    """The request sent with its document, as a persisted query's hash, and by hand (asyncpg
    and JSON), interleaved; prints the figures and returns persisted / database floor, and
    whether the answers were identical and every persisted request ran its plan."""
    payload = {"query": query, "variables": variables}
    hashed = await register(client, query, variables)
    standard = await client.post("/graphql", payload)
    runs = CompiledRuns()
    compiled = await client.post("/graphql", hashed)
    runs.expected += 1
    same_floor = json.loads(await floor()) == json.loads(standard)
    log(
        f"\n{title}: {len(standard):,} bytes of JSON; persisted byte-identical: "
        f"{'yes' if compiled == standard else 'NO'}; database floor identical JSON: "
        f"{'yes' if same_floor else 'NO'}"
    )

    async def request() -> None:
        await client.post("/graphql", payload)

    async def persisted_request() -> None:
        await client.post("/graphql", hashed)
        runs.expected += 1

    actions = {"request": request, "persisted": persisted_request, "database floor": floor}
    await interleaved(max(5, rounds // 10), actions)
    settle(freeze)
    load = os.getloadavg()[0]
    timings = await interleaved(rounds, actions)
    median = {name: statistics.median(values) for name, values in timings.items()}
    log(f"load average 1 min: {load:.2f} before, {os.getloadavg()[0]:.2f} after timing")
    for name in actions:
        log(f"  {name + ':':16s}{summary(timings[name])}")
    ratio = median["persisted"] / median["database floor"]
    log(f"ratio request / database floor:   {median['request'] / median['database floor']:.2f}")
    log(f"ratio persisted / request:        {median['persisted'] / median['request']:.2f}")
    log(f"ratio persisted / database floor: {ratio:.2f}")
    return ratio, compiled == standard and same_floor and runs.all_ran(title)


EXPLAIN_QUERY = """
query($first: Int!, $after: String, $filter: SalesOrderFilter, $sort: SalesOrderSort) {
  salesOrders(first: $first, after: $after, filter: $filter, sort: $sort) {
    edges { node { number customer { name } } }
  }
}"""

# Indexes worth having for the list's filters and sorts (organization first), created only with
# --indexes, in the bench database, to compare the plans with and without them.
CANDIDATE_INDEXES = {
    "bench_so_org_created_id": "CREATE INDEX bench_so_org_created_id "
    "ON sales_order (organization_id, created_at, id)",
    "bench_so_org_customer_created": "CREATE INDEX bench_so_org_customer_created "
    "ON sales_order (organization_id, customer_id, created_at, id)",
    "bench_so_org_status_created": "CREATE INDEX bench_so_org_status_created "
    "ON sales_order (organization_id, status, created_at, id)",
    "bench_so_org_date_id": "CREATE INDEX bench_so_org_date_id "
    "ON sales_order (organization_id, date, id)",
}


def _page_statement(sent: list[tuple[str, Any]]) -> tuple[str, Any] | None:
    return next((s for s in sent if 'FROM "sales_order"' in s[0] and "LIMIT" in s[0]), None)


CONDITION_COLUMN = re.compile(r"([a-z_]+)\)?(?:::\w+)? [<>=]")  # "(status)::text = ..."


def _scans(node: dict[str, Any]) -> list[str]:
    """The plan's scans and sorts, depth first, one short phrase each."""
    found = []
    kind = node["Node Type"]
    if "Relation Name" in node or "Index Name" in node:
        text = f"{kind} {node.get('Relation Name', '')}".strip()
        if "Index Name" in node:
            text += f" via {node['Index Name']}"
            if "Index Cond" in node:
                columns = sorted(set(CONDITION_COLUMN.findall(node["Index Cond"])))
                text += f" [cond: {', '.join(columns) or node['Index Cond'][:40]}]"
        if node.get("Rows Removed by Filter"):
            text += f" (filtered out {node['Rows Removed by Filter']:,} rows)"
        found.append(text)
    elif kind in ("Sort", "Incremental Sort"):
        found.append(kind)
    for child in node.get("Plans", ()):
        found.extend(_scans(child))
    return found


async def plan_summary(conn: asyncpg.Connection, sql: str, values: Any) -> tuple[float, str]:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *(values or []))
    plan = rows[0][0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Execution Time"], "; ".join(_scans(plan[0]["Plan"]))


async def explain_list(
    conn: asyncpg.Connection,
    client: AsgiClient,
    organization_id: int,
    args: argparse.Namespace,
    sent: list[tuple[str, Any]],
    sent_with_total: list[tuple[str, Any]],
) -> None:
    """EXPLAIN ANALYZE of the statements of the request, then a plan summary of the list query
    for each sort and filter of the contract (and with candidate indexes, with --indexes)."""
    first_page = _page_statement(sent)
    if first_page is not None:
        await explain(conn, *first_page, "the list query, first page")
    depth = min(10_000, args.orders // 2)
    deep = await conn.fetchrow(
        "SELECT id, created_at FROM sales_order WHERE organization_id = $1 "
        "AND status <> 'MERGED' ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
        organization_id,
        depth,
    )
    assert deep is not None  # depth is at most half the orders filled: a row that deep exists
    cursor = _b64(
        json.dumps(["created_at", str(deep["created_at"]), deep["id"]], separators=(",", ":"))
    )
    with statements() as deep_sent:
        await client.post(
            "/graphql", {"query": QUERY, "variables": {"first": args.first, "after": cursor}}
        )
    deep_page = _page_statement(deep_sent)
    if deep_page is not None:
        await explain(conn, *deep_page, f"the list query, a keyset page {depth:,} rows in")
    total = next((s for s in sent_with_total if "COUNT(" in s[0].upper()), None)
    if total is not None:
        await explain(conn, *total, "totalCount (only when selected)")
    for sql, values in sent:
        if "sales_order_line" in sql or (
            " IN (" in sql and "LIMIT" not in sql and "api_token" not in sql
        ):
            table = re.search(r'FROM "(\w+)"', sql)
            await explain(conn, sql, values, f"loader query on {table.group(1) if table else '?'}")

    latest = await conn.fetchrow(
        "SELECT customer_id, date FROM sales_order WHERE organization_id = $1 "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        organization_id,
    )
    assert latest is not None  # the organization was filled with orders
    customer = _b64(f"Customer:{latest['customer_id']}")
    month_from = latest["date"].replace(day=1).isoformat()
    variants: dict[str, dict[str, Any]] = {
        "createdAt DESC (default), first page": {},
        f"createdAt DESC, {depth:,} rows in": {"after": cursor},
        "date DESC": {"sort": {"field": "DATE", "direction": "DESC"}},
        "total DESC": {"sort": {"field": "TOTAL", "direction": "DESC"}},
        "number ASC": {"sort": {"field": "NUMBER", "direction": "ASC"}},
        "status CONFIRMED": {"filter": {"status": ["CONFIRMED"]}},
        "customerId": {"filter": {"customerId": customer}},
        "dateFrom..dateTo (a month)": {
            "filter": {"dateFrom": month_from, "dateTo": latest["date"].isoformat()}
        },
        "search (number)": {"filter": {"search": "SO-00012"}},
        "search (customer name)": {"filter": {"search": "Customer 0042"}},
        "marketplace": {"filter": {"marketplace": "shopify"}},
    }
    statements_of: dict[str, tuple[str, Any]] = {}
    for name, given in variants.items():
        with statements() as variant_sent:
            await client.post(
                "/graphql",
                {"query": EXPLAIN_QUERY, "variables": {"first": args.first, **given}},
            )
        page = _page_statement(variant_sent)
        if page is not None:
            statements_of[name] = page

    async def summaries(title: str) -> None:
        log(f"\nthe list query by sort and filter, {title} (EXPLAIN ANALYZE, execution time):")
        for name, (sql, values) in statements_of.items():
            milliseconds, scans = await plan_summary(conn, sql, values)
            log(f"  {name:38s} {milliseconds:8.2f} ms  {scans}")

    await summaries("with the indexes of the migrations")
    if args.indexes:
        for ddl in CANDIDATE_INDEXES.values():
            await conn.execute(ddl)
        await conn.execute("ANALYZE sales_order")
        await summaries(f"with candidate indexes {', '.join(CANDIDATE_INDEXES)}")
        for index in CANDIDATE_INDEXES:
            await conn.execute(f"DROP INDEX {index}")


async def bench(args: argparse.Namespace, url: str, data_dir: Path) -> int:
    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "LOG_FORMAT": "text"})
    started = time.perf_counter()
    await database.migrate(settings)
    log(f"migrated in {time.perf_counter() - started:.1f} s")

    async with database.connected(settings):
        organization = await create_organization("Bench Co", "USD")
        other = await create_organization("Other Co", "USD")
        token = await create_token(organization.id, name="bench")
        conn = await asyncpg.connect(url)
        try:
            server_version = await conn.fetchval("SHOW server_version")
            started = time.perf_counter()
            filler = Filler(args)
            await conn.execute("SET session_replication_role = replica")  # no FK triggers
            await filler.fill(conn, organization.id, args.orders)
            await filler.fill(conn, other.id, args.other_orders)
            await conn.execute("SET session_replication_role = DEFAULT")
            await filler.finish(conn)
            await conn.execute(FILL_FEED, organization.id, FEED_EVENTS)
            filled = time.perf_counter() - started
            started = time.perf_counter()
            await conn.execute("VACUUM ANALYZE")
            log(
                f"filled {args.orders:,} + {args.other_orders:,} orders of "
                f"{args.lines_per_order} lines in {filled:.1f} s "
                f"(VACUUM ANALYZE {time.perf_counter() - started:.1f} s)"
            )

            app = create_app(settings, manage_database=False)
            client = AsgiClient(app, token)
            variables = {"first": args.first, "after": None}
            payload = {"query": QUERY, "variables": variables}
            principal = await authenticate(token)
            floor = ExecutorFloor(build_schema(settings.limits), principal, variables)
            await floor.capture()

            # the same JSON four ways
            hashed = await register(client, QUERY, variables)
            response = await client.post("/graphql", payload)
            same_persisted = await client.post("/graphql", hashed) == response
            with statements() as floor_sent:
                floor_json, _ = await floor.run(floor.context())
                compiled_json, _ = await floor.run(floor.context(), compiled=True)
            if floor_sent:
                raise SystemExit(f"the executor floors sent SQL: {floor_sent}")
            same_persisted = same_persisted and compiled_json == response
            database_json = await database_floor(conn, organization.id, args.first)
            body = json.loads(response)
            if "errors" in body:
                raise SystemExit(f"the request failed: {body['errors']}")
            same_floor = json.loads(floor_json) == body
            same_database = json.loads(database_json) == body
            fields = count_fields(body["data"])
            edges = body["data"]["salesOrders"]["edges"]
            line_count = sum(len(edge["node"]["lines"]) for edge in edges)
            log(
                f"page: {len(edges)} orders, {line_count} lines, {fields:,} fields, "
                f"{len(response):,} bytes of JSON; identical JSON: executor floor "
                f"{'yes' if same_floor else 'NO'}, database floor "
                f"{'yes' if same_database else 'NO'}; persisted path byte-identical: "
                f"{'yes' if same_persisted else 'NO'}"
            )

            # SQL statements of one request
            with statements() as sent:
                await client.post("/graphql", payload)
            with statements() as sent_with_total:
                await client.post("/graphql", {"query": WITH_TOTAL, "variables": variables})
            log(
                f"SQL statements per request: {len(sent)} "
                f"(with totalCount selected: {len(sent_with_total)})"
            )
            for sql, _ in sent:
                log("  " + _abbreviate(" ".join(sql.split()))[:160])

            # timings
            contexts: list[Context] = []
            executed: list[float] = []
            compiled_executed: list[float] = []

            async def request() -> None:
                await client.post("/graphql", payload)

            async def persisted_request() -> None:
                await client.post("/graphql", hashed)
                runs.expected += 1

            async def executor() -> None:
                _, seconds = await floor.run(contexts.pop())
                executed.append(seconds)

            async def compiled_executor() -> None:
                _, seconds = await floor.run(contexts.pop(), compiled=True)
                compiled_executed.append(seconds)
                runs.expected += 1

            async def database_only() -> None:
                await database_floor(conn, organization.id, args.first)

            runs = CompiledRuns()
            warm = max(10, args.rounds // 10)
            log(f"timing {args.rounds} interleaved rounds (after {warm} warm-up rounds) ...")
            contexts.extend(floor.context() for _ in range(warm))
            contexts.extend(floor.context() for _ in range(warm))
            await interleaved(
                warm,
                {
                    "a": request,
                    "b": executor,
                    "c": database_only,
                    "d": persisted_request,
                    "e": compiled_executor,
                },
            )
            executed.clear()
            compiled_executed.clear()
            contexts.extend(floor.context() for _ in range(2 * args.rounds))
            settle(not args.no_freeze)
            load_before = os.getloadavg()[0]
            timings = await interleaved(
                args.rounds,
                {
                    "request": request,
                    "persisted": persisted_request,
                    "executor floor": executor,
                    "compiled floor": compiled_executor,
                    "database floor": database_only,
                },
            )
            load_after = os.getloadavg()[0]

            median = {name: statistics.median(values) for name, values in timings.items()}
            req, ex, db = (
                median["request"],
                median["executor floor"],
                median["database floor"],
            )
            req_cpu, ex_cpu, db_cpu = (
                median["request cpu"],
                median["executor floor cpu"],
                median["database floor cpu"],
            )
            log("")
            log(f"machine: {machine(server_version)}")
            log(f"load average 1 min: {load_before:.2f} before, {load_after:.2f} after timing")
            log("wall clock:")
            log(f"  request (ASGI, in-process):     {summary(timings['request'])}")
            log(f"  executor floor (execute+JSON):  {summary(timings['executor floor'])}")
            log(f"    of which schema.execute:      {summary(executed)}")
            log(f"  database floor (asyncpg+JSON):  {summary(timings['database floor'])}")
            log(f"  persisted (compiled plan):      {summary(timings['persisted'])}")
            log(f"  compiled floor (plan+JSON):     {summary(timings['compiled floor'])}")
            log(f"    of which the plan's run:      {summary(compiled_executed)}")
            log("CPU time of this process (medians; PostgreSQL's own work not included):")
            log(
                f"  request {_ms(req_cpu)}, executor floor {_ms(ex_cpu)}, "
                f"database floor {_ms(db_cpu)}"
            )
            log(
                f"ratio request / executor floor:  {req / ex:6.2f} wall, "
                f"{req_cpu / ex_cpu:5.2f} CPU   (goal <= {GOAL_RATIO})"
            )
            log(
                f"ratio request / database floor:  {req / db:6.2f} wall, "
                f"{req_cpu / db_cpu:5.2f} CPU"
            )
            log(f"ratio executor / database floor: {ex / db:6.2f} wall, {ex_cpu / db_cpu:5.2f} CPU")
            persisted_ratio = median["persisted"] / db
            same_persisted = runs.all_ran("the page") and same_persisted
            log(
                f"ratio persisted / request:       {median['persisted'] / req:6.2f} wall, "
                f"{median['persisted cpu'] / req_cpu:5.2f} CPU"
            )
            log(
                f"CPU: persisted {_ms(median['persisted cpu'])}, compiled floor "
                f"{_ms(median['compiled floor cpu'])}; ratio persisted / database floor on CPU "
                f"{median['persisted cpu'] / db_cpu:.2f}, compiled floor / executor floor "
                f"{median['compiled floor'] / ex:.2f} wall, "
                f"{median['compiled floor cpu'] / ex_cpu:.2f} CPU"
            )
            log(f"ratio persisted / database floor: {persisted_ratio:.2f}")
            verdict = "within" if req / ex <= GOAL_RATIO else "ABOVE"
            log(
                f"summary: page of {len(edges)} orders x {args.lines_per_order} lines "
                f"({fields:,} fields): request {req * 1000:.2f} ms, executor floor "
                f"{ex * 1000:.2f} ms, database floor {db * 1000:.2f} ms; request/executor "
                f"{req / ex:.2f} ({verdict} {GOAL_RATIO}; CPU {req_cpu / ex_cpu:.2f}), "
                f"request/database {req / db:.2f}; {len(sent)} statements; persisted "
                f"{median['persisted'] * 1000:.2f} ms, persisted/database {persisted_ratio:.2f} "
                f"(goal <= {PERSISTED_GOAL})"
            )

            order_id = edges[0]["node"]["id"]
            parsed = parse_id(order_id)
            assert parsed is not None
            _, detail_same = await persisted_beside(
                f"the single-order detail query ({order_id})",
                client,
                DETAIL,
                {"id": order_id},
                lambda: detail_floor(conn, organization.id, parsed[1]),
                args.rounds,
                not args.no_freeze,
            )
            _, feed_same = await persisted_beside(
                f"a page of the event feed ({FEED_EVENTS:,} events)",
                client,
                FEED,
                {"after": None},
                lambda: feed_floor(conn, organization.id, FEED_EVENTS),
                max(20, args.rounds // 4),
                not args.no_freeze,
            )

            if not args.no_explain:
                await explain_list(conn, client, organization.id, args, sent, sent_with_total)

            if args.profile or args.profile_html:
                await profile_requests(client, payload, args.profile_requests, args.profile_html)
                log("\nthe same page as a persisted query (compiled plan):")
                await profile_requests(client, hashed, args.profile_requests, None)
                detail = await register(client, DETAIL, {"id": order_id})
                log("\nthe single-order detail query as a persisted query, 10 times as often:")
                await profile_requests(client, detail, 10 * args.profile_requests, None)
        finally:
            await conn.close()
    same = same_floor and same_database and same_persisted and detail_same and feed_same
    return 0 if same else 1


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    async with throwaway_database(args.keep) as (url, data_dir):
        return await bench(args, url, data_dir)


if __name__ == "__main__":
    sys.exit(run(main()))
