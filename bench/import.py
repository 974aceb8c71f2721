"""Benchmark marketplace order import on PostgreSQL: the domain path against bare inserts.

Creates a throw-away database, migrates it, generates Shopify-shaped orders (webhook bodies:
3-5 lines each over 50 SKUs, 2,000 distinct buyer e-mails, prices as decimal strings, a tax
line per line, some line discounts), then times, each in an organization of its own:

  (a) `gqlorders.marketplaces.importing.import_order`, the path importMarketplaceOrder, the webhook
      job and `gqlorders import` all take, followed by `jobs.after_request()` as in the server
      (so the stock recalculation each confirmed order causes runs too): single-stream, and
      with a bounded concurrency (asyncio.Semaphore);
  (b) the same rows (customers, orders, lines) inserted directly with asyncpg, one
      transaction per order (a customer looked up by e-mail, inserted when new; the order row;
      its lines by executemany): single-stream and with the same concurrency;
  (c) a short sample through the GraphQL mutation over httpx's ASGI transport, alternating
      order by order with the domain path on the same orders (so that load on the machine hits
      both alike): the API's own overhead (HTTP, parsing, validation, auth, serialization).

and checks what each wrote: one order per payload, one customer per e-mail, one tax per rate,
and the same sum of totals for the same payloads (exit status 1 otherwise). During the
concurrent runs it samples pg_stat_activity for the share of busy backends waiting on a lock.

    .venv/bin/python bench/import.py                      # 10,000 orders
    .venv/bin/python bench/import.py --orders 2000 --single-stream 1000 --keep

The PostgreSQL server is GQLORDERS_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432);
the database is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tortoise import Tortoise

from gqlorders import database, jobs
from gqlorders.catalog.items import NewItem, create_item
from gqlorders.config import Settings, load_settings
from gqlorders.marketplaces.importing import import_order
from gqlorders.models import Customer, ItemKind, SalesOrder, SalesOrderLine, Tax
from gqlorders.money import TaxedAmount, document_totals, line_amount
from gqlorders.tenancy import Principal, Scope, create_organization, create_token
from workers import jobs as worker_jobs

POSTGRES_URL = os.environ.get("GQLORDERS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
TAX_RATES = ("0.2", "0.1", "0.055")  # Shopify's tax_lines[].rate: a fraction
MONEY = Decimal("0.01")

IMPORT_MUTATION = """
mutation($input: ImportMarketplaceOrderInput!) {
  importMarketplaceOrder(input: $input) { created salesOrder { id total } errors { code message } }
}"""


def log(message: str = "") -> None:
    print(message, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders to import (10000)")
    parser.add_argument(
        "--single-stream",
        type=int,
        default=2_000,
        help="orders for the single-stream runs, the first of --orders (2000; 0: all)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent imports (8)")
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--customers", type=int, default=2_000, help="distinct buyer e-mails")
    parser.add_argument("--api-sample", type=int, default=200, help="orders through GraphQL")
    parser.add_argument(
        "--pool", type=int, default=None, help="ORM pool size (default: concurrency + 2)"
    )
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    return parser.parse_args(argv)


# --- orders ------------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    return str(value.quantize(MONEY))


def generate_orders(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Shopify orders/create bodies, deterministic for a seed."""
    rng = random.Random(args.seed)
    skus = [f"SKU-{n:03d}" for n in range(1, args.skus + 1)]
    prices = {sku: Decimal(rng.randint(199, 25_000)) / 100 for sku in skus}  # 1.99 .. 250.00
    sku_rates = {sku: rng.choice(TAX_RATES) for sku in skus}
    buyers = [
        (f"buyer{n:05d}@shop.example", f"Buyer {n:05d}", 7_000_000_000 + n)
        for n in range(1, args.customers + 1)
    ]
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    orders = []
    for number in range(1, args.orders + 1):
        email, name, customer_id = rng.choice(buyers)
        first_name, last_name = name.split(" ")
        created = start + timedelta(minutes=7 * number)
        line_items: list[dict[str, Any]] = []
        for index, sku in enumerate(rng.sample(skus, rng.randint(3, 5))):
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = prices[sku]
            discount = (
                (price * quantity * Decimal("0.1")).quantize(MONEY) if rng.random() < 0.2 else 0
            )
            net = price * quantity - discount
            tax_rate = sku_rates[sku]
            line_items.append(
                {
                    "id": 9_000_000_000_000 + number * 10 + index,
                    "sku": sku,
                    "title": f"Product {sku}",
                    "name": f"Product {sku}",
                    "quantity": quantity,
                    "price": money(price),
                    "total_discount": "0.00",
                    "discount_allocations": (
                        [{"amount": money(Decimal(discount)), "discount_application_index": 0}]
                        if discount
                        else []
                    ),
                    "tax_lines": [
                        {
                            "title": "VAT",
                            "price": money(net * Decimal(tax_rate)),
                            "rate": float(tax_rate),
                        }
                    ],
                }
            )
        sub_total = sum(
            (Decimal(line["price"]) * line["quantity"] for line in line_items), Decimal(0)
        )
        discounts = sum(
            (Decimal(a["amount"]) for line in line_items for a in line["discount_allocations"]),
            Decimal(0),
        )
        tax = sum(
            (Decimal(t["price"]) for line in line_items for t in line["tax_lines"]), Decimal(0)
        )
        shipping = Decimal(rng.choice(("0.00", "4.90", "9.90")))
        address = {
            "first_name": first_name,
            "last_name": last_name,
            "address1": f"{number % 997 + 1} Market Street",
            "city": "Springfield",
            "zip": f"{10_000 + number % 89_999}",
            "province_code": "IL",
            "country_code": "US",
        }
        orders.append(
            {
                "id": 6_000_000_000_000_000_000 + number,  # beyond 2**53, as Shopify's are
                "name": f"#{1000 + number}",
                "order_number": 1000 + number,
                "email": email,
                "created_at": created.isoformat(),
                "updated_at": created.isoformat(),
                "currency": "USD",
                "taxes_included": False,
                "subtotal_price": money(sub_total - discounts),
                "total_discounts": money(discounts),
                "total_tax": money(tax),
                "total_price": money(sub_total - discounts + tax + shipping),
                "total_shipping_price_set": {
                    "shop_money": {"amount": money(shipping), "currency_code": "USD"}
                },
                "customer": {
                    "id": customer_id,
                    "email": email,
                    "first_name": first_name,
                    "last_name": last_name,
                },
                "billing_address": address,
                "shipping_address": address,
                "line_items": line_items,
            }
        )
    return orders


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    orders: int
    seconds: float
    first_tenth: float = 0.0  # orders/s over the first 10 % of the orders done
    last_tenth: float = 0.0  # and over the last 10 %

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else float("inf")

    @property
    def ms_per_order(self) -> float:
        return 1000 * self.seconds / self.orders if self.orders else 0.0

    def __str__(self) -> str:
        return (
            f"{self.label:<46} {self.orders:>6} orders {self.seconds:>7.1f} s "
            f"{self.rate:>7.1f} orders/s {self.ms_per_order:>7.2f} ms/order "
            f"(first 10 %: {self.first_tenth:.0f}/s, last 10 %: {self.last_tenth:.0f}/s)"
        )


