"""The event feed's types (`Query.events`): views of `gqlorders.events` rows."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.scalars import JSON

from gqlorders import events, models
from gqlorders.api.context import Info
from gqlorders.api.ids import decode_id, encode_id, parse_id
from gqlorders.api.types.common import Node, PageInfo, global_id, is_row_of

EventType = events.EventType
strawberry.enum(
    EventType,
    description="Every change a client may want to follow, in the order the feed gives them.",
)

# The feed's resources that `node(id:)` also resolves, by their loader (InboxMessage is no Node).
RESOURCE_LOADERS = {
    "SalesOrder": "sales_order",
    "Invoice": "invoice",
    "Package": "package",
    "Item": "item",
}


@strawberry.type
class Event(Node):
    is_type_of = is_row_of(models.FeedEvent)

    actor: str | None = strawberry.field(
        description='Who caused it: the token\'s name, the marketplace, or "system".'
    )
    id: strawberry.ID = global_id("Event")
    data: JSON = strawberry.field(
        description="That object's public fields right after the event, as JSON with the"
        " GraphQL field names (README: Integrating)."
    )

    @strawberry.field
    def type(self, root: strawberry.Parent[models.FeedEvent]) -> EventType:
        return events.EventType(root.type)

    @strawberry.field
    def occurred_at(self, root: strawberry.Parent[models.FeedEvent]) -> datetime.datetime:
        return root.occurred_at

    @strawberry.field(
        description="Global ID of the object the event is about (sales order, invoice,"
        " package, item, inbox message)."
    )
    def resource_id(self, root: strawberry.Parent[models.FeedEvent]) -> strawberry.ID:
        return strawberry.ID(encode_id(root.resource_type, root.resource_key))

    @strawberry.field(description="That object as it is now; null once it is deleted.")
    async def resource(self, root: strawberry.Parent[models.FeedEvent], info: Info) -> Node | None:
        loader = RESOURCE_LOADERS.get(root.resource_type)
        if loader is None:
            return None
        return await getattr(info.context.loaders, loader).load(root.resource_key)


@strawberry.type
class EventEdge:
    cursor: str
    node: models.FeedEvent = strawberry.field(graphql_type=Event)


@strawberry.input
class EventFilter:
    types: list[EventType] | None = None
    resource_id: strawberry.ID | None = None
    occurred_after: datetime.datetime | None = None

    def to_domain(self) -> events.EventFilter:
        resource = None
        if self.resource_id is not None:
            parsed = parse_id(self.resource_id)
            type_name = parsed[0] if parsed else ""
            if type_name not in {r.value for r in events.Resource}:
                type_name = "SalesOrder"  # so that decode_id refuses it, as NOT_FOUND
            key = decode_id(self.resource_id, type_name, ("filter", "resourceId"))
            resource = (events.Resource(type_name), key)
        return events.EventFilter(
            types=frozenset(self.types) if self.types else None,
            resource=resource,
            occurred_after=self.occurred_after,
        )


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, page: events.FeedPage) -> EventConnection:
        """`endCursor` stays the cursor given when no event came: keep asking with it."""
        edges = [EventEdge(cursor=e.position.cursor(), node=e.event) for e in page.entries]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=page.end_cursor,
            ),
        )
