"""Benchmark the event feed on PostgreSQL: reading it, recording it, and its plan at scale.

1. feed read: N events (default 100,000) of one organization, read through `POST /graphql`
   (the real ASGI app, in-process) in pages of 1,000, as a sync job would: events per second.
   The events are written without a position, so the first pages also pay the sequencer.
2. recording overhead: `createSalesOrder` requests in-process, one client, alternating rounds
   with the feed's order events recorded and not (`orders.events.FEED_TYPES` emptied for the
   round): the ratio of the two rates. Aim: at most 10 % slower with the feed.
3. plans: with --plan-rows events COPYed into the table (default 1,000,000; the issue asks for
   one run at 10,000,000), spread over 1,000 organizations, EXPLAIN (ANALYZE, BUFFERS) of the
   feed's own page statements (one per type for a filter of several): the first page and one
   after a cursor deep in the organization's events, without a filter, with one type and with
   two, each as a custom and as a generic plan. Each must read its page only: no sequential
   scan, no filter dropping rows, no scan reading more than the page -- every event after the
   cursor to sort them, say (exit status 1 otherwise; `reads_beyond_the_page`).

usage: python bench/events.py [--events 100000] [--creates 300] [--plan-rows 1000000]
       python bench/events.py --plans-only --plan-rows 10000000   # ~10 minutes here
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _support import log, machine, run, throwaway_database

from gqlorders import database
from gqlorders.app import create_app
from gqlorders.config import Settings, load_settings
from gqlorders.events import EventType, feed
from gqlorders.orders import events as order_events
from gqlorders.tenancy import create_organization, create_token

FEED = """query($after: String) { events(first: 1000, after: $after) {
  edges { cursor node { id type occurredAt actor resourceId data } }
  pageInfo { hasNextPage endCursor } } }"""
CREATE = """mutation($input: CreateSalesOrderInput!) {
  createSalesOrder(input: $input) { salesOrder { id number total } errors { code } } }"""
FILL = """
INSERT INTO feed_event (organization_id, type, actor, resource_type, resource_key, occurred_at,
                        data, position)
SELECT $1, 'SALES_ORDER_UPDATED', 'bench', 'SalesOrder', n, now(),
       jsonb_build_object('id', 'U2FsZXNPcmRlcjox', 'number', 'SO-' || n, 'status', 'CONFIRMED',
                          'total', '125.00', 'currency', 'EUR'),
       {position}
FROM generate_series(1, $2) AS n
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--creates", type=int, default=300, help="createSalesOrder per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--plan-rows",
        "--explain-rows",
        type=int,
        default=1_000_000,
        help="events in the table the plans are explained on (1,000,000; the issue: 10,000,000)",
    )
    parser.add_argument(
        "--plans-only", action="store_true", help="skip the read and recording measurements"
    )
    return parser.parse_args()


async def api(client: httpx.AsyncClient, headers: dict[str, str], query: str) -> dict:
    body = (await client.post("/graphql", json={"query": query}, headers=headers)).json()
    if body.get("errors"):
        raise SystemExit(f"{query}: {body['errors']}")
    return body["data"]


def persisted_feed() -> dict:
    """The feed's document as an SPA sends a known persisted query: its hash alone."""
    sha256 = hashlib.sha256(FEED.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def read_feed(
    client: httpx.AsyncClient, headers: dict[str, str], persisted: bool = False
) -> tuple[int, float]:
    """Every event, a page after another; `persisted`: each page asked by the document's hash
    (the compiled path, api/compiled), after it was sent once."""
    document = {"extensions": persisted_feed()} if persisted else {"query": FEED}
    if persisted:
        await client.post("/graphql", json={"query": FEED, **document}, headers=headers)
    after, count, started = None, 0, time.perf_counter()
    while True:
        response = await client.post(
            "/graphql", json={**document, "variables": {"after": after}}, headers=headers
        )
        page = response.json()["data"]["events"]
        count += len(page["edges"])
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return count, time.perf_counter() - started


async def create_rate(
    client: httpx.AsyncClient, headers: dict[str, str], order_input: dict, count: int
) -> float:
    payload = {"query": CREATE, "variables": {"input": order_input}}
    started = time.perf_counter()
    for _ in range(count):
        body = (await client.post("/graphql", json=payload, headers=headers)).json()
        if body.get("errors") or body["data"]["createSalesOrder"]["errors"]:
            raise SystemExit(f"createSalesOrder failed: {body}")
    return count / (time.perf_counter() - started)


async def bench(args: argparse.Namespace, url: str, data_dir: Path) -> int:
    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "LOG_FORMAT": "text"})
    await database.migrate(settings)
    conn = await asyncpg.connect(url)
    async with database.connected(settings):
        log(machine(await conn.fetchval("SHOW server_version")))
        organization = await create_organization("Bench Co", "EUR")
        token = await create_token(organization.id, name="bench")
        headers = {"Authorization": f"Bearer {token}"}
        if not args.plans_only:
            await measure_reading_and_recording(args, settings, conn, organization.id, headers)
        plans_ok = True
        if args.plan_rows:  # 3. the plans at scale
            await fill_for_plans(conn, organization.id, args.plan_rows)
            plans_ok = await explain_pages(conn, organization.id, args.plan_rows)
    await conn.close()
    return 0 if plans_ok else 1


