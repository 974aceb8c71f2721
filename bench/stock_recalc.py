"""Benchmark the set-based committed-stock recalculation on PostgreSQL.

Creates a throw-away database, migrates it, fills it with COPY (one organization, 2 warehouses,
10,000 goods items, ~200 customers, 1,000,000 sales order lines in orders of 5 lines), then
times `recalculate_everything()` through the ORM against the bare SQL aggregate it is built on,
and checks that every stock_level.committed is exactly that aggregate.

    .venv/bin/python bench/stock_recalc.py                # the default sizes
    .venv/bin/python bench/stock_recalc.py --lines 100000 --keep

    .venv/bin/python bench/stock_recalc.py --variants     # + the measured alternatives

The PostgreSQL server is GQLORDERS_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432);
the database is dropped at the end unless --keep is given. Nothing under src/ is changed: the
--variants run its alternative statements and candidate indexes in the bench database only.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from _support import log, machine, run, throwaway_database

from gqlorders import database
from gqlorders.config import load_settings
from gqlorders.orders import ACCEPTED
from gqlorders.stock import levels
from gqlorders.stock.levels import RECALC_BATCH, recalculate_everything
from gqlorders.tenancy import create_organization

GOAL_RATIO = 1.5
SCALE = 10**4  # quantities and rates (models/fields.py QuantityField)
COMMITTING = frozenset(str(status) for status in ACCEPTED)
COMMITTING_SQL = ", ".join(f"'{status}'" for status in ACCEPTED)  # the statuses, as SQL literals

BARE_AGGREGATE = f"""
SELECT l.item_id, o.warehouse_id, SUM(l.quantity - l.quantity_shipped) AS committed
FROM sales_order_line l
JOIN sales_order o ON o.id = l.sales_order_id
WHERE o.status IN ({COMMITTING_SQL})
GROUP BY 1, 2
"""

# Status mix of the orders: (status, cumulative probability).
STATUS_MIX = (("CONFIRMED", 0.60), ("CLOSED", 0.70), ("DRAFT", 0.90), ("VOID", 1.00))

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
    "warehouse_id",
    "currency",
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
    "quantity",
    "rate",
    "discount_percent",
    "amount",
    "quantity_invoiced",
    "quantity_packed",
    "quantity_shipped",
)

FILLED_TABLES = ("warehouse", "item", "customer", "sales_order", "sales_order_line", "stock_level")

Key = tuple[int, int]  # (item_id, warehouse_id)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="goods items (10000)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines (1000000)")
    parser.add_argument("--lines-per-order", type=int, default=5)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also time alternative statements and candidate indexes (rolled back)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --variants (5)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help=f"print EXPLAIN ANALYZE plans even if the ratio is within {GOAL_RATIO}",
    )
    return parser.parse_args(argv)


# --- filling ----------------------------------------------------------------------------------


def _amount_cents(quantity: int, rate: int, discount_percent: int) -> int:
    """quantity x rate x (1 - discount) in cents, half up: both inputs are scaled by 10**4."""
    numerator = quantity * rate * (100 * SCALE - discount_percent)  # scale 10**14
    return (numerator + 5 * 10**11) // 10**12


class Filler:
    """Generates valid rows and COPYs them; remembers the committed quantities it wrote."""

    def __init__(self, args: argparse.Namespace, organization_id: int, warehouses: list[int]):
        self.args = args
        self.rng = random.Random(args.seed)
        self.organization_id = organization_id
        self.warehouses = warehouses
        self.now = datetime.now(UTC)
        self.item_ids = list(range(1, args.items + 1))
        self.item_rates: list[int] = []
        self.customer_ids = list(range(1, args.customers + 1))
        # Every 20th item is never ordered: its committed must come out as 0.
        self.ordered_items = [i for i in self.item_ids if i % 20 != 0]
        self.expected: dict[Key, int] = {}  # committed per (item, warehouse), from the rows
        self.on_hand: dict[Key, int] = {}
        self.lines_written = 0
        self.orders_written = 0

    async def fill(self, conn: asyncpg.Connection) -> None:
        # Row-by-row foreign-key triggers make COPY ~3x slower: a superuser skips them here
        # and checks every foreign key afterwards with one anti-join each (check_foreign_keys).
        self.triggers_off = await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        if self.triggers_off:
            await conn.execute("SET session_replication_role = replica")
        try:
            await self._fill(conn)
        finally:
            if self.triggers_off:
                await conn.execute("SET session_replication_role = DEFAULT")

    async def _fill(self, conn: asyncpg.Connection) -> None:
        await self._warehouses(conn)
        await self._items(conn)
        await self._customers(conn)
        await self._orders(conn)
        await self._stock_levels(conn)
        for table in ("item", "customer", "sales_order", "sales_order_line", "stock_level"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        await conn.execute(
            "UPDATE number_sequence SET next_number = $2 "
            "WHERE organization_id = $1 AND document = 'SALES_ORDER'",
            self.organization_id,
            self.orders_written + 1,
        )

    async def _warehouses(self, conn: asyncpg.Connection) -> None:
        # create_organization made the primary one; add the second warehouse.
        await conn.copy_records_to_table(
            "warehouse",
            columns=("organization_id", "name", "is_primary", "created_at"),
            records=[(self.organization_id, "East warehouse", False, self.now)],
        )
        rows = await conn.fetch(
            "SELECT id FROM warehouse WHERE organization_id = $1 ORDER BY id",
            self.organization_id,
        )
        self.warehouses[:] = [row["id"] for row in rows]

    async def _items(self, conn: asyncpg.Connection) -> None:
        rng = self.rng
        records = []
        for item_id in self.item_ids:
            rate = rng.randint(1, 200_000) * 100  # 0.01 .. 2000.00
            self.item_rates.append(rate)
            reorder = rng.randint(0, 500) * SCALE if rng.random() < 0.5 else None
            records.append(
                (
                    item_id,
                    self.organization_id,
                    f"SKU-{item_id:06d}",
                    f"Item {item_id}",
                    "GOODS",
                    rate,
                    "pcs",
                    reorder,
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
                "reorder_level",
                "created_at",
            ),
            records=records,
        )

    async def _customers(self, conn: asyncpg.Connection) -> None:
        records = [
            (
                customer_id,
                self.organization_id,
                f"Customer {customer_id:04d}",
                f"customer{customer_id}@example.com",
                "USD",
                30,
                "Net 30",
                self.now,
                self.now,
            )
            for customer_id in self.customer_ids
        ]
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
                "created_at",
                "updated_at",
            ),
            records=records,
        )

    def _status(self) -> str:
        draw = self.rng.random()
        return next(status for status, upto in STATUS_MIX if draw < upto)

    def _order(self, order_id: int, line_id: int, size: int) -> tuple[tuple, list[tuple]]:
        """One order and its lines, with consistent amounts and shipped/invoiced figures."""
        rng = self.rng
        status = self._status()
        warehouse_id = self.warehouses[0] if rng.random() < 0.7 else self.warehouses[1]
        # How much of the order has shipped: none, part of it, or all of it.
        shipping = "none"
        invoiced = False
        if status == "CONFIRMED":
            draw = rng.random()
            shipping = "none" if draw < 0.6 else "part" if draw < 0.85 else "all"
            invoiced = rng.random() < 0.2
        elif status == "CLOSED":
            shipping = "all" if rng.random() < 0.8 else "part"
            invoiced = True
        lines = []
        sub_total = 0
        shipped_any, shipped_all = False, True
        for position, item_id in enumerate(rng.sample(self.ordered_items, size), start=1):
            # a whole number of units, or up to 4 decimals: 0.0001 .. 50.0000
            whole = rng.random() < 0.3
            quantity = rng.randint(1, 50) * SCALE if whole else rng.randint(1, 500_000)
            rate = self.item_rates[item_id - 1]
            discount = rng.choice((0, 0, 0, 5 * SCALE, 12_5000))
            amount = _amount_cents(quantity, rate, discount)
            sub_total += amount
            if shipping == "all":
                shipped = quantity
            elif shipping == "part":
                shipped = rng.randint(0, quantity)
            else:
                shipped = 0
            # Packed is at least shipped; some confirmed lines are packed but not yet shipped.
            packed = quantity if status == "CONFIRMED" and rng.random() < 0.1 else shipped
            shipped_any = shipped_any or shipped > 0
            shipped_all = shipped_all and shipped == quantity
            lines.append(
                (
                    line_id + position - 1,
                    order_id,
                    position,
                    item_id,
                    quantity,
                    rate,
                    discount,
                    amount,
                    quantity if invoiced else 0,
                    packed,
                    shipped,
                )
            )
            if status in COMMITTING:
                key = (item_id, warehouse_id)
                self.expected[key] = self.expected.get(key, 0) + quantity - shipped
        shipping_charge = rng.choice((0, 0, 500, 1500))
        day = date(2024, 1, 1) + timedelta(days=order_id % 365)
        order = (
            order_id,
            self.organization_id,
            f"SO-{order_id:07d}",
            f"REF-{order_id}" if rng.random() < 0.3 else None,
            rng.choice(self.customer_ids),
            status,
            "INVOICED" if invoiced else "NOT_INVOICED",
            "SHIPPED" if shipped_all else "PARTIALLY_SHIPPED" if shipped_any else "NOT_SHIPPED",
            day,
            day + timedelta(days=7),
            30,
            warehouse_id,
            "USD",
            0,
            shipping_charge,
            sub_total,
            "[]",
            0,
            sub_total + shipping_charge,
            self.now,
            self.now,
        )
        return order, lines

    async def _orders(self, conn: asyncpg.Connection) -> None:
        per_order = self.args.lines_per_order
        total_lines = self.args.lines
        chunk_orders = 20_000
        order_id = 1
        line_id = 1
        while self.lines_written < total_lines:
            orders: list[tuple[Any, ...]] = []
            lines: list[tuple[Any, ...]] = []
            for _ in range(chunk_orders):
                remaining = total_lines - self.lines_written - len(lines)
                if remaining <= 0:
                    break
                order, order_lines = self._order(order_id, line_id, min(per_order, remaining))
                orders.append(order)
                lines.extend(order_lines)
                order_id += 1
                line_id += len(order_lines)
            await conn.copy_records_to_table("sales_order", columns=ORDER_COLUMNS, records=orders)
            await conn.copy_records_to_table(
                "sales_order_line", columns=LINE_COLUMNS, records=lines
            )
            self.orders_written += len(orders)
            self.lines_written += len(lines)
            log(f"  {self.lines_written:>9,} lines in {self.orders_written:,} orders")

    async def _stock_levels(self, conn: asyncpg.Connection) -> None:
        """Half the levels exist already, with on hand and a stale committed to overwrite."""
        rng = self.rng
        records = []
        for item_id in self.item_ids:
            for warehouse_id in self.warehouses:
                if rng.random() < 0.5:
                    on_hand = rng.randint(0, 1_000_000_000)
                    self.on_hand[(item_id, warehouse_id)] = on_hand
                    stale = rng.randint(0, 1_000_000)
                    records.append((self.organization_id, item_id, warehouse_id, on_hand, stale))
        await conn.copy_records_to_table(
            "stock_level",
            columns=("organization_id", "item_id", "warehouse_id", "on_hand", "committed"),
            records=records,
        )


# --- timing and checks ------------------------------------------------------------------------


async def timed(runs: int, action: Callable[[], Awaitable[Any]]) -> tuple[float, list[float]]:
    """Median of `runs` timings (seconds) after one warm-up run."""
    await action()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings


async def check_foreign_keys(conn: asyncpg.Connection, tables: tuple[str, ...]) -> list[str]:
    """Every single-column foreign key of these tables points at an existing row."""
    keys = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS child, a.attname AS col,
               c.confrelid::regclass::text AS parent, pa.attname AS parent_col
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY($1::text[])
            AND cardinality(c.conkey) = 1
        """,
        list(tables),
    )
    problems = []
    for key in keys:
        child, col, parent, parent_col = key["child"], key["col"], key["parent"], key["parent_col"]
        dangling = await conn.fetchval(
            f"SELECT count(*) FROM {child} x WHERE x.{col} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_col} = x.{col})"
        )
        if dangling:
            problems.append(f"{dangling} rows of {child}.{col} point at no {parent}")
    if not keys:
        problems.append("no foreign keys found to check")
    return problems


