"""Fuzzing /graphql with schemathesis (GraphQL mode) against a live server (SPEC §10).

A real `gqlorders serve` runs in a subprocess on a free port, over a fresh database (PostgreSQL
by default, SQLite with GQLORDERS_TEST_DATABASE=sqlite), with a token made by `gqlorders org
create`. Schemathesis loads the schema by introspection and generates, for every query and
mutation, a bounded number of valid (positive) and invalid (negative) documents from a fixed
seed. No answer may be a 5xx, carry INTERNAL_SERVER_ERROR, leak internals, or hold an error
without an `extensions.code`. Every failing operation is listed with its request and response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

import graphql  # noqa: E402
from hypothesis import HealthCheck, Phase  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.graphql import nodes  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
GQLORDERS = Path(sys.executable).parent / "gqlorders"  # the venv running the tests
POSTGRES_URL = os.environ.get("GQLORDERS_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")

EXAMPLES_PER_MODE = int(os.environ.get("GQLORDERS_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("GQLORDERS_FUZZ_SEED", "20240601"))
LEAKS = (
    "Traceback",
    "tortoise",
    "asyncpg",
    "sqlite",
    'File "',
    "/work/",
    "site-packages",
    str(PROJECT),
)


# Our custom scalars. Decimal: mostly numbers as strings, sometimes anything at all (the server
# must refuse those with BAD_USER_INPUT). JSON: any value, with marketplace-like keys.
DECIMALS = st.one_of(
    st.from_regex(r"-?[0-9]{1,9}(\.[0-9]{1,4})?", fullmatch=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.text(max_size=12),
)
KEYS = st.one_of(
    st.sampled_from(
        [
            "id",
            "order",
            "line_items",
            "sku",
            "quantity",
            "price",
            "total_price",
            "currency",
            "email",
            "customer",
            "name",
            "items",
            "number",
            "shipping_lines",
            "tax_lines",
        ]
    ),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)


def _object(fields: dict[str, graphql.ValueNode]) -> graphql.ObjectValueNode:
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=value)
            for key, value in fields.items()
        ]
    )


JSON_VALUES = st.recursive(
    st.one_of(
        st.text(max_size=20).map(nodes.String),
        st.integers().map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.booleans().map(nodes.Boolean),
        st.just(nodes.Null),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(nodes.List),
        st.dictionaries(KEYS, children, max_size=6).map(_object),
    ),
    max_leaves=25,
)
schemathesis.graphql.scalar("Decimal", DECIMALS.map(nodes.String))
schemathesis.graphql.scalar("JSON", JSON_VALUES)


@dataclass
class LiveServer:
    url: str
    token: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(GQLORDERS), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"gqlorders {' '.join(args)}: {done.stderr}"
    return done.stdout


def _postgres(statement: str) -> None:
    async def run() -> None:
        admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            await admin.execute(statement)
        finally:
            await admin.close()

    asyncio.run(run())


def _database(backend: str, data_dir: Path) -> tuple[str, str | None]:
    """A fresh database URL, and the PostgreSQL database name to drop afterwards."""
    if backend != "postgres":
        return f"sqlite://{data_dir / 'fuzz.sqlite3'}", None
    name = f"gqlorders_fuzz_{uuid.uuid4().hex[:12]}"
    _postgres(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_URL}/{name}", name


SEED_DATA = [
    ("createTax", "CreateTaxInput", {"name": "VAT", "percentage": "20"}, "tax { id }"),
    (
        "createCustomer",
        "CreateCustomerInput",
        {"name": "Fuzz Buyer", "email": "buyer@fuzz.example", "currency": "USD"},
        "customer { id }",
    ),
    (
        "createItem",
        "CreateItemInput",
        {"sku": "FUZZ-1", "name": "Fuzz", "kind": "GOODS", "rate": "12.50"},
        "item { id }",
    ),
]


def seed_data(url: str, token: str) -> None:
    """A few records of each kind, so queries and mutations meet real rows too."""
    client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def call(field: str, input_type: str, input: dict[str, Any], selection: str) -> dict:
        query = (
            f"mutation($input: {input_type}!) {{ {field}(input: $input) "
            f"{{ {selection} errors {{ field code message }} }} }}"
        )
        response = client.post(url, json={"query": query, "variables": {"input": input}})
        payload = response.json()["data"][field]
        assert payload["errors"] == [], payload
        return payload

    with client:
        ids = [next(iter(call(*row).values()))["id"] for row in SEED_DATA]
        _, customer, item = ids
        warehouses = client.post(url, json={"query": "{ warehouses { id } }"}).json()
        warehouse = warehouses["data"]["warehouses"][0]["id"]
        stock = {"itemId": item, "warehouseId": warehouse, "quantityDelta": "50", "reason": "seed"}
        call("adjustStock", "AdjustStockInput", stock, "item { id }")
        for quantity in ("2", "3"):
            lines = [{"itemId": item, "quantity": quantity}]
            order = call(
                "createSalesOrder",
                "CreateSalesOrderInput",
                {"customerId": customer, "lines": lines},
                "salesOrder { id }",
            )["salesOrder"]["id"]
        call("confirmSalesOrder", "SalesOrderIdInput", {"id": order}, "salesOrder { id }")
        call(
            "createInvoiceFromSalesOrder",
            "CreateInvoiceFromSalesOrderInput",
            {"salesOrderId": order},
            "invoice { id }",
        )
        package = call(
            "createPackage", "CreatePackageInput", {"salesOrderId": order}, "package { id }"
        )
        call("shipPackage", "ShipPackageInput", {"id": package["package"]["id"]}, "package { id }")


@pytest.fixture(scope="module")
def live_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    database_url, pg_name = _database(backend, data_dir)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "SMTP_URL") and not key.startswith("GQLORDERS_MAX_")
    }
    env.update(DATABASE_URL=database_url, DATA_DIR=str(data_dir), LOG_FORMAT="text")
    port = _free_port()
    log = data_dir / "server.log"
    server: subprocess.Popen[bytes] | None = None
    try:
        _cli(env, "migrate")
        token = json.loads(_cli(env, "org", "create", "Fuzz"))["token"]
        with log.open("wb") as output:
            server = subprocess.Popen(
                [str(GQLORDERS), "serve", "--port", str(port)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"the server exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.2)
        seed_data(f"{base}/graphql", token)
        yield LiveServer(url=f"{base}/graphql", token=token, log=log)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if pg_name is not None:
            _postgres(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@dataclass
class Findings:
    examples: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def record(self, operation: str, problem: str, request: Any, response: str) -> None:
        self.failures.setdefault(
            (operation, problem),
            {"request": request, "response": response[:2000], "count": 0},
        )
        self.failures[(operation, problem)]["count"] += 1


def problems_in(status: int, text: str) -> list[str]:
    """What is wrong with one answer; nothing for a clean refusal or a clean result."""
    problems = []
    if status >= 500:
        problems.append(f"HTTP {status}")
    if "INTERNAL_SERVER_ERROR" in text:
        problems.append("INTERNAL_SERVER_ERROR")
    problems += [f"leaks {marker!r}" for marker in LEAKS if marker in text]
    try:
        body = json.loads(text)
    except ValueError:
        return problems  # a plain-text 4xx refusal from the HTTP layer
    for answer in body if isinstance(body, list) else [body]:
        errors = answer.get("errors") if isinstance(answer, dict) else None
        for error in errors or []:
            if not (error.get("extensions") or {}).get("code"):
                problems.append(f"error without a code: {error.get('message')!r}")
    return problems


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], found: Findings) -> None:
    """Send up to EXAMPLES_PER_MODE generated documents for one operation; record problems."""
    label = operation.label

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_MODE,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: each failure is recorded as first found
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.seed(SEED)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        found.examples += 1
        found.by_operation[label] = found.by_operation.get(label, 0) + 1
        for problem in problems_in(response.status_code, response.text):
            found.record(label, problem, case.body, response.text)

    with contextlib.suppress(Unsatisfiable):  # no document of this mode exists for it
        call()


def unexpected_errors(log: Path, limit: int = 3) -> str:
    """The first tracebacks the server logged for masked errors."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [n for n, line in enumerate(lines) if "unexpected error" in line][:limit]
    return "\n...\n".join("\n".join(lines[n : n + 60]) for n in starts) or "(none)"


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error(
    live_server: LiveServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # hypothesis keeps a cache of constants; not in the work tree
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    headers = {"Authorization": f"Bearer {live_server.token}"}
    schema = schemathesis.graphql.from_url(live_server.url, headers=headers, timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30, [operation.label for operation in operations]
    found = Findings()
    started = time.monotonic()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, headers, found)

    elapsed = time.monotonic() - started
    silent = [op.label for op in operations if op.label not in found.by_operation]
    healthy = httpx.get(live_server.url.replace("/graphql", "/healthz"), timeout=5)
    with capsys.disabled():
        print(
            f"\nschemathesis fuzzing: {found.examples} examples over "
            f"{len(found.by_operation)} operations in {elapsed:.1f}s (up to {EXAMPLES_PER_MODE} "
            f"per operation and mode, seed {SEED}); {len(found.failures)} distinct failures"
        )
        if silent:
            print(f"schemathesis generated nothing for: {', '.join(silent)}")
    report = "\n\n".join(
        f"{operation}: {problem} ({failure['count']}x)\n"
        f"request: {json.dumps(failure['request'])[:1500]}\nresponse: {failure['response']}"
        for (operation, problem), failure in sorted(found.failures.items())
    )
    assert not found.failures, f"{report}\n\nserver log:\n{unexpected_errors(live_server.log)}"
    assert healthy.status_code == 200
    assert found.examples >= len(operations) * 2
