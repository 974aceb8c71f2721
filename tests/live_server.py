"""A real `gqlorders serve` in a subprocess, for tests that need processes, ports and signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

GQLORDERS = Path(sys.executable).parent / "gqlorders"
PROJECT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("GQLORDERS_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")


@dataclass(frozen=True)
class LiveServer:
    base: str  # http://127.0.0.1:PORT
    token: str  # of an organization created for the test, every scope
    log: Path
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_database(backend: str, data_dir: Path) -> Iterator[str]:
    """A new, empty database of the run's backend (from a synchronous test); dropped after."""
    if backend != "postgres":
        yield f"sqlite://{data_dir / 'live.sqlite3'}"
        return
    name = f"gqlorders_live_{uuid.uuid4().hex[:12]}"
    asyncio.run(on_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_URL}/{name}"
    finally:
        asyncio.run(on_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def on_postgres_admin(statement: str) -> None:
    """Run `statement` on the server's `postgres` database (create or drop one)."""
    admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def server_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """This environment, pointed at the test's database, without Redis, SMTP or limit tweaks."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "SMTP_URL", "WEB_CONCURRENCY")
        and not key.startswith("GQLORDERS_MAX_")
    }
    env.update(DATABASE_URL=database_url, DATA_DIR=str(data_dir), LOG_FORMAT="text")
    return env


def gqlorders(env: dict[str, str], *args: str) -> str:
    """Run a `gqlorders` command to completion; its standard output."""
    done = subprocess.run(
        [str(GQLORDERS), *args], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"gqlorders {' '.join(args)}: {done.stderr}"
    return done.stdout


@contextmanager
def live_server(env: dict[str, str], *serve_args: str, timeout: float = 30) -> Iterator[LiveServer]:
    """Migrate, create an organization, serve until the block ends (then SIGTERM the session)."""
    gqlorders(env, "migrate")
    token = json.loads(gqlorders(env, "org", "create", "Live Co"))["token"]
    port = free_port()
    log = Path(env["DATA_DIR"]) / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(GQLORDERS), "serve", "--host", "127.0.0.1", "--port", str(port), *serve_args],
            env=env, cwd=PROJECT, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(base):
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield LiveServer(base, token, log, process)
    finally:
        stop(process)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the process's whole session (a server and its worker processes)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
