"""SPEC §10 "Bad input and failure": hostile requests are refused cleanly, the server lives on.

Malformed and huge bodies, deep, wide and costly documents, batch abuse, injection-like IDs and
strings, wrong types and unknown enum values: each gets an exact status and error code, and no
answer ever carries a stack trace, SQL or a path (every response is checked as it arrives). The
last test checks the server still answers after all of it.

The requests go through a client that answers an unhandled exception with the 500 a real server
sends, instead of raising it into the test, so a crash reads as "expected 400, got 500".
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gqlorders import jobs
from gqlorders.api.ids import encode_id
from gqlorders.app import create_app
from gqlorders.config import Limits, Settings
from tests.support import Organization, count_queries

PROJECT = Path(__file__).resolve().parents[2]
LIMITS = Limits()
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


async def _no_leaks(response: httpx.Response) -> None:
    """Every answer: no internals, and every GraphQL error with a code."""
    await response.aread()
    text = response.text
    for marker in LEAKS:
        assert marker not in text, f"{marker!r} leaked: {text[:2000]}"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return
    body = response.json()
    for answer in body if isinstance(body, list) else [body]:
        for error in answer.get("errors") or []:
            assert (error.get("extensions") or {}).get("code"), f"error without a code: {error}"


@pytest.fixture(scope="module")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    previous = jobs.current_runner()
    app = create_app(settings, manage_database=False)
    jobs.configure(previous)  # the job runner stays the one the other tests' app uses
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks={"response": [_no_leaks]},
    ) as client:
        yield client


@pytest.fixture(autouse=True)
async def settled() -> None:
    """Jobs earlier tests left running finish first: SQL counts here see this test's only."""
    runner = jobs.current_runner()
    if runner is not None:
        await runner.drain()


def auth(org: Organization) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.api.token}"}


def raw_json(value: Any) -> bytes:
    """JSON with \\u escapes, so lone surrogates and NUL travel as JSON allows."""
    return json.dumps(value, ensure_ascii=True).encode()


async def post(
    client: httpx.AsyncClient,
    org: Organization,
    content: bytes,
    content_type: str | None = "application/json",
) -> httpx.Response:
    headers = auth(org)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await client.post("/graphql", content=content, headers=headers)


async def gql(
    client: httpx.AsyncClient,
    org: Organization,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer to one document, which must be a 200 GraphQL response."""
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    response = await post(client, org, raw_json(payload))
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def refused(body: dict[str, Any], code: str) -> str:
    """Assert the document was refused before execution with `code`; return the message."""
    assert body.get("data") is None, body
    assert body.get("errors"), body
    assert set(codes(body)) == {code}, body
    return body["errors"][-1]["message"]


def invalid_cursor(body: dict[str, Any]) -> None:
    """Assert the answer is the cursor's INVALID user error, and no data."""
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "errorCode": "INVALID",
        "field": ["after"],
    }


def token_lookups_only(statements: list[str]) -> None:
    """Nothing but the bearer token's lookup reached the database."""
    assert len(statements) <= 1, statements
    assert all("api_token" in statement for statement in statements), statements


TAXES = "{ taxes { id } }"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- malformed requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"query": "{ taxes { id } }"',
        b'{"query": "{ taxes { id } }",}',
        b"{'query': '{ taxes { id } }'}",
        b'{"query": "{ taxes { id } }"} trailing',
        b"\x00\x01\x02",
    ],
    ids=["garbage", "truncated", "trailing-comma", "single-quotes", "trailing-text", "binary"],
)
async def test_malformed_json_is_400(
    client: httpx.AsyncClient, org: Organization, body: bytes
) -> None:
    response = await post(client, org, body)

    assert response.status_code == 400
    assert response.text == "Unable to parse request body as JSON"


async def test_invalid_utf8_is_400(client: httpx.AsyncClient, org: Organization) -> None:
    response = await post(client, org, b'{"query": "{ taxes { id } }\xff\xfe"}')

    assert response.status_code == 400


async def test_json_nested_too_deeply_is_400(client: httpx.AsyncClient, org: Organization) -> None:
    # 200 KB, well under the body limit, but deeper than any JSON parser recurses
    nested = b"[" * 100_000 + b"]" * 100_000
    body = b'{"query": "{ taxes { id } }", "variables": {"a": ' + nested + b"}}"

    response = await post(client, org, body)

    assert response.status_code == 400


async def test_an_empty_body_is_400(client: httpx.AsyncClient, org: Organization) -> None:
    response = await post(client, org, b"")

    assert response.status_code == 400
    assert response.text == "Unable to parse request body as JSON"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "application/graphql",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        None,
    ],
)
async def test_a_body_that_is_not_json_is_400(
    client: httpx.AsyncClient, org: Organization, content_type: str | None
) -> None:
    response = await post(client, org, raw_json({"query": TAXES}), content_type)

    assert response.status_code == 400
    assert response.text == "Unsupported content type"


