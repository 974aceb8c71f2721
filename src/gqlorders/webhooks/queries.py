"""Reading endpoints and the delivery log, scoped to the organization in SQL."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from gqlorders.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from gqlorders.pagination import Page, SortKey, paginate

OLDEST_FIRST = SortKey("id", int)
NEWEST_FIRST = SortKey("id", int, descending=True)


@dataclass(frozen=True)
class DeliveryFilter:
    endpoint_id: int | None = None
    statuses: Collection[WebhookDeliveryStatus] | None = None
    event_id: int | None = None


async def list_endpoints(
    organization_id: int, *, first: int | None = None, after: str | None = None
) -> Page[WebhookEndpoint]:
    """The organization's endpoints, oldest first."""
    query = WebhookEndpoint.filter(organization_id=organization_id)
    return await paginate(query, OLDEST_FIRST, first=first, after=after)


async def list_deliveries(
    organization_id: int,
    where: DeliveryFilter = DeliveryFilter(),
    *,
    first: int | None = None,
    after: str | None = None,
) -> Page[WebhookDelivery]:
    """The delivery log, newest first, each with its endpoint, event and attempts."""
    query = WebhookDelivery.filter(organization_id=organization_id)
    if where.endpoint_id is not None:
        query = query.filter(endpoint_id=where.endpoint_id)
    if where.statuses:
        query = query.filter(status__in=list(where.statuses))
    if where.event_id is not None:
        query = query.filter(event_id=where.event_id)
    return await paginate(
        query,
        NEWEST_FIRST,
        first=first,
        after=after,
        select_related=("endpoint", "event"),
        fetch=lambda page: page.prefetch_related("attempts"),
    )


async def get_delivery(organization_id: int, delivery_id: int) -> WebhookDelivery:
    return (
        await WebhookDelivery.filter(id=delivery_id, organization_id=organization_id)
        .select_related("endpoint", "event")
        .prefetch_related("attempts")
        .get()
    )