async def check_exact(
    conn: asyncpg.Connection, filler: Filler, aggregate: dict[Key, int]
) -> list[str]:
    """Every (goods item, warehouse) has a level whose committed is exactly the aggregate
    (0 where nothing is committed) and whose on hand is untouched."""
    problems = []
    if aggregate != filler.expected:
        problems.append("the SQL aggregate differs from the generated data")
    rows = await conn.fetch("SELECT item_id, warehouse_id, on_hand, committed FROM stock_level")
    found = {(row["item_id"], row["warehouse_id"]): row for row in rows}
    zero_levels = 0
    for item_id in filler.item_ids:
        for warehouse_id in filler.warehouses:
            key = (item_id, warehouse_id)
            expected = aggregate.get(key, 0)
            zero_levels += expected == 0
            row = found.pop(key, None)
            if row is None:
                problems.append(f"no stock_level for item {item_id} warehouse {warehouse_id}")
            elif row["committed"] != expected:
                problems.append(f"{key}: committed {row['committed']} != aggregate {expected}")
            elif row["on_hand"] != filler.on_hand.get(key, 0):
                problems.append(f"{key}: on hand changed to {row['on_hand']}")
    problems.extend(f"unexpected stock_level {key}" for key in found)
    if zero_levels == 0:
        problems.append("no level with nothing committed: the zero case was not exercised")
    return problems