@pytest.mark.parametrize(
    "body",
    [
        b'"{ taxes { id } }"',
        b"42",
        b"null",
        b"true",
        b"{}",
        b'{"query": 5}',
        b'{"query": ["{ taxes { id } }"]}',
        b'{"query": "{ taxes { id } }", "variables": "x"}',
        b'{"query": "{ taxes { id } }", "variables": [1]}',
        b'{"query": "{ taxes { id } }", "extensions": 1}',
        b"[]",
        b"[1, 2]",
        b"[null]",
        b'["{ taxes { id } }"]',
        b'[[{"query": "{ taxes { id } }"}]]',
        b'[{"query": 5}]',
        b'[{"query": "{ taxes { id } }", "variables": "x"}]',
    ],
    ids=[
        "string",
        "number",
        "null",
        "boolean",
        "no-query",
        "query-number",
        "query-list",
        "variables-string",
        "variables-list",
        "extensions-number",
        "empty-batch",
        "batch-of-numbers",
        "batch-of-null",
        "batch-of-strings",
        "nested-batch",
        "batch-query-number",
        "batch-variables-string",
    ],
)
async def test_json_that_is_not_an_operation_is_400(
    client: httpx.AsyncClient, org: Organization, body: bytes
) -> None:
    response = await post(client, org, body)

    assert response.status_code == 400, response.text


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405(
    client: httpx.AsyncClient, org: Organization, method: str
) -> None:
    response = await client.request(
        method, "/graphql", content=raw_json({"query": TAXES}), headers=auth(org)
    )

    assert response.status_code == 405


# --- body size -----------------------------------------------------------------------------


def padded_to(size: int) -> bytes:
    """A valid request of exactly `size` bytes (the query padded with blanks)."""
    body = raw_json({"query": TAXES})
    padding = size - len(body)
    return raw_json({"query": TAXES + " " * padding})


async def test_a_body_at_the_limit_is_answered(
    client: httpx.AsyncClient, org: Organization
) -> None:
    body = padded_to(LIMITS.max_body_bytes)
    assert len(body) == LIMITS.max_body_bytes

    response = await post(client, org, body)

    assert response.status_code == 200
    assert response.json() == {"data": {"taxes": []}}


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient, org: Organization) -> None:
    response = await post(client, org, padded_to(LIMITS.max_body_bytes + 1))

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"


async def test_a_huge_body_is_413(client: httpx.AsyncClient, org: Organization) -> None:
    response = await post(client, org, b"x" * (8 * LIMITS.max_body_bytes))

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"


