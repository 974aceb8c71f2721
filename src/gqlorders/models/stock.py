"""Stock per item and warehouse (SPEC §7): on hand, committed, and the movements behind them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import QuantityField


# No semicolons in model docstrings: they become table comments, and tortoise splits
# SQLite DDL on semicolons.
class StockLevel(Model):
    """On hand is changed by movements, committed only by the recalculation."""

    id = fields.BigIntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    item = fields.ForeignKeyField("models.Item", related_name=False, on_delete=fields.CASCADE)
    warehouse = fields.ForeignKeyField(
        "models.Warehouse", related_name=False, on_delete=fields.CASCADE
    )
    on_hand = QuantityField()
    committed = QuantityField()

    class Meta:
        table = "stock_level"
        unique_together = (("item", "warehouse"),)


class StockMovement(Model):
    """Why on hand changed: an adjustment (with its reason) or a shipped package."""

    id = fields.BigIntField(primary_key=True)
    organization = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    item = fields.ForeignKeyField("models.Item", related_name=False, on_delete=fields.CASCADE)
    warehouse = fields.ForeignKeyField(
        "models.Warehouse", related_name=False, on_delete=fields.CASCADE
    )
    quantity = QuantityField()
    reason = fields.CharField(max_length=300)
    package = fields.ForeignKeyField(
        "models.Package", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stock_movement"
        indexes = (("organization_id", "item_id", "created_at"),)
