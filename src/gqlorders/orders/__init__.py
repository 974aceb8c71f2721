"""Sales orders (SPEC §3, §4): creation, edits, lifecycle, merging, totals, events and listing.

This is the order domain's public face: the API, the marketplace import, invoicing, packing,
the demo and the tests import from `gqlorders.orders` only -- except where a test or a bench
reaches behind it on purpose, to patch one step (tests/orders/test_numbering.py,
tests/workers/test_arq.py, tests/workers/test_outbox.py, tests/api/test_order_search.py) or
to switch the feed off for a comparison (bench/events.py). The modules behind it are private
to the package:

- `lifecycle`: the commands (create, update, add lines, confirm, send, void, delete);
- `merging`: merging two orders of one customer;
- `access`: loading and locking an order of the organization, its items, the status check;
- `header`: cleaning the header fields a client gives (pure);
- `lines`: pricing line inputs; `totals`: line rows, totals and derived statuses;
- `fulfilment`: invoiced/shipped statuses and automatic closing; `quantities`: what an
  invoice or a package takes of each line;
- `events`: the audit trail; `statuses`: the derived statuses;
- `inputs`, `marketplace_source`: what a client asks, as plain data;
- `queries`: the filtered, sorted, paginated order list.
"""

from gqlorders.models import OrderEventType
from gqlorders.orders.access import get_sales_order
from gqlorders.orders.events import record_event
from gqlorders.orders.fulfilment import refresh_fulfilment
from gqlorders.orders.header import HEADER_KEYS
from gqlorders.orders.inputs import (
    AdjustmentInput,
    DiscountInput,
    LineInput,
    NewSalesOrder,
    SalesOrderChanges,
    SendRequest,
)
from gqlorders.orders.lifecycle import (
    add_sales_order_lines,
    confirm_sales_order,
    create_sales_order,
    delete_sales_order,
    send_sales_order,
    update_sales_order,
    void_sales_order,
)
from gqlorders.orders.marketplace_source import AlreadyImported, MarketplaceSource, totals_differ
from gqlorders.orders.merging import has_active_invoices, merge_blockers, merge_sales_orders
from gqlorders.orders.quantities import QuantityRequest, requested_quantities
from gqlorders.orders.queries import (
    SalesOrderFilter,
    SalesOrderSortField,
    count_customers_sales_orders,
    filtered_sales_orders,
    list_customers_sales_orders,
    sort_key,
)
from gqlorders.orders.statuses import ACCEPTED

__all__ = [
    "ACCEPTED",
    "HEADER_KEYS",
    "AdjustmentInput",
    "AlreadyImported",
    "DiscountInput",
    "LineInput",
    "MarketplaceSource",
    "NewSalesOrder",
    "OrderEventType",
    "QuantityRequest",
    "SalesOrderChanges",
    "SalesOrderFilter",
    "SalesOrderSortField",
    "SendRequest",
    "add_sales_order_lines",
    "confirm_sales_order",
    "count_customers_sales_orders",
    "create_sales_order",
    "delete_sales_order",
    "filtered_sales_orders",
    "get_sales_order",
    "has_active_invoices",
    "list_customers_sales_orders",
    "merge_blockers",
    "merge_sales_orders",
    "record_event",
    "refresh_fulfilment",
    "requested_quantities",
    "send_sales_order",
    "sort_key",
    "totals_differ",
    "update_sales_order",
    "void_sales_order",
]
