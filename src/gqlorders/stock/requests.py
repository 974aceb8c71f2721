"""What the other domains ask of stock: a recalculation of committed stock (SPEC §7, §8).

Orders, merging and packing call it inside the transaction of their change. It only writes
a job, and imports no domain: the order domain imports this without an import cycle (the
stock modules read the order statuses from the models: `models/sales_orders.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

from gqlorders import jobs


async def request_recalculation(organization_id: int, item_ids: Iterable[int]) -> None:
    """Ask for committed stock of these items to be recalculated once the change commits."""
    ids = sorted(set(item_ids))
    if ids:
        await jobs.enqueue(jobs.RECALC_STOCK, organization_id=organization_id, item_ids=ids)
