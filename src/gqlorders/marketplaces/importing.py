"""Importing marketplace orders (SPEC §9): customers by e-mail, items by SKU, idempotency.

An import is keyed on (organization, marketplace, external id): a re-delivery returns the
same order, updated only when the marketplace says it is newer and the order is still
editable. Imported orders arrive CONFIRMED, keep the marketplace's prices and its lines' taxes
(INCLUSIVE when its prices include them), and record the marketplace's own totals beside ours.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gqlorders import events, jobs
from gqlorders.catalog.customers import NewCustomer, create_customer
from gqlorders.errors import DomainError, ErrorCode, Problem, Problems
from gqlorders.events import EventType
from gqlorders.marketplaces import (
    InvalidPayload,
    MarketplaceAdapter,
    MarketplaceOrder,
    get_adapter,
    installed_adapters,
)
from gqlorders.models import (
    Customer,
    DiscountType,
    DocumentKind,
    InboxMessage,
    InboxState,
    Item,
    MarketplaceConnection,
    NumberingMode,
    NumberSequence,
    SalesOrder,
    Tax,
)
from gqlorders.money import TaxMode
from gqlorders.orders import (
    AlreadyImported,
    DiscountInput,
    LineInput,
    MarketplaceSource,
    NewSalesOrder,
    SalesOrderChanges,
    create_sales_order,
    update_sales_order,
)
from gqlorders.tenancy import Principal

logger = logging.getLogger("gqlorders.marketplaces")

PERCENT_PLACES = Decimal("0.0001")
MAX_EXTERNAL_ID = 100
CURRENCY = re.compile(r"^[A-Z]{3}$")
MARKETPLACE_TITLES = {"woocommerce": "WooCommerce", "shopify": "Shopify", "amazon": "Amazon"}
WEBHOOK_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what secrets.token_urlsafe gives


@dataclass(frozen=True)
class ImportResult:
    order: SalesOrder
    created: bool


def marketplace_names() -> list[str]:
    return sorted(installed_adapters())


def adapter_for(name: str) -> MarketplaceAdapter:
    adapter = get_adapter(name)
    if adapter is None:
        raise DomainError.one(
            ErrorCode.UNKNOWN_MARKETPLACE,
            ("marketplace",),
            f"no adapter is installed for {name!r} (installed: {', '.join(marketplace_names())})",
        )
    return adapter


def parse(adapter: MarketplaceAdapter, payload: Any) -> MarketplaceOrder:
    try:
        return adapter.parse_order(payload)
    except InvalidPayload as error:
        raise DomainError.one(
            ErrorCode.INVALID_PAYLOAD, ("payload", *error.path), str(error)
        ) from None


async def _items_by_sku(organization_id: int, parsed: MarketplaceOrder) -> dict[str, Item]:
    """Each line's item by the line's `sku`, or UNKNOWN_SKU naming every line that has none."""
    skus = {line.sku for line in parsed.lines if line.sku}
    found = await Item.filter(organization_id=organization_id, sku__in=skus)
    items = {item.sku: item for item in found}
    problems = Problems()
    if not parsed.lines:
        problems.add(ErrorCode.INVALID_PAYLOAD, ("payload", "lines"), "the order has no lines")
    for index, line in enumerate(parsed.lines):
        if not line.sku:
            problems.add(
                ErrorCode.UNKNOWN_SKU,
                ("payload", "lines", index),
                f"line {index + 1} ({line.description!r}) has no SKU",
            )
        elif line.sku not in items:
            problems.add(
                ErrorCode.UNKNOWN_SKU,
                ("payload", "lines", index),
                f"line {index + 1}: no item has SKU {line.sku!r}",
            )
    problems.raise_if_any()
    return items


async def _customer(organization_id: int, marketplace: str, parsed: MarketplaceOrder) -> Customer:
    """The buyer: matched by e-mail, else by the marketplace identity, else created."""
    buyer = parsed.customer
    identity = f"{marketplace}:{buyer.identity}" if buyer.identity else None
    match = Q()
    if buyer.email:
        match |= Q(email__iexact=buyer.email.strip())
    if identity:
        match |= Q(marketplace_identity=identity)
    if buyer.email or identity:
        found = await Customer.filter(match, organization_id=organization_id).order_by("id").first()
        if found is not None:
            return found
    billing = parsed.billing_address.as_dict() if parsed.billing_address else None
    shipping = parsed.shipping_address.as_dict() if parsed.shipping_address else billing
    customer = await create_customer(
        organization_id,
        NewCustomer(
            name=buyer.name or buyer.email or "Marketplace customer",
            email=buyer.email,
            phone=buyer.phone,
            currency=parsed.currency.upper(),
            billing_address=billing,
            shipping_address=shipping,
        ),
    )
    if identity:
        customer.marketplace_identity = identity
        await customer.save(update_fields=["marketplace_identity"])
    return customer


async def _tax(organization_id: int, marketplace: str, percentage: Decimal) -> Tax:
    """The organization's tax for a marketplace rate (created the first time it is seen)."""
    name = f"{MARKETPLACE_TITLES.get(marketplace, marketplace.title())} {percentage.normalize():f}%"
    # Tax names are not unique (a seller may have made one of the same name): the oldest, not
    # whichever row the database happens to return first.
    tax = await Tax.filter(organization_id=organization_id, name=name).order_by("id").first()
    return tax or await Tax.create(
        organization_id=organization_id, name=name, percentage=percentage
    )


