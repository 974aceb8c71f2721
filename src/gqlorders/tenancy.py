"""Organizations and API tokens (SPEC §1): who is calling, and on behalf of which organization."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders.errors import DomainError, ErrorCode
from gqlorders.models import (
    ApiToken,
    DocumentKind,
    NumberSequence,
    Organization,
    Warehouse,
)
from gqlorders.prepared import PreparedSelect

TOKEN_PREFIX = "gqo_"

DEFAULT_PREFIXES = {
    DocumentKind.SALES_ORDER: "SO-",
    DocumentKind.INVOICE: "INV-",
    DocumentKind.PACKAGE: "PKG-",
}

# Every request asks it: built once (prepared.py).
_LIVE_TOKEN = PreparedSelect(
    lambda token_hash: ApiToken.filter(token_hash=token_hash, revoked_at__isnull=True).limit(1)
)


class Scope(StrEnum):
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    INVENTORY_WRITE = "inventory:write"
    SETTINGS_WRITE = "settings:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the organization it acts for and what it may do."""

    organization_id: int
    token_id: int
    scopes: frozenset[Scope]
    actor: str

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes


def hash_token(secret: str) -> str:
    """Tokens are 256-bit random secrets, so one fast hash is enough (no salt to look up by)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> frozenset[Scope]:
    scopes = set()
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        try:
            scopes.add(Scope(name))
        except ValueError:
            raise DomainError.one(
                ErrorCode.INVALID, ("scopes",), f"unknown scope {name!r}"
            ) from None
    return frozenset(scopes)


async def create_organization(name: str, currency: str = "USD") -> Organization:
    """A new organization with its primary warehouse and default numbering (SPEC §1, §3)."""
    name = name.strip()
    if not name:
        raise DomainError.one(ErrorCode.REQUIRED, ("name",), "an organization needs a name")
    async with in_transaction():
        organization = await Organization.create(name=name, currency=currency.upper())
        await Warehouse.create(organization=organization, name="Primary warehouse", is_primary=True)
        await NumberSequence.bulk_create(
            NumberSequence(organization=organization, document=kind, prefix=prefix)
            for kind, prefix in DEFAULT_PREFIXES.items()
        )
    return organization


async def create_token(
    organization_id: int, scopes: frozenset[Scope] | None = None, name: str = ""
) -> str:
    """Issue a token and return its secret, which is never stored and never shown again."""
    if not await Organization.exists(id=organization_id):
        raise DomainError.one(ErrorCode.NOT_FOUND, ("org",), "no such organization")
    granted = frozenset(Scope) if scopes is None else scopes
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        organization_id=organization_id,
        name=name,
        token_hash=hash_token(secret),
        scopes=",".join(sorted(granted)),
    )
    return secret


async def authenticate(secret: str) -> Principal | None:
    """The caller behind a bearer token, or None for an unknown or revoked one.

    The lookup is by the token's hash, so timing reveals nothing about the secret itself.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    tokens = await _LIVE_TOKEN(hash_token(secret))
    if not tokens:
        return None
    token = tokens[0]
    return Principal(
        organization_id=token.organization_id,
        token_id=token.id,
        scopes=parse_scopes(token.scopes),
        actor=token.name or f"token:{token.id}",
    )


async def revoke_token(token_id: int) -> bool:
    updated = await ApiToken.filter(id=token_id, revoked_at__isnull=True).update(revoked_at=now())
    return bool(updated)


async def revoke_secret(secret: str) -> bool:
    """Revoke the token with this secret; it is refused from the next request on."""
    updated = await ApiToken.filter(token_hash=hash_token(secret), revoked_at__isnull=True).update(
        revoked_at=now()
    )
    return bool(updated)
