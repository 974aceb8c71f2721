"""Sales-order types: the order, its lines, totals, source and events."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import strawberry
from strawberry.scalars import JSON

from gqlorders import models, orders, rows
from gqlorders.api.context import Info, require
from gqlorders.api.dataloaders import Loaded, pending, ready, settled
from gqlorders.api.errors import ErrorCodeType, raises_query_errors
from gqlorders.api.ids import encode_id
from gqlorders.api.prefetch import connection_nodes, joined_order_relations, prefetch_sales_orders
from gqlorders.api.types.catalog import Customer, Item, Tax, Warehouse
from gqlorders.api.types.common import (
    Address,
    Connection,
    DiscountType,
    InvoicedStatus,
    Node,
    PaymentTerms,
    SalesOrderStatus,
    ShippedStatus,
    TaxMode,
    connection,
    global_id,
    is_row_of,
)
from gqlorders.errors import ErrorCode
from gqlorders.orders import has_active_invoices, list_customers_sales_orders, merge_blockers
from gqlorders.stock import indicators
from gqlorders.tenancy import Scope

if TYPE_CHECKING:
    from gqlorders.api.types.fulfilment import EmailMessage, Invoice, Package

# Invoice, Package and EmailMessage, which refer to SalesOrder in their turn.
_FULFILMENT_TYPES = strawberry.lazy("gqlorders.api.types.fulfilment")


@strawberry.enum
class MarketplaceChannel(Enum):
    DIRECT = "DIRECT"
    MARKETPLACE = "MARKETPLACE"


@strawberry.type
class MarketplaceTotals:
    """The marketplace's own figures for an imported order."""

    sub_total: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


@strawberry.type
class OrderSource:
    channel: MarketplaceChannel
    marketplace: str | None
    external_id: str | None
    reported_totals: MarketplaceTotals | None = strawberry.field(
        default=None, description="The marketplace's own totals, kept beside ours."
    )
    totals_differ: bool = strawberry.field(
        default=False,
        description=(
            "Whether the marketplace's total or tax total differs from ours (a gross order's"
            " total is the same either way: its taxes may round per line there, per group here)."
        ),
    )


TotalsRow = models.SalesOrder | models.Invoice  # rows that carry totals


@strawberry.type
class Discount:
    type: DiscountType
    value: Decimal
    amount: Decimal

    @classmethod
    def of(cls, row: TotalsRow) -> Discount | None:
        if row.discount_type is None:
            return None
        return cls(type=row.discount_type, value=row.discount_value, amount=row.discount_amount)


@strawberry.type
class Adjustment:
    label: str | None
    amount: Decimal

    @classmethod
    def of(cls, row: TotalsRow) -> Adjustment | None:
        if row.adjustment_amount is None:
            return None
        return cls(label=row.adjustment_label, amount=row.adjustment_amount)


@strawberry.type
class TaxTotal:
    tax_id: strawberry.Private[int]
    amount: Decimal

    @strawberry.field(graphql_type=Tax)
    def tax(self, info: Info) -> Loaded[models.Tax | None]:
        return ready(info.context.loaders.tax, self.tax_id)

    @classmethod
    def of(cls, row: TotalsRow) -> list[TaxTotal]:
        return [cls(tax_id=t["tax_id"], amount=Decimal(t["amount"])) for t in row.tax_totals]


NOT_REQUESTED = "NOT_REQUESTED"  # no document row: nobody asked for the record's PDF
DOCUMENT_STATE_DESCRIPTIONS = {
    NOT_REQUESTED: "Nobody has asked for this record's PDF: nothing is rendering, no url.",
    models.DocumentState.PENDING: "Asked for: the record's current version is being rendered.",
    models.DocumentState.READY: "Rendered: url downloads it, with the same bearer token.",
    models.DocumentState.FAILED: "Rendering failed: error says why.",
}

