"""Stock per item and warehouse (SPEC §7): on hand, committed, and the movements behind them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from gqlorders.models.fields import QuantityField

if TYPE_CHECKING:
    from gqlorders.models.catalog import Item, Warehouse
    from gqlorders.models.organizations import Organization
    from gqlorders.models.packages import Package


# No semicolons in model docstrings: they become table comments, and tortoise splits
# SQLite DDL on semicolons.
class StockLevel(Model):
    """On hand is changed by movements, committed only by the recalculation."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name=False, on_delete=fields.CASCADE
    )
    item_id: int
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name=False, on_delete=fields.CASCADE
    )
    warehouse_id: int
    on_hand = QuantityField()
    committed = QuantityField()

    class Meta:
        table = "stock_level"
        unique_together = (("item", "warehouse"),)


class StockMovement(Model):
    """Why on hand changed: an adjustment (with its reason) or a shipped package."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    organization_id: int
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name=False, on_delete=fields.CASCADE
    )
    item_id: int
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name=False, on_delete=fields.CASCADE
    )
    warehouse_id: int
    quantity = QuantityField()
    reason = fields.CharField(max_length=300)
    package: fields.ForeignKeyNullableRelation[Package] = fields.ForeignKeyField(
        "models.Package", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    package_id: int | None
    actor = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stock_movement"
        indexes = (("organization_id", "item_id", "created_at"),)