async def test_a_streamed_body_over_the_limit_is_413_before_it_is_read_whole(
    client: httpx.AsyncClient, org: Organization
) -> None:
    sent = 0
    chunk = b" " * 65_536

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ taxes { id } }'
        for _ in range(64):  # 4 MiB in all, with no Content-Length
            sent += 1
            yield chunk
        yield b'"}'

    response = await client.post(
        "/graphql",
        content=body(),
        headers={**auth(org), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    assert sent <= LIMITS.max_body_bytes // len(chunk) + 1  # it stopped reading at the limit


async def test_a_content_length_over_the_limit_is_413_whatever_the_body(
    client: httpx.AsyncClient, org: Organization
) -> None:
    headers = {
        **auth(org),
        "Content-Type": "application/json",
        "Content-Length": str(LIMITS.max_body_bytes + 1),
    }
    request = client.build_request("POST", "/graphql", content=b"{}", headers=headers)

    response = await client.send(request)

    assert response.status_code == 413


# --- depth, aliases, tokens, cost, fragments --------------------------------------------------


def nested(levels: int, inner: str) -> str:
    """`salesOrder(id)` then `levels` rounds of customer > salesOrders > edges > node."""
    for _ in range(levels):
        inner = f"customer {{ salesOrders(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    return f'{{ salesOrder(id: "x") {{ {inner} }} }}'


# salesOrder is depth 0; each round adds 4; the innermost selection adds 2 (depth 12) or 1 (13)
DEPTH_12 = nested(2, "customer { salesOrders(first: 1) { pageInfo { hasNextPage } } }")
DEPTH_13 = nested(3, "id")


async def test_a_document_12_levels_deep_is_answered(
    client: httpx.AsyncClient, org: Organization
) -> None:
    body = await gql(client, org, DEPTH_12)

    assert body == {"data": {"salesOrder": None}}


async def test_a_document_13_levels_deep_is_refused_before_execution(
    client: httpx.AsyncClient, org: Organization
) -> None:
    with count_queries() as statements:
        body = await gql(client, org, DEPTH_13)

    message = refused(body, "BAD_REQUEST")
    assert message == "'anonymous' exceeds maximum operation depth of 12"
    token_lookups_only(statements)


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{n}: taxes {{ id }}" for n in range(count)) + " }"


async def test_30_aliases_are_answered(client: httpx.AsyncClient, org: Organization) -> None:
    body = await gql(client, org, aliased(LIMITS.max_aliases))

    assert body == {"data": {f"a{n}": [] for n in range(LIMITS.max_aliases)}}


async def test_31_aliases_are_refused(client: httpx.AsyncClient, org: Organization) -> None:
    with count_queries() as statements:
        body = await gql(client, org, aliased(LIMITS.max_aliases + 1))

    assert refused(body, "BAD_REQUEST") == "31 aliases found. Allowed: 30"
    token_lookups_only(statements)


async def test_a_document_of_too_many_tokens_is_refused(
    client: httpx.AsyncClient, org: Organization
) -> None:
    query = "{ taxes { " + "id " * LIMITS.max_tokens + "} }"

    body = await gql(client, org, query)

    message = refused(body, "BAD_REQUEST")
    assert message == "Syntax Error: Document contains more than 4000 tokens. Parsing aborted."


async def test_deeply_nested_brackets_are_refused_by_the_parser(
    client: httpx.AsyncClient, org: Organization
) -> None:
    query = "{ taxes(x: " + "[" * 1000 + "]" * 1000 + ") { id } }"

    body = await gql(client, org, query)

    assert "nested too deeply" in refused(body, "BAD_REQUEST")


COST_BOMB = """{
  customers(first: 100) { edges { node { id name
    salesOrders(first: 100) { edges { node { id number total lines { id amount } } } }
  } } }
}"""

COST_BOMB_VARIABLES = """query($n: Int = 100) {
  customers(first: $n) { edges { node { id salesOrders(first: $n) { edges { node { id } } } } } }
}"""

COST_BOMB_FRAGMENTS = """query { customers(first: 100) { edges { node { ...Orders } } } }
fragment Orders on Customer { salesOrders(first: 100) { edges { node { ...Order } } } }
fragment Order on SalesOrder { id number total lines { id amount } }"""


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (COST_BOMB, None),
        (COST_BOMB_VARIABLES, {"n": 100}),
        (COST_BOMB_FRAGMENTS, None),
    ],
    ids=["literal", "variables", "fragments"],
)
async def test_a_cost_bomb_is_refused_before_execution(
    client: httpx.AsyncClient,
    org: Organization,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    await org.customer()

    with count_queries() as statements:
        body = await gql(client, org, query, variables)

    message = refused(body, "QUERY_TOO_COMPLEX")
    assert message.startswith("query cost ")
    assert body["errors"][0]["extensions"]["cost"] > LIMITS.max_cost
    token_lookups_only(statements)


async def test_a_query_within_the_budget_is_answered(
    client: httpx.AsyncClient, org: Organization
) -> None:
    await org.customer()
    query = COST_BOMB.replace("first: 100", "first: 10")

    body = await gql(client, org, query)

    assert "errors" not in body
    assert len(body["data"]["customers"]["edges"]) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            "Cannot spread fragment 'A' within itself via 'B'.",
        ),
        (
            "query { taxes { ...T } } fragment T on Tax { id ...T }",
            "Cannot spread fragment 'T' within itself.",
        ),
        ("query { taxes { ...Nope } }", "Unknown fragment 'Nope'."),
        (
            "query { taxes { ...T } } fragment T on SalesOrder { id }",
            "Fragment 'T' cannot be spread here as objects of type 'Tax' can never be of type"
            " 'SalesOrder'.",
        ),
    ],
    ids=["cycle", "self", "unknown", "wrong-type"],
)
async def test_broken_fragments_are_refused(
    client: httpx.AsyncClient, org: Organization, query: str, message: str
) -> None:
    with count_queries() as statements:
        body = await gql(client, org, query)

    assert refused(body, "BAD_REQUEST") == message
    token_lookups_only(statements)


async def test_a_long_chain_of_fragments_is_refused_with_a_code(
    client: httpx.AsyncClient, org: Organization
) -> None:
    # 300 fragments each spreading the next: ~2,100 tokens, under the token limit
    chain = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} }}" for n in range(300))
    query = f"query {{ ...F0 }} {chain} fragment F300 on Query {{ taxes {{ id }} }}"

    body = await gql(client, org, query)

    message = refused(body, "BAD_REQUEST")
    assert "recursion" not in message