# The API's states: NOT_REQUESTED, then the stored ones (models.DocumentState), built from them
# so that a stored state cannot be missing here; one without a description fails at import.
# (mypy types only an Enum whose members are written out, hence the ignore.)
DocumentState: type[Enum] = Enum(  # type: ignore[misc]
    "DocumentState",
    {
        state: strawberry.enum_value(state, description=DOCUMENT_STATE_DESCRIPTIONS[state])
        for state in (NOT_REQUESTED, *(str(stored) for stored in models.DocumentState))
    },
)
strawberry.enum(DocumentState, description="Where a record's PDF stands.")


@strawberry.type
class Document:
    """A PDF: NOT_REQUESTED until asked for, then PENDING until the worker has rendered the
    current version, READY (with its url) or FAILED (with the error)."""

    state: Enum = strawberry.field(graphql_type=DocumentState)
    url: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, row: models.Document | None, url: str) -> Document:
        if row is None:
            return cls(state=DocumentState(NOT_REQUESTED))
        ready = row.state == models.DocumentState.READY
        return cls(state=DocumentState(row.state), url=url if ready else None, error=row.error)


@strawberry.type
class OrderEvent:
    type: str
    at: datetime
    actor: str | None
    data: JSON | None


StockStatus = indicators.StockStatus
strawberry.enum(StockStatus)


@strawberry.type
class SalesOrderLine:
    description: str | None
    quantity: Decimal
    rate: Decimal
    discount_percent: Decimal
    amount: Decimal
    quantity_invoiced: Decimal
    quantity_packed: Decimal
    quantity_shipped: Decimal
    id: strawberry.ID = global_id("SalesOrderLine")

    @strawberry.field(graphql_type=Item)
    def item(
        self, root: strawberry.Parent[models.SalesOrderLine], info: Info
    ) -> Loaded[models.Item | None]:
        return ready(info.context.loaders.item, root.item_id)

    @strawberry.field(
        description="Can the warehouse serve what remains? Null for services.",
        graphql_type=StockStatus | None,
    )
    def stock_status(
        self, root: strawberry.Parent[models.SalesOrderLine], info: Info
    ) -> StockStatus | Awaitable[StockStatus | None] | None:
        loaders = info.context.loaders
        item = ready(loaders.item, root.item_id)
        order = ready(loaders.sales_order, root.sales_order_id)
        if pending(item) or pending(order):
            return _stock_status_later(root, info, item, order)
        if item is None or item.kind != models.ItemKind.GOODS:
            return None
        levels = ready(loaders.stock_levels, item.id)
        if pending(levels):
            return _stock_status_later(root, info, item, order)
        return _stock_status(root, order, levels)

    @strawberry.field(graphql_type=Tax | None)
    def tax(
        self, root: strawberry.Parent[models.SalesOrderLine], info: Info
    ) -> Loaded[models.Tax | None]:
        if root.tax_id is None:
            return None
        return ready(info.context.loaders.tax, root.tax_id)


def _stock_status(
    line: models.SalesOrderLine, order: models.SalesOrder | None, levels: list[models.StockLevel]
) -> indicators.StockStatus:
    assert order is not None  # a line's order is of the line's organization, and not deleted
    return indicators.order_line_stock_status(line, order, levels)


async def _stock_status_later(
    line: models.SalesOrderLine,
    info: Info,
    item: Loaded[models.Item | None],
    order: Loaded[models.SalesOrder | None],
) -> indicators.StockStatus | None:
    loaded_item = await settled(item)
    if loaded_item is None or loaded_item.kind != models.ItemKind.GOODS:
        return None
    loaded_order = await settled(order)
    levels = await info.context.loaders.stock_levels.load(loaded_item.id)
    return _stock_status(line, loaded_order, levels)


