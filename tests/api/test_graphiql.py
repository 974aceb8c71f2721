"""GraphiQL served offline: the explorer page loads its assets from this server (no CDN), so it
works on a closed network.

The first test reads the page over ASGI. The second drives Debian's headless Chromium (skipped
when /usr/bin/chromium is missing; .ci/run installs it when it can) against a real
`gqlorders serve`, with every host but 127.0.0.1 unresolvable, and runs a query from the page
through the DevTools protocol.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT = Path(__file__).resolve().parents[2]
GQLORDERS = PROJECT / ".venv" / "bin" / "gqlorders"
CHROMIUM = Path("/usr/bin/chromium")
ASSETS = "/static/graphiql/"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class _Assets(HTMLParser):
    """The src/href (and integrity) of every <script> and <link> tag."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag == "script" else values.get("href")
        if tag in {"script", "link"} and url:
            self.references.append((tag, url, values.get("integrity")))


def _assets(page: str) -> list[tuple[str, str, str | None]]:
    parser = _Assets()
    parser.feed(page)
    return parser.references


async def test_graphiql_page_loads_its_assets_from_this_server(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    references = _assets(page)
    local = [(url, integrity) for _, url, integrity in references if not url.startswith("data:")]
    assert {url.removeprefix(ASSETS) for url, _ in local} == {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.css",
        "graphiql.min.js",
        "plugin-explorer.css",
        "plugin-explorer.umd.js",
    }
    assert all(url.startswith(ASSETS) for url, _ in local)
    without_data_urls = re.sub(r'"data:[^"]*"', '""', page)  # the inline favicon's SVG xmlns
    assert not re.search(r"https?://|wss?://", without_data_urls, re.IGNORECASE)
    assert not re.search(r"unpkg|jsdelivr|esm\.sh|cdnjs", page, re.IGNORECASE)

    for url, integrity in local:
        asset = await http.get(url)
        assert asset.status_code == 200, url
        expected = CONTENT_TYPES[Path(url).suffix]
        assert asset.headers["content-type"].split(";")[0] == expected, url
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert integrity == f"sha384-{digest}", f"{url}: not the bytes the page's hash names"

    assert (await http.get(f"{ASSETS}nothing-here.js")).status_code == 404
    assert (await http.get("/static/graphiql.html")).status_code == 404  # the page's template


# --- in a browser -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(what: str, check: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the process's own session (the server, or Chromium and its helper processes)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real `gqlorders serve` on a fresh SQLite file: (base URL, an organization's token)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{tmp_path / 'graphiql.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "LOG_FORMAT": "text",
    }
    env.pop("REDIS_URL", None)

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(GQLORDERS), *args], env=env, cwd=PROJECT, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("migrate")
    token = json.loads(run("org", "create", "Browser Co", "--currency", "EUR"))["token"]
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(GQLORDERS), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        try:
            return httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait_for("gqlorders serve", up, 60)
        yield base, token
    finally:
        _stop(process)
        log.close()


