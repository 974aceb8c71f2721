"""Scale-out proof (SPEC §8): 2 API processes and 2 arq workers on one PostgreSQL + Redis.

Real processes, as in production: `gqlorders migrate` and `org create` on a database of this
test's own, then two `gqlorders serve` and two `gqlorders worker` (Redis database 7, no
SMTP_URL, so e-mails become .eml files under DATA_DIR/outbox). The test drives both APIs
concurrently: items and stock adjustments, 40 orders, confirmations, racing partial invoices
(some must be refused OVER_INVOICED), racing merges of overlapping pairs, racing packages and
shipments, orders and invoices sent by e-mail. Once the outbox is drained and arq is idle it
checks, in the database, Redis and the outbox folder:

- order, invoice and package numbers are unique, and every write the APIs reported exists;
- no line is over-invoiced or over-packed, and its invoiced/packed/shipped quantities equal the
  sums of its non-void invoice lines and of its (shipped) package lines;
- merging lost or doubled no quantity: the lines of the orders that are not MERGED add up to
  what was ordered;
- stock levels equal a from-scratch recalculation (`gqlorders recalc-stock`, and the sum
  recomputed here), and on hand equals the adjustments minus what was shipped;
- every outbox row was dispatched, and run by arq exactly once and successfully; every e-mail
  is SENT after one attempt, with exactly one .eml file that was written once;
- no process logged a traceback or an error.

Every wait is bounded, and every process is stopped (terminate, then kill) whatever happens.
The processes' output is kept under tmp_path/logs; the relevant lines are printed on failure.
Skipped on SQLite (GQLORDERS_TEST_DATABASE=sqlite): scale-out needs a shared server database.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from redis.asyncio import Redis

from tests.support import key

POSTGRES_URL = os.environ.get("GQLORDERS_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("GQLORDERS_TEST_SCALEOUT_REDIS", "redis://127.0.0.1:6379/7")
# Read on failure only, for the details of deadlocks and other server-side errors.
POSTGRES_LOG_DIR = os.environ.get("GQLORDERS_TEST_POSTGRES_LOG_DIR", "/var/log/postgresql")

START_TIMEOUT = 40.0  # both APIs ready
COMMAND_TIMEOUT = 60.0  # migrate, org create, recalc-stock
REQUEST_TIMEOUT = 30.0  # one HTTP request
IDLE_TIMEOUT = 45.0  # outbox drained and arq idle after the last request
STOP_TIMEOUT = 10.0  # SIGTERM to SIGKILL

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("GQLORDERS_TEST_DATABASE", "postgres") == "sqlite",
        reason="the scale-out proof needs processes sharing one PostgreSQL and Redis",
    ),
    pytest.mark.timeout(240),
]

SCALE = 10_000  # quantities are BIGINT x 10**4 in SQL (models/fields.py)
GOODS = [f"G{n}" for n in range(6)]
ORDERS = 40
INVOICED = range(0, 12)  # three racing partial invoices each: two fit, one is OVER_INVOICED
MERGED = range(12, 24)  # four triples, every pair of a triple merged at once
SHIPPED_WHOLE = range(24, 29)  # two racing whole packages (one fits), two racing shipments
SHIPPED_PART = range(29, 34)  # two partial packages (both fit), each shipped twice at once
SHIPPED = range(24, 34)
SENT = range(34, 40)  # sendSalesOrder; the first three are still drafts (send confirms them)
DRAFTS = range(34, 37)
DOUBLE_CONFIRMED = range(0, 4)  # confirmed through both APIs at once: exactly one succeeds

ERRORS = "errors { field code message }"

WAREHOUSES = "query { warehouses { id name isPrimary } }"
CREATE_WAREHOUSE = f"""
mutation($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ warehouse {{ id }} {ERRORS} }}
}}"""
CREATE_CUSTOMER = f"""
mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id }} {ERRORS} }}
}}"""
CREATE_ITEM = f"""
mutation($input: CreateItemInput!) {{
  createItem(input: $input) {{ item {{ id sku }} {ERRORS} }}
}}"""
ADJUST_STOCK = f"""
mutation($input: AdjustStockInput!) {{
  adjustStock(input: $input) {{ item {{ id }} {ERRORS} }}
}}"""
CREATE_ORDER = f"""
mutation($input: CreateSalesOrderInput!) {{
  createSalesOrder(input: $input) {{
    salesOrder {{ id number status warehouse {{ id }} lines {{ id quantity item {{ id }} }} }}
    {ERRORS}
  }}
}}"""
CONFIRM_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  confirmSalesOrder(input: $input) {{ salesOrder {{ id status }} {ERRORS} }}
}}"""
SEND_ORDER = f"""
mutation($input: SendSalesOrderInput!) {{
  sendSalesOrder(input: $input) {{ salesOrder {{ id status emails {{ id state }} }} {ERRORS} }}
}}"""
CREATE_INVOICE = f"""
mutation($input: CreateInvoiceFromSalesOrderInput!) {{
  createInvoiceFromSalesOrder(input: $input) {{
    invoice {{ id number status lines {{ quantity salesOrderLine {{ id }} }} }} {ERRORS}
  }}
}}"""
MERGE_ORDERS = f"""
mutation($input: MergeSalesOrdersInput!) {{
  mergeSalesOrders(input: $input) {{
    salesOrder {{ id number }} merged {{ id number status }} {ERRORS}
  }}
}}"""
CREATE_PACKAGE = f"""
mutation($input: CreatePackageInput!) {{
  createPackage(input: $input) {{
    package {{ id number lines {{ quantity salesOrderLine {{ id }} }} }} {ERRORS}
  }}
}}"""
SHIP_PACKAGE = f"""
mutation($input: ShipPackageInput!) {{
  shipPackage(input: $input) {{
    package {{
      id number status salesOrder {{ warehouse {{ id }} }}
      lines {{ quantity salesOrderLine {{ item {{ id }} }} }}
    }}
    {ERRORS}
  }}
}}"""


