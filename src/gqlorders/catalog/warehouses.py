"""Warehouses: where goods are kept; exactly one is the organization's primary (SPEC §2)."""

from __future__ import annotations

from tortoise.exceptions import DoesNotExist

from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.models import Warehouse
from gqlorders.prepared import PreparedSelect
from gqlorders.validation import clean_text

# Every order creation asks one of them: built once (prepared.py).
_WAREHOUSE = PreparedSelect(
    lambda organization_id, warehouse_id: Warehouse.filter(
        organization_id=organization_id, id=warehouse_id
    ).limit(1)
)
_PRIMARY_WAREHOUSE = PreparedSelect(
    lambda organization_id: Warehouse.filter(
        organization_id=organization_id, is_primary=True
    ).limit(1)
)


async def create_warehouse(organization_id: int, name: str) -> Warehouse:
    problems = Problems()
    clean_name = clean_text(problems, name, ("name",), required=True)
    problems.raise_if_any()
    return await Warehouse.create(organization_id=organization_id, name=clean_name)


async def get_warehouse(organization_id: int, warehouse_id: int, field: FieldPath) -> Warehouse:
    found = await _WAREHOUSE(organization_id, warehouse_id)
    if not found:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such warehouse")
    return found[0]


async def primary_warehouse(organization_id: int) -> Warehouse:
    """Every organization has one from its creation on (tenancy.create_organization)."""
    found = await _PRIMARY_WAREHOUSE(organization_id)
    if not found:
        raise DoesNotExist(Warehouse)
    return found[0]


async def list_warehouses(organization_id: int) -> list[Warehouse]:
    return await Warehouse.filter(organization_id=organization_id).order_by(
        "-is_primary", "name", "id"
    )
