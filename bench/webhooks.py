"""Benchmark outgoing webhooks on PostgreSQL + Redis with one `gqlorders worker` process.

0. a backlog: --backlog events (default 10,000) committed while the worker is stopped
   (SIGSTOP), then the worker resumed: deliveries per second from its resumption to the last
   receipt (what one worker can send, whatever the rate the benchmark publishes at), and the
   worker's CPU time per delivery (less sensitive to a shared machine's load than rates).
1. throughput: N events (default 10,000) of one organization, published at --rate per second
   in transactions of 10 (each event with its delivery and its job, as createSalesOrder writes
   them), to one endpoint: a local receiver (aiohttp, in this process) answering 200.
   Figures: deliveries per second (first commit to last receipt) and commit -> receipt
   p50 / p99. Aim: >= 300/s, p99 <= 1 s.
2. an outage: two endpoints; one answers 500 for --outage seconds (default 60), then 200. The
   worker runs with WEBHOOK_RETRY_SCHEDULE shortened to 5s,10s,20s,40s,80s. Figures: every event
   received exactly once by webhook-id on both (none lost), and the healthy endpoint's p99
   during the outage against phase 1 (one failing partner must not slow the others).

usage: python bench/webhooks.py [--backlog 10000] [--events 10000] [--rate 400]
    [--per-transaction 10] [--outage 60] [--outage-events 3000] [--pool 5]
    [--profile worker.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
from _support import log, machine, run, throwaway_database
from aiohttp import web
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from gqlorders import database, jobs
from gqlorders.config import load_settings
from gqlorders.events import EventType, Resource, publish
from gqlorders.models import WebhookEndpoint
from gqlorders.tenancy import create_organization
from gqlorders.webhooks.signing import new_secret

REDIS_URL = os.environ.get("GQLORDERS_BENCH_REDIS", "redis://127.0.0.1:6379/12")
PER_TRANSACTION = 10  # events per transaction, unless --per-transaction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=10_000, help="0: no backlog phase")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--per-transaction",
        type=int,
        default=PER_TRANSACTION,
        help="events per transaction (one job each): 1 is an API request's single event",
    )
    parser.add_argument("--rate", type=int, default=400, help="events published per second")
    parser.add_argument("--outage", type=float, default=60, help="seconds of 500 answers")
    parser.add_argument("--outage-events", type=int, default=3000)
    parser.add_argument("--pool", type=int, default=5, help="the worker's database connections")
    parser.add_argument(
        "--profile", type=Path, help="run the worker under cProfile, its stats written here"
    )
    return parser.parse_args()


class Receiver:
    """An endpoint: receipt time per webhook-id; answers 500 until `failing_until`."""

    def __init__(self) -> None:
        self.received: dict[str, tuple[int, float]] = {}  # webhook-id -> (seq, first receipt)
        self.requests = 0
        self.failing_until = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests += 1
        if time.time() < self.failing_until:
            return web.Response(status=500, text="down")
        self.received.setdefault(request.headers["webhook-id"], (body["data"]["seq"], time.time()))
        return web.Response(text="ok")


async def serve(receivers: dict[str, Receiver]) -> web.AppRunner:
    app = web.Application()
    for name, receiver in receivers.items():
        app.router.add_post(f"/{name}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def port_of(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]


async def publish_events(
    organization_id: int, count: int, rate: int, per_transaction: int = PER_TRANSACTION
) -> dict[int, float]:
    """Publish `count` events at `rate` per second, `per_transaction` in each transaction; the
    commit time of each (by seq)."""
    committed: dict[int, float] = {}
    started = time.monotonic()
    for start in range(0, count, per_transaction):
        async with in_transaction():
            for seq in range(start, min(start + per_transaction, count)):
                data = {"seq": seq, "number": f"SO-{seq:05d}", "total": "125.00"}
                await publish(
                    organization_id,
                    EventType.SALES_ORDER_CREATED,
                    Resource.SALES_ORDER,
                    seq,
                    data,
                    "bench",
                )
        at = time.time()
        committed.update((seq, at) for seq in range(start, min(start + per_transaction, count)))
        await jobs.after_request()  # to Redis now, as after a request
        ahead = started + (start + per_transaction) / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    return committed


async def received_all(receivers: list[Receiver], count: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(len(r.received) < count for r in receivers):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def latencies(receiver: Receiver, committed: dict[int, float]) -> list[float]:
    return sorted(at - committed[seq] for seq, at in receiver.received.values())


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


def spread(values: list[float]) -> str:
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"


def start_worker(
    env: dict[str, str], log_path: Path, profile: Path | None
) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("gqlorders")
    command = [str(script), "worker"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    with log_path.open("ab") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def started(worker: subprocess.Popen[bytes]) -> None:
    """Wait until the worker has imported and connected (its CPU time stops growing), so that
    the CPU counted for the deliveries leaves its start out."""
    previous = -1.0
    while (spent := cpu_seconds(worker.pid)) - previous > 0.02:
        previous = spent
        await asyncio.sleep(1)


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


def log_cpu(cpu: float, deliveries: int) -> None:
    log(f"   worker CPU {cpu:.1f} s: {cpu / max(deliveries, 1) * 1000:.2f} ms a delivery")
    log_load()


def log_load() -> None:
    log(f"   load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


async def backlog(
    worker: subprocess.Popen[bytes], count: int, url: str, receiver: Receiver, per_transaction: int
) -> None:
    """Phase 0: `count` events committed (and handed to Redis) while the worker is stopped,
    then sent by it as fast as it can."""
    organization = await create_organization("Bench backlog", "EUR")
    await endpoint(organization.id, url)
    log(f"\n0. a backlog of {count} events ({per_transaction} a transaction) to one endpoint,")
    log("   committed while the worker is stopped")
    worker.send_signal(signal.SIGSTOP)
    try:
        await publish_events(organization.id, count, 1_000_000, per_transaction)
    finally:
        cpu_before = cpu_seconds(worker.pid)
        resumed = time.time()
        worker.send_signal(signal.SIGCONT)
    done = await received_all([receiver], count, 300)
    last = max(at for _, at in receiver.received.values())
    rate = len(receiver.received) / (last - resumed)
    log(f"   received {len(receiver.received)}/{count} (all: {done}) in {last - resumed:.1f} s:")
    log(f"   {rate:.0f} deliveries/s")
    log_cpu(cpu_seconds(worker.pid) - cpu_before, len(receiver.received))


async def endpoint(organization_id: int, url: str) -> None:
    await WebhookEndpoint.create(organization_id=organization_id, url=url, secret=new_secret())


async def main() -> int:
    args = parse_args()
    redis = Redis.from_url(REDIS_URL)
    async with throwaway_database() as (url, data_dir):
        settings = load_settings(
            {"DATABASE_URL": url, "DATA_DIR": str(data_dir), "REDIS_URL": REDIS_URL}
        )
        await database.migrate(settings)
        admin = await asyncpg.connect(url)
        log(machine(admin.get_server_version().__str__()))
        await admin.close()
        env = {
            **os.environ,
            "DATABASE_URL": f"{url}?maxsize={args.pool}",
            "REDIS_URL": REDIS_URL,
            "DATA_DIR": str(data_dir),
            "WEBHOOK_ALLOW_PRIVATE": "1",
            "LOG_FORMAT": "text",
            "WEBHOOK_RETRY_SCHEDULE": "5s,10s,20s,40s,80s",
        }
        receivers = {
            "backlog": Receiver(),
            "steady": Receiver(),
            "healthy": Receiver(),
            "flaky": Receiver(),
        }
        server = await serve(receivers)
        base = f"http://127.0.0.1:{port_of(server)}"
        async with database.connected(settings):
            await redis.flushdb()
            relay = jobs.RedisRelay(REDIS_URL)
            jobs.configure(relay)
            worker = start_worker(env, data_dir / "worker.log", args.profile)
            try:
                await started(worker)
                if args.backlog > 0:
                    await backlog(
                        worker,
                        args.backlog,
                        f"{base}/backlog",
                        receivers["backlog"],
                        args.per_transaction,
                    )

                # 1. throughput
                first = await create_organization("Bench steady", "EUR")
                await endpoint(first.id, f"{base}/steady")
                log(f"\n1. {args.events} events at {args.rate}/s, {args.per_transaction} a")
                log("   transaction, to one endpoint, one worker")
                cpu_before = cpu_seconds(worker.pid)
                committed = await publish_events(
                    first.id, args.events, args.rate, args.per_transaction
                )
                done = await received_all([receivers["steady"]], args.events, 300)
                steady = latencies(receivers["steady"], committed)
                span = max(at for _, at in receivers["steady"].received.values()) - min(
                    committed.values()
                )
                rate_done = len(steady) / span
                log(f"   received {len(steady)}/{args.events} (all: {done}), {rate_done:.0f}/s")
                log(f"   commit -> receipt {spread(steady)}")
                log_cpu(cpu_seconds(worker.pid) - cpu_before, len(steady))

                if args.outage_events <= 0:
                    return 0
                # 2. an outage at one of two endpoints
                second = await create_organization("Bench outage", "EUR")
                await endpoint(second.id, f"{base}/healthy")
                await endpoint(second.id, f"{base}/flaky")
                receivers["flaky"].failing_until = time.time() + args.outage
                count = args.outage_events
                rate = max(1, int(count / max(args.outage, 1)))
                log(f"\n2. {count} events at {rate}/s to two endpoints, one answering 500")
                log(f"   for the first {args.outage:.0f} s")
                cpu_before = cpu_seconds(worker.pid)
                committed = await publish_events(second.id, count, rate)
                done = await received_all(
                    [receivers["healthy"], receivers["flaky"]], count, args.outage + 400
                )
                healthy = latencies(receivers["healthy"], committed)
                flaky = latencies(receivers["flaky"], committed)
                log(f"   healthy: {len(healthy)}/{count} by webhook-id, {spread(healthy)}")
                requests = receivers["flaky"].requests
                log(f"   failing: {len(flaky)}/{count} by webhook-id ({requests} requests),")
                log(f"   the last {flaky[-1]:.0f} s after its commit; everything received: {done}")
                attempts = receivers["healthy"].requests + requests
                cpu = cpu_seconds(worker.pid) - cpu_before
                per_attempt = cpu / attempts * 1000
                log(f"   worker CPU {cpu:.1f} s: {per_attempt:.2f} ms an attempt ({attempts})")
                log_load()
            finally:
                stop(worker)
                await relay.close()
                await server.cleanup()
                await redis.flushdb()
                await redis.aclose()
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main()))
