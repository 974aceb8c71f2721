"""The request context: who is calling (from the bearer token) and the request's loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from starlette.requests import HTTPConnection

from gqlorders.api.dataloaders import Loaders
from gqlorders.api.errors import graphql_error
from gqlorders.events.live import LiveFeed
from gqlorders.observability import organization_var
from gqlorders.tenancy import Principal, Scope, authenticate


@dataclass
class Context:
    request: HTTPConnection | None
    principal: Principal | None
    token_given: bool = False
    loaders: Loaders = field(init=False)
    # Every scope `require` checked while executing: a keyed request's answer keeps them, and
    # its replay is only for a token that has them all (api/idempotency/runs.py).
    scopes_checked: set[Scope] = field(default_factory=set)
    # WebSocket connections only (api/subscriptions.py):
    live: LiveFeed | None = None
    connection_params: dict[str, Any] | None = None  # connection_init's payload
    close_connection: Callable[[int, str], None] | None = None
    # A shared stream's (api/live_streams.py): the subscription replays, so none may join it.
    unshare: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.fresh_loaders()

    def fresh_loaders(self) -> None:
        """New, empty loaders: a subscription's every result reads the rows as they are now."""
        self.loaders = Loaders(self.principal.organization_id if self.principal else 0)


# What every resolver takes as `info`: typed, so that `info.context` is checked.
Info: TypeAlias = strawberry.Info[Context, None]


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def context_for(request: HTTPConnection) -> Context:
    token = bearer_token(request)
    principal = await authenticate(token) if token else None
    if principal is not None:
        organization_var.set(principal.organization_id)  # for the request's log lines
    return Context(request=request, principal=principal, token_given=token is not None)


def require(info: Info, scope: Scope) -> Principal:
    """The caller, if it may use `scope`; otherwise UNAUTHENTICATED or FORBIDDEN (SPEC §1)."""
    context = info.context
    context.scopes_checked.add(scope)
    principal = context.principal
    if principal is None:
        message = (
            "invalid or revoked token" if context.token_given else "a bearer token is required"
        )
        raise graphql_error("UNAUTHENTICATED", message)
    if not principal.has(scope):
        raise graphql_error("FORBIDDEN", f"this token lacks the {scope.value} scope")
    return principal


def whole_scope_set(info: Info, principal: Principal) -> frozenset[Scope]:
    """The caller's every scope, for a rule that depends on all of them (a webhook's payload
    query is checked, and later run, with them): recorded as checked like `require`'s, so a
    keyed answer is replayed only to a token that has them all."""
    info.context.scopes_checked.update(principal.scopes)
    return principal.scopes