def scaled(value: str | Decimal) -> int:
    """A decimal quantity as SQL stores it."""
    number = Decimal(value) * SCALE
    assert number == number.to_integral_value(), value
    return int(number)


def shown(value: int | None) -> str:
    if value is None:
        return "missing"
    return f"{(Decimal(value) / SCALE).normalize():f}"


def free_ports(count: int) -> list[int]:
    """`count` distinct local ports nobody listens on: all probed at once, as two probes made
    one after the other may well be handed the same port."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


def gqlorders_command() -> list[str]:
    script = Path(sys.executable).with_name("gqlorders")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gqlorders.cli"]


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


class Cluster:
    """The processes of this test, each writing its output to a log file."""

    def __init__(self, env: dict[str, str], logs: Path, cwd: Path) -> None:
        self.env = env
        self.logs = logs
        self.cwd = cwd
        self.processes: list[Process] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("ab") as output:
            popen = subprocess.Popen(
                [*gqlorders_command(), *args],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    async def run(self, name: str, *args: str) -> str:
        """A one-off command; its stdout (its log gets stderr too). Fails on a non-zero exit."""
        log = self.logs / f"{name}.log"

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*gqlorders_command(), *args],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )

        done = await asyncio.to_thread(run)
        log.write_text(f"$ gqlorders {' '.join(args)}\n{done.stdout}\n{done.stderr}")
        if done.returncode != 0:
            pytest.fail(
                f"`gqlorders {' '.join(args)}` exited {done.returncode}:\n{log.read_text()}"
            )
        return done.stdout

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything, SIGKILL what is still running after STOP_TIMEOUT; the exit
        status of each process."""
        for process in self.processes:
            if process.popen.poll() is None:
                with suppress(ProcessLookupError):
                    process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            with suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes:
            if process.popen.poll() is None:
                print(f"scale-out: {process.name} ignored SIGTERM, killing it")
                process.popen.kill()
                with suppress(subprocess.TimeoutExpired):
                    process.popen.wait(timeout=5)
        return {process.name: process.popen.returncode for process in self.processes}

    def crashed(self) -> list[str]:
        return [
            f"{process.name} exited with {process.popen.returncode} while the test ran"
            for process in self.processes
            if process.popen.poll() is not None
        ]


# A log line that starts a record (uvicorn, arq, ours); the lines after a marker belong to it
# (a traceback, an exception's DETAIL) until the next one.
RECORD = re.compile(
    r"^(INFO|WARNING|ERROR|CRITICAL|DEBUG):\s|^\s*\d+\.\d+s [!↻●←⊘]|^unexpected error|^gqlorders"
)
# ERROR and CRITICAL in capitals only: the text log names uvicorn's logger "uvicorn.error".
MARKER = re.compile(r"(?i:Traceback| failed|exception|deadlock)|\bERROR\b|\bCRITICAL\b")
LIBRARY_FRAME = re.compile(r'^\s+File ".*(site-packages|/lib/python3\.\d+/)')


def condensed(entry: list[str]) -> list[str]:
    """A log record without the frames of libraries (the project's frames and the error stay)."""
    kept: list[str] = []
    skipping = False
    for line in entry:
        if LIBRARY_FRAME.match(line):
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue  # the library frame's source line and carets
        skipping = False
        kept.append(line)
    return kept


def log_findings(logs: Path) -> dict[str, list[str]]:
    """Tracebacks, errors and failed jobs in each process's output, condensed, each distinct
    one once with how often it occurred."""
    findings: dict[str, list[str]] = {}
    for log in sorted(logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        entries: dict[str, tuple[int, int, list[str]]] = {}  # shape -> (count, line, entry)
        n = 0
        while n < len(lines):
            if not MARKER.search(lines[n]):
                n += 1
                continue
            end = n + 1
            while end < len(lines) and end - n < 100 and not RECORD.match(lines[end]):
                end += 1
            entry = condensed(lines[n:end])
            shape = re.sub(r"\d+", "#", "\n".join(entry))
            count, first, _ = entries.get(shape, (0, n + 1, entry))
            entries[shape] = (count + 1, first, entry)
            n = end
        if entries:
            findings[log.name] = [
                f"{'' if count == 1 else f'[{count} times, first] '}line {first}: "
                + "\n    ".join(entry)
                for count, first, entry in entries.values()
            ]
    return findings


def postgres_log() -> tuple[Path | None, int]:
    """The PostgreSQL server log (when there is a readable one here) and its current size."""
    for path in sorted(Path(POSTGRES_LOG_DIR).glob("postgresql*.log")):
        with suppress(OSError):
            if os.access(path, os.R_OK):
                return path, path.stat().st_size
    return None, 0


def postgres_errors(path: Path | None, offset: int, database: str) -> list[str]:
    """The server's ERROR entries for this test's database since `offset` (a deadlock's names
    the statements involved: their first lines are kept), each distinct one once."""
    if path is None:
        return []
    try:
        with path.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    entries: list[list[str]] = []
    entry: list[str] | None = None
    statement_next = False
    for line in lines:
        text = line.strip()
        if line.startswith("\t") and entry is not None:
            if text.startswith("Process"):
                entry.append(f"    {text}")
                statement_next = text.endswith(":")
            elif statement_next and text:
                entry.append(f"      {text[:120]} ...")
                statement_next = False
            continue
        entry = None
        if f"@{database} ERROR:" in line and "tortoise_migrations" not in line:
            entry = [line]
            entries.append(entry)
        elif f"@{database} DETAIL:" in line and entries:
            entry = entries[-1]
            entry.append(f"  DETAIL: {line.split('DETAIL:', 1)[1].strip()}")
    shapes = Counter(re.sub(r"\d+", "#", "\n".join(entry[1:])) for entry in entries)
    distinct: dict[str, str] = {}
    for entry in entries:
        shape = re.sub(r"\d+", "#", "\n".join(entry[1:]))
        if shape not in distinct:
            times = "" if shapes[shape] == 1 else f"[{shapes[shape]} like this, first] "
            distinct[shape] = times + "\n".join(entry)
    return list(distinct.values())


# --- the API clients ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one mutation answered; `payload` is None when the request failed unexpectedly."""

    api: int
    payload: dict[str, Any] | None

    @property
    def codes(self) -> list[str]:
        return [error["code"] for error in (self.payload or {}).get("errors") or []]

    @property
    def ok(self) -> bool:
        return self.payload is not None and not self.payload.get("errors")

    @property
    def refused(self) -> bool:
        return self.payload is not None and bool(self.payload.get("errors"))

    def __repr__(self) -> str:
        return f"API {self.api}: {json.dumps(self.payload)[:400]}"


class Driver:
    """Posts GraphQL to the two APIs, alternating unless told which, and keeps every answer
    that is not a normal one (HTTP error, GraphQL error, INTERNAL_SERVER_ERROR)."""

    def __init__(self, ports: list[int], token: str) -> None:
        self.clients = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT)
            for port in ports
        ]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.turn = itertools.count()
        self.unexpected: list[str] = []
        self.requests = Counter[int]()
        self.durations: list[tuple[float, str]] = []  # (seconds, what) of every request

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

    def pick(self, api: int | None) -> int:
        return next(self.turn) % 2 if api is None else api

    async def data(
        self, document: str, variables: dict[str, Any] | None = None, api: int | None = None
    ) -> dict[str, Any] | None:
        index = self.pick(api)
        self.requests[index] += 1
        operation = re.search(r"\{\s*(\w+)", document)
        name = operation.group(1) if operation else "?"
        what = f"{name} {json.dumps(variables)[:300]}"
        start = time.monotonic()
        try:
            response = await self.clients[index].post(
                "/graphql",
                json={"query": document, "variables": variables or {}},
                headers=self.headers,
            )
        except httpx.HTTPError as error:
            self.unexpected.append(
                f"API {index}: {what}: {type(error).__name__} after "
                f"{time.monotonic() - start:.1f}s: {error!r}"
            )
            return None
        finally:
            self.durations.append((time.monotonic() - start, f"API {index} {name}"))
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text[:500]}
        if response.status_code != 200 or body.get("errors") or body.get("data") is None:
            request_id = response.headers.get("x-request-id")
            self.unexpected.append(
                f"API {index} (request id {request_id}): {what}: HTTP {response.status_code} "
                f"{json.dumps(body)[:800]}"
            )
            return None
        return body["data"]

    async def mutate(self, document: str, input: dict[str, Any], api: int | None = None) -> Outcome:
        index = self.pick(api)
        data = await self.data(document, {"input": input}, index)
        return Outcome(index, None if data is None else next(iter(data.values())))