async def test_introspection_is_answered(client: httpx.AsyncClient, org: Organization) -> None:
    query = """{
      __schema { queryType { name } mutationType { name } types { name } }
      __type(name: "SalesOrder") { kind fields { name } }
    }"""

    body = await gql(client, org, query)

    assert "errors" not in body
    schema = body["data"]["__schema"]
    assert schema["queryType"] == {"name": "Query"}
    assert schema["mutationType"] == {"name": "Mutation"}
    assert {"SalesOrder", "Customer", "Invoice"} <= {t["name"] for t in schema["types"]}
    assert body["data"]["__type"]["kind"] == "OBJECT"
    assert "lines" in {f["name"] for f in body["data"]["__type"]["fields"]}


# --- batches and GET -------------------------------------------------------------------------


async def test_a_batch_over_the_limit_is_refused(
    client: httpx.AsyncClient, org: Organization
) -> None:
    create = 'mutation { createTax(input: {name: "Batch", percentage: "5"}) { errors { code } } }'
    batch = [{"query": create}] * (LIMITS.max_batch + 1)

    with count_queries() as statements:
        response = await post(client, org, raw_json(batch))

    assert response.status_code == 400
    assert response.text == "Too many operations"
    token_lookups_only(statements)
    assert (await gql(client, org, TAXES)) == {"data": {"taxes": []}}


async def test_a_batch_within_the_limit_answers_each_operation(
    client: httpx.AsyncClient, org: Organization
) -> None:
    batch = [
        {"query": TAXES},
        {"query": "query($n: Int) { customers(first: $n) { totalCount } }", "variables": {"n": 1}},
    ]

    response = await post(client, org, raw_json(batch))

    assert response.status_code == 200
    assert response.json() == [
        {"data": {"taxes": []}},
        {"data": {"customers": {"totalCount": 0}}},
    ]


async def test_a_batch_of_five_answers_a_bad_operation_on_its_own(
    client: httpx.AsyncClient, org: Organization
) -> None:
    batch = [{"query": TAXES}] * 3 + [{"query": "{ nope }"}, {"query": "{ taxes {"}]

    response = await post(client, org, raw_json(batch))

    assert response.status_code == 200
    answers = response.json()
    assert answers[:3] == [{"data": {"taxes": []}}] * 3
    assert codes(answers[3]) == ["BAD_REQUEST"]
    assert codes(answers[4]) == ["BAD_REQUEST"]


CREATE_TAX = 'mutation { createTax(input: {name: "Via GET", percentage: "5"}) { tax { id } } }'


@pytest.mark.parametrize(
    "params",
    [
        {"query": CREATE_TAX},
        {
            "query": f"query A {{ taxes {{ id }} }} {CREATE_TAX.replace('mutation', 'mutation B')}",
            "operationName": "B",
        },
    ],
    ids=["mutation", "mutation-beside-a-query"],
)
async def test_a_mutation_over_get_is_refused(
    client: httpx.AsyncClient, org: Organization, params: dict[str, str]
) -> None:
    response = await client.get("/graphql", params=params, headers=auth(org))

    assert response.status_code == 400
    assert response.text == "mutations are not allowed when using GET"
    assert (await gql(client, org, TAXES)) == {"data": {"taxes": []}}


async def test_a_query_over_get_is_answered(client: httpx.AsyncClient, org: Organization) -> None:
    response = await client.get("/graphql", params={"query": TAXES}, headers=auth(org))

    assert response.status_code == 200
    assert response.json() == {"data": {"taxes": []}}


@pytest.mark.parametrize("variables", ["{not json", "[1]", '"x"'])
async def test_bad_variables_over_get_are_400(
    client: httpx.AsyncClient, org: Organization, variables: str
) -> None:
    params = {"query": TAXES, "variables": variables}

    response = await client.get("/graphql", params=params, headers=auth(org))

    assert response.status_code == 400


# --- injection-like IDs and strings ------------------------------------------------------------

HOSTILE_IDS = [
    "' OR 1=1 --",
    "1; DROP TABLE sales_order; --",
    "../../etc/passwd",
    b64("SalesOrder:1 OR 1=1"),
    b64("SalesOrder:1' OR '1'='1"),
    b64("SalesOrder:-1"),
    b64("SalesOrder:99999999999999999999999"),
    b64("SalesOrder:１"),  # a full-width digit
    b64("Invoice:1"),
    "A" * 10_000,
    "ñ日本💥",
    "a\x00b",
    "\ud800",
    "",
    " ",
    "%00",
    "{}",
]
HOSTILE_ID_NAMES = [
    "sql-or",
    "sql-drop",
    "path",
    "b64-sql-or",
    "b64-sql-quote",
    "b64-negative",
    "b64-huge",
    "b64-fullwidth",
    "b64-other-type",
    "10k",
    "unicode",
    "nul",
    "surrogate",
    "empty",
    "blank",
    "percent-nul",
    "braces",
]