def _abbreviate(plan_line: str) -> str:
    """A plan line with its long literal arrays (the batch of item ids) shortened."""
    return re.sub(
        r"'\{([^}]{60,})\}'",
        lambda match: f"'{{<{match.group(1).count(',') + 1} values>}}'",
        plan_line,
    )


def _placeholders(count: int) -> str:
    return ", ".join(f"${n}" for n in range(1, count + 1))


async def explain(conn: asyncpg.Connection, item_ids: list[int]) -> None:
    """Plans of one recalculation batch (rolled back) and of the bare aggregate."""
    batch = item_ids[:RECALC_BATCH]
    statement = levels._RECALC_COMMITTED.format(
        lines=f"l.item_id IN ({_placeholders(len(batch))})",
        items=f"i.id IN ({_placeholders(len(batch))})",
        returning=levels._LEVEL_AFTER,  # as recalculate() runs each batch
    )
    log(f"\nEXPLAIN ANALYZE of _RECALC_COMMITTED, one batch of {len(batch)} item ids:")
    transaction = conn.transaction()
    await transaction.start()
    try:
        for row in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *batch):
            log("  " + _abbreviate(row[0]))
    finally:
        await transaction.rollback()
    log("\nEXPLAIN ANALYZE of the bare aggregate:")
    for row in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {BARE_AGGREGATE}"):
        log("  " + _abbreviate(row[0]))


