"""Taxes: a name and a percentage; only an organization's own taxes can be applied (SPEC §2)."""

from __future__ import annotations

from decimal import Decimal

from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.models import Tax
from gqlorders.validation import check_decimal, clean_text


async def create_tax(organization_id: int, name: str, percentage: Decimal) -> Tax:
    problems = Problems()
    clean_name = clean_text(problems, name, ("name",), required=True, max_length=100)
    check_decimal(problems, percentage, ("percentage",), places=4, maximum=Decimal(100))
    problems.raise_if_any()
    return await Tax.create(organization_id=organization_id, name=clean_name, percentage=percentage)


async def get_tax(organization_id: int, tax_id: int, field: FieldPath) -> Tax:
    tax = await Tax.filter(organization_id=organization_id, id=tax_id).first()
    if tax is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such tax")
    return tax


async def list_taxes(organization_id: int) -> list[Tax]:
    return await Tax.filter(organization_id=organization_id).order_by("name", "id")