def _tax_mode(parsed: MarketplaceOrder) -> TaxMode:
    """Gross marketplace prices make an INCLUSIVE order: the VAT stays inside them."""
    return TaxMode.INCLUSIVE if parsed.prices_include_tax else TaxMode.EXCLUSIVE


async def _line_inputs(
    organization_id: int,
    marketplace: str,
    parsed: MarketplaceOrder,
    items: dict[str, Item],
) -> list[LineInput]:
    """Lines at the marketplace's unit prices, each with its tax: the rate the marketplace
    gives, else the one its tax amount makes on the line's net amount (a gross line's net is
    its amount less that tax)."""
    lines = []
    for line in parsed.lines:
        assert line.sku is not None  # _items_by_sku refused the order otherwise
        tax_id = None
        if line.tax:
            percentage = line.tax_percentage
            base = line.quantity * line.unit_price - line.discount
            if parsed.prices_include_tax:
                base -= line.tax
            if percentage is None and base > 0:
                percentage = (line.tax / base * 100).quantize(PERCENT_PLACES)
            if percentage:
                tax_id = (await _tax(organization_id, marketplace, percentage)).id
        lines.append(
            LineInput(
                item_id=items[line.sku].id,
                quantity=line.quantity,
                rate=line.unit_price,
                description=line.description[:2000] or None,
                tax_id=tax_id,
                tax_given=True,
            )
        )
    return lines


def _source(marketplace: str, parsed: MarketplaceOrder) -> MarketplaceSource:
    totals = parsed.totals
    return MarketplaceSource(
        marketplace=marketplace,
        external_id=parsed.external_id,
        updated_at=parsed.updated_at,
        currency=parsed.currency.upper(),
        totals={
            "subTotal": str(totals.sub_total),
            "discount": str(totals.discount),
            "shipping": str(totals.shipping),
            "tax": str(totals.tax),
            "total": str(totals.total),
            "shippingTax": str(parsed.extra.get("shipping_tax", Decimal(0))),
        },
    )


async def _number(organization_id: int, marketplace: str, parsed: MarketplaceOrder) -> str | None:
    """AUTO numbering numbers imports like any order; MANUAL gets the marketplace's name."""
    sequence = await NumberSequence.get(
        organization_id=organization_id, document=DocumentKind.SALES_ORDER
    )
    if sequence.mode == NumberingMode.MANUAL:
        return f"{marketplace.upper()}-{parsed.name.lstrip('#')}"[:50]
    return None


