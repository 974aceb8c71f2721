"""Benchmark live updates: N subscribers of `events` on `gqlorders serve` (PostgreSQL).

1. memory: the server processes' RSS before and after N idle subscriptions, per subscriber.
   Aim: at most 50 KiB.
2. latency: one event committed at a time (an INSERT, whose trigger notifies, from this
   process): from the COMMIT's return to each subscriber's receipt, p50/p99/max over every
   delivery of --rounds events. Aim: p99 at most 200 ms.
3. fan-out: events committed at rising rates for --seconds each; per rate, the rate this process
   managed to commit at, the deliveries per second and the p99 latency, until p99 passes
   200 ms or a delivery is missing; the last rate before that.

The subscribers run in this process, on the same machine: their own CPU use and lag count in
the latencies (an upper bound for the server's share).

By default every subscriber sends the same subscription, which the server runs once per
process for all of them (shared executions): the best case, as an SPA's desks are. With
--distinct each sends its own (a different operation name), so that each costs an execution
of its own per event: the worst case.

usage: python bench/live.py [--subscribers 1000] [--workers 1] [--rounds 20] [--distinct]
                            [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from _support import log, machine, run, throwaway_database
from websockets.asyncio.client import ClientConnection, connect

GQLORDERS = Path(sys.executable).parent / "gqlorders"
PY_SPY = Path(sys.executable).parent / "py-spy"
SUBSCRIPTION = "subscription {name} {{ events {{ cursor node {{ type resourceId data }} }} }}"
COMMIT = """
WITH made AS (
  INSERT INTO feed_event (organization_id, type, actor, resource_type, resource_key,
                          occurred_at, data)
  SELECT $1, 'SALES_ORDER_UPDATED', 'bench', 'SalesOrder', 1, now(),
         jsonb_build_object('sent', $2::float8)
  FROM generate_series(1, $3)
  RETURNING id
)
SELECT count(*) FROM made
"""
AIM_MS = 200


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--rounds", type=int, default=20, help="single events for latency")
    parser.add_argument("--rates", default="5,10,20,40", help="events/s for the fan-out runs")
    parser.add_argument("--seconds", type=float, default=5, help="per fan-out rate")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="a subscription of its own per subscriber (none shared): the worst case",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="sample the server processes with py-spy from the first event on; FILE gets their"
        " collapsed stacks (py-spy's raw format, for flamegraph tools or a grep)",
    )
    return parser.parse_args()


def start_profiler(pid: int, output: str) -> subprocess.Popen[bytes]:
    """py-spy (the bench extra) sampling the server and its worker processes until SIGINT."""
    return subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
         "--rate", "200", "--format", "raw", "--output", output],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn's worker processes)."""
    total = 0
    children = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    for process in [str(pid), *children]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


class Subscriber:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.latencies: list[float] = []  # seconds, commit to receipt

    async def receive_forever(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] == "next":
                sent = message["payload"]["data"]["events"]["node"]["data"]["sent"]
                self.latencies.append(time.time() - sent)
            elif message["type"] == "ping":
                await self.socket.send('{"type":"pong"}')


async def subscribe(url: str, token: str, name: str = "") -> Subscriber:
    socket = await connect(url, subprotocols=["graphql-transport-ws"], max_queue=None)  # type: ignore[list-item]
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    query = SUBSCRIPTION.format(name=name)
    subscription = {"id": "1", "type": "subscribe", "payload": {"query": query}}
    await socket.send(json.dumps(subscription))
    return Subscriber(socket)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def commit(db: asyncpg.Connection, organization_id: int, count: int = 1) -> None:
    await db.fetchval(COMMIT, organization_id, time.time(), count)


async def deliveries(subscribers: list[Subscriber], expected: int, timeout: float) -> list[float]:
    """Wait until every subscriber has `expected` latencies (or the timeout); all of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(s.latencies) >= expected for s in subscribers):
            break
        await asyncio.sleep(0.05)
    return [latency for s in subscribers for latency in s.latencies]


async def main(args: argparse.Namespace) -> int:
    async with throwaway_database() as (url, data_dir):
        env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data_dir), "LOG_FORMAT": "text",
               "LIVE_MAX_CONNECTIONS": str(args.subscribers + 10)}  # fmt: skip
        env.pop("REDIS_URL", None)
        subprocess.run([str(GQLORDERS), "migrate"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [str(GQLORDERS), "org", "create", "Bench Co"], env=env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        organization = json.loads(created.stdout)
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen(
            [str(GQLORDERS), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        db = await asyncpg.connect(url)
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # every worker process up
            version = await db.fetchval("SHOW server_version")
            log(machine(version))
            shared = "each its own subscription" if args.distinct else "one shared subscription"
            log(f"{args.subscribers} subscribers ({shared}), {args.workers} server process(es)")

            before = rss_kib(server.pid)
            ws_url = f"ws://127.0.0.1:{port}/graphql"
            subscribers = []
            for start in range(0, args.subscribers, 50):
                batch = range(start, min(start + 50, args.subscribers))
                subscribers += await asyncio.gather(
                    *(
                        subscribe(ws_url, organization["token"], f"S{n}" if args.distinct else "")
                        for n in batch
                    )
                )
            readers = [asyncio.create_task(s.receive_forever()) for s in subscribers]
            profiler = start_profiler(server.pid, args.profile) if args.profile else None
            await asyncio.sleep(3)
            after = rss_kib(server.pid)
            per = (after - before) / args.subscribers
            log(f"memory: {before / 1024:.0f} -> {after / 1024:.0f} MiB, {per:.1f} KiB each")

            for round in range(1, args.rounds + 1):
                await commit(db, organization["organization_id"])
                await deliveries(subscribers, round, 30)
                await asyncio.sleep(0.3)
            latencies = [1000 * x for x in await deliveries(subscribers, args.rounds, 1)]
            expected = args.rounds * args.subscribers
            p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
            log(
                f"latency, one event at a time ({len(latencies)}/{expected} deliveries): "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies):.0f} ms"
                f" (aim p99 <= {AIM_MS})"
            )

            best = 0
            for rate in (int(r) for r in args.rates.split(",")):
                for s in subscribers:
                    s.latencies.clear()
                count = int(rate * args.seconds)
                started = time.monotonic()
                for n in range(count):
                    await commit(db, organization["organization_id"])
                    await asyncio.sleep(max(0, started + (n + 1) / rate - time.monotonic()))
                committed = count / (time.monotonic() - started)  # below `rate`: this process lags
                got = await deliveries(subscribers, count, 60)
                elapsed = time.monotonic() - started
                p99 = 1000 * percentile(got, 0.99)
                log(
                    f"fan-out at {rate} events/s (committed {committed:.0f}/s):"
                    f" {len(got)}/{count * args.subscribers} deliveries in {elapsed:.1f} s"
                    f" ({len(got) / elapsed:.0f}/s), p99 {p99:.0f} ms"
                )
                if p99 > AIM_MS or len(got) < count * args.subscribers:
                    break  # degraded: higher rates would only say so again
                best = rate
            log(f"highest rate with p99 <= {AIM_MS} ms: {best} events/s")
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                profiler.wait(timeout=60)
                log(f"profile: {args.profile}")
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*(s.socket.close() for s in subscribers), return_exceptions=True)
        finally:
            await db.close()
            server.terminate()
            server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(run(main(parse_args())))
