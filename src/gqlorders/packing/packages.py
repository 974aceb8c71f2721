"""Packing goods of an order, shipping and delivering packages (SPEC §6).

Same lock order as invoicing: the sales order row first, then its package.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.timezone import now
from tortoise.transactions import in_transaction

from gqlorders import events
from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.events import EventType
from gqlorders.models import (
    DocumentKind,
    Item,
    ItemKind,
    Package,
    PackageLine,
    PackageStatus,
    SalesOrder,
    SalesOrderLine,
)
from gqlorders.numbering import assign_number
from gqlorders.orders import (
    ACCEPTED,
    OrderEventType,
    QuantityRequest,
    get_sales_order,
    record_event,
    refresh_fulfilment,
    requested_quantities,
)
from gqlorders.rows import column
from gqlorders.stock.levels import move_on_hand
from gqlorders.stock.requests import request_recalculation
from gqlorders.tenancy import Principal
from gqlorders.validation import clean_text


@dataclass(frozen=True)
class Shipment:
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None


async def create_package(
    principal: Principal, order_id: int, requests: list[QuantityRequest] | None
) -> Package:
    """Pack all remaining goods, or the chosen quantities; services are never packed."""
    problems = Problems()
    async with in_transaction():
        order = await get_sales_order(
            principal.organization_id, order_id, ("salesOrderId",), lock=True
        )
        if order.status not in ACCEPTED:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS,
                ("salesOrderId",),
                f"a {order.status} order cannot be packed: confirm it first",
            )
        lines = {
            line.id: line
            for line in await SalesOrderLine.filter(sales_order_id=order.id).order_by(
                "position", "id"
            )
        }
        goods = set(
            await column(
                Item.filter(
                    id__in={line.item_id for line in lines.values()},
                    kind=ItemKind.GOODS,
                ),
                "id",
            )
        )
        remaining = {
            line_id: line.quantity - line.quantity_packed
            for line_id, line in lines.items()
            if line.item_id in goods
        }
        quantities = requested_quantities(
            problems, requests, lines, remaining, ErrorCode.OVER_PACKED, "pack"
        )
        if not quantities and not problems:
            problems.add(ErrorCode.INVALID, ("salesOrderId",), "no goods remain to pack")
        problems.raise_if_any()
        package = await Package.create(
            organization_id=principal.organization_id,
            number=await assign_number(
                Package, principal.organization_id, DocumentKind.PACKAGE, None, ("salesOrderId",)
            ),
            sales_order_id=order.id,
        )
        await PackageLine.bulk_create(
            PackageLine(package_id=package.id, sales_order_line_id=line_id, quantity=quantity)
            for line_id, quantity in quantities.items()
        )
        for line_id, quantity in quantities.items():
            line = lines[line_id]
            line.quantity_packed = line.quantity_packed + quantity
            await line.save(update_fields=["quantity_packed"])
        await record_event(
            order, OrderEventType.PACKED, principal.actor, {"package": package.number}
        )
        await events.record(EventType.PACKAGE_CREATED, package, principal.actor)
    return package


async def get_package(organization_id: int, package_id: int, field: FieldPath = ("id",)) -> Package:
    package = await Package.filter(organization_id=organization_id, id=package_id).first()
    if package is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such package")
    return package


async def _locked_package(principal: Principal, package_id: int) -> tuple[SalesOrder, Package]:
    package = await get_package(principal.organization_id, package_id)
    order = await get_sales_order(
        principal.organization_id,
        package.sales_order_id,
        lock=True,
    )
    return order, await Package.get(id=package.id)


async def ship_package(principal: Principal, package_id: int, shipment: Shipment) -> Package:
    """Ship a packed package: its quantities count as shipped (and leave the warehouse)."""
    problems = Problems()
    carrier = clean_text(problems, shipment.carrier, ("carrier",), max_length=100)
    tracking = clean_text(problems, shipment.tracking_number, ("trackingNumber",), max_length=100)
    problems.raise_if_any()
    async with in_transaction():
        order, package = await _locked_package(principal, package_id)
        if package.status != PackageStatus.PACKED:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS, ("id",), f"a {package.status} package cannot be shipped"
            )
        package.status = PackageStatus.SHIPPED
        package.carrier = carrier
        package.tracking_number = tracking
        package.shipped_at = shipment.shipped_at or now()
        await package.save()
        # Package lines in the order they were packed (their ids): order lines are updated in
        # one order by every request.
        packed = await PackageLine.filter(package_id=package.id).order_by("id")
        lines = {
            line.id: line
            for line in await SalesOrderLine.filter(id__in=[p.sales_order_line_id for p in packed])
        }
        leaving: dict[int, Decimal] = defaultdict(Decimal)
        for package_line in packed:
            line = lines[package_line.sales_order_line_id]
            line.quantity_shipped = line.quantity_shipped + package_line.quantity
            await line.save(update_fields=["quantity_shipped"])
            leaving[line.item_id] += package_line.quantity
        for item_id in sorted(leaving):  # stock rows in one order for everyone: no deadlocks
            await move_on_hand(
                principal.organization_id,
                item_id,
                order.warehouse_id,
                -leaving[item_id],
                f"shipped in {package.number}",
                principal.actor,
                package.id,
            )
        await request_recalculation(
            principal.organization_id,
            {line.item_id for line in lines.values()},
        )
        await record_event(
            order,
            OrderEventType.SHIPPED,
            principal.actor,
            {"package": package.number, "carrier": carrier, "trackingNumber": tracking},
        )
        await events.record(EventType.PACKAGE_SHIPPED, package, principal.actor)
        await refresh_fulfilment(order, principal.actor)
    return package


async def deliver_package(principal: Principal, package_id: int) -> Package:
    async with in_transaction():
        order, package = await _locked_package(principal, package_id)
        if package.status != PackageStatus.SHIPPED:
            raise DomainError.one(
                ErrorCode.INVALID_STATUS,
                ("id",),
                f"a {package.status} package cannot be delivered: ship it first",
            )
        package.status = PackageStatus.DELIVERED
        package.delivered_at = now()
        await package.save(update_fields=["status", "delivered_at"])
        await record_event(
            order, OrderEventType.DELIVERED, principal.actor, {"package": package.number}
        )
        await events.record(EventType.PACKAGE_DELIVERED, package, principal.actor)
    return package
