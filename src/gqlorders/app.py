"""The starlette application: /graphql, /healthz. The one place the API meets the database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from gqlorders import jobs
from gqlorders.api.context import Context, context_for
from gqlorders.api.schema import schema
from gqlorders.config import Settings, load_settings
from gqlorders.database import connected
from gqlorders.jobs import InProcessRunner
from workers.jobs import FUNCTIONS

# Strawberry logs a traceback for every denied request; denials are answered, not failures.
logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)


class GraphQLApp(GraphQL):
    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        return await context_for(request)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """The ASGI app. Tests that open the database themselves pass `manage_database=False`."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        async with connected(settings):
            yield

    jobs.configure(InProcessRunner(FUNCTIONS))
    graphql = GraphQLApp(schema, graphql_ide="graphiql")
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