async def import_order(principal: Principal, marketplace: str, payload: Any) -> ImportResult:
    """Import one marketplace order, all or nothing.

    The whole import is one transaction holding the organization's order-number row (the lock
    every order creation takes, for a moment, to number the order), so concurrent imports of one
    organization never create the same buyer or tax twice, and a refused order leaves no
    customer or tax behind.
    """
    organization_id = principal.organization_id
    adapter = adapter_for(marketplace)
    parsed = _checked(parse(adapter, payload))
    try:
        async with in_transaction():
            await (
                NumberSequence.filter(
                    organization_id=organization_id, document=DocumentKind.SALES_ORDER
                )
                .select_for_update()
                .get()
            )
            return await _import_locked(principal, adapter.name, parsed)
    except DomainError as error:
        raise _under_payload(error) from None


def _checked(parsed: MarketplaceOrder) -> MarketplaceOrder:
    """What an adapter may pass on but our columns cannot hold is the payload's fault."""
    problems = Problems()
    if not parsed.external_id or len(parsed.external_id) > MAX_EXTERNAL_ID:
        problems.add(
            ErrorCode.INVALID_PAYLOAD, ("payload", "id"), "the order id is missing or too long"
        )
    if not CURRENCY.match(parsed.currency.upper()):
        problems.add(ErrorCode.INVALID_PAYLOAD, ("payload", "currency"), "not an ISO 4217 currency")
    problems.raise_if_any()
    return parsed


def _under_payload(error: DomainError) -> DomainError:
    """Order and customer rules name their own fields: report them inside the payload."""
    return DomainError(
        [
            problem
            if problem.field[:1] in (("payload",), ("marketplace",))
            else Problem(problem.code, ("payload", *problem.field), problem.message)
            for problem in error.problems
        ]
    )


async def _import_locked(
    principal: Principal, marketplace: str, parsed: MarketplaceOrder
) -> ImportResult:
    organization_id = principal.organization_id
    existing = await SalesOrder.filter(
        organization_id=organization_id, marketplace=marketplace, external_id=parsed.external_id
    ).first()
    items = await _items_by_sku(organization_id, parsed)
    if existing is not None:
        return await _redelivered(principal, marketplace, parsed, existing, items)
    customer = await _customer(organization_id, marketplace, parsed)
    discount = sum((line.discount for line in parsed.lines), Decimal(0))
    data = NewSalesOrder(
        customer_id=customer.id,
        lines=await _line_inputs(organization_id, marketplace, parsed, items),
        number=await _number(organization_id, marketplace, parsed),
        reference_number=parsed.name[:100] or None,
        date=parsed.order_date,
        billing_address=parsed.billing_address.as_dict() if parsed.billing_address else None,
        shipping_address=parsed.shipping_address.as_dict() if parsed.shipping_address else None,
        discount=DiscountInput(DiscountType.AMOUNT, discount) if discount else None,
        shipping_charge=parsed.shipping_charge,
        notes=parsed.notes,
        tax_mode=_tax_mode(parsed),  # never the organization's default: the marketplace says
        confirm=True,
        source=_source(marketplace, parsed),
    )
    try:
        order = await create_sales_order(principal, data)
    except AlreadyImported:
        order = await SalesOrder.get(
            organization_id=organization_id, marketplace=marketplace, external_id=parsed.external_id
        )
        return ImportResult(order, created=False)
    await events.record(EventType.MARKETPLACE_ORDER_IMPORTED, order, principal.actor)
    return ImportResult(order, created=True)


async def _redelivered(
    principal: Principal,
    marketplace: str,
    parsed: MarketplaceOrder,
    order: SalesOrder,
    items: dict[str, Item],
) -> ImportResult:
    """A known order: update it when the marketplace's version is newer and it is editable."""
    newer = order.marketplace_updated_at is None or parsed.updated_at > order.marketplace_updated_at
    if not newer:
        return ImportResult(order, created=False)
    discount = sum((line.discount for line in parsed.lines), Decimal(0))
    changes = SalesOrderChanges(
        fields={
            "shipping_charge": parsed.shipping_charge,
            "discount": DiscountInput(DiscountType.AMOUNT, discount) if discount else None,
            "notes": parsed.notes,  # the mode stays the first delivery's: a later one that
            # reads the other way (an Amazon total arriving late) must not lose the update
        },
        lines=await _line_inputs(principal.organization_id, marketplace, parsed, items),
    )
    try:
        order = await update_sales_order(principal, order.id, changes)
    except DomainError:  # invoiced, packed, closed...: the order stays as it is
        return ImportResult(order, created=False)
    source = _source(marketplace, parsed)
    await SalesOrder.filter(id=order.id).update(
        marketplace_updated_at=source.updated_at, marketplace_totals=source.totals
    )
    await order.refresh_from_db()
    return ImportResult(order, created=False)