# --- variants: alternatives to what src does, measured in rolled-back transactions -------------

# The whole recalculation as one statement per organization instead of batches of item ids.
PER_ORGANIZATION = f"""
WITH agg AS (
    SELECT l.item_id, o.warehouse_id, SUM(l.quantity - l.quantity_shipped) AS committed
    FROM sales_order_line l
    JOIN sales_order o ON o.id = l.sales_order_id
    WHERE o.organization_id = $1 AND o.status IN ({COMMITTING_SQL})
    GROUP BY l.item_id, o.warehouse_id
)
INSERT INTO stock_level (organization_id, item_id, warehouse_id, on_hand, committed)
SELECT i.organization_id, i.id, w.id, 0, COALESCE(agg.committed, 0)
FROM item i
JOIN warehouse w ON w.organization_id = i.organization_id
LEFT JOIN agg ON agg.item_id = i.id AND agg.warehouse_id = w.id
WHERE i.organization_id = $1 AND i.kind = 'GOODS'
ORDER BY i.id, w.id  -- the lock order of _RECALC_COMMITTED
ON CONFLICT (item_id, warehouse_id) DO UPDATE SET committed = excluded.committed
"""
# Leave levels whose committed is already right alone (no new row version, no WAL for them).
SKIP_UNCHANGED = "\nWHERE stock_level.committed <> excluded.committed"

CANDIDATE_INDEXES = {
    # committing orders only, with the warehouse: index-only lookups and scans for the join
    "bench_so_committing": "CREATE INDEX bench_so_committing ON sales_order (id) "
    f"INCLUDE (warehouse_id) WHERE status IN ({COMMITTING_SQL})",
    # the lines of a batch of items without visiting the heap
    "bench_line_cover": "CREATE INDEX bench_line_cover ON sales_order_line "
    "(item_id, sales_order_id) INCLUDE (quantity, quantity_shipped)",
    # the obvious one, for comparison: 70% of orders match, so it is not used
    "bench_so_status": "CREATE INDEX bench_so_status ON sales_order (status)",
}


Action = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Variant:
    action: Action
    keep: tuple[str, ...] = ()  # candidate indexes that exist while it runs
    settings: tuple[str, ...] = ()  # SET LOCAL
    full: bool = True  # a full recalculation, whose figures are checked


