"""Managing an organization's webhook endpoints (each function states what it refuses).

Every lookup is by the organization and the key together: another organization's endpoint or
delivery is NOT_FOUND, like one that does not exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders.errors import DomainError, ErrorCode, Problems
from gqlorders.events import feed
from gqlorders.events.types import EventType, Resource
from gqlorders.ids import encode_id
from gqlorders.models import (
    FeedEvent,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointStatus,
)
from gqlorders.webhooks import addresses, fanout, policy, signing

MAX_DESCRIPTION = 500
MAX_PAYLOAD_QUERY = 5000
DISABLED_BY_HAND = "disabled by hand"

# What each event type is about: a payloadQuery selects fields of that type.
EVENT_RESOURCES = {
    **{t: Resource.SALES_ORDER for t in EventType if t.startswith("SALES_ORDER_")},
    EventType.MARKETPLACE_ORDER_IMPORTED: Resource.SALES_ORDER,
    **{t: Resource.INVOICE for t in EventType if t.startswith("INVOICE_")},
    **{t: Resource.PACKAGE for t in EventType if t.startswith("PACKAGE_")},
    EventType.STOCK_LEVEL_LOW: Resource.ITEM,
    EventType.MARKETPLACE_MESSAGE_FAILED: Resource.INBOX_MESSAGE,
    EventType.WEBHOOK_ENDPOINT_DISABLED: Resource.WEBHOOK_ENDPOINT,
    EventType.WEBHOOK_ENDPOINT_TEST: Resource.WEBHOOK_ENDPOINT,
}
QUERYABLE = frozenset({Resource.SALES_ORDER, Resource.INVOICE, Resource.PACKAGE, Resource.ITEM})

# Checks a payloadQuery against the real schema and its limits, run with these scopes on a
# resource of this type; returns it in canonical form or raises ValueError saying what is wrong
# (the API provides it: the domain knows no GraphQL).
PayloadQueryCheck = Callable[[str, Resource, frozenset[str]], Awaitable[str]]


@dataclass(frozen=True)
class EndpointInput:
    """What create and update are given; None leaves a field as it is (update)."""

    url: str | None = None
    description: str | None = None
    event_types: Collection[EventType] | None = None  # empty: every type
    payload_query: str | None = None  # "" removes it
    status: WebhookEndpointStatus | None = None


def endpoint_data(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The `data` of an endpoint's events."""
    return {
        "id": encode_id("WebhookEndpoint", endpoint.id),
        "url": endpoint.url,
        "status": endpoint.status.value,
        "disabledReason": endpoint.disabled_reason,
    }


def subscribed_types(endpoint: WebhookEndpoint) -> list[EventType]:
    return [EventType(name) for name in endpoint.event_types.split(",") if name]


async def _checked(
    given: EndpointInput,
    current: WebhookEndpoint | None,
    scopes: frozenset[str],
    check_query: PayloadQueryCheck,
) -> dict[str, Any]:
    """The columns to write, every problem of the input reported at once."""
    problems = Problems()
    changes: dict[str, Any] = {}
    rules = policy.current()
    if given.url is not None:
        url = given.url.strip()
        try:
            parsed = addresses.parse_url(url, rules.allow_private)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            await addresses.resolve(parsed.host, port, rules.allow_private)
            changes["url"] = url
        except addresses.RefusedURL as error:
            problems.add(ErrorCode.INVALID, ("url",), str(error))
    if given.description is not None:
        if len(given.description) > MAX_DESCRIPTION:
            problems.add(
                ErrorCode.INVALID, ("description",), f"at most {MAX_DESCRIPTION} characters"
            )
        changes["description"] = given.description or None
    types = subscribed_types(current) if current else []
    if given.event_types is not None:
        types = sorted(set(given.event_types))
        changes["event_types"] = fanout.subscription_key(",".join(types)) if types else ""
    query = current.payload_query if current else None
    if given.payload_query is not None:
        query = given.payload_query.strip() or None
    if query is not None and (given.payload_query is not None or given.event_types is not None):
        resources = {EVENT_RESOURCES[t] for t in types}
        if len(query) > MAX_PAYLOAD_QUERY:
            problems.add(
                ErrorCode.INVALID, ("payloadQuery",), f"at most {MAX_PAYLOAD_QUERY} characters"
            )
        elif len(resources) != 1 or not resources <= QUERYABLE:
            problems.add(
                ErrorCode.INVALID,
                ("payloadQuery",),
                "a payloadQuery selects fields of one type: subscribe to events about sales"
                " orders, invoices, packages or items only (eventTypes)",
            )
        else:
            try:
                query = await check_query(query, resources.pop(), scopes)
            except ValueError as error:
                problems.add(ErrorCode.INVALID, ("payloadQuery",), str(error))
    if given.payload_query is not None:
        changes["payload_query"] = query
        changes["query_scopes"] = ",".join(sorted(scopes)) if query else ""
    problems.raise_if_any()
    return changes


