"""Test fixtures: one fresh database per run (PostgreSQL by default, SQLite with
GQLORDERS_TEST_DATABASE=sqlite), the ASGI app over httpx, and one new organization per test.

Tests never share an organization, so they need no cleanup between them: tenancy itself keeps
them apart (and every test doubles as a check of it).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise

from gqlorders import database, jobs
from gqlorders.app import create_app
from gqlorders.config import Settings, load_settings
from gqlorders.observability import LIBRARIES_AT_INFO, OUR_LOGGER
from gqlorders.tenancy import Scope, create_organization, create_token
from tests.support import GraphQLClient, MakeClient, Organization

POSTGRES_URL = os.environ.get("GQLORDERS_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BACKEND = os.environ.get("GQLORDERS_TEST_DATABASE", "postgres")
# Every logger configure_logging changes, beside the root (restore_logging).
CONFIGURED_LOGGERS = (OUR_LOGGER, *LIBRARIES_AT_INFO, "uvicorn", "uvicorn.error", "uvicorn.access")


def pytest_report_header() -> str:
    return f"gqlorders test database: {BACKEND}"


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
async def settings(backend: str) -> AsyncIterator[Settings]:
    """Migrate a brand-new database, keep the ORM open for the run, then drop the database."""
    data_dir = Path(tempfile.mkdtemp(prefix="gqlorders-test-"))
    name = f"gqlorders_test_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{POSTGRES_URL}/{name}"
    else:
        admin = None
        url = f"sqlite://{data_dir / 'test.sqlite3'}"
    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": str(data_dir)})
    try:
        await database.migrate(settings)
        async with database.connected(settings):
            yield settings
    finally:
        await Tortoise.close_connections()
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Starlette:
    return create_app(settings, manage_database=False)


@pytest.fixture(scope="session")
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def new_organization(http: httpx.AsyncClient, name: str = "Test Co") -> Organization:
    organization = await create_organization(name, "EUR")
    token = await create_token(organization.id, name="tests")
    return Organization(id=organization.id, api=GraphQLClient(http, token))


@pytest.fixture(autouse=True)
async def background_jobs_settled() -> None:
    """Each test starts with no background job of an earlier test running or waiting.

    Tests share one database and one job runner, and the outbox is global: without this, an
    e-mail or PDF job an earlier test started (the in-process runner runs them in background
    tasks) keeps issuing SQL while the next test counts statements, and a job committed outside
    a request (an import's stock job, a domain function called directly) waits in the outbox
    until some later test's request hands it on -- to that test's runner, its Redis queue or
    its held e-mails. The relay every server runs every few seconds does this in production;
    here it is done once, before the test."""
    if jobs.current_runner() is None:  # no app yet: nothing can have been started
        return
    await jobs.after_request()
    runner = jobs.current_runner()
    if runner is not None:
        await runner.drain()


@pytest.fixture
async def org(http: httpx.AsyncClient) -> Organization:
    return await new_organization(http)


@pytest.fixture
async def other_org(http: httpx.AsyncClient) -> Organization:
    return await new_organization(http, "Other Co")


@pytest.fixture
def make_client(http: httpx.AsyncClient) -> MakeClient:
    """A client for `org` whose token has only the given scopes."""

    async def make(org: Organization, *scopes: Scope) -> GraphQLClient:
        return GraphQLClient(http, await create_token(org.id, frozenset(scopes)))

    return make


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For a test that calls configure_logging, which changes the process's loggers: they are
    put back as they were for the next tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = [logging.getLogger(name) for name in CONFIGURED_LOGGERS]
    saved = [(lg.level, lg.handlers[:], lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for logger, (logger_level, logger_handlers, propagate, disabled) in zip(
            loggers, saved, strict=True
        ):
            logger.setLevel(logger_level)
            logger.handlers[:] = logger_handlers
            logger.propagate, logger.disabled = propagate, disabled