class Variants:
    """Each variant runs in a transaction that is rolled back: candidate indexes exist for
    the whole run and a variant 'without' them drops them inside its transaction."""

    def __init__(self, conn: asyncpg.Connection, organization_id: int, item_ids: list[int]):
        self.conn = conn
        self.organization_id = organization_id
        self.item_ids = item_ids
        self.rows_ok = True

    async def batches(self, size: int, item_ids: list[int] | None = None) -> None:
        ids = self.item_ids if item_ids is None else item_ids
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            statement = levels._RECALC_COMMITTED.format(
                lines=f"l.item_id IN ({_placeholders(len(batch))})",
                items=f"i.id IN ({_placeholders(len(batch))})",
            )
            await self.conn.execute(statement, *batch)

    def catalogue(self) -> dict[str, Variant]:
        org = self.organization_id
        conn = self.conn
        cover = ("bench_so_committing", "bench_line_cover")
        work_mem = ("work_mem = '64MB'",)
        small = self.item_ids[100:120]  # an order change touching 20 items (the job path)

        def per_organization(statement: str = PER_ORGANIZATION) -> Action:
            return lambda: conn.execute(statement, org)

        return {
            f"src: batches of {RECALC_BATCH}": Variant(lambda: self.batches(RECALC_BATCH)),
            "batches of 10000": Variant(lambda: self.batches(10_000)),
            "one statement per organization": Variant(per_organization()),
            "  + work_mem 64MB": Variant(per_organization(), settings=work_mem),
            "  + work_mem 64MB + skip unchanged": Variant(
                per_organization(PER_ORGANIZATION.rstrip() + SKIP_UNCHANGED), settings=work_mem
            ),
            "  + skip unchanged": Variant(
                per_organization(PER_ORGANIZATION.rstrip() + SKIP_UNCHANGED)
            ),
            f"batches of {RECALC_BATCH} + sales_order(status)": Variant(
                lambda: self.batches(RECALC_BATCH), keep=("bench_so_status",)
            ),
            f"batches of {RECALC_BATCH} + committing/covering": Variant(
                lambda: self.batches(RECALC_BATCH), keep=cover
            ),
            "20 items (job path)": Variant(lambda: self.batches(RECALC_BATCH, small), full=False),
            "20 items + committing/covering": Variant(
                lambda: self.batches(RECALC_BATCH, small), keep=cover, full=False
            ),
            "bare aggregate": Variant(lambda: conn.fetch(BARE_AGGREGATE), full=False),
            "bare aggregate, no parallel workers": Variant(
                lambda: conn.fetch(BARE_AGGREGATE),
                settings=("max_parallel_workers_per_gather = 0",),
                full=False,
            ),
        }

    async def run(self, variant: Variant, expected: dict[Key, int] | None = None) -> float:
        """Time one variant; with `expected`, check its figures from deliberately wrong ones."""
        transaction = self.conn.transaction()
        await transaction.start()
        try:
            for index in CANDIDATE_INDEXES:
                if index not in variant.keep:
                    await self.conn.execute(f"DROP INDEX {index}")
            for setting in variant.settings:
                await self.conn.execute(f"SET LOCAL {setting}")
            if expected is not None:  # start from wrong figures, so that a no-op cannot pass
                await self.conn.execute("UPDATE stock_level SET committed = -1")
            start = time.perf_counter()
            await variant.action()
            elapsed = time.perf_counter() - start
            if expected is not None:
                rows = await self.conn.fetch(
                    "SELECT item_id, warehouse_id, committed FROM stock_level WHERE committed <> 0"
                )
                got = {(r["item_id"], r["warehouse_id"]): r["committed"] for r in rows}
                self.rows_ok = self.rows_ok and got == expected
            return elapsed
        finally:
            await transaction.rollback()

    async def measure(self, rounds: int, expected: dict[Key, int]) -> None:
        started = time.perf_counter()
        for ddl in CANDIDATE_INDEXES.values():
            await self.conn.execute(ddl)
        await self.conn.execute("VACUUM ANALYZE sales_order, sales_order_line")
        log(f"\nvariants: candidate indexes built in {time.perf_counter() - started:.1f} s")
        catalogue = self.catalogue()
        nonzero = {key: value for key, value in expected.items() if value != 0}
        for variant in catalogue.values():  # warm-up, and exactness of full recalculations
            await self.run(variant, nonzero if variant.full else None)
        timings: dict[str, list[float]] = {name: [] for name in catalogue}
        loads = []
        for _ in range(rounds):  # interleaved, so that load changes hit every variant alike
            loads.append(os.getloadavg()[0])
            for name, variant in catalogue.items():
                timings[name].append(await self.run(variant))
        for index in CANDIDATE_INDEXES:
            await self.conn.execute(f"DROP INDEX {index}")
        bare = statistics.median(timings["bare aggregate"])
        log(
            f"variants, median of {rounds} interleaved rounds, rolled back "
            f"(load average {min(loads):.2f}..{max(loads):.2f}):"
        )
        for name, values in timings.items():
            median = statistics.median(values)
            log(f"  {name:48s} {median:7.3f} s  {median / bare:5.2f} x bare")
        log(f"  full-recalculation variants exact: {'yes' if self.rows_ok else 'NO'}")
        log("  ('skip unchanged' is timed on a re-run where nothing changed)")


