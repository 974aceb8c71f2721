"""Automatic persisted queries (Apollo's APQ protocol), for SPAs (README "Live updates").

A client sends `extensions.persistedQuery.sha256Hash` alone; if the server knows the hash it
runs the stored document, otherwise it answers PERSISTED_QUERY_NOT_FOUND and the client sends
the hash with the document, which is stored once its hash is checked. Reads can then be GETs
of a short URL that a CDN may cache. The store is bounded: Redis entries expire (REDIS_URL
set, shared by every server process), otherwise an in-process LRU.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from datetime import timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from starlette.responses import JSONResponse, Response

VERSION = 1
MEMORY_ENTRIES = 1000
REDIS_TTL = timedelta(days=7)  # a hash not asked for in a week is sent again by its client
MAX_QUERY_CHARACTERS = 100_000  # what is stored per entry at most
_HASH = re.compile(r"[0-9a-f]{64}")


class Refused(Exception):
    """A persisted-query request that cannot run, answered as a GraphQL error (status 200:
    Apollo's client reads the code to send the document)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self) -> Response:
        error = {"message": self.message, "extensions": {"code": self.code}}
        return JSONResponse({"errors": [error]}, headers={"Cache-Control": "no-store"})


class Store(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, query: str) -> None: ...


class MemoryStore:
    """The most recently used documents of this process."""

    def __init__(self, entries: int = MEMORY_ENTRIES) -> None:
        self.entries = entries
        self.queries: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        query = self.queries.get(sha256)
        if query is not None:
            self.queries.move_to_end(sha256)
        return query

    async def put(self, sha256: str, query: str) -> None:
        self.queries[sha256] = query
        self.queries.move_to_end(sha256)
        while len(self.queries) > self.entries:
            self.queries.popitem(last=False)


class RedisStore:
    """Documents shared by every server process, each kept REDIS_TTL after its last use."""

    def __init__(self, url: str, namespace: str = "gqlorders:apq:") -> None:
        self.redis = Redis.from_url(url)
        self.namespace = namespace

    async def get(self, sha256: str) -> str | None:
        key = self.namespace + sha256
        query = await self.redis.getex(key, ex=REDIS_TTL)
        return None if query is None else query.decode()

    async def put(self, sha256: str, query: str) -> None:
        await self.redis.set(self.namespace + sha256, query.encode(), ex=REDIS_TTL)


def requested_hash(extensions: Any) -> str | None:
    """The hash a request names, None when it uses no persisted query; Refused when the
    extension is malformed."""
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != VERSION:
        raise Refused("PERSISTED_QUERY_NOT_SUPPORTED", f"only persistedQuery version {VERSION}")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _HASH.fullmatch(sha256):
        raise Refused("BAD_REQUEST", "sha256Hash is the document's SHA-256, 64 hex digits")
    return sha256


async def resolve(store: Store, query: str | None, extensions: Any) -> str | None:
    """The document to run: the one sent (stored if it has a hash that matches it), or the
    stored one its hash names. Refused: PERSISTED_QUERY_NOT_FOUND, a hash that does not match
    the document, or a document too long to store."""
    sha256 = requested_hash(extensions)
    if sha256 is None:
        return query
    if query is None:
        stored = await store.get(sha256)
        if stored is None:
            raise Refused("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return stored
    if hashlib.sha256(query.encode()).hexdigest() != sha256:
        raise Refused("BAD_REQUEST", "provided sha does not match query")
    if len(query) > MAX_QUERY_CHARACTERS:
        raise Refused(
            "BAD_REQUEST", f"a persisted query has at most {MAX_QUERY_CHARACTERS} characters"
        )
    await store.put(sha256, query)
    return query


def build_store(redis_url: str | None) -> Store:
    return RedisStore(redis_url) if redis_url else MemoryStore()