@pytest.mark.parametrize("id", HOSTILE_IDS, ids=HOSTILE_ID_NAMES)
async def test_an_injection_like_id_reads_nothing(
    client: httpx.AsyncClient, org: Organization, id: str
) -> None:
    query = """query($id: ID!) {
      salesOrder(id: $id) { id } invoice(id: $id) { id } node(id: $id) { id }
    }"""

    body = await gql(client, org, query, {"id": id})

    assert body == {"data": {"salesOrder": None, "invoice": None, "node": None}}


@pytest.mark.parametrize("id", HOSTILE_IDS, ids=HOSTILE_ID_NAMES)
async def test_an_injection_like_id_in_a_mutation_is_not_found(
    client: httpx.AsyncClient, org: Organization, id: str
) -> None:
    query = """mutation($id: ID!) {
      confirmSalesOrder(input: {id: $id}) { salesOrder { id } errors { field code } }
    }"""

    body = await gql(client, org, query, {"id": id})

    assert body == {
        "data": {
            "confirmSalesOrder": {
                "salesOrder": None,
                "errors": [{"field": ["input", "id"], "code": "NOT_FOUND"}],
            }
        }
    }


@pytest.mark.parametrize(
    ("mutation", "input", "field"),
    [
        ("updateCustomer", {"name": "X"}, "id"),
        ("createSalesOrder", {"lines": []}, "customerId"),
        ("createInvoiceFromSalesOrder", {}, "salesOrderId"),
        ("createPackage", {}, "salesOrderId"),
        ("voidInvoice", {}, "id"),
        ("deliverPackage", {}, "id"),
        ("retryInboxMessage", {}, "id"),
    ],
)
async def test_an_injection_like_id_is_not_found_in_any_mutation(
    client: httpx.AsyncClient,
    org: Organization,
    mutation: str,
    input: dict[str, Any],
    field: str,
) -> None:
    types = {
        "updateCustomer": "UpdateCustomerInput",
        "createSalesOrder": "CreateSalesOrderInput",
        "createInvoiceFromSalesOrder": "CreateInvoiceFromSalesOrderInput",
        "createPackage": "CreatePackageInput",
        "voidInvoice": "InvoiceIdInput",
        "deliverPackage": "PackageIdInput",
        "retryInboxMessage": "InboxMessageIdInput",
    }
    query = f"""mutation($input: {types[mutation]}!) {{
      {mutation}(input: $input) {{ errors {{ field code }} }}
    }}"""

    body = await gql(client, org, query, {"input": {**input, field: "' OR 1=1 --"}})

    errors = body["data"][mutation]["errors"]
    assert {"field": ["input", field], "code": "NOT_FOUND"} in errors, body


async def test_another_organizations_id_is_not_found(
    client: httpx.AsyncClient, org: Organization, other_org: Organization
) -> None:
    customer = await other_org.customer()

    body = await gql(client, org, "query($id: ID!) { node(id: $id) { id } }", {"id": customer})

    assert body == {"data": {"node": None}}


HOSTILE_SEARCHES = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE customer; --",
    '" OR ""="',
    "%",
    "_",
    "%%",
    "\\",
    "\\%",
    "*",
    "a\x00b",
    "\x00",
    "x" * 10_000,
    "ñ日本💥",
    "\ud800",
]


@pytest.mark.parametrize("search", HOSTILE_SEARCHES)
async def test_an_sql_like_search_finds_nothing(
    client: httpx.AsyncClient, org: Organization, search: str
) -> None:
    customer = await org.customer(name="Acme", email="buyer@acme.example")
    item = await org.item("WIDGET", "10")
    await org.order(customer, [{"itemId": item, "quantity": "1"}], referenceNumber="PO-1")
    query = """query($s: String) {
      customers(search: $s) { totalCount }
      items(search: $s) { totalCount }
      salesOrders(filter: {search: $s}) { totalCount }
    }"""

    body = await gql(client, org, query, {"s": search})

    assert body == {
        "data": {
            "customers": {"totalCount": 0},
            "items": {"totalCount": 0},
            "salesOrders": {"totalCount": 0},
        }
    }
    everything = await gql(client, org, query, {"s": "ACM"})
    assert everything["data"]["customers"] == {"totalCount": 1}


@pytest.mark.parametrize(
    "name", ["a\x00b", "\ud800", "x" * 10_000], ids=["nul", "surrogate", "10k"]
)
async def test_a_hostile_name_is_an_invalid_field(
    client: httpx.AsyncClient, org: Organization, name: str
) -> None:
    query = """mutation($name: String!) {
      createCustomer(input: {name: $name}) { customer { id } errors { field code } }
    }"""

    body = await gql(client, org, query, {"name": name})

    assert body == {
        "data": {
            "createCustomer": {
                "customer": None,
                "errors": [{"field": ["input", "name"], "code": "INVALID"}],
            }
        }
    }