def tenth_rates(started: float, finished: list[float]) -> tuple[float, float]:
    """Orders/s over the first and the last tenth of the orders, by completion time."""
    tenth = max(1, len(finished) // 10)
    first = tenth / (finished[tenth - 1] - started)
    last = tenth / (finished[-1] - finished[-tenth - 1]) if len(finished) > tenth else first
    return first, last


class LockSampler:
    """Samples pg_stat_activity of the bench database while a run goes on: which share of the
    busy backends waits on a lock, and on which statement."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.busy = 0
        self.locked: dict[str, int] = {}
        self._stop = asyncio.Event()

    async def run(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                for row in await conn.fetch(
                    "SELECT wait_event_type, left(regexp_replace(query, '\\s+', ' ', 'g'), 50) "
                    "AS query FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'active'"
                ):
                    self.busy += 1
                    if row["wait_event_type"] == "Lock":
                        self.locked[row["query"]] = self.locked.get(row["query"], 0) + 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.2)
        finally:
            await conn.close()

    def stop(self) -> None:
        self._stop.set()

    def report(self) -> None:
        waiting = sum(self.locked.values())
        if not self.busy:
            return
        log(f"    {100 * waiting / self.busy:.0f} % of the busy backend samples wait on a lock")
        for query, count in sorted(self.locked.items(), key=lambda kv: -kv[1])[:2]:
            if 100 * count >= self.busy:
                log(f"      {100 * count / self.busy:.0f} % on: {query}...")


async def timed(
    label: str,
    payloads: list[dict[str, Any]],
    one: Callable[[dict[str, Any]], Awaitable[None]],
    concurrency: int,
    sampler_dsn: str | None = None,
) -> Run:
    """Run `one` over every payload, `concurrency` at a time (1: one after the other)."""
    finished: list[float] = []
    sampler = LockSampler(sampler_dsn) if sampler_dsn else None
    sampling = asyncio.create_task(sampler.run()) if sampler else None
    started = time.perf_counter()
    if concurrency <= 1:
        for payload in payloads:
            await one(payload)
            finished.append(time.perf_counter())
    else:
        semaphore = asyncio.Semaphore(concurrency)

        async def bounded(payload: dict[str, Any]) -> None:
            async with semaphore:
                await one(payload)
            finished.append(time.perf_counter())

        await asyncio.gather(*(bounded(payload) for payload in payloads))
    run = Run(label, len(payloads), time.perf_counter() - started)
    run.first_tenth, run.last_tenth = tenth_rates(started, finished)
    log(str(run))
    if sampler and sampling:
        sampler.stop()
        await sampling
        sampler.report()
    return run


# --- (a) the domain path -------------------------------------------------------------------------


async def new_organization(name: str, skus: Iterable[str]) -> int:
    organization = await create_organization(name, "USD")
    for sku in skus:
        await create_item(organization.id, NewItem(sku, sku, ItemKind.GOODS, Decimal("1.00")))
    return organization.id


def domain_importer(organization_id: int) -> Callable[[dict[str, Any]], Awaitable[None]]:
    principal = Principal(organization_id, 0, frozenset(Scope), "bench")

    async def one(payload: dict[str, Any]) -> None:
        result = await import_order(principal, "shopify", payload)
        assert result.created, payload["id"]
        await jobs.after_request()  # the stock recalculation runs inline, as in the server

    return one


# --- (b) bare inserts ----------------------------------------------------------------------------

CUSTOMER_INSERT = """
INSERT INTO customer (organization_id, name, email, phone, currency, billing_address,
                      shipping_address, marketplace_identity, created_at, updated_at)
VALUES ($1, $2, $3, NULL, 'USD', $4, $4, $5, now(), now())
RETURNING id
"""

ORDER_INSERT = """
INSERT INTO sales_order (
    organization_id, number, reference_number, customer_id, status, invoiced_status,
    shipped_status, date, warehouse_id, currency, billing_address, shipping_address,
    discount_type, discount_value, discount_amount, shipping_charge, sub_total, tax_totals,
    tax_total, total, marketplace, external_id, marketplace_updated_at, marketplace_totals,
    created_at, updated_at)
VALUES ($1, $2, $3, $4, 'CONFIRMED', 'NOT_INVOICED', 'NOT_SHIPPED', $5, $6, 'USD', $7, $7,
        $8, $9, $10, $11, $12, $13, $14, $15, 'shopify', $16, $17, $18, now(), now())
RETURNING id
"""

LINE_INSERT = """
INSERT INTO sales_order_line (sales_order_id, position, item_id, description, quantity, rate,
    discount_percent, tax_id, amount, quantity_invoiced, quantity_packed, quantity_shipped)
VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, 0, 0, 0)
"""


def scaled(value: Decimal, places: int) -> int:
    return int((value * 10**places).to_integral_value())


class BareInserter:
    """The rows the import writes for an order, and nothing else: no events, no outbox, no
    number sequence, no stock recalculation. Totals are computed with the same functions
    (gqlorders.money), so the rows are the same."""

    def __init__(self, pool: asyncpg.Pool, organization_id: int) -> None:
        self.pool = pool
        self.organization_id = organization_id
        self.numbers = iter(range(1, 10**9))

    async def prepare(self) -> None:
        async with self.pool.acquire() as conn:
            self.warehouse_id = await conn.fetchval(
                "SELECT id FROM warehouse WHERE organization_id = $1 AND is_primary",
                self.organization_id,
            )
            self.items = {
                row["sku"]: row["id"]
                for row in await conn.fetch(
                    "SELECT id, sku FROM item WHERE organization_id = $1", self.organization_id
                )
            }
            self.taxes: dict[Decimal, int] = {}
            for rate in TAX_RATES:
                percentage = Decimal(rate) * 100
                self.taxes[percentage] = await conn.fetchval(
                    "INSERT INTO tax (organization_id, name, percentage, created_at) "
                    "VALUES ($1, $2, $3, now()) RETURNING id",
                    self.organization_id,
                    f"Shopify {percentage.normalize():f}%",
                    scaled(percentage, 4),
                )

    async def insert(self, payload: dict[str, Any]) -> None:
        lines = []
        for line in payload["line_items"]:
            quantity, rate = Decimal(line["quantity"]), Decimal(line["price"])
            percentage = Decimal(str(line["tax_lines"][0]["rate"])) * 100
            amount = line_amount(quantity, rate, Decimal(0))
            discount = sum((Decimal(a["amount"]) for a in line["discount_allocations"]), Decimal(0))
            lines.append((line, quantity, rate, percentage, amount, discount))
        discount = sum((line[5] for line in lines), Decimal(0))
        shipping = Decimal(payload["total_shipping_price_set"]["shop_money"]["amount"])
        totals = document_totals(
            (TaxedAmount(amount, self.taxes[pct], pct) for _, _, _, pct, amount, _ in lines),
            discount_amount=discount,
            shipping_charge=shipping,
            adjustment=Decimal(0),
        )
        address = json.dumps(
            {
                "attention": f"{payload['customer']['first_name']} "
                f"{payload['customer']['last_name']}",
                "street1": payload["shipping_address"]["address1"],
                "street2": None,
                "city": payload["shipping_address"]["city"],
                "state": payload["shipping_address"]["province_code"],
                "zip": payload["shipping_address"]["zip"],
                "country": payload["shipping_address"]["country_code"],
            }
        )
        reported = json.dumps(
            {
                "subTotal": payload["subtotal_price"],
                "discount": payload["total_discounts"],
                "shipping": money(shipping),
                "tax": payload["total_tax"],
                "total": payload["total_price"],
            }
        )
        updated_at = datetime.fromisoformat(payload["updated_at"])
        email = payload["email"]
        async with self.pool.acquire() as conn, conn.transaction():
            # one buyer at a time per e-mail, also across concurrent transactions
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", email)
            customer_id = await conn.fetchval(
                "SELECT id FROM customer WHERE organization_id = $1 AND email = $2 "
                "ORDER BY id LIMIT 1",
                self.organization_id,
                email,
            )
            if customer_id is None:
                customer = payload["customer"]
                customer_id = await conn.fetchval(
                    CUSTOMER_INSERT,
                    self.organization_id,
                    f"{customer['first_name']} {customer['last_name']}",
                    email,
                    address,
                    f"shopify:shopify-customer:{customer['id']}",
                )
            order_id = await conn.fetchval(
                ORDER_INSERT,
                self.organization_id,
                f"SO-{next(self.numbers):05d}",
                payload["name"],
                customer_id,
                updated_at.date(),
                self.warehouse_id,
                address,
                "AMOUNT" if discount else None,
                scaled(discount, 4) if discount else None,
                scaled(totals.discount_amount, 2),
                scaled(shipping, 2),
                scaled(totals.sub_total, 2),
                json.dumps(
                    [{"tax_id": key, "amount": str(amount)} for key, amount in totals.taxes]
                ),
                scaled(totals.tax_total, 2),
                scaled(totals.total, 2),
                str(payload["id"]),
                updated_at,
                reported,
            )
            await conn.executemany(
                LINE_INSERT,
                [
                    (
                        order_id,
                        position,
                        self.items[line["sku"]],
                        line["name"],
                        scaled(quantity, 4),
                        scaled(rate, 4),
                        self.taxes[percentage],
                        scaled(amount, 2),
                    )
                    for position, (line, quantity, rate, percentage, amount, _) in enumerate(lines)
                ],
            )


# --- (c) the API ---------------------------------------------------------------------------------


@dataclass
class Paired:
    """Per-order seconds of the domain path and of the API, measured alternately on the same
    orders (each into an organization of its own), so that load on the machine hits both."""

    domain: list[float]
    api: list[float]

    def report(self) -> str:
        def ms(values: list[float]) -> str:
            return (
                f"mean {1000 * statistics.fmean(values):6.2f} ms, "
                f"median {1000 * statistics.median(values):6.2f} ms"
            )

        overhead = statistics.median(a - d for a, d in zip(self.api, self.domain))
        return (
            f"    domain path: {ms(self.domain)}\n"
            f"    GraphQL:     {ms(self.api)}\n"
            f"    API overhead per order (median of the pairs): {1000 * overhead:+.2f} ms "
            f"({statistics.median(self.api) / statistics.median(self.domain):.2f}x the domain "
            f"path's median)"
        )


async def api_paired(
    settings: Settings,
    domain_organization: int,
    api_organization: int,
    payloads: list[dict[str, Any]],
) -> Paired:
    from gqlorders.app import create_app

    token = await create_token(api_organization, name="bench")
    app = create_app(settings, manage_database=False)  # configures its own in-process runner
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    domain_one = domain_importer(domain_organization)
    paired = Paired([], [])
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        warm_up = await client.post("/graphql", json={"query": "{ marketplaces }"}, headers=headers)
        assert warm_up.status_code == 200, warm_up.text
        for payload in payloads:
            started = time.perf_counter()
            await domain_one(payload)
            paired.domain.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = await client.post(
                "/graphql",
                json={
                    "query": IMPORT_MUTATION,
                    "variables": {"input": {"marketplace": "shopify", "payload": payload}},
                },
                headers=headers,
            )
            paired.api.append(time.perf_counter() - started)
            result = response.json()["data"]["importMarketplaceOrder"]
            assert result["created"] and not result["errors"], result
    log(f"(c) {len(payloads)} orders, alternately through import_order and the GraphQL mutation")
    log(paired.report())
    return paired


# --- checks --------------------------------------------------------------------------------------


async def written(organization_id: int) -> dict[str, Any]:
    orders = SalesOrder.filter(organization_id=organization_id)
    totals = await orders.values_list("total", flat=True)
    return {
        "orders": await orders.count(),
        "lines": await SalesOrderLine.filter(sales_order__organization_id=organization_id).count(),
        "customers": await Customer.filter(organization_id=organization_id).count(),
        "taxes": await Tax.filter(organization_id=organization_id).count(),
        "sum of totals": sum(totals, Decimal(0)),
    }


def report_written(label: str, found: dict[str, Any], buyers: int, orders: int) -> bool:
    """Print what one run wrote; False when it is not one order per payload, one customer per
    buyer and one tax per rate."""
    duplicates = found["customers"] - buyers
    note = "" if duplicates == 0 else f"  <- {duplicates:+d} customers: duplicates!"
    taxes_note = "" if found["taxes"] == len(TAX_RATES) else "  <- duplicate taxes!"
    log(
        f"    {label:<30} orders {found['orders']:>6} (want {orders}), lines "
        f"{found['lines']:>6}, customers {found['customers']:>5} (want {buyers}){note}, "
        f"taxes {found['taxes']} (want {len(TAX_RATES)}){taxes_note}, "
        f"sum of totals {found['sum of totals']}"
    )
    return found["orders"] == orders and not duplicates and found["taxes"] == len(TAX_RATES)


# --- main ----------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, settings: Settings, bare_dsn: str) -> bool:
    """Run everything; False when a run wrote something wrong."""
    jobs.configure(jobs.InProcessRunner(worker_jobs.FUNCTIONS, {"settings": settings}))
    orders = generate_orders(args)
    single = orders[: args.single_stream or len(orders)]
    skus = sorted({line["sku"] for order in orders for line in order["line_items"]})
    lines = sum(len(order["line_items"]) for order in orders)

    def buyers(payloads: list[dict[str, Any]]) -> int:
        return len({payload["email"] for payload in payloads})

    log(
        f"{len(orders)} orders, {lines} lines ({lines / len(orders):.2f} per order), "
        f"{len(skus)} SKUs, {buyers(orders)} buyers; single-stream runs: {len(single)} orders; "
        f"concurrency {args.concurrency}, ORM pool {args.pool}"
    )
    log()
    runs: dict[str, Run] = {}
    checks: list[tuple[str, int, list[dict[str, Any]]]] = []

    # (a) the domain path
    org_single = await new_organization("Import single-stream", skus)
    runs["a1"] = await timed(
        "(a) import_order, single-stream", single, domain_importer(org_single), 1
    )
    checks.append(("(a) single-stream", org_single, single))
    org_concurrent = await new_organization("Import concurrent", skus)
    runs["a8"] = await timed(
        f"(a) import_order, concurrency {args.concurrency}",
        orders,
        domain_importer(org_concurrent),
        args.concurrency,
        sampler_dsn=bare_dsn,
    )
    checks.append((f"(a) concurrency {args.concurrency}", org_concurrent, orders))
    await jobs.current_runner().drain()  # type: ignore[union-attr]

    # (b) bare inserts, through a pool of the same size
    pool = await asyncpg.create_pool(bare_dsn, min_size=1, max_size=args.pool)
    try:
        org_bare_single = await new_organization("Bare single-stream", skus)
        inserter = BareInserter(pool, org_bare_single)
        await inserter.prepare()
        runs["b1"] = await timed("(b) asyncpg inserts, single-stream", single, inserter.insert, 1)
        checks.append(("(b) single-stream", org_bare_single, single))
        org_bare = await new_organization("Bare concurrent", skus)
        inserter = BareInserter(pool, org_bare)
        await inserter.prepare()
        runs["b8"] = await timed(
            f"(b) asyncpg inserts, concurrency {args.concurrency}",
            orders,
            inserter.insert,
            args.concurrency,
            sampler_dsn=bare_dsn,
        )
        checks.append((f"(b) concurrency {args.concurrency}", org_bare, orders))
    finally:
        await pool.close()

    # (c) the API, against the domain path on the same orders
    sample = orders[: args.api_sample]
    org_api_domain = await new_organization("API sample, domain", skus)
    org_api = await new_organization("API sample", skus)
    paired = await api_paired(settings, org_api_domain, org_api, sample)
    checks.append(("(c) domain path, API sample", org_api_domain, sample))
    checks.append(("(c) GraphQL sample", org_api, sample))
    await jobs.current_runner().drain()  # type: ignore[union-attr]

    log()
    log("what was written:")
    ok = True
    sums: dict[int, Decimal] = {}  # payload count -> sum of totals (same payloads, same sums)
    for label, organization_id, payloads in checks:
        found = await written(organization_id)
        ok &= report_written(label, found, buyers(payloads), len(payloads))
        expected = sums.setdefault(len(payloads), found["sum of totals"])
        if found["sum of totals"] != expected:
            log(f"      <- sum of totals differs from {expected}")
            ok = False

    log()
    log("summary:")
    a1, a8, b1, b8 = (runs[k] for k in ("a1", "a8", "b1", "b8"))
    log(
        f"  single-stream: domain {a1.rate:.0f} orders/s, bare {b1.rate:.0f} orders/s: "
        f"bare is {b1.rate / a1.rate:.1f}x faster ({a1.ms_per_order:.2f} vs "
        f"{b1.ms_per_order:.2f} ms/order)"
    )
    log(
        f"  concurrency {args.concurrency}: domain {a8.rate:.0f} orders/s, bare {b8.rate:.0f} "
        f"orders/s: bare is {b8.rate / a8.rate:.1f}x faster; concurrency gains "
        f"{a8.rate / a1.rate:.1f}x (domain), {b8.rate / b1.rate:.1f}x (bare)"
    )
    log(f"  API ({len(sample)} orders):")
    log(paired.report())
    if not ok:
        log("SOME RUNS WROTE WRONG DATA (see 'what was written')")
    return ok


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.pool = args.pool or args.concurrency + 2
    name = f"gqlorders_bench_import_{uuid.uuid4().hex[:10]}"
    data_dir = Path(tempfile.mkdtemp(prefix="gqlorders-bench-"))
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    server = admin.get_server_version()
    log(
        f"gqlorders import benchmark: PostgreSQL {server.major}.{server.minor}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, database {name}"
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{POSTGRES_URL}/{name}"
    settings = load_settings(
        {"DATABASE_URL": f"{dsn}?maxsize={args.pool}", "DATA_DIR": str(data_dir)}
    )
    started = time.perf_counter()
    try:
        await database.migrate(settings)
        async with database.connected(settings):
            ok = await bench(args, settings, dsn)
    finally:
        await Tortoise.close_connections()
        if args.keep:
            log(f"kept database {name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(data_dir, ignore_errors=True)
        log(f"total {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