async def gather(*awaitables: Awaitable[Any]) -> list[Any]:
    return list(await asyncio.gather(*awaitables))


# --- the workload ------------------------------------------------------------------------------


def order_lines(index: int) -> list[tuple[str, str]]:
    """(item, quantity) of order `index`: three goods in varying order, sometimes a service.

    Orders to ship come in pairs on the same three goods in the same warehouse, listed in
    opposite orders: their shipments take the same stock rows in opposite orders."""
    if index in SHIPPED:
        first = (index - SHIPPED.start) // 2 % 2
        picks = [first, first + 2, first + 4]
    else:
        picks = [index % 6, (index + 1) % 6, (index + 3) % 6]
    if index % 2:
        picks.reverse()
    quantity = "10" if index in INVOICED else f"{index % 4 + 1}.5"
    lines = [(f"G{pick}", quantity) for pick in picks]
    if index % 5 == 0:
        lines.append(("S0", "10" if index in INVOICED else "2"))
    return lines


@dataclass
class Workload:
    driver: Driver
    problems: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    customer: str = ""
    items: dict[str, str] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    ordered: Counter[str] = field(default_factory=Counter)  # item -> scaled quantity ordered
    adjusted: Counter[tuple[str, str]] = field(default_factory=Counter)  # (item, warehouse)
    shipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    order_numbers: list[str] = field(default_factory=list)
    invoice_numbers: list[str] = field(default_factory=list)
    package_numbers: list[str] = field(default_factory=list)
    merges: int = 0
    emails: int = 0  # e-mails the successful requests asked for

    def expect(self, condition: bool, message: str, *outcomes: Outcome) -> None:
        """Record a broken expectation, unless one of the outcomes it is about is an unexpected
        answer (a crash): that is reported already, and the expectation cannot be judged."""
        if not condition and all(outcome.payload is not None for outcome in outcomes):
            self.problems.append(message)

    def warehouse_of(self, index: int) -> str:
        if index in MERGED:  # a triple shares its warehouse, or it could not merge
            return self.warehouses[(index - MERGED.start) // 3 % 2]
        if index in SHIPPED:  # see order_lines
            return self.warehouses[(index - SHIPPED.start) // 2 % 2]
        return self.warehouses[0 if index in SENT else index % 2]

    async def setup(self) -> None:
        d = self.driver
        found = await d.data(WAREHOUSES)
        assert found is not None, d.unexpected
        primary = next(w["id"] for w in found["warehouses"] if w["isPrimary"])
        second = await d.mutate(CREATE_WAREHOUSE, {"name": "Second warehouse"})
        customer = await d.mutate(
            CREATE_CUSTOMER, {"name": "Scale-out Buyer", "email": "buyer@scaleout.example"}
        )
        assert second.ok and customer.ok, (second, customer, d.unexpected)
        self.warehouses = [primary, second.payload["warehouse"]["id"]]  # type: ignore[index]
        self.customer = customer.payload["customer"]["id"]  # type: ignore[index]
        specs = [(name, "GOODS", f"{12 + n}.50") for n, name in enumerate(GOODS)]
        specs.append(("S0", "SERVICE", "80.00"))
        created = await gather(
            *(
                d.mutate(
                    CREATE_ITEM, {"sku": f"SCALE-{name}", "name": name, "kind": kind, "rate": rate}
                )
                for name, kind, rate in specs
            )
        )
        for (name, _, _), outcome in zip(specs, created, strict=True):
            assert outcome.ok, (outcome, d.unexpected)
            self.items[name] = outcome.payload["item"]["id"]

    async def adjust(
        self, item: str, warehouse: str, delta: str, api: int | None = None
    ) -> Outcome:
        input = {
            "itemId": self.items[item],
            "warehouseId": warehouse,
            "quantityDelta": delta,
            "reason": f"scale-out {delta}",
        }
        outcome = await self.driver.mutate(ADJUST_STOCK, input, api)
        if outcome.ok:
            self.adjusted[(self.items[item], warehouse)] += scaled(delta)
        return outcome

    async def receive_stock(self) -> None:
        """100 of every goods item in each warehouse, in three racing receipts."""
        outcomes = await gather(
            *(
                self.adjust(item, warehouse, delta)
                for item in GOODS
                for warehouse in self.warehouses
                for delta in ("40", "35", "25")
            )
        )
        for outcome in outcomes:
            self.expect(outcome.ok, f"a stock receipt failed: {outcome}", outcome)

    async def create_order(self, index: int) -> None:
        lines = order_lines(index)
        input = {
            "customerId": self.customer,
            "warehouseId": self.warehouse_of(index),
            "lines": [{"itemId": self.items[item], "quantity": qty} for item, qty in lines],
        }
        outcome = await self.driver.mutate(CREATE_ORDER, input)
        if not outcome.ok:
            self.problems.append(f"order {index} was not created: {outcome}")
            return
        order = outcome.payload["salesOrder"]  # type: ignore[index]
        self.orders[index] = order
        self.order_numbers.append(order["number"])
        for item, quantity in lines:
            self.ordered[self.items[item]] += scaled(quantity)

    async def create_orders(self) -> None:
        """40 orders, with stock receipts racing them."""
        receipts = [
            self.adjust(item, warehouse, "5") for item in GOODS[:3] for warehouse in self.warehouses
        ]
        await gather(*(self.create_order(index) for index in range(ORDERS)), *receipts)

    async def confirm_orders(self) -> None:
        requests: list[tuple[int, Awaitable[Outcome]]] = []
        for index, order in sorted(self.orders.items()):
            if index in DRAFTS:
                continue
            apis = (0, 1) if index in DOUBLE_CONFIRMED else (None,)
            requests += [
                (index, self.driver.mutate(CONFIRM_ORDER, {"id": order["id"]}, api)) for api in apis
            ]
        outcomes = await gather(*(request for _, request in requests))
        by_order: dict[int, list[Outcome]] = defaultdict(list)
        for (index, _), outcome in zip(requests, outcomes, strict=True):
            by_order[index].append(outcome)
        for index, answers in by_order.items():
            ok = [answer for answer in answers if answer.ok]
            self.expect(
                len(ok) == 1,
                f"order {index}: {len(ok)} confirmations succeeded: {answers}",
                *answers,
            )
            for answer in answers:
                self.expect(
                    answer.ok or answer.codes == ["INVALID_STATUS"],
                    f"order {index}: unexpected confirmation answer {answer}",
                    answer,
                )

    async def invoice_race(self, index: int) -> None:
        """Three invoices of 4 of every line (of 10) at once, from both APIs: exactly two fit."""
        order = self.orders[index]
        requests = []
        for n in range(3):
            input: dict[str, Any] = {
                "salesOrderId": order["id"],
                "lines": [
                    {"salesOrderLineId": line["id"], "quantity": "4"} for line in order["lines"]
                ],
            }
            if index < 2 and n == 0:
                input["send"] = True
            requests.append(self.driver.mutate(CREATE_INVOICE, input, (index + n) % 2))
        outcomes = await gather(*requests)
        ok = [outcome for outcome in outcomes if outcome.ok]
        refused = [outcome for outcome in outcomes if outcome.refused]
        self.expect(
            len(ok) == 2 and len(refused) == 1 and set(refused[0].codes) == {"OVER_INVOICED"},
            f"order {index}: racing invoices of 3 x 4 of 10 answered {outcomes}",
            *outcomes,
        )
        self.invoice_numbers += [outcome.payload["invoice"]["number"] for outcome in ok]
        if index < 2 and outcomes[0].ok:
            self.emails += 1

    async def merge_race(self, triple: int) -> None:
        """All three pairs of a triple merged at once, an invoice racing them."""
        indices = [MERGED.start + 3 * triple + n for n in range(3)]
        if any(index not in self.orders for index in indices):
            return  # an order was not created: reported already
        a, b, c = (self.orders[index]["id"] for index in indices)
        side = triple % 2
        merges = [
            self.driver.mutate(MERGE_ORDERS, {"ids": [a, b]}, 0),
            self.driver.mutate(MERGE_ORDERS, {"ids": [b, c]}, 1),
            self.driver.mutate(MERGE_ORDERS, {"ids": [c, a]}, side),
        ]
        invoices = [self.driver.mutate(CREATE_INVOICE, {"salesOrderId": c}, 1 - side)]
        if triple >= 2:
            invoices.append(self.driver.mutate(CREATE_INVOICE, {"salesOrderId": b}, side))
        outcomes = await gather(*merges, *invoices)
        merged, invoiced = outcomes[:3], outcomes[3:]
        self.merges += sum(outcome.ok for outcome in merged)
        allowed = {"INVALID_STATUS", "MERGE_DIFFERENT_STATUS", "MERGE_HAS_INVOICES"}
        for outcome in merged:
            self.expect(
                outcome.ok or (outcome.refused and set(outcome.codes) <= allowed),
                f"triple {triple}: unexpected merge answer {outcome}",
                outcome,
            )
        for outcome in invoiced:
            self.expect(
                outcome.ok or outcome.codes == ["INVALID_STATUS"],
                f"triple {triple}: unexpected invoice answer {outcome}",
                outcome,
            )
            if outcome.ok:
                self.invoice_numbers.append(outcome.payload["invoice"]["number"])
        if not any(outcome.ok for outcome in invoiced):
            # nothing blocks the two oldest orders of the triple: their merge must succeed
            self.expect(
                any(outcome.ok for outcome in merged),
                f"triple {triple}: no merge succeeded and no invoice blocked one: {outcomes}",
                *outcomes,
            )

    async def ship_race(self, label: str, package: dict[str, Any]) -> None:
        """One package shipped through both APIs at once: exactly one shipment."""
        outcomes = await gather(
            *(self.driver.mutate(SHIP_PACKAGE, {"id": package["id"]}, api) for api in (0, 1))
        )
        ok = [outcome for outcome in outcomes if outcome.ok]
        self.expect(
            len(ok) == 1 and [o.codes for o in outcomes if o.refused] == [["INVALID_STATUS"]],
            f"{label}: racing shipments of {package['number']} answered {outcomes}",
            *outcomes,
        )
        for outcome in ok:
            shipped = outcome.payload["package"]
            warehouse = shipped["salesOrder"]["warehouse"]["id"]
            for line in shipped["lines"]:
                item = line["salesOrderLine"]["item"]["id"]
                self.shipped[(item, warehouse)] += scaled(line["quantity"])

    async def pack_whole(self, index: int) -> list[dict[str, Any]]:
        """Everything of the order packed through both APIs at once: one package fits."""
        order_id = self.orders[index]["id"]
        outcomes = await gather(
            *(self.driver.mutate(CREATE_PACKAGE, {"salesOrderId": order_id}, api) for api in (0, 1))
        )
        ok = [outcome for outcome in outcomes if outcome.ok]
        self.expect(
            len(ok) == 1 and [o.codes for o in outcomes if o.refused] == [["INVALID"]],
            f"order {index}: racing whole packages answered {outcomes}",
            *outcomes,
        )
        packages = [outcome.payload["package"] for outcome in ok]
        self.package_numbers += [package["number"] for package in packages]
        return packages

    async def pack_part(self, index: int) -> list[dict[str, Any]]:
        """Two packages of 0.5 of every goods line at once: both fit."""
        order = self.orders[index]
        goods = [line for line in order["lines"] if line["item"]["id"] != self.items["S0"]]
        input = {
            "salesOrderId": order["id"],
            "lines": [{"salesOrderLineId": line["id"], "quantity": "0.5"} for line in goods],
        }
        outcomes = await gather(*(self.driver.mutate(CREATE_PACKAGE, input, api) for api in (0, 1)))
        self.expect(
            all(outcome.ok for outcome in outcomes),
            f"order {index}: racing partial packages answered {outcomes}",
            *outcomes,
        )
        packages = [outcome.payload["package"] for outcome in outcomes if outcome.ok]
        self.package_numbers += [package["number"] for package in packages]
        return packages

    async def send_order(self, index: int) -> None:
        outcome = await self.driver.mutate(SEND_ORDER, {"id": self.orders[index]["id"]})
        self.expect(outcome.ok, f"order {index}: sendSalesOrder answered {outcome}", outcome)
        if outcome.ok:
            self.emails += 1

    async def stock_moves(self) -> None:
        """Receipts and removals racing the shipments, and one removal that must be refused."""
        requests = [
            self.adjust(item, warehouse, delta, api)
            for item in GOODS
            for warehouse in self.warehouses
            for delta, api in (("7", 0), ("-3", 1))
        ]
        outcomes = await gather(*requests)
        for outcome in outcomes:
            self.expect(outcome.ok, f"a stock adjustment failed: {outcome}", outcome)
        too_much = await self.adjust("G0", self.warehouses[0], "-100000")
        self.expect(
            too_much.codes == ["INSUFFICIENT_STOCK"],
            f"removing more than is on hand answered {too_much}",
            too_much,
        )

    async def fulfil(self) -> None:
        """Packages racing, then every package shipped twice at once with stock moves racing:
        the shipments of paired orders take the same stock rows in opposite orders."""
        shipped = [index for index in SHIPPED if index in self.orders]
        packed = await gather(
            *(
                self.pack_whole(index) if index in SHIPPED_WHOLE else self.pack_part(index)
                for index in shipped
            )
        )
        await gather(
            *(
                self.ship_race(f"order {index}", package)
                for index, packages in zip(shipped, packed, strict=True)
                for package in packages
            ),
            self.stock_moves(),
        )

    async def storm(self) -> None:
        """Invoices, merges, packages and shipments, e-mails and stock moves, all at once."""
        await gather(
            *(self.invoice_race(index) for index in INVOICED if index in self.orders),
            *(self.merge_race(triple) for triple in range(len(MERGED) // 3)),
            *(self.send_order(index) for index in SENT if index in self.orders),
            self.fulfil(),
        )


# --- watching the mail outbox ------------------------------------------------------------------


class MailWatcher:
    """Polls DATA_DIR/outbox and records every inode each .eml file ever had: a file written
    twice (an e-mail delivered twice) shows two, as every delivery renames a new file there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: dict[str, set[int]] = defaultdict(set)
        self.stats: dict[str, tuple[int, int]] = {}  # name -> (mtime, size) when last read
        self.task: asyncio.Task[None] | None = None

    def look(self) -> None:
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            with suppress(OSError):
                stat = path.stat()
                if self.stats.get(path.name) == (stat.st_mtime_ns, stat.st_size):
                    continue
                self.stats[path.name] = (stat.st_mtime_ns, stat.st_size)
                self.seen[path.name].add(stat.st_ino)

    async def run(self) -> None:
        while True:
            self.look()
            await asyncio.sleep(0.02)

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        self.task = asyncio.create_task(self.run())
        try:
            yield
        finally:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
            self.look()


# --- after the storm: waiting and checking -----------------------------------------------------


async def background_state(db: asyncpg.Connection, redis: Redis) -> dict[str, int]:
    return {
        "outbox rows": await db.fetchval("SELECT count(*) FROM outbox_job"),
        "undispatched": await db.fetchval(
            "SELECT count(*) FROM outbox_job WHERE dispatched_at IS NULL"
        ),
        "queued in arq": await redis.zcard(
            "gqlorders:" + await db.fetchval("SELECT installation_id FROM installation")
        ),
        "running in arq": len(await redis.keys(in_progress_key_prefix + "*")),
        "arq results": len(await redis.keys(result_key_prefix + "*")),
        "e-mails QUEUED/SENDING": await db.fetchval(
            "SELECT count(*) FROM email_message WHERE state IN ('QUEUED', 'SENDING')"
        ),
    }


async def wait_until_idle(db: asyncpg.Connection, redis: Redis) -> str | None:
    """None once the outbox is drained and arq has run everything; else what was left."""
    deadline = time.monotonic() + IDLE_TIMEOUT
    while True:
        state = await background_state(db, redis)
        idle = (
            state["undispatched"] == 0
            and state["queued in arq"] == 0
            and state["running in arq"] == 0
            and state["e-mails QUEUED/SENDING"] == 0
            and state["arq results"] >= state["outbox rows"]
        )
        if idle:
            return None
        if time.monotonic() > deadline:
            return f"background work not done after {IDLE_TIMEOUT:.0f}s: {state}"
        await asyncio.sleep(0.25)


def duplicates(values: list[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


async def check_numbers(db: asyncpg.Connection, org: int, work: Workload) -> list[str]:
    problems = []
    for table, reported in (
        ("sales_order", work.order_numbers),
        ("invoice", work.invoice_numbers),
        ("package", work.package_numbers),
    ):
        rows = await db.fetch(f"SELECT number FROM {table} WHERE organization_id = $1", org)
        stored = [row["number"] for row in rows]
        if dup := duplicates(stored):
            problems.append(f"{table}: numbers stored more than once: {dup}")
        if dup := duplicates(reported):
            problems.append(f"{table}: numbers handed out more than once by the APIs: {dup}")
        if sorted(stored) != sorted(reported):
            problems.append(
                f"{table}: the APIs reported {len(reported)} created, the database has "
                f"{len(stored)}: only stored {sorted(set(stored) - set(reported))}, "
                f"only reported {sorted(set(reported) - set(stored))}"
            )
    return problems


async def check_lines(db: asyncpg.Connection, org: int) -> list[str]:
    """Invoiced, packed and shipped quantities of every line against their documents."""
    rows = await db.fetch(
        """
        SELECT o.number, l.id, l.quantity, l.quantity_invoiced, l.quantity_packed,
               l.quantity_shipped,
               (SELECT COALESCE(SUM(il.quantity), 0) FROM invoice_line il
                  JOIN invoice i ON i.id = il.invoice_id
                 WHERE il.sales_order_line_id = l.id AND i.status <> 'VOID') AS invoiced,
               (SELECT COALESCE(SUM(pl.quantity), 0) FROM package_line pl
                 WHERE pl.sales_order_line_id = l.id) AS packed,
               (SELECT COALESCE(SUM(pl.quantity), 0) FROM package_line pl
                  JOIN package p ON p.id = pl.package_id
                 WHERE pl.sales_order_line_id = l.id AND p.status <> 'PACKED') AS shipped
        FROM sales_order_line l JOIN sales_order o ON o.id = l.sales_order_id
        WHERE o.organization_id = $1
        ORDER BY l.id
        """,
        org,
    )
    problems = []
    for row in rows:
        where = f"order {row['number']} line {row['id']}"
        if row["quantity_invoiced"] != row["invoiced"]:
            problems.append(
                f"{where}: quantity_invoiced {shown(row['quantity_invoiced'])} but its non-void "
                f"invoice lines add up to {shown(row['invoiced'])}"
            )
        if row["quantity_invoiced"] > row["quantity"]:
            problems.append(
                f"{where}: over-invoiced, {shown(row['quantity_invoiced'])} of "
                f"{shown(row['quantity'])}"
            )
        if row["quantity_packed"] != row["packed"] or row["quantity_packed"] > row["quantity"]:
            problems.append(
                f"{where}: quantity_packed {shown(row['quantity_packed'])}, package lines "
                f"{shown(row['packed'])}, quantity {shown(row['quantity'])}"
            )
        if row["quantity_shipped"] != row["shipped"] or row["shipped"] > row["packed"]:
            problems.append(
                f"{where}: quantity_shipped {shown(row['quantity_shipped'])}, shipped package "
                f"lines {shown(row['shipped'])}, packed {shown(row['packed'])}"
            )
    return problems


async def check_merges(db: asyncpg.Connection, org: int, work: Workload) -> list[str]:
    problems = []
    rows = await db.fetch(
        """
        SELECT l.item_id, SUM(l.quantity) AS quantity
        FROM sales_order_line l JOIN sales_order o ON o.id = l.sales_order_id
        WHERE o.organization_id = $1 AND o.status <> 'MERGED'
        GROUP BY l.item_id
        """,
        org,
    )
    live = {row["item_id"]: row["quantity"] for row in rows}
    for item, quantity in sorted(work.ordered.items()):
        if live.get(key(item)) != quantity:
            problems.append(
                f"item {key(item)}: {shown(quantity)} ordered, but the orders that are not "
                f"MERGED hold {shown(live.get(key(item)))}"
            )
    merged = await db.fetch(
        "SELECT number, merged_into_id FROM sales_order WHERE organization_id = $1 "
        "AND status = 'MERGED'",
        org,
    )
    if len(merged) != work.merges:
        problems.append(f"{work.merges} merges succeeded, but {len(merged)} orders are MERGED")
    problems += [f"MERGED order {row['number']} has no survivor" for row in merged if not row[1]]
    return problems


COMMITTED_FROM_LINES = """
SELECT l.item_id, o.warehouse_id, SUM(l.quantity - l.quantity_shipped) AS committed
FROM sales_order_line l
JOIN sales_order o ON o.id = l.sales_order_id
JOIN item i ON i.id = l.item_id AND i.kind = 'GOODS'
WHERE o.organization_id = $1 AND o.status IN ('CONFIRMED', 'CLOSED')
GROUP BY l.item_id, o.warehouse_id
"""


async def stock_levels(db: asyncpg.Connection, org: int) -> dict[tuple[int, int], tuple[int, int]]:
    rows = await db.fetch(
        "SELECT item_id, warehouse_id, on_hand, committed FROM stock_level "
        "WHERE organization_id = $1",
        org,
    )
    return {(row[0], row[1]): (row[2], row[3]) for row in rows}


async def check_stock(
    db: asyncpg.Connection, org: int, work: Workload, before: dict, after: dict
) -> list[str]:
    """`before`: stock_level as the workers left it; `after`: after `gqlorders recalc-stock`."""
    problems = []
    expected_committed = {
        (row[0], row[1]): row[2] for row in await db.fetch(COMMITTED_FROM_LINES, org)
    }
    movements = {
        (row[0], row[1]): row[2]
        for row in await db.fetch(
            "SELECT item_id, warehouse_id, SUM(quantity) FROM stock_movement "
            "WHERE organization_id = $1 GROUP BY item_id, warehouse_id",
            org,
        )
    }
    for item in GOODS:
        for warehouse in work.warehouses:
            pair = (key(work.items[item]), key(warehouse))
            where = f"item {pair[0]} ({item}) in warehouse {pair[1]}"
            on_hand, committed = before.get(pair, (None, None))
            recalculated = after.get(pair, (None, None))
            if (on_hand, committed) != recalculated:
                problems.append(
                    f"{where}: stock drift: on hand/committed {shown(on_hand)}/{shown(committed)} "
                    f"as left by the workers, {shown(recalculated[0])}/{shown(recalculated[1])} "
                    "after `gqlorders recalc-stock`"
                )
            unshipped = expected_committed.get(pair, 0)
            if committed != unshipped:
                problems.append(
                    f"{where}: committed {shown(committed)}, but the unshipped quantities of its "
                    f"confirmed and closed orders add up to {shown(unshipped)}"
                )
            expected_on_hand = work.adjusted[(work.items[item], warehouse)]
            expected_on_hand -= work.shipped[(work.items[item], warehouse)]
            if on_hand != expected_on_hand or on_hand != movements.get(pair):
                problems.append(
                    f"{where}: on hand {shown(on_hand)}; adjustments minus shipments reported by "
                    f"the APIs: {shown(expected_on_hand)}; stock movements: "
                    f"{shown(movements.get(pair))}"
                )
    extra = set(after) - {
        (key(work.items[item]), key(warehouse)) for item in GOODS for warehouse in work.warehouses
    }
    if extra:
        problems.append(f"stock_level rows for no goods item of the test: {sorted(extra)}")
    return problems


async def check_jobs(db: asyncpg.Connection, pool: ArqRedis) -> list[str]:
    """Every outbox row dispatched, and run by arq once, successfully, as itself."""
    problems = []
    rows = await db.fetch(
        "SELECT id, token, job, payload, dispatched_at FROM outbox_job ORDER BY id"
    )
    results = {result.job_id: result for result in await pool.all_job_results()}
    for row in rows:
        job_id = f"outbox:{row['id']}:{row['token']}"
        what = f"outbox row {row['id']} ({row['job']} {row['payload']})"
        if row["dispatched_at"] is None:
            problems.append(f"{what} was never dispatched")
        result = results.pop(job_id, None)
        if result is None:
            problems.append(f"{what}: arq has no result for {job_id} (never run, or lost)")
            continue
        if result.function != row["job"]:
            problems.append(f"{what}: arq ran {result.function} as {job_id}")
        if not result.success:
            problems.append(f"{what} failed in arq (try {result.job_try}): {result.result!r}")
        elif result.job_try != 1:
            problems.append(f"{what} ran {result.job_try} times in arq")
    for unknown_id, unknown in results.items():  # (arq's job_id is typed optional)
        problems.append(f"arq ran {unknown_id} ({unknown.function}), which is no outbox row")
    return problems


async def check_emails(
    db: asyncpg.Connection, org: int, work: Workload, outbox: Path, watcher: MailWatcher
) -> list[str]:
    problems = []
    emails = await db.fetch(
        "SELECT id, state, attempts, sent_at, error, created_at FROM email_message "
        "WHERE organization_id = $1 "
        "ORDER BY id",
        org,
    )
    if len(emails) != work.emails:
        problems.append(f"{work.emails} e-mails were asked for, {len(emails)} were recorded")
    jobs = Counter(
        json.loads(row["payload"])["email_id"]
        for row in await db.fetch("SELECT payload FROM outbox_job WHERE job = 'send_email'")
    )
    files = {path.name for path in outbox.glob("*")} if outbox.is_dir() else set()
    for email in emails:
        name = _eml_name(email)
        where = f"e-mail {email['id']}"
        if email["state"] != "SENT" or email["sent_at"] is None or email["attempts"] != 1:
            problems.append(
                f"{where}: state {email['state']} after {email['attempts']} attempt(s), "
                f"sent at {email['sent_at']}, error {email['error']!r}"
            )
        if jobs[email["id"]] != 1:
            problems.append(f"{where}: {jobs[email['id']]} send_email jobs in the outbox")
        if name not in files:
            problems.append(f"{where}: no {name} in {outbox}")
            continue
        ids = watcher.seen.get(name, set())
        if len(ids) > 1:
            problems.append(f"{where}: {name} was written {len(ids)} times: {sorted(ids)}")
        head = (outbox / name).read_bytes().partition(b"\n\n")[0].decode(errors="replace")
        if f"<{name.removesuffix('.eml')}@" not in head:
            problems.append(f"{where}: {name} is not this e-mail's message")
    expected = {_eml_name(email) for email in emails}
    if files - expected:
        problems.append(f"files in {outbox} for no e-mail: {sorted(files - expected)}")
    return problems


def _eml_name(email: asyncpg.Record) -> str:
    """The file transport's name for the e-mail: its key, id and creation time (in UTC)."""
    return f"email-{email['id']}.{email['created_at'].astimezone(UTC):%Y%m%d%H%M%S%f}.eml"


# --- setting up and tearing down ---------------------------------------------------------------


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A new PostgreSQL database for this test, dropped afterwards (even if processes hang on
    to connections: WITH (FORCE))."""
    name = f"gqlorders_scaleout_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{POSTGRES_URL}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def empty_redis() -> AsyncIterator[ArqRedis]:
    """Redis database 7 (arq's keys and this test's only), flushed first."""
    client = ArqRedis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    except OSError as error:
        await client.aclose()
        pytest.fail(f"Redis is needed at {REDIS_URL} (scripts/ensure-services starts it): {error}")
    try:
        yield client
    finally:
        await client.aclose()


@contextmanager
def phase(name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        print(f"scale-out: {name} took {time.monotonic() - start:.1f}s", flush=True)


async def wait_ready(cluster: Cluster, apis: list[Process], ports: list[int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as client:
        for process, port in zip(apis, ports, strict=True):
            while True:
                if process.popen.poll() is not None:
                    pytest.fail(f"{process.name} exited early:\n{process.log.read_text()}")
                with suppress(httpx.HTTPError):
                    response = await client.get(f"http://127.0.0.1:{port}/readyz")
                    if response.status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"{process.name} not ready after {START_TIMEOUT:.0f}s:\n"
                        f"{process.log.read_text()}"
                    )
                await asyncio.sleep(0.2)
    for process in cluster.processes:
        if process.popen.poll() is not None:
            pytest.fail(f"{process.name} exited early:\n{process.log.read_text()}")


def report(problems: list[str], logs: Path, server_errors: list[str]) -> str:
    lines = [f"{len(problems)} problem(s) found by the scale-out proof:"]
    lines += [f"  - {problem}" for problem in problems]
    for name, entries in log_findings(logs).items():
        lines.append(f"--- {logs / name}: errors logged ---")
        lines += entries
    if server_errors:
        lines.append("--- PostgreSQL server log: errors in this test's database ---")
        lines += server_errors
    return "\n".join(lines) + "\n"


# --- the proof ---------------------------------------------------------------------------------


async def test_two_apis_and_two_workers_keep_every_invariant(tmp_path: Path) -> None:
    started = time.monotonic()
    data_dir = tmp_path / "data"
    logs = tmp_path / "logs"
    print(f"\nscale-out: logs under {logs}", flush=True)
    server_log, server_log_offset = postgres_log()
    async with scratch_database() as database_url, empty_redis() as redis:
        database_name = database_url.rsplit("/", 1)[-1]
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"SMTP_URL", "DATABASE_URL", "REDIS_URL", "DATA_DIR", "LOG_FORMAT"}
        }
        env |= {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "DATA_DIR": str(data_dir),
            "LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
        cluster = Cluster(env, logs, tmp_path)
        db = await asyncpg.connect(database_url)
        watcher = MailWatcher(data_dir / "outbox")
        problems: list[str] = []
        try:
            with phase("migrate, org create, start 2 APIs + 2 workers"):
                await cluster.run("migrate", "migrate")
                created = json.loads(
                    (await cluster.run("org-create", "org", "create", "Scale-out Co")).strip()
                )
                org, token = created["organization_id"], created["token"]
                ports = free_ports(2)
                apis = [
                    cluster.start(f"api{n}", "serve", "--port", str(port))
                    for n, port in enumerate(ports)
                ]
                for n in range(2):
                    cluster.start(f"worker{n}", "worker")
                await wait_ready(cluster, apis, ports)

            driver = Driver(ports, token)
            work = Workload(driver)
            try:
                async with watcher.watching():
                    with phase("items, warehouses, stock receipts"):
                        await work.setup()
                        await work.receive_stock()
                    with phase(f"{ORDERS} concurrent createSalesOrder"):
                        await work.create_orders()
                    with phase("concurrent confirmations"):
                        await work.confirm_orders()
                    with phase("invoices, merges, packages, shipments, e-mails, stock"):
                        await work.storm()
                    with phase("outbox drained and arq idle"):
                        if (late := await wait_until_idle(db, redis)) is not None:
                            problems.append(late)
            finally:
                await driver.close()
            slowest = sorted(driver.durations, reverse=True)[:3]
            print(
                f"scale-out: {sum(driver.requests.values())} requests "
                f"(API 0: {driver.requests[0]}, API 1: {driver.requests[1]}), slowest: "
                + ", ".join(f"{what} {seconds:.1f}s" for seconds, what in slowest),
                flush=True,
            )
            problems += [f"unexpected API answer: {answer}" for answer in driver.unexpected]
            problems += work.problems
            problems += cluster.crashed()

            with phase("checks and `gqlorders recalc-stock`"):
                problems += await check_numbers(db, org, work)
                problems += await check_lines(db, org)
                problems += await check_merges(db, org, work)
                problems += await check_jobs(db, redis)
                problems += await check_emails(db, org, work, data_dir / "outbox", watcher)
                before = await stock_levels(db, org)
                await cluster.run("recalc-stock", "recalc-stock", "--org", str(org))
                after = await stock_levels(db, org)
                problems += await check_stock(db, org, work, before, after)
        finally:
            await db.close()
            exits = cluster.stop()
    # uvicorn re-raises SIGTERM once it has shut down gracefully: -SIGTERM is a clean exit too
    problems += [
        f"{name} exited {code} on SIGTERM"
        for name, code in exits.items()
        if code not in (0, -signal.SIGTERM)
    ]
    found_in_logs = log_findings(logs)
    problems += [f"{name} logged errors (see below)" for name in found_in_logs]
    print(f"scale-out: {time.monotonic() - started:.1f}s in all", flush=True)
    if problems:
        server_errors = postgres_errors(server_log, server_log_offset, database_name)
        text = report(problems, logs, server_errors)
        (logs / "report.txt").write_text(text)
        pytest.fail(text, pytrace=False)