@pytest.mark.parametrize("prefix", ["SO-\x00", "\ud800"], ids=["nul", "surrogate"])
async def test_a_hostile_number_prefix_is_an_invalid_field(
    client: httpx.AsyncClient, org: Organization, prefix: str
) -> None:
    query = """mutation($prefix: String) {
      updateSettings(input: {salesOrderNumbering: {prefix: $prefix}}) { errors { field code } }
    }"""

    body = await gql(client, org, query, {"prefix": prefix})

    problem = {"field": ["input", "salesOrderNumbering", "prefix"], "code": "INVALID"}
    assert body == {"data": {"updateSettings": {"errors": [problem]}}}


NOT_DECIMALS = ["abc", "NaN", "-Infinity", "0x10", "1,5", "", "1e5e5"]


@pytest.mark.parametrize("value", NOT_DECIMALS)
async def test_a_decimal_literal_that_is_not_a_number_is_bad_user_input(
    client: httpx.AsyncClient, org: Organization, value: str
) -> None:
    query = f"""mutation {{
      createTax(input: {{name: "VAT", percentage: {json.dumps(value)}}}) {{ tax {{ id }} }}
    }}"""

    with count_queries() as statements:
        body = await gql(client, org, query)

    assert "is not a decimal number" in refused(body, "BAD_USER_INPUT") or value in (
        "NaN",
        "-Infinity",
    )
    token_lookups_only(statements)


@pytest.mark.parametrize("value", NOT_DECIMALS)
async def test_a_decimal_variable_that_is_not_a_number_is_refused(
    client: httpx.AsyncClient, org: Organization, value: str
) -> None:
    # the same value as a variable is refused by variable coercion: BAD_REQUEST, not
    # BAD_USER_INPUT as the literal above (an inconsistency, reported, pinned here as it is)
    query = """mutation($p: Decimal!) {
      createTax(input: {name: "VAT", percentage: $p}) { tax { id } }
    }"""

    body = await gql(client, org, query, {"p": value})

    assert refused(body, "BAD_REQUEST").startswith("Variable '$p' has invalid value")


async def test_an_out_of_range_decimal_is_an_invalid_field(
    client: httpx.AsyncClient, org: Organization
) -> None:
    query = """mutation {
      createTax(input: {name: "VAT", percentage: "1e999999"}) { tax { id } errors { field code } }
    }"""

    body = await gql(client, org, query)

    assert body["data"]["createTax"] == {
        "tax": None,
        "errors": [{"field": ["input", "percentage"], "code": "INVALID"}],
    }


