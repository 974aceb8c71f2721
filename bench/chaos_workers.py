"""Orders sent by e-mail while arq workers are SIGKILLed again and again (issue 22).

Starts `gqlorders serve` and 2 `gqlorders worker` processes on a throw-away PostgreSQL database
and a Redis database it flushes first, creates N orders with `send: true` (each: confirmation,
stock recalculation, PDF, e-mail) from 4 client threads while a random worker is SIGKILLed
every `--kill-every` seconds and a new one started, then waits for every e-mail to settle
(SENT or FAILED) and counts:

- the e-mails delivered: .eml files under DATA_DIR/outbox, or, with `--smtp`, the messages an
  SMTP sink of this script received (by Message-ID: a second copy is a duplicate);
- the e-mails' final states (`emails { state error }` of every order);
- committed stock against the quantities ordered;
- how long after the last order the last e-mail settled.

    .venv/bin/python bench/chaos_workers.py --orders 300 --kill-every 1.5 --drain 300 [--smtp]

The exit status is 1 if an e-mail went out twice, stock is wrong, or an e-mail never settled.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

POSTGRES = os.environ.get("GQLORDERS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
CLIENTS = 4

EMAIL_STATES = """
query($after: String) { salesOrders(first: 100, after: $after) {
  edges { node { number emails { state error } } } pageInfo { hasNextPage endCursor }
} }"""
STOCK = """
query($id: ID!) { node(id: $id) { ... on Item {
  stock { committed warehouse { isPrimary } }
} } }"""


class Sink:
    """An SMTP server that takes every message and counts them by Message-ID."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        with self.lock:
            self.received[message_id] += 1
        return "250 OK"


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.bin = Path(sys.executable).parent
        self.work = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.database = "chaos_" + uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{POSTGRES}/{self.database}",
            "REDIS_URL": args.redis,
            "DATA_DIR": str(self.work / "data"),
            "LOG_FORMAT": "text",
        }
        self.env.pop("SMTP_URL", None)
        self.sink: Sink | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def command(self, *arguments: str) -> str:
        return subprocess.run(
            [str(self.bin / "gqlorders"), *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def start(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [str(self.bin / "gqlorders"), *arguments],
            env=self.env,
            stdout=open(self.work / f"{name}.log", "wb"),  # noqa: SIM115 (lives with the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_worker(self) -> None:
        self.workers.append(self.start(f"worker{len(self.workers)}", "worker"))

    def gql(self, client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
        answer = client.post(self.url, json={"query": query, "variables": variables or {}})
        body = answer.json()
        assert not body.get("errors"), body
        return body["data"]

    def mutate(self, client: httpx.Client, name: str, input: dict[str, Any], fields: str) -> Any:
        kind = name[0].upper() + name[1:] + "Input"
        query = f"mutation($i: {kind}!) {{ {name}(input: $i) {{ {fields} errors {{ code }} }} }}"
        payload = self.gql(client, query, {"i": input})[name]
        assert not payload["errors"], payload
        return payload

    def run(self) -> int:
        args = self.args
        subprocess.run(
            ["psql", f"{POSTGRES}/postgres", "-qc", f"CREATE DATABASE {self.database}"], check=True
        )
        redis_db = args.redis.rsplit("/", 1)[1]
        subprocess.run(["redis-cli", "-n", redis_db, "flushdb"], check=True, capture_output=True)
        controller = None
        try:
            if args.smtp:
                self.sink = Sink()
                with socket.socket() as probe:  # a free port (aiosmtpd cannot take port 0)
                    probe.bind(("127.0.0.1", 0))
                    smtp_port = probe.getsockname()[1]
                controller = Controller(self.sink, hostname="127.0.0.1", port=smtp_port)
                controller.start()
                self.env["SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
            self.command("migrate")
            created = self.command("org", "create", "Chaos")
            token = json.loads([line for line in created.splitlines() if line.startswith("{")][-1])
            port = 18900 + random.randint(0, 90)
            self.start("serve", "serve", "--port", str(port))
            self.start_worker()
            self.start_worker()
            self.url = f"http://127.0.0.1:{port}/graphql"
            headers = {"Authorization": f"Bearer {token['token']}"}
            with httpx.Client(headers=headers, timeout=60) as client:
                return self.measure(client, headers)
        finally:
            for process in self.processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in self.processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            if controller is not None:
                controller.stop()
            subprocess.run(
                [
                    "psql",
                    f"{POSTGRES}/postgres",
                    "-qc",
                    f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)",
                ]
            )
            print("logs and data:", self.work)

    def measure(self, client: httpx.Client, headers: dict[str, str]) -> int:
        args = self.args
        for _ in range(100):
            try:
                client.post(self.url, json={"query": "{ __typename }"})
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        items = [
            self.mutate(
                client,
                "createItem",
                {"sku": f"C{n}", "name": f"Chaos {n}", "kind": "GOODS", "rate": "3.00"},
                "item { id }",
            )["item"]["id"]
            for n in range(5)
        ]
        warehouses = self.gql(client, "{ warehouses { id isPrimary } }")["warehouses"]
        [warehouse] = [found["id"] for found in warehouses if found["isPrimary"]]
        for item in items:
            adjustment = {
                "itemId": item,
                "warehouseId": warehouse,
                "quantityDelta": "100000",
                "reason": "count",
            }
            self.mutate(client, "adjustStock", adjustment, "item { id }")
        customer = {"name": "Chaos buyer", "email": "buyer@chaos.test"}
        customer_id = self.mutate(client, "createCustomer", customer, "customer { id }")
        customer_id = customer_id["customer"]["id"]

        ordered: Counter[str] = Counter()
        lock = threading.Lock()
        todo = list(range(args.orders))

        def create_orders() -> None:
            with httpx.Client(headers=headers, timeout=60) as own:
                while True:
                    with lock:
                        if not todo:
                            return
                        todo.pop()
                    lines = [
                        {"itemId": random.choice(items), "quantity": str(random.randint(1, 5))}
                        for _ in range(3)
                    ]
                    order = {"customerId": customer_id, "lines": lines, "send": True}
                    self.mutate(own, "createSalesOrder", order, "salesOrder { id }")
                    with lock:
                        for line in lines:
                            ordered[line["itemId"]] += int(line["quantity"])

        stop = threading.Event()

        def kill_workers() -> None:
            while not stop.wait(args.kill_every):
                alive = [worker for worker in self.workers if worker.poll() is None]
                if alive:
                    os.killpg(random.choice(alive).pid, signal.SIGKILL)
                    self.kills += 1
                self.start_worker()

        started = time.time()
        killer = threading.Thread(target=kill_workers)
        killer.start()
        clients = [threading.Thread(target=create_orders) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        stop.set()
        killer.join()
        creating = time.time() - started
        last_order = time.time()

        def states() -> Counter[tuple[str, str]]:
            found: Counter[tuple[str, str]] = Counter()
            after = None
            while True:
                page = self.gql(client, EMAIL_STATES, {"after": after})["salesOrders"]
                for edge in page["edges"]:
                    for email in edge["node"]["emails"]:
                        found[(email["state"], (email["error"] or "")[:60])] += 1
                if not page["pageInfo"]["hasNextPage"]:
                    return found
                after = page["pageInfo"]["endCursor"]

        def stock_right() -> bool:
            for item in items:
                stock = self.gql(client, STOCK, {"id": item})["node"]["stock"]
                [level] = [row for row in stock if row["warehouse"]["isPrimary"]]
                if Decimal(level["committed"]) != ordered[item]:
                    return False
            return True

        deadline = last_order + args.drain
        settled_after = None
        while time.time() < deadline:
            found = states()
            if not any(state == "QUEUED" for state, _ in found):
                settled_after = time.time() - last_order
                break
            time.sleep(2)
        final = states()
        stock_ok = stock_right()
        delivered = self.delivered()
        duplicates = sum(count - 1 for count in delivered.values() if count > 1)
        sent = sum(count for (state, _), count in final.items() if state == "SENT")
        print("e-mail states:", dict(final))
        transport = "SMTP sink" if self.sink else "file transport"
        print(
            f"{args.orders} orders sent in {creating:.0f} s with {self.kills} worker SIGKILLs"
            f" ({transport}); e-mails delivered: {sum(delivered.values())}"
            f" ({len(delivered)} distinct, {duplicates} duplicates); SENT: {sent};"
            f" committed stock right: {stock_ok}; "
            + (
                f"every e-mail settled {settled_after:.0f} s after the last order"
                if settled_after is not None
                else f"e-mails still QUEUED {args.drain:.0f} s after the last order"
            )
        )
        return 0 if duplicates == 0 and stock_ok and settled_after is not None else 1

    def delivered(self) -> Counter[str]:
        if self.sink is not None:
            with self.sink.lock:
                return Counter(self.sink.received)
        outbox = self.work / "data" / "outbox"
        files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
        return Counter(message_from_bytes(path.read_bytes())["Message-ID"] for path in files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--kill-every", type=float, default=1.5, help="seconds (1.5)")
    parser.add_argument(
        "--redis",
        default=os.environ.get("GQLORDERS_BENCH_REDIS", "redis://127.0.0.1:6379/15"),
        help="a Redis database of its own, flushed first (GQLORDERS_BENCH_REDIS, db 15)",
    )
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait (300)")
    parser.add_argument("--smtp", action="store_true", help="mail through an SMTP sink")
    return Chaos(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