@strawberry.type
class SalesOrder(Node):
    is_type_of = is_row_of(models.SalesOrder)

    number: str
    reference_number: str | None
    status: SalesOrderStatus
    invoiced_status: InvoicedStatus
    shipped_status: ShippedStatus
    date: dt.date
    expected_shipment_date: dt.date | None
    delivery_method: str | None
    currency: str
    tax_mode: TaxMode = strawberry.field(
        description="INCLUSIVE: the rates contain their taxes, and the total adds none."
    )
    sub_total: Decimal
    tax_total: Decimal
    shipping_charge: Decimal
    total: Decimal
    notes: str | None
    terms: str | None
    created_at: datetime
    updated_at: datetime
    id: strawberry.ID = global_id("SalesOrder")

    @strawberry.field(graphql_type=Customer)
    def customer(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[models.Customer | None]:
        return ready(info.context.loaders.customer, root.customer_id)

    @strawberry.field(graphql_type=Warehouse)
    def warehouse(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[models.Warehouse | None]:
        return ready(info.context.loaders.warehouse, root.warehouse_id)

    @strawberry.field
    def payment_terms(self, root: strawberry.Parent[models.SalesOrder]) -> PaymentTerms | None:
        return PaymentTerms.of(root.payment_terms_days, root.payment_terms_label)

    @strawberry.field
    def billing_address(self, root: strawberry.Parent[models.SalesOrder]) -> Address | None:
        return Address.of(root.billing_address)

    @strawberry.field
    def shipping_address(self, root: strawberry.Parent[models.SalesOrder]) -> Address | None:
        return Address.of(root.shipping_address)

    @strawberry.field(graphql_type=list[SalesOrderLine])
    def lines(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[list[models.SalesOrderLine]]:
        return ready(info.context.loaders.order_lines, root.id)

    @strawberry.field
    def discount(self, root: strawberry.Parent[models.SalesOrder]) -> Discount | None:
        return Discount.of(root)

    @strawberry.field
    def taxes(self, root: strawberry.Parent[models.SalesOrder]) -> list[TaxTotal]:
        return TaxTotal.of(root)

    @strawberry.field
    def adjustment(self, root: strawberry.Parent[models.SalesOrder]) -> Adjustment | None:
        return Adjustment.of(root)

    @strawberry.field
    def source(self, root: strawberry.Parent[models.SalesOrder]) -> OrderSource:
        if not root.marketplace:
            return OrderSource(
                channel=MarketplaceChannel.DIRECT, marketplace=None, external_id=None
            )
        reported = root.marketplace_totals or None
        totals = (
            MarketplaceTotals(
                sub_total=Decimal(reported["subTotal"]),
                discount=Decimal(reported["discount"]),
                shipping=Decimal(reported["shipping"]),
                tax=Decimal(reported["tax"]),
                total=Decimal(reported["total"]),
            )
            if reported
            else None
        )
        return OrderSource(
            channel=MarketplaceChannel.MARKETPLACE,
            marketplace=root.marketplace,
            external_id=root.external_id,
            reported_totals=totals,
            totals_differ=reported is not None
            and orders.totals_differ(reported, root.total, root.tax_total),
        )

    @strawberry.field(graphql_type=bool)
    def mergeable(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> bool | Awaitable[bool]:
        blockers = _merge_blockers(root, info)
        if isinstance(blockers, list):
            return not blockers
        return _not_blocked_later(blockers)

    @strawberry.field(
        description="Why this order cannot be merged at all right now.",
        graphql_type=list[ErrorCodeType],
    )
    def merge_blockers(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> list[ErrorCode] | Awaitable[list[ErrorCode]]:
        return _merge_blockers(root, info)

    @strawberry.field(graphql_type=list[Annotated["Invoice", _FULFILMENT_TYPES]])
    def invoices(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[list[models.Invoice]]:
        return ready(info.context.loaders.order_invoices, root.id)

    @strawberry.field(graphql_type=list[Annotated["Package", _FULFILMENT_TYPES]])
    def packages(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[list[models.Package]]:
        return ready(info.context.loaders.order_packages, root.id)

    @strawberry.field(
        description="The order's PDF; ask for it with renderSalesOrderPdf.", graphql_type=Document
    )
    def pdf(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Document | Awaitable[Document]:
        url = f"/documents/sales-orders/{encode_id('SalesOrder', root.id)}.pdf"
        return document_of(ready(info.context.loaders.order_document, root.id), url)

    @strawberry.field(graphql_type=list[Annotated["EmailMessage", _FULFILMENT_TYPES]])
    def emails(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[list[models.EmailMessage]]:
        return ready(info.context.loaders.order_emails, root.id)

    @strawberry.field(graphql_type=Optional["SalesOrder"])
    def merged_into(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[models.SalesOrder | None] | None:
        if root.merged_into_id is None:
            return None
        return ready(info.context.loaders.sales_order, root.merged_into_id)

    @strawberry.field(graphql_type=list[OrderEvent])
    def events(
        self, root: strawberry.Parent[models.SalesOrder], info: Info
    ) -> Loaded[list[models.OrderEvent]]:
        return ready(info.context.loaders.order_events, root.id)


def document_of(row: Loaded[models.Document | None], url: str) -> Document | Awaitable[Document]:
    """Document.of a loaded row, or of the row once the loader has it."""
    if pending(row):

        async def later() -> Document:
            return Document.of(await row, url)

        return later()
    return Document.of(row, url)


def _merge_blockers(
    order: models.SalesOrder, info: Info
) -> list[ErrorCode] | Awaitable[list[ErrorCode]]:
    loaders = info.context.loaders
    invoices = ready(loaders.order_invoices, order.id)
    packages = ready(loaders.order_packages, order.id)
    if pending(invoices) or pending(packages):
        return _merge_blockers_later(order, invoices, packages)
    return _blockers(order, invoices, packages)


def _blockers(
    order: models.SalesOrder, invoices: list[models.Invoice], packages: list[models.Package]
) -> list[ErrorCode]:
    return merge_blockers(order, bool(packages), has_active_invoices(invoices))


async def _merge_blockers_later(
    order: models.SalesOrder,
    invoices: Loaded[list[models.Invoice]],
    packages: Loaded[list[models.Package]],
) -> list[ErrorCode]:
    return _blockers(order, await settled(invoices), await settled(packages))


async def _not_blocked_later(blockers: Awaitable[list[ErrorCode]]) -> bool:
    return not await blockers


@raises_query_errors
async def customer_sales_orders(
    info: Info, customer_id: int, first: int | None, after: str | None
) -> Connection[Any]:
    """A customer's orders, loaded with those of every customer of the list it belongs to: a
    page of customers costs one statement for all their orders, one for their counts and the
    orders' selected relations (api/prefetch.py), however many customers it holds.

    The loader is the field's at this place of the result (list indices aside) with these
    arguments: every customer there has the same selection, so the first one's serves all. (The
    operations of a batched request share the loaders: one of them may meet another's loader
    with another selection, and then loads what that one did not prefetch as any list does.)
    """
    principal = require(info, Scope.ORDERS_READ)  # reachable from a mutation with write alone
    place = tuple(key for key in info.path.as_list() if isinstance(key, str))
    load = functools.partial(_customers_sales_orders, info, principal.organization_id, first, after)
    return await info.context.loaders.of_field((place, first, after), load).load(customer_id)


async def _customers_sales_orders(
    info: Info, organization_id: int, first: int | None, after: str | None, customer_ids: list[int]
) -> list[Connection[Any]]:
    loaders = info.context.loaders
    nodes = connection_nodes(info)
    pages = await list_customers_sales_orders(
        organization_id,
        customer_ids,
        first=first,
        after=after,
        select_related=joined_order_relations(nodes),
        fetch=rows.fetch,
    )
    orders = [order for page in pages.values() for order in page.rows]
    await prefetch_sales_orders(loaders, organization_id, orders, nodes)
    count = loaders.customer_order_count.load
    return [connection(pages[c], functools.partial(count, c)) for c in customer_ids]
