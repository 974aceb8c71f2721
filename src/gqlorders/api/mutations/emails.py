"""E-mail mutations: sending a FAILED message again on purpose."""

from __future__ import annotations

import strawberry

from gqlorders import emails, models
from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.ids import decode_id
from gqlorders.api.types.fulfilment import EmailMessage
from gqlorders.tenancy import Scope


@strawberry.input
class EmailIdInput:
    id: strawberry.ID


@strawberry.type
class EmailMessagePayload:
    email: models.EmailMessage | None = strawberry.field(
        default=None, graphql_type=EmailMessage | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EmailMutations:
    @strawberry.mutation(
        description="Send a FAILED e-mail again, as the same message (same Message-ID)."
    )
    @returns_user_errors(EmailMessagePayload)
    async def resend_email(self, info: Info, input: EmailIdInput) -> EmailMessagePayload:
        principal = require(info, Scope.ORDERS_WRITE)
        email = await emails.resend_email(principal, decode_id(input.id, "EmailMessage", ("id",)))
        return EmailMessagePayload(email=email)
