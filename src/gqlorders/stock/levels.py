"""Stock levels: adjustments and shipments move on hand; a set-based recalculation writes
committed. Quantities are scaled integers in SQL (see models/fields.py), so the sums below are
exact on SQLite as on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from gqlorders import events, jobs
from gqlorders.catalog.warehouses import get_warehouse
from gqlorders.database import execute_sql
from gqlorders.errors import DomainError, ErrorCode, Problems
from gqlorders.events import EventType, Resource, item_stock_data
from gqlorders.models import Item, ItemKind, Organization, StockLevel, StockMovement
from gqlorders.models.fields import ScaledDecimalField
from gqlorders.models.sales_orders import ACCEPTED
from gqlorders.rows import column
from gqlorders.tenancy import Principal
from gqlorders.validation import check_decimal, clean_text

QUANTITY = ScaledDecimalField(places=4)  # the column type of every stock quantity
RECALC_BATCH = 2000
RECALC_LOCK = 7_011  # advisory lock class of committed-stock recalculations

# What a change leaves in a level, as every writer's RETURNING gives it: taken while the change
# holds the level's row, so the figures before it (the change undone) are those the previous
# writer left, and each crossing of the reorder level is seen by exactly one change.
_LEVEL_AFTER = """
RETURNING item_id, warehouse_id, on_hand, committed,
  (SELECT reorder_level FROM item WHERE item.id = stock_level.item_id) AS reorder_level
