"""Job functions, shared by arq workers and the in-process runner (SPEC §8).

Each takes arq's `ctx` first and is idempotent: a job may run twice.
"""

from __future__ import annotations

from typing import Any

from gqlorders import jobs
from gqlorders.stock.levels import recalculate_committed


async def recalc_stock(ctx: dict[str, Any], organization_id: int, item_ids: list[int]) -> None:
    """Recompute committed stock of the items a change touched (set-based, idempotent)."""
    await recalculate_committed(item_ids)


FUNCTIONS: dict[str, jobs.JobFunction] = {
    jobs.RECALC_STOCK: recalc_stock,
}
