"""Prometheus metrics at /metrics (SPEC §10): requests, durations, jobs and the outbox backlog,
from one server process or added up over all the processes of `gqlorders serve --workers N`."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.live_server import GQLORDERS, live_server, server_env, throwaway_database
from tests.support import Organization

GRAPHQL_OK = 'gqlorders_http_requests_total{method="POST",route="/graphql",status="200"}'
TAXES = "query { taxes { name } }"


def sample(text: str, series: str) -> float:
    """The value of one series of a Prometheus exposition (0 when it is not there yet)."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_and_show_the_outbox_backlog(
    org: Organization, http: httpx.AsyncClient
) -> None:
    # Given the counters as they are (the process's registry is shared by the whole test run)
    before = (await http.get("/metrics")).text

    # When three GraphQL requests are answered
    for _ in range(3):
        await org.api.data(TAXES)
    response = await http.get("/metrics")

    # Then they are counted, timed, and the outbox gauges are published
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert sample(after, GRAPHQL_OK) - sample(before, GRAPHQL_OK) == 3
    duration = 'gqlorders_http_request_duration_seconds_count{route="/graphql"}'
    assert sample(after, duration) - sample(before, duration) == 3
    assert re.search(r"^gqlorders_outbox_pending \d+\.0$", after, re.MULTILINE)
    assert re.search(r"^gqlorders_outbox_lag_seconds \S+$", after, re.MULTILINE)


@pytest.mark.timeout(180)  # migrates a database and starts two server processes
def test_several_server_processes_add_their_metrics_up(backend: str, tmp_path: Path) -> None:
    if backend != "postgres":
        pytest.skip("several server processes need PostgreSQL (the PostgreSQL run covers it)")
    # Given `gqlorders serve --workers 2` (on PostgreSQL: SQLite takes one writer at a time)
    with (
        throwaway_database("postgres", tmp_path) as url,
        live_server(server_env(url, tmp_path), "--workers", "2") as server,
    ):
        headers = {"Authorization": f"Bearer {server.token}"}
        metrics_dir = tmp_path / "metrics"

        # When requests arrive on new connections until both processes have answered some
        sent = 0
        deadline = time.monotonic() + 30
        while len(_processes_that_counted(metrics_dir)) < 2:
            assert time.monotonic() < deadline, "one process answered every request"
            answered = httpx.post(
                f"{server.base}/graphql", json={"query": TAXES}, headers=headers, timeout=10
            )
            assert answered.status_code == 200, answered.text
            sent += 1

        # Then /metrics, whichever process answers it, counts every request exactly once
        for _ in range(4):
            text = httpx.get(f"{server.base}/metrics", timeout=10).text
            assert sample(text, GRAPHQL_OK) == sent
        assert "Traceback" not in server.log.read_text()

    # And the run's metrics directory is gone with it
    assert list(metrics_dir.iterdir()) == []


def test_several_server_processes_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = server_env(f"sqlite://{tmp_path / 'one-writer.sqlite3'}", tmp_path)

    refused = subprocess.run(
        [str(GQLORDERS), "serve", "--workers", "2"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    nonsense = subprocess.run(
        [str(GQLORDERS), "serve"], env={**env, "WEB_CONCURRENCY": "many"}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip

    assert refused.returncode == 1
    assert "several server processes need PostgreSQL" in refused.stderr
    assert nonsense.returncode == 1
    assert "WEB_CONCURRENCY must be a whole number of at least 1, not 'many'" in nonsense.stderr


def test_jobs_handed_to_worker_processes_are_refused_on_sqlite(tmp_path: Path) -> None:
    # (a port nothing listens on: a command that did not refuse would find no Redis)
    env = {
        **server_env(f"sqlite://{tmp_path / 'one-writer.sqlite3'}", tmp_path),
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    orders = tmp_path / "orders.json"
    orders.write_text("[]")

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [str(GQLORDERS), *arguments]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    finished = {
        "worker": run("worker"),
        "serve": run("serve", "--port", "0"),
        "import": run("import", "shopify", str(orders), "--org", "1"),
    }

    for command, result in finished.items():
        assert result.returncode == 1, (command, result.stderr)
        assert f"gqlorders {command}: REDIS_URL hands background jobs" in result.stderr
        assert "need PostgreSQL (DATABASE_URL)" in result.stderr
        assert "Traceback" not in result.stderr


def _processes_that_counted(metrics_dir: Path) -> set[str]:
    """The pids of the server processes that have written request counters."""
    return {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("serve-*/counter_*.db")}
