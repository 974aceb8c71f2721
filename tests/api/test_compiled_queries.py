"""Compiled execution of persisted queries (issue 17): the same request gives the same bytes
through the plan as through the standard executor, and whatever the plan cannot answer exactly
is answered by the standard executor, counted in gqlorders_compiled_fallbacks_total."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from strawberry.extensions import MaskErrors

from gqlorders import jobs
from gqlorders.api.compiled import CompiledQueries
from gqlorders.api.compiled.runner import UnknownExtensions
from gqlorders.api.context import Context
from gqlorders.api.schema import GqlordersSchema, build_schema
from gqlorders.models import EmailMessage
from gqlorders.tenancy import Scope
from tests.api.test_persisted_queries import SETTINGS
from tests.fulfilment.documents import INVOICE as FULFILMENT_INVOICE
from tests.fulfilment.documents import ORDER as FULFILMENT_ORDER
from tests.fulfilment.documents import SEND_ORDER, confirmed_order, invoice, line_input, package
from tests.support import ORDER as SUPPORT_ORDER
from tests.support import Organization

README = Path(__file__).parents[2] / "README.md"
ORDER_ID = re.compile(r'"(U2FsZXNPcmRlcjo[A-Za-z0-9_-]*=*)"')  # SalesOrder:<n>, base64


def readme_queries() -> list[str]:
    """The queries README.md shows (its graphql blocks and `gql '...'` examples), read at test
    time so that they are the ones users copy; mutations and subscriptions left out."""
    text = README.read_text(encoding="utf-8")
    documents = re.findall(r"```graphql\n(.*?)```", text, re.S)
    documents += re.findall(r"^gql '(.*?)'", text, re.S | re.M)
    return [d for d in documents if not d.lstrip().startswith(("mutation", "subscription"))]


ORDER_LIST = """query OrderList($first: Int!, $after: String) {
  salesOrders(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id number status date currency subTotal taxTotal total
        customer { id name }
        lines { quantity rate amount item { sku name } tax { name percentage } }
      }
    }
  }
}"""
CUSTOMERS_ORDERS = """query($first: Int) {
  customers(first: 5) {
    edges { node { name salesOrders(first: $first) {
      totalCount pageInfo { hasNextPage } edges { node { number total lines { amount } } }
    } } }
  }
}"""
FEED = """query($after: String) { events(first: 1000, after: $after) {
  edges { cursor node { id type occurredAt actor resourceId data } }
  pageInfo { hasNextPage endCursor } } }"""
PACKAGE_VIEW = """query($id: ID!) { salesOrder(id: $id) {
  __typename
  packages { __typename id number status carrier trackingNumber shippedAt deliveredAt
    salesOrder { number } lines { quantity salesOrderLine { id description item { sku } } } }
  lines { id stockStatus quantityPacked quantityInvoiced item { tax { name } } }
  source { channel marketplace externalId totalsDiffer reportedTotals { total } }
  pdf { state url error } mergeable mergeBlockers
} }"""


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def compiled_count() -> float:
    return REGISTRY.get_sample_value("gqlorders_compiled_queries_total") or 0.0


def fallback_count(reason: str) -> float:
    sample = REGISTRY.get_sample_value("gqlorders_compiled_fallbacks_total", {"reason": reason})
    return sample or 0.0


async def standard_and_persisted(
    http: httpx.AsyncClient, token: str | None, query: str, variables: dict | None = None
) -> tuple[bytes, bytes]:
    """The body of the request sent with its text (the standard executor), then of the same
    request sent as a known persisted query's hash (the plan, when it can)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    standard = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    registered = await http.post(
        "/graphql",
        json={"query": query, "variables": variables, "extensions": extensions},
        headers=headers,
    )
    persisted = await http.post(
        "/graphql", json={"variables": variables, "extensions": extensions}, headers=headers
    )
    assert standard.status_code == persisted.status_code == 200, standard.text
    assert registered.content == persisted.content
    return standard.content, persisted.content


async def same_bytes_compiled(
    http: httpx.AsyncClient, token: str | None, query: str, variables: dict | None = None
) -> bytes:
    """Both answers, asserted byte-identical and the persisted one answered by its plan."""
    before = compiled_count()
    standard, persisted = await standard_and_persisted(http, token, query, variables)
    assert persisted == standard
    assert compiled_count() == before + 2  # the registering request and the hash alone
    return persisted