class DevTools:
    """Just enough of the Chrome DevTools protocol: commands, and the events seen meanwhile."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == number:
                assert "error" not in message, (method, message["error"])
                return message["result"]
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, (expression, result["exceptionDetails"])
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium that can resolve 127.0.0.1 only: any CDN request fails."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install chromium)")
    client = pytest.importorskip("websockets.sync.client", reason="DevTools needs `websockets`")
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    log = (tmp_path / "chromium.log").open("wb")
    process = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,800",
            "about:blank",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        active = profile / "DevToolsActivePort"

        def listening() -> str | None:
            assert process.poll() is None, (tmp_path / "chromium.log").read_text()
            lines = active.read_text().splitlines() if active.exists() else []
            return lines[0] if len(lines) >= 2 else None

        port = _wait_for("Chromium's DevTools port", listening, 60)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5, trust_env=False)
        page = next(target for target in targets.json() if target["type"] == "page")
        with client.connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            yield DevTools(ws)
    finally:
        _stop(process)
        log.close()


def _editor(selector: str) -> str:
    """JavaScript for the CodeMirror instance under `selector`."""
    return f"document.querySelector({json.dumps(selector)})?.CodeMirror"


QUERY_EDITOR = _editor(".graphiql-query-editor .CodeMirror")
HEADERS_EDITOR = _editor(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
RESULT = _editor(".result-window .CodeMirror")


def run_in_graphiql(browser: DevTools, base: str, token: str, query: str) -> None:
    """Open GraphiQL, type the query, paste the token into the Headers editor and run it, as a
    user would."""
    browser.call("Page.navigate", url=f"{base}/graphql")
    rendered = "!!document.querySelector('.graphiql-container .graphiql-execute-button')"
    _wait_for("GraphiQL to render", lambda: browser.evaluate(rendered), 60)
    browser.evaluate(f"{QUERY_EDITOR}.focus(); {QUERY_EDITOR}.execCommand('selectAll')")
    browser.call("Input.insertText", text=query)
    browser.evaluate(
        "[...document.querySelectorAll('.graphiql-editor-tools button')]"
        ".find(button => button.textContent === 'Headers').click()"
    )
    _wait_for("the Headers editor", lambda: browser.evaluate(f"!!{HEADERS_EDITOR}"), 30)
    browser.evaluate(f"{HEADERS_EDITOR}.focus(); {HEADERS_EDITOR}.execCommand('selectAll')")
    browser.call("Input.insertText", text=json.dumps({"Authorization": f"Bearer {token}"}))
    browser.evaluate("document.querySelector('.graphiql-execute-button').click()")


# Waits are bounds for a loaded CI machine (2 cores shared with PostgreSQL and Redis), where
# starting Chromium and a server and parsing GraphiQL's bundles can take far longer than here:
# they cost nothing when things are quick. Their sum stays inside this test's own timeout.
@pytest.mark.timeout(360)
def test_graphiql_runs_a_query_in_a_browser_without_a_cdn(
    browser: DevTools, server: tuple[str, str], tmp_path: Path
) -> None:
    base, token = server
    screenshot = tmp_path / "graphiql.png"
    browser.call("Network.enable")
    browser.call("Runtime.enable")
    browser.call("Page.enable")
    run_in_graphiql(browser, base, token, "{ settings { currency } }")

    def answered() -> str | None:
        text = browser.evaluate(f"{RESULT}.getValue()")
        return text if '"data"' in text or '"errors"' in text else None

    result = json.loads(_wait_for("the query's result", answered, 60))
    shot = browser.call("Page.captureScreenshot", format="png")
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    assert result == {"data": {"settings": {"currency": "EUR"}}}, f"see {screenshot}"

    # Every request the page made went to this server (or was an inline data: URL) ...
    requests = [
        event["params"]["request"]
        for event in browser.events
        if event.get("method") == "Network.requestWillBeSent"
    ]
    urls = [request["url"] for request in requests]
    assert f"{base}{ASSETS}graphiql.min.js" in urls
    assert [url for url in urls if not url.startswith((f"{base}/", "data:"))] == []
    failed = [e["params"] for e in browser.events if e.get("method") == "Network.loadingFailed"]
    assert failed == []
    thrown = [e["params"] for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    assert thrown == []
    # ... with the pasted Authorization header on the query ...
    posts = [r for r in requests if r["method"] == "POST" and "currency" in r.get("postData", "")]
    assert posts and posts[-1]["headers"].get("Authorization") == f"Bearer {token}"
    # ... and a CDN could not have been reached anyway.
    cdn = browser.evaluate(
        "fetch('https://unpkg.com/react@18.2.0/umd/react.production.min.js')"
        ".then(() => 'reached', () => 'unreachable')"
    )
    assert cdn == "unreachable"


ORDER_FOR_GRAPHIQL = """
mutation {
  createCustomer(input: {name: "Walk-in"}) { customer { id } }
  createItem(input: {sku: "LAMP", name: "Lamp", kind: GOODS, rate: "25.00"}) { item { id } }
}"""
CREATE_ORDER_FOR_GRAPHIQL = """
mutation($customer: ID!, $item: ID!) {
  createSalesOrder(input: {customerId: $customer, lines: [{itemId: $item, quantity: "1"}]}) {
    salesOrder { id number }
  }
}"""


@pytest.mark.timeout(360)
def test_graphiql_runs_a_subscription_that_sees_an_order_created_elsewhere(
    browser: DevTools, server: tuple[str, str]
) -> None:
    base, token = server
    browser.call("Network.enable")
    run_in_graphiql(
        browser,
        base,
        token,
        "subscription { events { node { type resource { ... on SalesOrder { number } } } } }",
    )

    def subscribed() -> bool:
        browser.evaluate("0")  # DevTools events arrive while a command is answered
        sockets = [e for e in browser.events if e.get("method") == "Network.webSocketFrameReceived"]
        return any("connection_ack" in e["params"]["response"]["payloadData"] for e in sockets)

    _wait_for("the subscription's connection_ack", subscribed, 60)
    time.sleep(1)  # the subscribe message follows the ack

    # Another client creates an order ...
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, trust_env=False, timeout=30) as http:
        made = http.post("/graphql", json={"query": ORDER_FOR_GRAPHIQL}).json()["data"]
        variables = {
            "customer": made["createCustomer"]["customer"]["id"],
            "item": made["createItem"]["item"]["id"],
        }
        order = http.post(
            "/graphql", json={"query": CREATE_ORDER_FOR_GRAPHIQL, "variables": variables}
        ).json()["data"]["createSalesOrder"]["salesOrder"]

    # ... and it arrives in GraphiQL's result pane.
    def arrived() -> str | None:
        text = browser.evaluate(f"{RESULT}.getValue()")
        return text if "SALES_ORDER_CREATED" in text else None

    result = json.loads(_wait_for("the order's event in GraphiQL", arrived, 60))
    assert result == {
        "data": {
            "events": {
                "node": {"type": "SALES_ORDER_CREATED", "resource": {"number": order["number"]}}
            }
        }
    }