# --- wrong types and unknown enum values --------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": "ten"}),
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": 1.5}),
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": [1]}),
        ('{ customers(first: "ten") { totalCount } }', None),
        ("{ customers(first: 1.5) { totalCount } }", None),
        ("query($id: ID!) { salesOrder(id: $id) { id } }", {"id": {"a": 1}}),
        ("query($id: ID!) { salesOrder(id: $id) { id } }", {"id": ["x"]}),
        ("query($id: ID!) { salesOrder(id: $id) { id } }", {"id": None}),
        ("query($id: ID!) { salesOrder(id: $id) { id } }", {}),
        ("{ salesOrder(id: {a: 1}) { id } }", None),
        ("{ salesOrder { id } }", None),
        ("query($s: String) { customers(search: $s) { totalCount } }", {"s": True}),
        ("query($s: String) { customers(search: $s) { totalCount } }", {"s": {"x": 1}}),
        ("query($d: Date) { salesOrders(filter: {dateFrom: $d}) { totalCount } }", {"d": 5}),
        ('{ salesOrders(filter: {dateFrom: "2024-13-45"}) { totalCount } }', None),
        ('{ salesOrders(filter: {nope: "x"}) { totalCount } }', None),
        ("query($x: Nope) { taxes { id } }", {"x": 1}),
        ("{ taxes { id nope } }", None),
        ("{ taxes }", None),
        ("{ taxes(first: 1) { id } }", None),
    ],
    ids=[
        "string-for-int",
        "float-for-int",
        "list-for-int",
        "inline-string-for-int",
        "inline-float-for-int",
        "object-for-id",
        "list-for-id",
        "null-for-required-id",
        "missing-required-variable",
        "inline-object-for-id",
        "missing-required-argument",
        "boolean-for-string",
        "object-for-string",
        "number-for-date",
        "impossible-date",
        "unknown-input-field",
        "unknown-variable-type",
        "unknown-field",
        "missing-selection",
        "unknown-argument",
    ],
)
async def test_a_wrong_type_is_refused_before_execution(
    client: httpx.AsyncClient,
    org: Organization,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    with count_queries() as statements:
        body = await gql(client, org, query, variables)

    refused(body, "BAD_REQUEST")
    token_lookups_only(statements)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ salesOrders(filter: {status: [BOGUS]}) { totalCount } }", None),
        ("{ salesOrders(filter: {status: [draft]}) { totalCount } }", None),
        ('{ salesOrders(filter: {status: ["DRAFT"]}) { totalCount } }', None),
        (
            "query($s: [SalesOrderStatus!]) { salesOrders(filter: {status: $s}) { totalCount } }",
            {"s": ["BOGUS"]},
        ),
        (
            "query($s: [SalesOrderStatus!]) { salesOrders(filter: {status: $s}) { totalCount } }",
            {"s": ["draft"]},
        ),
        ("{ salesOrders(sort: {field: NUMBER, direction: SIDEWAYS}) { totalCount } }", None),
        ("{ marketplaceInbox(state: EXPLODED) { id } }", None),
        (
            'mutation { createItem(input: {sku: "S", name: "S", kind: WEAPON, rate: "1"})'
            " { errors { code } } }",
            None,
        ),
        (
            "mutation { updateSettings(input: {closeSalesOrderWhen: NEVER}) { errors { code } } }",
            None,
        ),
        (
            "query($k: InboxState) { marketplaceInbox(state: $k) { id } }",
            {"k": "EXPLODED"},
        ),
    ],
    ids=[
        "inline",
        "inline-lowercase",
        "inline-string",
        "variable",
        "variable-lowercase",
        "sort-direction",
        "inbox-state",
        "item-kind",
        "settings",
        "inbox-state-variable",
    ],
)
async def test_an_unknown_enum_value_is_refused_before_execution(
    client: httpx.AsyncClient,
    org: Organization,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    with count_queries() as statements:
        body = await gql(client, org, query, variables)

    refused(body, "BAD_REQUEST")
    token_lookups_only(statements)


# --- page sizes and cursors ---------------------------------------------------------------------

PAGES = {
    "customers": "query($n: Int) { customers(first: $n) { totalCount } }",
    "items": "query($n: Int) { items(first: $n) { totalCount } }",
    "salesOrders": "query($n: Int) { salesOrders(first: $n) { totalCount } }",
    "salesOrders-last": "query($n: Int) { salesOrders(last: $n) { totalCount } }",
}


@pytest.mark.parametrize("n", [-1, -(2**31), 101, 2**31 - 1])
@pytest.mark.parametrize("page", sorted(PAGES))
async def test_a_page_size_out_of_range_is_an_invalid_argument(
    client: httpx.AsyncClient, org: Organization, page: str, n: int
) -> None:
    body = await gql(client, org, PAGES[page], {"n": n})

    argument = "last" if page.endswith("last") else "first"
    assert body["data"] is None
    assert body["errors"][0]["message"] == f"{argument} must be between 0 and 100"
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "errorCode": "INVALID",
        "field": [argument],
    }


@pytest.mark.parametrize("n", [2**31, 10**30])
async def test_a_page_size_beyond_int_is_refused_before_execution(
    client: httpx.AsyncClient, org: Organization, n: int
) -> None:
    body = await gql(client, org, PAGES["customers"], {"n": n})

    assert "Int cannot represent non 32-bit signed integer value" in refused(body, "BAD_REQUEST")


@pytest.mark.parametrize("cursor", ["' OR 1=1 --", "x" * 10_000, b64("9999-99-99|1"), "\x00", ""])
async def test_a_forged_cursor_is_an_invalid_argument(
    client: httpx.AsyncClient, org: Organization, cursor: str
) -> None:
    await org.customer()
    query = "query($c: String) { customers(after: $c) { totalCount } }"

    body = await gql(client, org, query, {"c": cursor})

    invalid_cursor(body)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ("first: -1", "first"),
        ("first: 101", "first"),
        ('after: "\' OR 1=1 --"', "after"),
    ],
    ids=["negative", "huge", "forged-cursor"],
)
async def test_a_customers_orders_page_out_of_range_is_an_invalid_argument(
    client: httpx.AsyncClient, org: Organization, arguments: str, field: str
) -> None:
    await org.customer()
    query = (
        f"{{ customers {{ edges {{ node {{ salesOrders({arguments}) {{ totalCount }} }} }} }} }}"
    )

    body = await gql(client, org, query)

    assert body["errors"][0]["path"] == ["customers", "edges", 0, "node", "salesOrders"]
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "errorCode": "INVALID",
        "field": [field],
    }


