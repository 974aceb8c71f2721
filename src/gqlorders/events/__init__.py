"""The organization's event feed: every change integrations follow, recorded in the change's
own transaction and read in an order that never skips one (see `feed`)."""

from gqlorders.events.feed import (
    DEFAULT_RETENTION,
    EventFilter,
    FeedEntry,
    FeedPage,
    configure,
    prune_expired,
    publish,
    read_feed,
    record,
    sequence,
)
from gqlorders.events.snapshots import (
    inbox_message_data,
    invoice_data,
    item_stock_data,
    package_data,
    sales_order_data,
)
from gqlorders.events.types import EventType, Resource

__all__ = [
    "DEFAULT_RETENTION",
    "EventFilter",
    "EventType",
    "FeedEntry",
    "FeedPage",
    "Resource",
    "configure",
    "inbox_message_data",
    "invoice_data",
    "item_stock_data",
    "package_data",
    "prune_expired",
    "publish",
    "read_feed",
    "record",
    "sales_order_data",
    "sequence",
]