async def same_bytes_fallen_back(
    http: httpx.AsyncClient, token: str | None, reason: str, query: str, variables: Any = None
) -> bytes:
    """Both answers, asserted byte-identical, the persisted one handed to the standard
    executor for `reason`."""
    before = fallback_count(reason)
    standard, persisted = await standard_and_persisted(http, token, query, variables)
    assert persisted == standard
    assert fallback_count(reason) == before + 2
    return persisted


async def fill(org: Organization) -> dict[str, Any]:
    """Orders with everything a plan meets: taxes, addresses, discounts, invoices, packages."""
    if "orders" in org.cache:
        return org.cache
    vat = await org.tax("VAT 20%", "20")
    reduced = await org.tax("VAT 5.5%", "5.5")
    customer = await org.customer(
        name="Hôtel Belvédère",
        phone="+33 1 23",
        paymentTerms={"days": 30, "label": "Net 30"},
        billingAddress={"street1": "1 rue Haute", "city": "Lyon", "country": "FR"},
    )
    other_customer = await org.customer(name="Atelier Nord")
    chair = await org.item("CHAIR-OAK", "89.90", taxId=vat, unit="pc", reorderLevel="5")
    coffee = await org.item("COFFEE-1KG", "24.80", taxId=reduced)
    setup = await org.item("SETUP", "65", kind="SERVICE")
    first = await confirmed_order(
        org,
        customer,
        [
            {"itemId": chair, "quantity": "3"},
            {"itemId": coffee, "quantity": "2.5", "discountPercent": "10"},
            {"itemId": setup, "quantity": "2"},
        ],
        referenceNumber="PO-1",
        discount={"type": "PERCENTAGE", "value": "5"},
        shippingCharge="12.50",
        notes="leave at the back door",
    )
    await invoice(org, first["id"], lines=[line_input(first, 0, "1")])
    await package(org, first["id"])
    await org.api.ok(SEND_ORDER, {"id": first["id"]})  # an e-mail, sent by the job runner
    await jobs.after_request()
    runner = jobs.current_runner()
    if runner is not None:
        await runner.drain()
    second = await org.order(other_customer, [{"itemId": coffee, "quantity": "1"}])
    third = await org.order(customer, [{"itemId": setup, "quantity": "1", "taxId": vat}])
    org.cache.update(orders=[first["id"], second["id"], third["id"]], invoice=None)
    return org.cache


@pytest.fixture
async def filled(org: Organization) -> Organization:
    await fill(org)
    return org


async def invoice_id(org: Organization) -> str:
    data = await org.api.data(
        "query($id: ID!) { salesOrder(id: $id) { invoices { id } } }",
        {"id": org.cache["orders"][0]},
    )
    return data["salesOrder"]["invoices"][0]["id"]