"""

_UPSERT_ON_HAND = f"""
INSERT INTO stock_level (organization_id, item_id, warehouse_id, on_hand, committed)
VALUES ($1, $2, $3, $4, 0)
ON CONFLICT (item_id, warehouse_id) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand
{_LEVEL_AFTER}
"""

# Committed = unshipped goods of confirmed and closed orders (SPEC §7), for every (item,
# warehouse) in scope, zero where nothing is committed any more. One statement per batch of
# items (after a change) or per organization (from scratch); rows already right are not
# rewritten. `lines` and `items` are filled in per use.
_ACCEPTED_SQL = ", ".join(f"'{status}'" for status in ACCEPTED)
_RECALC_COMMITTED = f"""
WITH agg AS (
    SELECT l.item_id, o.warehouse_id, SUM(l.quantity - l.quantity_shipped) AS committed
    FROM sales_order_line l
    JOIN sales_order o ON o.id = l.sales_order_id
    WHERE {{lines}} AND o.status IN ({_ACCEPTED_SQL})
    GROUP BY l.item_id, o.warehouse_id
)
INSERT INTO stock_level (organization_id, item_id, warehouse_id, on_hand, committed)
SELECT i.organization_id, i.id, w.id, 0, COALESCE(agg.committed, 0)
FROM item i
JOIN warehouse w ON w.organization_id = i.organization_id
LEFT JOIN agg ON agg.item_id = i.id AND agg.warehouse_id = w.id
WHERE {{items}} AND i.kind = 'GOODS'
ORDER BY i.id, w.id  -- rows locked in one order by every writer: no deadlocks
ON CONFLICT (item_id, warehouse_id) DO UPDATE SET committed = excluded.committed
WHERE stock_level.committed <> excluded.committed
{{returning}}
"""

# Committed of the levels of these items that have a reorder level, before a recalculation
# (which alone writes committed, one per organization at a time: the figures stay until it).
_COMMITTED_WATCHED = """
SELECT s.item_id, s.warehouse_id, s.committed FROM stock_level s JOIN item i ON i.id = s.item_id
WHERE s.item_id IN ({items}) AND i.reorder_level IS NOT NULL
"""


def _placeholders(count: int, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


async def move_on_hand(
    organization_id: int,
    item_id: int,
    warehouse_id: int,
    quantity: Decimal,
    reason: str,
    actor: str | None,
    package_id: int | None = None,
) -> None:
    """Add `quantity` (any sign) to on hand, atomically, and record the movement; a level it
    brings to its reorder level goes to the feed (STOCK_LEVEL_LOW)."""
    delta = QUANTITY.to_db_value(quantity, None)
    (level,) = await execute_sql(_UPSERT_ON_HAND, [organization_id, item_id, warehouse_id, delta])
    await StockMovement.create(
        organization_id=organization_id,
        item_id=item_id,
        warehouse_id=warehouse_id,
        quantity=quantity,
        reason=reason,
        actor=actor,
        package_id=package_id,
    )
    before = level["on_hand"] - delta - level["committed"]  # no level before: 0 - 0
    await _publish_newly_low([(level, before)], actor)


async def adjust_stock(
    principal: Principal, item_id: int, warehouse_id: int, delta: Decimal, reason: str
) -> Item:
    """A stock adjustment (count, receipt, damage): changes on hand, never below zero."""
    organization_id = principal.organization_id
    problems = Problems()
    check_decimal(problems, delta, ("quantityDelta",), places=4, minimum=None)
    if delta == 0:
        problems.add(ErrorCode.INVALID, ("quantityDelta",), "quantityDelta cannot be zero")
    clean_reason = clean_text(problems, reason, ("reason",), required=True, max_length=300)
    problems.raise_if_any()
    item = await Item.filter(organization_id=organization_id, id=item_id).first()
    if item is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, ("itemId",), "no such item")
    if item.kind != ItemKind.GOODS:
        raise DomainError.one(ErrorCode.INVALID, ("itemId",), "services have no stock")
    await get_warehouse(organization_id, warehouse_id, ("warehouseId",))
    async with in_transaction():
        await move_on_hand(
            organization_id, item_id, warehouse_id, delta, clean_reason or "", principal.actor
        )
        level = (
            await StockLevel.filter(item_id=item_id, warehouse_id=warehouse_id)
            .select_for_update()
            .get()
        )
        if level.on_hand < 0:
            raise DomainError.one(
                ErrorCode.INSUFFICIENT_STOCK,
                ("quantityDelta",),
                f"only {level.on_hand - delta:f} is on hand",
            )
        await jobs.enqueue(jobs.RECALC_STOCK, organization_id=organization_id, item_ids=[item_id])
    return item


async def recalculate_committed(item_ids: list[int], organization_id: int | None = None) -> None:
    """Recompute committed stock of these items in every warehouse: one statement per batch.

    Idempotent. Recalculations of one organization take turns (an advisory lock on
    PostgreSQL; SQLite has a single writer): each statement then reads the orders as committed
    after the previous one wrote, so an older, slower recalculation can never overwrite a newer
    figure with a stale one.
    """
    for start in range(0, len(item_ids), RECALC_BATCH):
        batch = item_ids[start : start + RECALC_BATCH]
        listed = _placeholders(len(batch))
        statement = _RECALC_COMMITTED.format(
            lines=f"l.item_id IN ({listed})", items=f"i.id IN ({listed})", returning=_LEVEL_AFTER
        )
        async with in_transaction():
            await _take_turn(organization_id)
            watched = _COMMITTED_WATCHED.format(items=listed)
            committed_before = {
                (row["item_id"], row["warehouse_id"]): row["committed"]
                for row in await execute_sql(watched, batch)
            }
            changed = await execute_sql(statement, batch)
            await _publish_newly_low(
                [
                    (level, level["on_hand"] - committed_before.get(_level_key(level), 0))
                    for level in changed
                ],
                None,
            )


def _level_key(level: dict[str, Any]) -> tuple[int, int]:
    return level["item_id"], level["warehouse_id"]


async def _publish_newly_low(changes: list[tuple[dict[str, Any], int]], actor: str | None) -> None:
    """A STOCK_LEVEL_LOW event for each level a change has just brought from above its item's
    reorder level to or below it (not for one that was there already; a level that did not
    exist had 0 available). `changes`: each changed level as _LEVEL_AFTER returned it, with
    its available quantity before the change (scaled integers, as in SQL)."""
    newly_low = sorted(
        _level_key(level)
        for level, available_before in changes
        if level["reorder_level"] is not None
        and available_before > level["reorder_level"] >= level["on_hand"] - level["committed"]
    )
    if not newly_low:
        return
    items = {item.id: item for item in await Item.filter(id__in={i for i, _ in newly_low})}
    for item_id, warehouse_id in newly_low:
        item = items[item_id]
        level = await StockLevel.get(item_id=item_id, warehouse_id=warehouse_id)
        await events.publish(
            item.organization_id,
            EventType.STOCK_LEVEL_LOW,
            Resource.ITEM,
            item_id,
            item_stock_data(item, level),
            actor,
        )


async def _take_turn(organization_id: int | None) -> None:
    if organization_id is None or connections.get("default").capabilities.dialect == "sqlite":
        return
    await execute_sql("SELECT pg_advisory_xact_lock($1, $2)", [RECALC_LOCK, organization_id])


async def recalculate_everything(
    organization_id: int | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute committed stock from scratch: one statement per organization, which reads
    each order once (batches of items would scan the orders once per batch). Returns the
    number of goods items covered."""
    organizations = (
        [organization_id]
        if organization_id is not None
        else list(await column(Organization.all().order_by("id"), "id"))
    )
    statement = _RECALC_COMMITTED.format(
        lines="o.organization_id = $1", items="i.organization_id = $1", returning=""
    )
    for done, organization in enumerate(organizations, start=1):
        async with in_transaction():
            await _take_turn(organization)
            await execute_sql(statement, [organization])
        if progress is not None:
            progress(done, len(organizations))
    query = Item.filter(kind=ItemKind.GOODS)
    if organization_id is not None:
        query = query.filter(organization_id=organization_id)
    return await query.count()


async def levels_by_item(organization_id: int, item_ids: list[int]) -> dict[int, list[StockLevel]]:
    levels: dict[int, list[StockLevel]] = {item_id: [] for item_id in item_ids}
    for level in await StockLevel.filter(
        organization_id=organization_id, item_id__in=item_ids
    ).order_by("item_id", "warehouse_id"):
        levels[level.item_id].append(level)
    return levels


async def low_stock_item_ids(organization_id: int, warehouse_id: int | None) -> list[int]:
    """Goods whose available quantity is at or below their reorder level (SPEC §7): in one
    warehouse, or summed over all of them."""
    warehouse_filter = "AND s.warehouse_id = $2" if warehouse_id is not None else ""
    statement = f"""
        SELECT i.id FROM item i
        LEFT JOIN stock_level s ON s.item_id = i.id {warehouse_filter}
        WHERE i.organization_id = $1 AND i.kind = 'GOODS' AND i.reorder_level IS NOT NULL
        GROUP BY i.id, i.reorder_level, i.sku
        HAVING COALESCE(SUM(s.on_hand - s.committed), 0) <= i.reorder_level
        ORDER BY i.sku
    """
    params = [organization_id] if warehouse_id is None else [organization_id, warehouse_id]
    return [row["id"] for row in await execute_sql(statement, params)]
