"""Items: what is sold. Goods track stock, services never do (SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from gqlorders.catalog.taxes import get_tax
from gqlorders.errors import DomainError, ErrorCode, Problems
from gqlorders.models import Item, ItemKind
from gqlorders.pagination import Page, SortKey, matching, paginate
from gqlorders.validation import check_decimal, clean_text, search_term


@dataclass(frozen=True)
class NewItem:
    sku: str
    name: str
    kind: ItemKind
    rate: Decimal
    unit: str | None = None
    tax_id: int | None = None
    reorder_level: Decimal | None = None


async def create_item(organization_id: int, data: NewItem) -> Item:
    problems = Problems()
    sku = clean_text(problems, data.sku, ("sku",), required=True, max_length=100)
    name = clean_text(problems, data.name, ("name",), required=True)
    unit = clean_text(problems, data.unit, ("unit",), max_length=30)
    check_decimal(problems, data.rate, ("rate",), places=4)
    check_decimal(problems, data.reorder_level, ("reorderLevel",), places=4)
    problems.raise_if_any()
    if data.tax_id is not None:
        await get_tax(organization_id, data.tax_id, ("taxId",))
    duplicate = DomainError.one(ErrorCode.DUPLICATE_SKU, ("sku",), f"SKU {sku} is already used")
    if await Item.exists(organization_id=organization_id, sku=sku):
        raise duplicate
    try:
        async with in_transaction():  # a savepoint when the caller's transaction is open
            return await Item.create(
                organization_id=organization_id,
                sku=sku,
                name=name,
                kind=data.kind,
                rate=data.rate,
                unit=unit,
                tax_id=data.tax_id,
                reorder_level=data.reorder_level,
            )
    except IntegrityError:  # a concurrent creation took the SKU between the check and the insert
        raise duplicate from None


async def list_items(
    organization_id: int, search: str | None, *, first: int | None, after: str | None
) -> Page[Item]:
    query = Item.filter(organization_id=organization_id)
    if term := search_term(search):
        query = matching(query, term, "sku", "name")
    return await paginate(query, SortKey("sku"), first=first, after=after)