async def measure_reading_and_recording(
    args: argparse.Namespace,
    settings: Settings,
    conn: asyncpg.Connection,
    organization_id: int,
    headers: dict[str, str],
) -> None:
    """1. and 2. of the module's docstring, through the app in-process."""
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        # 1. reading
        await conn.execute(FILL.format(position="NULL"), organization_id, args.events)
        await conn.execute("ANALYZE feed_event")
        count, seconds = await read_feed(client, headers)
        log(
            f"feed read: {count:,} events in pages of 1,000 in {seconds:.2f} s:"
            f" {count / seconds:,.0f} events/s (first read, sequencer included)"
        )
        await conn.execute("UPDATE feed_event SET position = NULL")
        await conn.execute("SELECT setval('feed_event_position', 1)")
        count, seconds = await read_feed(client, headers)
        log(f"feed read again: {count / seconds:,.0f} events/s")
        await conn.execute("UPDATE feed_event SET position = NULL")
        await conn.execute("SELECT setval('feed_event_position', 1)")
        count, seconds = await read_feed(client, headers, persisted=True)
        log(f"feed read again as a persisted query: {count / seconds:,.0f} events/s")
        for persisted in (False, True, False, True):  # positions assigned: reading alone
            count, seconds = await read_feed(client, headers, persisted=persisted)
            how = "as a persisted query (compiled)" if persisted else "with the document"
            log(f"feed read {how}, positions assigned: {count / seconds:,.0f} events/s")

        # 2. recording
        customer = await api(
            client,
            headers,
            'mutation { createCustomer(input: {name: "Bench buyer"}) { customer { id } } }',
        )
        item = await api(
            client,
            headers,
            'mutation { createItem(input: {sku: "BENCH", name: "Bench item",'
            ' rate: "12.50", kind: GOODS}) { item { id } } }',
        )
        order_input = {
            "customerId": customer["createCustomer"]["customer"]["id"],
            "lines": [{"itemId": item["createItem"]["item"]["id"], "quantity": "2"}],
        }
        await create_rate(client, headers, order_input, 50)  # warm
        feed_types = dict(order_events.FEED_TYPES)
        rates: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(args.rounds):
            for mode in ("with", "without"):
                order_events.FEED_TYPES.clear()
                if mode == "with":
                    order_events.FEED_TYPES.update(feed_types)
                rates[mode].append(await create_rate(client, headers, order_input, args.creates))
        order_events.FEED_TYPES.update(feed_types)
        best = {mode: max(values) for mode, values in rates.items()}
        log(
            f"createSalesOrder, 1 client in-process: {best['with']:.0f}/s with the feed,"
            f" {best['without']:.0f}/s without (best of {args.rounds} rounds)"
        )
        log(f"ratio with / without: {best['with'] / best['without']:.3f}")


PLAN_TYPES = [  # the events the plan table holds, in turn (STOCK_LEVEL_LOW: 1 in 100)
    *["SALES_ORDER_UPDATED"] * 60,
    *["SALES_ORDER_CREATED"] * 20,
    *["INVOICE_CREATED"] * 10,
    *["PACKAGE_SHIPPED"] * 9,
    "STOCK_LEVEL_LOW",
]
PLAN_ORGANIZATIONS = 1_000
OURS_EVERY = 10  # the measured organization writes 1 event in 10: a big one among many small
COPY_CHUNK = 100_000  # rows per COPY buffer


