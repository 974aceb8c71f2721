"""Tortoise configuration, migrations and connection lifetime, shared by every entry point."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api.migrate import migrate as run_tortoise_migrations

from gqlorders.config import Settings

MODEL_MODULES = ["gqlorders.models"]


async def _keep_session(connection: Any) -> None:
    """asyncpg's pool reset, minus its round trip: the pool still rolls back a transaction left
    open, and this app keeps no session state (no SET, LISTEN, cursors or session advisory
    locks) for `RESET ALL; UNLISTEN *; ...` to clear after every query outside a transaction."""


def _connection(database_url: str) -> str | dict[str, Any]:
    if not database_url.startswith(("postgres://", "postgresql://")):
        return database_url
    connection = expand_db_url(database_url)
    connection["credentials"]["reset"] = _keep_session
    return connection


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "gqlorders.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def prepare_data_dir(settings: Settings) -> None:
    """SQLite needs its folder before the first connection."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)


async def migrate(settings: Settings) -> None:
    """Bring an empty or existing database up to the latest schema (one migration set)."""
    prepare_data_dir(settings)
    try:
        await run_tortoise_migrations(config=tortoise_config(settings.database_url))
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[None]:
    """Open the ORM for a command or worker; always close (an open SQLite handle hangs exit)."""
    prepare_data_dir(settings)
    await Tortoise.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()


def _cli_config() -> dict[str, Any]:
    from gqlorders.config import load_settings

    return tortoise_config(load_settings().database_url)


# For tortoise's own CLI when writing a migration:
#   DATABASE_URL=sqlite://:memory: tortoise -c gqlorders.database.TORTOISE_ORM makemigrations
TORTOISE_ORM = _cli_config()


async def execute_sql(statement: str, params: list[Any]) -> list[dict[str, Any]]:
    """Run raw SQL written with PostgreSQL's $n placeholders (SQLite reads them as ?n), on the
    current transaction's connection when there is one."""
    connection = connections.get("default")
    if connection.capabilities.dialect == "sqlite":
        statement = re.sub(r"\$(\d+)", r"?\1", statement)
    return await connection.execute_query_dict(statement, params)
