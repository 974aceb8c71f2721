"""What the benchmarks share: their throw-away PostgreSQL database, output and event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from tortoise import Tortoise

POSTGRES_URL = os.environ.get("GQLORDERS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def log(message: str = "") -> None:
    print(message, flush=True)


def machine(server_version: str) -> str:
    """The machine a figure was measured on: cores, CPU, Python, PostgreSQL, load."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"nproc {os.cpu_count()} ({cpu}), Python {platform.python_version()}, "
        f"PostgreSQL {server_version}, load average {load}"
    )


@asynccontextmanager
async def throwaway_database(keep: bool = False) -> AsyncIterator[tuple[str, Path]]:
    """A new database on POSTGRES_URL and a data directory: (its URL, the directory). Both go
    at the end (the database stays with `keep`), and the total time is printed."""
    name = f"gqlorders_bench_{uuid.uuid4().hex[:10]}"
    url = f"{POSTGRES_URL}/{name}"
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    data_dir = Path(tempfile.mkdtemp(prefix="gqlorders-bench-"))
    started = time.perf_counter()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        log(f"database {name}")
        yield url, data_dir
    finally:
        await Tortoise.close_connections()
        if keep:
            log(f"kept database {name}: {url}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped database {name}")
        await admin.close()
        shutil.rmtree(data_dir, ignore_errors=True)
        log(f"total {time.perf_counter() - started:.0f} s")


def run(coroutine: Awaitable[int]) -> int:
    """On uvloop when it is installed, as `gqlorders serve` (uvicorn) runs."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)  # type: ignore[arg-type]
