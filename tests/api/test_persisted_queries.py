"""Automatic persisted queries (Apollo's protocol): a hash alone runs a document sent before,
also as a GET whatever its Accept; an unknown hash asks for the document; a hash must match."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import httpx
from starlette.applications import Starlette

from gqlorders.api.persisted_queries import REDIS_TTL, MemoryStore, RedisStore
from tests.support import Organization

# The Redis of the tests that need one (its keys under a namespace of their own), as
# tests/workers/conftest.py's: the machine's own unless GQLORDERS_TEST_REDIS says otherwise.
TEST_REDIS = os.environ.get("GQLORDERS_TEST_REDIS", "redis://127.0.0.1:6379/5")
SETTINGS = "query Currency { settings { currency } }"
CREATE_TAX = """
mutation($input: CreateTaxInput!) { createTax(input: $input) { tax { name } errors { code } } }"""
NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


def headers(org: Organization, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.api.token}", **more}


async def test_an_unknown_hash_asks_for_the_document_then_runs_from_the_hash(
    http: httpx.AsyncClient, org: Organization
) -> None:
    query = f"{SETTINGS} # {uuid.uuid4()}"  # a document this server has not seen
    only_hash = {"extensions": persisted(query)}

    first = await http.post("/graphql", json=only_hash, headers=headers(org))
    sent = await http.post("/graphql", json={"query": query, **only_hash}, headers=headers(org))
    again = await http.post("/graphql", json=only_hash, headers=headers(org))

    assert first.json() == NOT_FOUND
    assert sent.json() == again.json() == {"data": {"settings": {"currency": "EUR"}}}


async def test_a_get_with_only_the_hash_answers_json_even_to_accept_anything(
    http: httpx.AsyncClient, org: Organization
) -> None:
    await http.post(
        "/graphql",
        json={"query": SETTINGS, "extensions": persisted(SETTINGS)},
        headers=headers(org),
    )
    params = {"operationName": "Currency", "extensions": json.dumps(persisted(SETTINGS))}

    answer = await http.get("/graphql", params=params, headers=headers(org, Accept="*/*"))

    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"data": {"settings": {"currency": "EUR"}}}


async def test_a_hash_that_does_not_match_the_document_is_refused(
    http: httpx.AsyncClient, org: Organization
) -> None:
    body = {"query": SETTINGS, "extensions": persisted("{ taxes { id } }")}

    answer = await http.post("/graphql", json=body, headers=headers(org))

    assert answer.json() == {
        "errors": [
            {"message": "provided sha does not match query", "extensions": {"code": "BAD_REQUEST"}}
        ]
    }


async def test_a_keyed_mutation_sent_as_a_hash_runs_once(
    http: httpx.AsyncClient, org: Organization
) -> None:
    await http.post(
        "/graphql",
        json={"query": CREATE_TAX, "variables": {"input": {"name": "Warm-up", "percentage": "1"}},
              "extensions": persisted(CREATE_TAX)},
        headers=headers(org),
    )  # fmt: skip
    body: dict[str, Any] = {"variables": {"input": {"name": "VAT", "percentage": "20"}}}
    body["extensions"] = persisted(CREATE_TAX)
    key = headers(org, **{"Idempotency-Key": str(uuid.uuid4())})

    first = await http.post("/graphql", json=body, headers=key)
    second = await http.post("/graphql", json=body, headers=key)

    assert first.json() == {"data": {"createTax": {"tax": {"name": "VAT"}, "errors": []}}}
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    taxes = await org.api.data("{ taxes { name } }")
    assert sorted(tax["name"] for tax in taxes["taxes"]) == ["VAT", "Warm-up"]


async def test_the_in_process_store_keeps_the_most_recently_used() -> None:
    store = MemoryStore(entries=2)
    await store.put("a", "{ a }")
    await store.put("b", "{ b }")
    assert await store.get("a") == "{ a }"  # used: b is now the oldest

    await store.put("c", "{ c }")

    assert [await store.get(key) for key in "abc"] == ["{ a }", None, "{ c }"]


async def test_the_redis_store_keeps_each_document_a_week_from_its_last_use() -> None:
    store = RedisStore(TEST_REDIS, namespace=f"test:{uuid.uuid4()}:")
    try:
        await store.put("h", "{ settings { currency } }")
        await store.redis.expire(store.namespace + "h", 60)

        assert await store.get("h") == "{ settings { currency } }"
        assert await store.redis.ttl(store.namespace + "h") == REDIS_TTL.total_seconds()
        assert await store.get("unknown") is None
    finally:
        await store.redis.delete(store.namespace + "h")
        await store.redis.aclose()


async def test_a_request_by_hash_looks_the_hash_up_once(
    app: Starlette, http: httpx.AsyncClient, org: Organization
) -> None:
    """One Redis round trip per request (POST or GET) that names a stored document."""
    graphql = app.state.graphql
    store = RedisStore(TEST_REDIS, namespace=f"test:{uuid.uuid4()}:")
    served_store, graphql.persisted_queries = graphql.persisted_queries, store
    try:
        await http.post(
            "/graphql",
            json={"query": SETTINGS, "extensions": persisted(SETTINGS)},
            headers=headers(org),
        )
        before = await lookups(store)
        posted = await http.post(
            "/graphql", json={"extensions": persisted(SETTINGS)}, headers=headers(org)
        )
        after_post = await lookups(store)
        got = await http.get(
            "/graphql",
            params={"extensions": json.dumps(persisted(SETTINGS))},
            headers=headers(org),
        )
        after_get = await lookups(store)
    finally:
        graphql.persisted_queries = served_store
        await store.redis.delete(store.namespace + sha256(SETTINGS))
        await store.redis.aclose()

    assert posted.json() == got.json() == {"data": {"settings": {"currency": "EUR"}}}
    assert (after_post - before, after_get - after_post) == (1, 1)


async def lookups(store: RedisStore) -> int:
    """How many GETEX the Redis server has run (the store's lookup)."""
    stats = await store.redis.info("commandstats")
    return int(stats.get("cmdstat_getex", {}).get("calls", 0))