# --- webhooks -------------------------------------------------------------------------------


async def connect_marketplace(
    organization_id: int, marketplace: str, webhook_secret: str
) -> MarketplaceConnection:
    adapter = adapter_for(marketplace)
    problems = Problems()
    if not webhook_secret or not webhook_secret.strip():
        problems.add(ErrorCode.REQUIRED, ("webhookSecret",), "a webhook secret is required")
    elif len(webhook_secret) > 500:
        problems.add(ErrorCode.INVALID, ("webhookSecret",), "the secret is too long")
    problems.raise_if_any()
    return await MarketplaceConnection.create(
        organization_id=organization_id,
        marketplace=adapter.name,
        webhook_key=secrets.token_urlsafe(24),
        webhook_secret=webhook_secret,
    )


def webhook_path(connection: MarketplaceConnection) -> str:
    return f"/webhooks/{connection.webhook_key}"


async def receive_webhook(
    webhook_key: str, body: bytes, headers: dict[str, str]
) -> InboxMessage | None:
    """Store a correctly signed delivery in the inbox and enqueue its import; None (and
    nothing stored) for an unknown connection or a missing or wrong signature."""
    if not WEBHOOK_KEY.match(webhook_key):
        return None
    connection = await MarketplaceConnection.filter(webhook_key=webhook_key).first()
    if connection is None:
        return None
    adapter = get_adapter(connection.marketplace)
    if adapter is None or not adapter.verify_webhook(body, headers, connection.webhook_secret):
        return None
    async with in_transaction():
        message = await InboxMessage.create(
            organization_id=connection.organization_id,
            connection_id=connection.id,
            marketplace=connection.marketplace,
            body=body.decode("utf-8", errors="replace"),
        )
        await jobs.enqueue(jobs.IMPORT_INBOX, inbox_id=message.id)
    return message


async def import_inbox_message(inbox_id: int) -> InboxMessage:
    """Import one stored delivery; a failure stays in the inbox with its error."""
    message = await InboxMessage.get(id=inbox_id)
    if message.state == InboxState.IMPORTED:
        return message
    principal = Principal(
        organization_id=message.organization_id,
        token_id=0,
        scopes=frozenset(),
        actor=f"webhook:{message.marketplace}",
    )
    message.attempts += 1
    try:
        payload = json.loads(message.body)
        result = await import_order(principal, message.marketplace, payload)
    except json.JSONDecodeError as error:
        message.state, message.error = InboxState.FAILED, f"INVALID_PAYLOAD: not JSON ({error})"
    except DomainError as error:
        message.state = InboxState.FAILED
        message.error = "; ".join(f"{p.code}: {p.message}" for p in error.problems)
    except Exception as error:  # an adapter or database failure: kept, visible, retryable
        logger.exception("importing inbox message %s failed", message.id)
        message.state, message.error = InboxState.FAILED, f"INTERNAL: {type(error).__name__}"
    else:
        message.state, message.error = InboxState.IMPORTED, None
        message.sales_order_id = result.order.id
    async with in_transaction():
        await message.save()
        if message.state == InboxState.FAILED:
            await events.record(EventType.MARKETPLACE_MESSAGE_FAILED, message, principal.actor)
    return message


async def retry_inbox_message(organization_id: int, inbox_id: int) -> InboxMessage:
    message = await InboxMessage.filter(organization_id=organization_id, id=inbox_id).first()
    if message is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, ("id",), "no such inbox message")
    if message.state == InboxState.IMPORTED:
        raise DomainError.one(ErrorCode.INVALID_STATUS, ("id",), "the message is already imported")
    return await import_inbox_message(message.id)