async def create_endpoint(
    organization_id: int,
    given: EndpointInput,
    scopes: frozenset[str],
    check_query: PayloadQueryCheck,
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its secret (shown this once). Refuses (INVALID) a URL that
    is malformed or reaches a private address (unless allowed), and a payloadQuery that does
    not validate or whose types are not all about one queryable resource."""
    if given.url is None:
        raise DomainError.one(ErrorCode.REQUIRED, ("url",), "an endpoint needs a URL")
    columns = await _checked(given, None, scopes, check_query)
    secret = signing.new_secret()
    endpoint = await WebhookEndpoint.create(
        organization_id=organization_id, secret=secret, **columns
    )
    return endpoint, secret


async def _endpoint(organization_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id, organization_id=organization_id)
    if endpoint is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, ("id",), "no such WebhookEndpoint")
    return endpoint


async def update_endpoint(
    organization_id: int,
    endpoint_id: int,
    given: EndpointInput,
    scopes: frozenset[str],
    check_query: PayloadQueryCheck,
    actor: str | None,
) -> WebhookEndpoint:
    """Change what is given. DISABLED stops its deliveries (as FAILED) and reports
    WEBHOOK_ENDPOINT_DISABLED; ENABLED starts afresh (no failure counted against it)."""
    endpoint = await _endpoint(organization_id, endpoint_id)
    columns = await _checked(given, endpoint, scopes, check_query)
    async with in_transaction():
        if columns:
            await WebhookEndpoint.filter(id=endpoint.id).update(**columns)
        if given.status == WebhookEndpointStatus.ENABLED:
            await WebhookEndpoint.filter(id=endpoint.id).update(
                status=WebhookEndpointStatus.ENABLED, disabled_reason=None, failing_since=None
            )
        elif given.status == WebhookEndpointStatus.DISABLED:
            await disable_endpoint(endpoint.id, DISABLED_BY_HAND, actor)
    return await _endpoint(organization_id, endpoint_id)


async def delete_endpoint(organization_id: int, endpoint_id: int) -> WebhookEndpoint:
    """Delete it with its deliveries; returns it as it was."""
    endpoint = await _endpoint(organization_id, endpoint_id)
    await WebhookEndpoint.filter(id=endpoint.id).delete()
    return endpoint


async def rotate_secret(organization_id: int, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned, shown once); the current one signs too for ROTATION_OVERLAP, so
    that the partner can switch without losing a message. An older one is dropped."""
    endpoint = await _endpoint(organization_id, endpoint_id)
    secret = signing.new_secret()
    await WebhookEndpoint.filter(id=endpoint.id).update(
        secret=secret,
        previous_secret=endpoint.secret,
        previous_secret_until=now() + policy.ROTATION_OVERLAP,
    )
    return await _endpoint(organization_id, endpoint_id), secret


async def ping_endpoint(organization_id: int, endpoint_id: int, actor: str | None) -> int:
    """A WEBHOOK_ENDPOINT_TEST event delivered to this endpoint only, now; returns the
    delivery's id. Refuses (INVALID) a disabled endpoint."""
    endpoint = await _endpoint(organization_id, endpoint_id)
    if endpoint.status != WebhookEndpointStatus.ENABLED:
        raise DomainError.one(ErrorCode.INVALID, ("id",), "the endpoint is disabled: enable it")
    async with in_transaction():
        # Written without the feed's fan-out: a ping is for this one endpoint.
        event = await FeedEvent.create(
            organization_id=organization_id,
            type=EventType.WEBHOOK_ENDPOINT_TEST.value,
            actor=actor,
            resource_type=Resource.WEBHOOK_ENDPOINT.value,
            resource_key=endpoint.id,
            data=endpoint_data(endpoint),
        )
        delivery = await fanout.deliver(organization_id, endpoint.id, event)
    return delivery.id


async def redeliver(organization_id: int, delivery_id: int) -> int:
    """Send the delivery again now, with the same `webhook-id`, whatever its status (a FAILED
    one gets a new day of retries). Refuses (INVALID) when its endpoint is disabled."""
    delivery = await WebhookDelivery.get_or_none(
        id=delivery_id, organization_id=organization_id
    ).select_related("endpoint")
    if delivery is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, ("deliveryId",), "no such WebhookDelivery")
    if delivery.endpoint.status != WebhookEndpointStatus.ENABLED:
        raise DomainError.one(
            ErrorCode.INVALID, ("deliveryId",), "its endpoint is disabled: enable it first"
        )
    async with in_transaction():
        await WebhookDelivery.filter(id=delivery.id).update(
            status=WebhookDeliveryStatus.PENDING, failures=0
        )
        await fanout.dispatch([delivery.id])
    return delivery.id


async def disable_endpoint(endpoint_id: int, reason: str, actor: str | None) -> bool:
    """Disable an enabled endpoint: its PENDING deliveries become FAILED (they can be
    redelivered once it is enabled again) and WEBHOOK_ENDPOINT_DISABLED is published, with
    the reason. False when it was disabled already."""
    async with in_transaction():
        if not await WebhookEndpoint.filter(
            id=endpoint_id, status=WebhookEndpointStatus.ENABLED
        ).update(status=WebhookEndpointStatus.DISABLED, disabled_reason=reason[:500]):
            return False
        await WebhookDelivery.filter(
            endpoint_id=endpoint_id, status=WebhookDeliveryStatus.PENDING
        ).update(status=WebhookDeliveryStatus.FAILED, next_attempt_at=None, dispatch=None)
        endpoint = await WebhookEndpoint.get(id=endpoint_id)
        await feed.publish(
            endpoint.organization_id,
            EventType.WEBHOOK_ENDPOINT_DISABLED,
            Resource.WEBHOOK_ENDPOINT,
            endpoint.id,
            endpoint_data(endpoint),
            actor,
        )
    return True