# --- headers and the other routes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    ["Bearer " + "x" * 10_000, "Bearer gqo_' OR 1=1 --", "Basic Zm9vOmJhcg==", "Bearer", ""],
    ids=["huge", "sql", "basic", "empty-bearer", "empty"],
)
async def test_a_hostile_authorization_header_is_unauthenticated(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.post(
        "/graphql",
        content=raw_json({"query": TAXES}),
        headers={"Authorization": authorization, "Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert refused(response.json(), "UNAUTHENTICATED")


async def test_a_hostile_request_id_is_replaced(
    client: httpx.AsyncClient, org: Organization
) -> None:
    response = await client.post(
        "/graphql",
        content=raw_json({"query": TAXES}),
        headers={
            **auth(org),
            "Content-Type": "application/json",
            "X-Request-ID": "<script>alert(1)</script>",
        },
    )

    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32 and request_id.isalnum()


@pytest.mark.parametrize(
    "path",
    [
        "/documents/sales-orders/' OR 1=1 --.pdf",
        "/documents/sales-orders/..%2F..%2Fetc%2Fpasswd.pdf",
        "/documents/sales-orders/%00.pdf",
        "/documents/invoices/" + "A" * 5000 + ".pdf",
        "/documents/..%2F..%2Fetc/x.pdf",
    ],
    ids=["sql", "path", "nul", "huge", "kind-path"],
)
async def test_a_hostile_document_path_is_not_found(
    client: httpx.AsyncClient, org: Organization, path: str
) -> None:
    response = await client.get(path, headers=auth(org))

    assert response.status_code == 404


async def test_a_document_of_another_type_is_not_found(
    client: httpx.AsyncClient, org: Organization
) -> None:
    path = f"/documents/sales-orders/{encode_id('Invoice', 1)}.pdf"

    response = await client.get(path, headers=auth(org))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("key", "status"),
    [("' OR 1=1 --", 401), ("%00", 401), ("A" * 5000, 401), ("..%2F..%2Fetc", 404)],
    ids=["sql", "nul", "huge", "path"],
)
async def test_a_webhook_to_a_hostile_key_is_refused(
    client: httpx.AsyncClient, key: str, status: int
) -> None:
    response = await client.post(f"/webhooks/{key}", content=b"\xff\x00{")

    assert response.status_code == status


# --- after all of it -----------------------------------------------------------------------------


async def test_the_server_still_answers_after_all_of_it(
    client: httpx.AsyncClient, org: Organization
) -> None:
    health = await client.get("/healthz")
    ready = await client.get("/readyz")
    customer = await org.customer(name="Still Here")

    body = await gql(client, org, "query($id: ID!) { node(id: $id) { id } }", {"id": customer})

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert body == {"data": {"node": {"id": customer}}}


async def test_a_lone_surrogate_echoed_in_an_error_is_answered_escaped(
    client: httpx.AsyncClient, org: Organization
) -> None:
    """graphql-core names an unknown input field in its message: a lone surrogate there has
    no UTF-8, so the answer escapes it instead of failing with a 500."""
    query = "query ($s: SalesOrderSort) { salesOrders(first: 1, sort: $s) { totalCount } }"
    payload = {"query": query, "variables": {"s": {"A\ud800": 1}}}

    response = await post(client, org, raw_json(payload))

    assert response.status_code == 200
    assert b"\\ud800" in response.content
    errors = response.json()["errors"]
    assert any("A\ud800" in error["message"] for error in errors)
    assert {error["extensions"]["code"] for error in errors} == {"BAD_REQUEST"}


async def test_a_marketplace_filter_longer_than_any_marketplace_lists_nothing(
    org: Organization,
) -> None:
    # (its column would refuse the value: it was an internal error)
    query = """query($m: String!) {
      salesOrders(first: 5, filter: {marketplace: $m}) { edges { node { id } } }
    }"""
    for marketplace in ("x" * 51, "shop\x00ify"):
        assert await org.api.data(query, {"m": marketplace}) == {"salesOrders": {"edges": []}}


@pytest.mark.parametrize("number", ["x" * 51, "SO\x00-1"], ids=["longer-than-a-number", "nul"])
async def test_a_forged_number_cursor_is_an_invalid_argument(
    client: httpx.AsyncClient, org: Organization, number: str
) -> None:
    # (a value no number can be: the column would refuse it, an internal error)
    cursor = base64.urlsafe_b64encode(json.dumps(["number", number, 1]).encode()).decode()
    query = """query($c: String) {
      salesOrders(after: $c, sort: {field: NUMBER, direction: ASC}) { edges { node { id } } }
    }"""

    body = await gql(client, org, query, {"c": cursor})

    invalid_cursor(body)