# --- main -------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, url: str, data_dir: Path) -> int:
    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": str(data_dir)})
    started = time.perf_counter()
    await database.migrate(settings)
    log(f"migrated in {time.perf_counter() - started:.1f} s")

    async with database.connected(settings):
        organization = await create_organization("Bench Co", "USD")
        conn = await asyncpg.connect(url)
        try:
            server_version = await conn.fetchval("SHOW server_version")
            filler = Filler(args, organization.id, [])
            started = time.perf_counter()
            await filler.fill(conn)
            filled = time.perf_counter() - started
            started = time.perf_counter()
            problems = await check_foreign_keys(conn, FILLED_TABLES)
            checked = time.perf_counter() - started
            if problems:
                raise SystemExit("invalid data: " + "; ".join(problems))
            started = time.perf_counter()
            # VACUUM too: it sets the visibility map and keeps autovacuum of the fresh COPY
            # from starting in the middle of the timings.
            await conn.execute("VACUUM ANALYZE")
            analyzed = time.perf_counter() - started
            log(
                f"filled {filler.orders_written:,} orders / {filler.lines_written:,} lines, "
                f"{args.items:,} items, {len(filler.warehouses)} warehouses, "
                f"{args.customers} customers in {filled:.1f} s "
                f"(foreign-key triggers {'off' if filler.triggers_off else 'on'}; "
                f"foreign keys checked in {checked:.1f} s; VACUUM ANALYZE {analyzed:.1f} s)"
            )

            log("timing recalculate_everything() through the ORM ...")
            full, full_runs = await timed(args.runs, recalculate_everything)
            log("timing the bare aggregate through asyncpg ...")
            rows: list[asyncpg.Record] = []

            async def bare() -> None:
                nonlocal rows
                rows = await conn.fetch(BARE_AGGREGATE)

            bare_median, bare_runs = await timed(args.runs, bare)
            aggregate = {(r["item_id"], r["warehouse_id"]): int(r["committed"]) for r in rows}
            problems = await check_exact(conn, filler, aggregate)
            ratio = full / bare_median
            exact = "yes" if not problems else "NO"

            log("")
            log(f"machine: {machine(server_version)}")
            log(f"fill (COPY):          {filled:8.2f} s")
            log(f"full recalculation:   {full:8.3f} s  (runs {_runs(full_runs)})")
            log(f"bare aggregate:       {bare_median:8.3f} s  (runs {_runs(bare_runs)})")
            log(f"ratio full/bare:      {ratio:8.2f}   (goal <= {GOAL_RATIO})")
            log(f"exact: {exact}")
            for problem in problems[:20]:
                log(f"  {problem}")
            log(
                f"summary: {filler.lines_written:,} lines / {args.items:,} items: "
                f"full {full:.3f} s, bare {bare_median:.3f} s, ratio {ratio:.2f} "
                f"({'within' if ratio <= GOAL_RATIO else 'ABOVE'} {GOAL_RATIO}), "
                f"exact {exact}, fill {filled:.1f} s"
            )
            if args.explain or ratio > GOAL_RATIO:
                await explain(conn, filler.item_ids)
            if args.variants:
                variants = Variants(conn, organization.id, filler.item_ids)
                await variants.measure(args.rounds, aggregate)
                if not variants.rows_ok:
                    problems.append("a variant computed wrong figures")
        finally:
            await conn.close()
    return 1 if problems else 0


def _runs(timings: list[float]) -> str:
    return ", ".join(f"{t:.3f}" for t in timings)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    async with throwaway_database(args.keep) as (url, data_dir):
        return await bench(args, url, data_dir)


if __name__ == "__main__":
    sys.exit(run(main()))
