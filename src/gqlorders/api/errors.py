"""How domain errors and access failures reach clients (contract `UserError`, `extensions.code`)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import strawberry
from graphql import GraphQLError

from gqlorders.errors import DomainError, ErrorCode

ErrorCodeType = ErrorCode
strawberry.enum(ErrorCodeType)

P = ParamSpec("P")
R = TypeVar("R")

# Refusals that are no mistake in the request, each its own `extensions.code`.
OWN_QUERY_CODES = frozenset({ErrorCode.EVENT_CURSOR_EXPIRED})


@strawberry.type
class UserError:
    field: list[str] | None
    code: ErrorCodeType
    message: str


def user_errors(error: DomainError, root: str = "input") -> list[UserError]:
    return [
        UserError(field=[root, *map(str, p.field)], code=p.code, message=p.message)
        for p in error.problems
    ]


def returns_user_errors(
    payload: Callable[..., R],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Turn a DomainError raised by a mutation into its payload's `errors` (nothing was written)."""

    def decorate(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(resolver)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await resolver(*args, **kwargs)
            except DomainError as error:
                return payload(errors=user_errors(error))

        return wrapper

    return decorate


def graphql_error(code: str, message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def query_error(error: DomainError) -> GraphQLError:
    """A DomainError raised while reading (a bad cursor, say) as a GraphQL error."""
    problem = error.problems[0]
    return graphql_error(
        problem.code.value if problem.code in OWN_QUERY_CODES else "BAD_USER_INPUT",
        problem.message,
        errorCode=problem.code.value,
        field=[str(part) for part in problem.field],
    )


def raises_query_errors(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report a DomainError raised while reading (a bad cursor, say) as a GraphQL error."""

    @functools.wraps(resolver)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as error:
            raise query_error(error) from None

    return wrapper
