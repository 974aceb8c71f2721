"""Organization settings (contract `Settings`): currency, numbering, automatic closing and the
tax mode of new orders."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from gqlorders.errors import Problems
from gqlorders.models import CloseSalesOrderWhen, DocumentKind, NumberSequence, Organization
from gqlorders.money import TaxMode
from gqlorders.numbering import NumberingChange, apply_numbering_change, validate_numbering_change


@dataclass(frozen=True)
class OrganizationSettings:
    currency: str
    sales_order_numbering: NumberSequence
    invoice_numbering: NumberSequence
    close_sales_order_when: CloseSalesOrderWhen
    default_tax_mode: TaxMode


@dataclass(frozen=True)
class SettingsChange:
    sales_order_numbering: NumberingChange | None = None
    invoice_numbering: NumberingChange | None = None
    close_sales_order_when: CloseSalesOrderWhen | None = None
    default_tax_mode: TaxMode | None = None


async def get_settings(organization_id: int) -> OrganizationSettings:
    organization = await Organization.get(id=organization_id)
    sequences = {
        s.document: s for s in await NumberSequence.filter(organization_id=organization_id)
    }
    return OrganizationSettings(
        currency=organization.currency,
        sales_order_numbering=sequences[DocumentKind.SALES_ORDER],
        invoice_numbering=sequences[DocumentKind.INVOICE],
        close_sales_order_when=organization.close_sales_order_when,
        default_tax_mode=organization.default_tax_mode,
    )


async def update_settings(organization_id: int, change: SettingsChange) -> OrganizationSettings:
    problems = Problems()
    numbering = {
        DocumentKind.SALES_ORDER: (change.sales_order_numbering, "salesOrderNumbering"),
        DocumentKind.INVOICE: (change.invoice_numbering, "invoiceNumbering"),
    }
    for numbering_change, field in numbering.values():
        if numbering_change is not None:
            problems.extend(validate_numbering_change(numbering_change, (field,)))
    problems.raise_if_any()
    async with in_transaction():
        for document, (numbering_change, _) in numbering.items():
            if numbering_change is not None:
                await apply_numbering_change(organization_id, document, numbering_change)
        if change.close_sales_order_when is not None:
            await Organization.filter(id=organization_id).update(
                close_sales_order_when=change.close_sales_order_when
            )
        if change.default_tax_mode is not None:
            await Organization.filter(id=organization_id).update(
                default_tax_mode=change.default_tax_mode
            )
    return await get_settings(organization_id)