async def test_the_suites_and_the_readmes_queries_give_the_same_bytes(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    token = filled.api.token
    first_order = filled.cache["orders"][0]
    await same_bytes_compiled(http, token, SETTINGS)
    answers = []
    for query in readme_queries():
        query = ORDER_ID.sub(json.dumps(first_order), query)  # README's order is ours here
        answers.append(await same_bytes_compiled(http, token, query))
    assert len(answers) >= 5
    assert any("Hôtel Belvédère".encode() in body for body in answers)  # UTF-8, as orjson
    emails = [body for body in answers if b'"emails":' in body]
    assert emails and b'"to":["buyer@acme.example"]' in emails[0]
    await same_bytes_compiled(http, token, ORDER_LIST, {"first": 2, "after": None})
    await same_bytes_compiled(http, token, CUSTOMERS_ORDERS, {"first": 1})
    await same_bytes_compiled(http, token, CUSTOMERS_ORDERS, {"first": None})
    await same_bytes_compiled(http, token, FEED, {"after": None})
    await same_bytes_compiled(http, token, PACKAGE_VIEW, {"id": first_order})
    for order_id in filled.cache["orders"]:
        await same_bytes_compiled(http, token, SUPPORT_ORDER, {"id": order_id})
        await same_bytes_compiled(http, token, FULFILMENT_ORDER, {"id": order_id})
    await same_bytes_compiled(http, token, FULFILMENT_INVOICE, {"id": await invoice_id(filled)})


NODE = """query($ids: ID!, $id: ID!) {
  node(id: $id) { __typename id ... on SalesOrder { number customer { name } } }
  events(first: 50) { edges { node { type resource {
    __typename id
    ... on SalesOrder { number total lines { amount } }
    ... on Invoice { number total }
    ... on Package { number status }
    ... on Item { sku }
  } } } }
  more: node(id: $ids) { id ... on Customer { name } ... on Tax { percentage } }
}"""


async def test_interface_fields_give_the_same_bytes(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    order = filled.cache["orders"][0]
    customers = await filled.api.data("{ customers(first: 1) { edges { node { id } } } }")
    customer = customers["customers"]["edges"][0]["node"]["id"]

    body = await same_bytes_compiled(http, filled.api.token, NODE, {"id": order, "ids": customer})

    assert b'"__typename":"SalesOrder"' in body
    assert b'"__typename":"Invoice"' in body
    assert json.loads(body)["data"]["more"]["id"] == customer
    missing = await same_bytes_compiled(
        http, filled.api.token, NODE, {"id": "U2FsZXNPcmRlcjo5OTk5", "ids": "bm90IGFuIGlk"}
    )
    assert missing.startswith(b'{"data":{"node":null,')


async def test_objects_whose_every_field_is_skipped_give_the_same_bytes(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    query = """query($hidden: Boolean!) { salesOrders(first: 2) {
      edges { node { number @include(if: $hidden) customer { name @skip(if: true) } } } } }"""

    body = await same_bytes_compiled(http, filled.api.token, query, {"hidden": False})

    assert (
        body
        == b'{"data":{"salesOrders":{"edges":[{"node":{"customer":{}}},{"node":{"customer":{}}}]}}}'
    )


async def test_a_page_after_a_cursor_gives_the_same_bytes(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    page = await filled.api.data(ORDER_LIST, {"first": 1, "after": None})
    cursor = page["salesOrders"]["pageInfo"]["endCursor"]

    body = await same_bytes_compiled(
        http, filled.api.token, ORDER_LIST, {"first": 1, "after": cursor}
    )

    assert b'"hasNextPage":true' in body


async def test_a_get_of_the_hash_alone_is_answered_by_the_plan(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    headers = {"Authorization": f"Bearer {filled.api.token}"}
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256(SETTINGS)}})
    standard = await http.get("/graphql", params={"query": SETTINGS}, headers=headers)
    await http.post(
        "/graphql", json={"query": SETTINGS, "extensions": json.loads(extensions)}, headers=headers
    )
    before = compiled_count()

    persisted = await http.get(
        "/graphql",
        params={"operationName": "Currency", "extensions": extensions},
        headers={**headers, "Accept": "*/*"},
    )

    assert persisted.content == standard.content == b'{"data":{"settings":{"currency":"EUR"}}}'
    assert compiled_count() == before + 1


# --- what the plan hands to the standard executor ---------------------------------------------


async def test_an_unsupported_directive_falls_back(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    # @idempotent is refused in a POSTed query; a GET runs it (the directive means nothing there)
    query = 'query { settings @idempotent(key: "k") { currency } }'
    headers = {"Authorization": f"Bearer {filled.api.token}"}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    await http.post("/graphql", json={"query": query, "extensions": extensions}, headers=headers)
    before = fallback_count("directive @idempotent")

    standard = await http.get("/graphql", params={"query": query}, headers=headers)
    persisted = await http.get(
        "/graphql", params={"extensions": json.dumps(extensions)}, headers=headers
    )

    assert persisted.content == standard.content == b'{"data":{"settings":{"currency":"EUR"}}}'
    assert fallback_count("directive @idempotent") == before + 1


async def test_a_resolver_error_falls_back_with_the_standard_error(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    query = 'query { events(first: 10, after: "not a cursor") { edges { cursor } } }'

    body = await same_bytes_fallen_back(http, filled.api.token, "error", query)

    assert b'"errors"' in body


def statements_reading(caplog: pytest.LogCaptureFixture, table: str) -> int:
    """SQL statements logged by tortoise since the last clear that read `table`."""
    return sum(
        f'FROM "{table}"' in record.getMessage()
        for record in caplog.records
        if record.name == "tortoise.db_client"
    )


async def test_a_failing_field_cancels_its_siblings_before_the_standard_run(
    http: httpx.AsyncClient, filled: Organization, caplog: pytest.LogCaptureFixture
) -> None:
    # events fails at once; the order's load, queued beside it, must not still be sent
    query = """query($id: ID!) { events(first: 1, after: "not a cursor") { edges { cursor } }
      salesOrder(id: $id) { number } }"""
    variables = {"id": filled.cache["orders"][0]}
    headers = {"Authorization": f"Bearer {filled.api.token}"}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    await http.post(
        "/graphql",
        json={"query": query, "variables": variables, "extensions": extensions},
        headers=headers,
    )
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    before = fallback_count("error")

    caplog.clear()
    standard = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    standard_reads = statements_reading(caplog, "sales_order")
    caplog.clear()
    persisted = await http.post(
        "/graphql", json={"variables": variables, "extensions": extensions}, headers=headers
    )
    persisted_reads = statements_reading(caplog, "sales_order")

    assert persisted.content == standard.content
    assert b"INVALID" in persisted.content
    assert fallback_count("error") == before + 1
    assert persisted_reads == standard_reads, (persisted_reads, standard_reads)


async def test_a_sync_resolver_failing_midway_leaves_no_coroutine_unawaited(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    # settings' coroutine is made for the level, then marketplaces (sync) refuses the caller
    query = "{ settings { currency } marketplaces }"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = await same_bytes_fallen_back(http, None, "error", query)
        gc.collect()

    assert b"UNAUTHENTICATED" in body
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


async def test_a_batch_mixing_a_fallback_and_other_operations_gives_the_standard_answers(
    http: httpx.AsyncClient, filled: Organization, caplog: pytest.LogCaptureFixture
) -> None:
    # the persisted query falls back (a resolver error) while the batch's other operations,
    # sharing the request's context, run beside it: none of them may lose its loaders
    failing = """query { customers(first: 5) { edges { node { name
      salesOrders(first: 2, after: "not a cursor") { edges { node { number } } } } } } }"""
    headers = {"Authorization": f"Bearer {filled.api.token}"}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(failing)}}
    await http.post("/graphql", json={"query": failing, "extensions": extensions}, headers=headers)
    others = [
        {"query": ORDER_LIST, "variables": {"first": 3, "after": None}},
        {"query": CUSTOMERS_ORDERS, "variables": {"first": 2}},
    ]
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    before = fallback_count("error")

    caplog.clear()
    standard = await http.post(
        "/graphql", json=[{"query": failing}, *others, {"query": failing}], headers=headers
    )
    standard_reads = statements_reading(caplog, "sales_order")
    caplog.clear()
    persisted = await http.post(
        "/graphql",
        json=[{"extensions": extensions}, *others, {"extensions": extensions}],
        headers=headers,
    )
    persisted_reads = statements_reading(caplog, "sales_order")

    assert standard.status_code == persisted.status_code == 200
    assert persisted.content == standard.content
    answers = persisted.json()
    assert [sorted(answer) for answer in answers] == [
        ["data", "errors"],
        ["data"],
        ["data"],
        ["data", "errors"],
    ]
    assert fallback_count("error") == before + 2
    assert persisted_reads == standard_reads


async def test_a_null_in_a_non_null_list_falls_back_with_the_standard_error(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    # `to: [String!]!` stored with a null in it (a row written by something else than us)
    email = await EmailMessage.filter(organization_id=filled.id).first()
    assert email is not None
    await EmailMessage.filter(id=email.id).update(to=["buyer@acme.example", None])
    query = """query($id: ID!) { salesOrder(id: $id) { number emails { subject to } } }"""

    before = fallback_count("null")

    headers = {"Authorization": f"Bearer {filled.api.token}"}
    variables = {"id": filled.cache["orders"][0]}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    sent = {"query": query, "variables": variables}
    standard = (await http.post("/graphql", json=sent, headers=headers)).content
    await http.post("/graphql", json={**sent, "extensions": extensions}, headers=headers)
    persisted = (
        await http.post(
            "/graphql", json={"variables": variables, "extensions": extensions}, headers=headers
        )
    ).content

    # the same answer but for each request's own id in the error (an unexpected one: logged)
    request_id = re.compile(rb'"requestId":"[0-9a-f]+"')
    assert request_id.sub(b"", persisted) == request_id.sub(b"", standard)
    assert fallback_count("null") == before + 2
    answer = json.loads(persisted)
    assert answer["data"] == {"salesOrder": None}
    assert answer["errors"][0]["path"] == ["salesOrder", "emails", 0, "to", 1]


async def test_more_include_and_skip_variants_than_planned_fall_back(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    names = ("a", "b", "c", "d", "e")
    query = (
        "query(" + ", ".join(f"${n}: Boolean!" for n in names) + ") { salesOrders(first: 2) { "
        "edges { node { id "
        + " ".join(f"{n}: number @include(if: ${n}) {n}s: total @skip(if: ${n})" for n in names)
        + " } } } }"
    )
    combinations = [
        {n: bool(number >> bit & 1) for bit, n in enumerate(names)} for number in range(18)
    ]
    for variables in combinations[:16]:  # MAX_VARIANTS (api/compiled/planning.py)
        await same_bytes_compiled(http, filled.api.token, query, variables)
    for variables in combinations[16:]:
        await same_bytes_fallen_back(http, filled.api.token, "variants", query, variables)
    await same_bytes_compiled(http, filled.api.token, query, combinations[3])  # still planned


async def test_a_missing_token_or_scope_falls_back_with_the_standard_refusal(
    http: httpx.AsyncClient, filled: Organization, make_client: Any
) -> None:
    body = await same_bytes_fallen_back(http, None, "error", SETTINGS)
    assert b"UNAUTHENTICATED" in body

    writer = await make_client(filled, Scope.ORDERS_WRITE)
    body = await same_bytes_fallen_back(http, writer.token, "error", SETTINGS)
    assert b"FORBIDDEN" in body


async def test_a_query_over_the_limits_falls_back_with_the_standard_refusal(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    query = """query($first: Int) { customers(first: $first) { edges { node {
      salesOrders(first: $first) { edges { node { number total } } } } } } }"""

    body = await same_bytes_fallen_back(http, filled.api.token, "limits", query, {"first": 100})

    assert b"QUERY_TOO_COMPLEX" in body
    await same_bytes_compiled(http, filled.api.token, query, {"first": 2})  # same plan, smaller


async def test_bad_variables_fall_back_with_the_standard_error(
    http: httpx.AsyncClient, filled: Organization
) -> None:
    body = await same_bytes_fallen_back(
        http, filled.api.token, "variables", ORDER_LIST, {"first": "many"}
    )

    assert b'"errors"' in body


async def test_another_organizations_data_never_appears(
    http: httpx.AsyncClient, filled: Organization, other_org: Organization
) -> None:
    other = await fill(other_org)
    await other_org.customer(name="Secret Other Co")
    for token in (filled.api.token, other_org.api.token):
        await same_bytes_compiled(http, token, ORDER_LIST, {"first": 50, "after": None})
    mine = await same_bytes_compiled(http, filled.api.token, CUSTOMERS_ORDERS, {"first": 5})
    assert b"Secret Other Co" not in mine
    theirs = await same_bytes_compiled(http, other_org.api.token, CUSTOMERS_ORDERS, {"first": 5})
    assert b"Secret Other Co" in theirs
    # an ID of the other organization resolves to nothing, through the plan too
    body = await same_bytes_compiled(
        http, filled.api.token, SUPPORT_ORDER, {"id": other["orders"][0]}
    )
    assert body == b'{"data":{"salesOrder":null}}'


# --- generated selections ----------------------------------------------------------------------

# type -> (scalar fields, {object field: (type, arguments)})
SHAPES: dict[str, tuple[Sequence[str], dict[str, tuple[str, str]]]] = {
    "SalesOrder": (
        [
            "id",
            "number",
            "status",
            "invoicedStatus",
            "shippedStatus",
            "date",
            "expectedShipmentDate",
            "currency",
            "referenceNumber",
            "deliveryMethod",
            "notes",
            "taxMode",
            "subTotal",
            "taxTotal",
            "shippingCharge",
            "total",
            "createdAt",
            "updatedAt",
            "mergeable",
            "mergeBlockers",
            "__typename",
        ],
        {
            "customer": ("Customer", ""),
            "warehouse": ("Warehouse", ""),
            "lines": ("SalesOrderLine", ""),
            "invoices": ("Invoice", ""),
            "packages": ("Package", ""),
            "taxes": ("TaxTotal", ""),
            "discount": ("Discount", ""),
            "paymentTerms": ("PaymentTerms", ""),
            "billingAddress": ("Address", ""),
            "pdf": ("Document", ""),
            "events": ("OrderEvent", ""),
        },
    ),
    "Customer": (
        ["id", "name", "email", "phone", "currency", "__typename"],
        {
            "billingAddress": ("Address", ""),
            "paymentTerms": ("PaymentTerms", ""),
            "salesOrders": ("SalesOrderConnection", "(first: $pageSize)"),
        },
    ),
    "SalesOrderConnection": (["totalCount"], {"edges": ("SalesOrderEdge", "")}),
    "SalesOrderEdge": (("cursor",), {"node": ("SalesOrder", "")}),
    "SalesOrderLine": (
        [
            "id",
            "description",
            "quantity",
            "rate",
            "discountPercent",
            "amount",
            "quantityInvoiced",
            "stockStatus",
        ],
        {"item": ("Item", ""), "tax": ("Tax", "")},
    ),
    "Item": (
        ["id", "sku", "name", "kind", "rate", "unit", "reorderLevel"],
        {"tax": ("Tax", ""), "stock": ("StockLevel", "")},
    ),
    "StockLevel": (["onHand", "committed", "availableForSale"], {"warehouse": ("Warehouse", "")}),
    "Invoice": (
        ["id", "number", "status", "date", "dueDate", "currency", "subTotal", "taxTotal", "total"],
        {
            "customer": ("Customer", ""),
            "salesOrder": ("SalesOrder", ""),
            "lines": ("InvoiceLine", ""),
            "taxes": ("TaxTotal", ""),
        },
    ),
    "InvoiceLine": (
        ["id", "quantity", "rate", "amount"],
        {"item": ("Item", ""), "salesOrderLine": ("SalesOrderLine", "")},
    ),
    "Package": (
        ["id", "number", "status", "carrier", "trackingNumber", "shippedAt", "deliveredAt"],
        {"salesOrder": ("SalesOrder", ""), "lines": ("PackageLine", "")},
    ),
    "PackageLine": (("quantity",), {"salesOrderLine": ("SalesOrderLine", "")}),
    "Warehouse": (["id", "name", "isPrimary"], {}),
    "Tax": (["id", "name", "percentage"], {}),
    "TaxTotal": (("amount",), {"tax": ("Tax", "")}),
    "Discount": (["type", "value", "amount"], {}),
    "PaymentTerms": (["days", "label"], {}),
    "Address": (["street1", "city", "country"], {}),
    "Document": (["state", "url", "error"], {}),
    "OrderEvent": (["type", "actor", "data"], {}),
}
CONDITIONS = (
    "",
    " @include(if: $shown)",
    " @skip(if: $shown)",
    " @include(if: $hidden)",
    " @include(if: $defaulted)",  # a variable with a default, given or not
    " @skip(if: true)",
    " @include(if: true)",
    " @skip(if: false)",
)
NODES = frozenset({"SalesOrder", "Customer", "Item", "Invoice", "Package", "Tax", "Warehouse"})
# Lists of lists: the schema has none ([[...]] nowhere in schema.graphql), so none is drawn.


@st.composite
def selections(draw: st.DrawFn, type_name: str, depth: int, fragments: list[str]) -> str:
    """A selection on `type_name`; named fragments it spreads are added to `fragments`."""
    scalars, objects = SHAPES[type_name]
    chosen = draw(st.lists(st.sampled_from(scalars), min_size=1, max_size=5))
    parts = []
    for number, name in enumerate(chosen):
        alias = f"s{depth}_{number}: " if draw(st.integers(0, 3)) == 0 else ""
        parts.append(f"{alias}{name}{draw(st.sampled_from(CONDITIONS))}")
    if depth > 0 and objects:
        for number, name in enumerate(draw(st.lists(st.sampled_from(sorted(objects)), max_size=2))):
            child, arguments = objects[name]
            inner = draw(selections(child, depth - 1, fragments))
            alias = f"o{depth}_{number}: " if draw(st.integers(0, 3)) == 0 else ""
            condition = draw(st.sampled_from(CONDITIONS))
            parts.append(f"{alias}{name}{arguments}{condition} {{ {inner} }}")
    if draw(st.booleans()):  # the same fields again through a fragment on the type
        parts.append(f"... on {type_name} {{ {parts[0]} }}")
    if draw(st.booleans()):  # ... and through a named one
        name = f"F{len(fragments)}"
        fragments.append(f"fragment {name} on {type_name} {{ {parts[-1]} }}")
        parts.append(f"...{name}{draw(st.sampled_from(CONDITIONS))}")
    if type_name in NODES and draw(st.booleans()):  # through the interface
        parts.append("... on Node { id }")
    return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    fragments: list[str] = []
    orders = draw(selections("SalesOrder", 3, fragments))
    roots = [
        f"salesOrders(first: $pageSize) {{ edges {{ node {{ {orders} }} }} }}",
        "shown: __typename @include(if: $shown) hidden: __typename @include(if: $hidden)",
    ]
    if draw(st.booleans()):
        customers = draw(selections("Customer", 2, fragments))
        roots.append(f"customers(first: 3) {{ edges {{ node {{ {customers} }} }} }}")
    if draw(st.booleans()):
        items = draw(selections("Item", 2, fragments))
        roots.append(f"items(first: 3) {{ edges {{ node {{ {items} }} }} }}")
    if draw(st.booleans()):
        order = draw(selections("SalesOrder", 2, fragments))
        if draw(st.booleans()):  # the same through the Node interface
            order = f"__typename ... on SalesOrder {{ {order} }} ... on Customer {{ name }}"
            roots.append(f"order: node(id: $order) {{ {order} }}")
        else:
            roots.append(f"order: salesOrder(id: $order) {{ {order} }}")
    order = ", $order: ID!" if "$order" in roots[-1] else ""
    page_size = draw(st.sampled_from(["", " = 2"]))  # a default the request may override
    query = (
        f"query Generated($pageSize: Int{page_size}, $shown: Boolean!, $hidden: Boolean!, "
        f"$defaulted: Boolean = true{order}) {{ " + " ".join(roots) + " } " + " ".join(fragments)
    )
    variables: dict[str, Any] = {"shown": draw(st.booleans()), "hidden": draw(st.booleans())}
    for name, values in (("pageSize", [None, 1, 2, 3]), ("defaulted", [False, True])):
        if draw(st.booleans()):  # else left out: its default, or null
            variables[name] = draw(st.sampled_from(values))
    return query, variables


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=documents())
async def test_generated_selections_give_the_same_bytes(
    http: httpx.AsyncClient, org: Organization, drawn: tuple[str, dict[str, Any]]
) -> None:
    await fill(org)
    query, variables = drawn
    if "$order" in query:
        variables = {**variables, "order": org.cache["orders"][0]}

    before = compiled_count()
    standard, persisted = await standard_and_persisted(http, org.api.token, query, variables)

    assert persisted == standard
    assume(b'"errors"' not in standard)  # over a limit (aliases): both refuse it alike
    assert compiled_count() == before + 2


def test_a_schema_with_an_extension_the_plans_do_not_reproduce_is_refused() -> None:
    schema = build_schema()
    assert isinstance(schema, GqlordersSchema)  # the one that carries limit_rules
    CompiledQueries(schema, schema.limit_rules, 10_000, 10_000)  # the known list
    schema.extensions = (*schema.extensions, MaskErrors)

    with pytest.raises(UnknownExtensions, match="MaskErrors"):
        CompiledQueries(schema, schema.limit_rules, 10_000, 10_000)


async def test_a_schema_whose_default_resolver_is_not_getattr_falls_back() -> None:
    schema = build_schema()
    assert isinstance(schema, GqlordersSchema)  # the one that carries limit_rules
    schema.config.default_resolver = lambda source, name: getattr(source, name, None)
    compiled = CompiledQueries(schema, schema.limit_rules, 10_000, 10_000)
    before = fallback_count("default resolver")

    answer = await compiled.execute(SETTINGS, None, None, Context(None, None), None)

    assert answer is None  # the standard executor answers, with that resolver
    assert fallback_count("default resolver") == before + 1
