"""Warehouses: where goods are kept; exactly one is the organization's primary (SPEC §2)."""

from __future__ import annotations

from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.models import Warehouse
from gqlorders.validation import clean_text


async def create_warehouse(organization_id: int, name: str) -> Warehouse:
    problems = Problems()
    clean_name = clean_text(problems, name, ("name",), required=True)
    problems.raise_if_any()
    return await Warehouse.create(organization_id=organization_id, name=clean_name)


async def get_warehouse(organization_id: int, warehouse_id: int, field: FieldPath) -> Warehouse:
    warehouse = await Warehouse.filter(organization_id=organization_id, id=warehouse_id).first()
    if warehouse is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such warehouse")
    return warehouse


async def primary_warehouse(organization_id: int) -> Warehouse:
    return await Warehouse.get(organization_id=organization_id, is_primary=True)


async def list_warehouses(organization_id: int) -> list[Warehouse]:
    return await Warehouse.filter(organization_id=organization_id).order_by(
        "-is_primary", "name", "id"
    )