async def fill_for_plans(conn: asyncpg.Connection, organization_id: int, rows: int) -> None:
    """COPY `rows` more events, spread over 1,000 organizations (ours, with 1 in 10 of them,
    and 999 that exist only in the rows: foreign keys are off while filling, as in
    bench/stock_recalc.py), each with a position, interleaved as concurrent organizations write
    them, the types in runs (PLAN_TYPES); then VACUUM ANALYZE."""
    started = time.perf_counter()
    start = await conn.fetchval("SELECT COALESCE(MAX(position), 0) FROM feed_event") + 1
    occurred = datetime.now(UTC).isoformat()
    data = '{"id": "U2FsZXNPcmRlcjox", "number": "SO-1", "status": "CONFIRMED"}'

    def organization_of(n: int) -> int:
        return organization_id + (0 if n % OURS_EVERY == 0 else 1 + n % (PLAN_ORGANIZATIONS - 1))

    async def chunks() -> AsyncIterator[bytes]:
        for first in range(start, start + rows, COPY_CHUNK):
            last = min(first + COPY_CHUNK, start + rows)
            yield "".join(
                f"{organization_of(n)}\t{PLAN_TYPES[n // OURS_EVERY % 100]}\tbench"
                f"\tSalesOrder\t{n}\t{occurred}\t{data}\t{n}\n"
                for n in range(first, last)
            ).encode()

    await conn.execute("SET session_replication_role = replica")  # no FK checks: fake orgs
    await conn.copy_to_table(
        "feed_event",
        source=chunks(),
        columns=[
            "organization_id",
            "type",
            "actor",
            "resource_type",
            "resource_key",
            "occurred_at",
            "data",
            "position",
        ],
    )
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("SELECT setval('feed_event_position', $1)", start + rows)
    filled = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE feed_event")
    log(
        f"filled {rows:,} more events over {PLAN_ORGANIZATIONS:,} organizations with COPY in"
        f" {filled:.0f} s, VACUUM ANALYZE in {time.perf_counter() - started - filled:.0f} s"
    )


PLAN_FILTERS = (
    ("no filter", None),
    ("types: [INVOICE_CREATED] (10 %)", frozenset({EventType.INVOICE_CREATED})),
    ("types: [STOCK_LEVEL_LOW] (1 %)", frozenset({EventType.STOCK_LEVEL_LOW})),
    (
        "types: [INVOICE_CREATED, STOCK_LEVEL_LOW] (11 %)",
        frozenset({EventType.INVOICE_CREATED, EventType.STOCK_LEVEL_LOW}),
    ),
)
PAGE_ROWS = 1001  # a page of 1,000 and the row that tells there is a next one
SCANS = ("Scan on", "Scan using")  # a plan node that reads rows of the table or an index
ACTUAL_ROWS = re.compile(r"actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9]+)")


def reads_beyond_the_page(plan: list[str]) -> bool:
    """Whether a page's plan reads more than the page: a sequential scan, a filter that drops
    rows, or a scan (index or bitmap) that reads more than PAGE_ROWS -- say, every event after
    the cursor, to sort them. A bitmap scan and a sort of the few events that are all there is
    after the cursor (fewer than a page) read only the page; the planner rightly picks them."""
    for line in plan:
        if "Seq Scan" in line or "Rows Removed by Filter" in line:
            return True
        found = ACTUAL_ROWS.search(line)
        if found and any(scan in line for scan in SCANS) and int(found[1]) > PAGE_ROWS:
            return True
    return False


async def explain_pages(conn: asyncpg.Connection, organization_id: int, rows: int) -> bool:
    """EXPLAIN (ANALYZE, BUFFERS) of the feed's own page statements (`feed.page_queries`, pages
    of 1,000; one statement per type when the filter names several): the first page and a page
    after a cursor 90 % into the organization's events, without a filter, with one type (a
    common one, a rare one) and with two; each with the values in the statement (a custom
    plan) and as a prepared statement's generic plan (what a pooled connection may reuse).
    True when no plan reads beyond its page (`reads_beyond_the_page`)."""
    ours = rows // OURS_EVERY
    deep = await conn.fetchval(
        "SELECT position FROM feed_event WHERE organization_id = $1 ORDER BY position"
        " OFFSET $2 LIMIT 1",
        organization_id,
        ours * 9 // 10,
    )
    all_range_scans = True
    for page, after in (("first page", None), (f"after a cursor at 90 % ({deep:,})", deep)):
        for label, types in PLAN_FILTERS:
            where = feed.EventFilter(types=types)
            for query in feed.page_queries(organization_id, after, where, 1000):
                for mode in ("custom", "generic"):
                    plan = await explained(conn, query, generic=mode == "generic")
                    range_scan = not reads_beyond_the_page(plan)
                    all_range_scans &= range_scan
                    verdict = "reads the page only" if range_scan else "READS BEYOND THE PAGE"
                    log(f"{page}, {label}, {mode} plan: {verdict}")
                    for line in plan:
                        log(f"  {line}")
    verdict = "every one reads its page only" if all_range_scans else "NOT ALL"
    log(f"feed page plans: {verdict}")
    return all_range_scans


async def explained(conn: asyncpg.Connection, query: Any, *, generic: bool) -> list[str]:
    """The statement's EXPLAIN (ANALYZE, BUFFERS): its values inlined, or, `generic`, bound
    as parameters with plan_cache_mode = force_generic_plan (the plan made without them)."""
    if not generic:
        sql = query.sql(params_inline=True)
        return [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, values = query.query.get_parameterized_sql()
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        return [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)]


async def main() -> int:
    args = parse_args()
    async with throwaway_database() as (url, data_dir):
        return await bench(args, url, data_dir)


if __name__ == "__main__":
    raise SystemExit(run(main()))
