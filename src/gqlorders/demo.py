"""Realistic demo data: a small trading business with customers, items, taxes and orders."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from gqlorders.catalog.customers import NewCustomer, PaymentTerms, create_customer
from gqlorders.catalog.items import NewItem, create_item
from gqlorders.catalog.taxes import create_tax
from gqlorders.catalog.warehouses import create_warehouse
from gqlorders.models import DiscountType, ItemKind, Organization
from gqlorders.money import TaxMode
from gqlorders.orders import (
    AdjustmentInput,
    DiscountInput,
    LineInput,
    NewSalesOrder,
    confirm_sales_order,
    create_sales_order,
)
from gqlorders.tenancy import Principal, Scope, create_organization, create_token

DEMO_NAME = "Demo Trading Co."


def _address(street: str, city: str, zip_code: str, country: str, attention: str) -> dict:
    return {
        "attention": attention,
        "street1": street,
        "street2": None,
        "city": city,
        "state": None,
        "zip": zip_code,
        "country": country,
    }


async def create_demo_organization() -> tuple[int, str]:
    """The demo organization (created once) and a fresh full-scope token for it."""
    existing = await Organization.filter(name=DEMO_NAME).order_by("id").first()
    if existing is not None:
        return existing.id, await create_token(existing.id, name="demo")
    organization = await create_organization(DEMO_NAME, "EUR")
    org_id = organization.id
    principal = Principal(org_id, 0, frozenset(Scope), "demo")
    await create_warehouse(org_id, "Lyon annex")
    vat = await create_tax(org_id, "VAT 20%", Decimal("20"))
    reduced = await create_tax(org_id, "VAT 5.5%", Decimal("5.5"))
    items = [
        await create_item(org_id, NewItem(sku, name, kind, Decimal(rate), unit, tax.id, level))
        for sku, name, kind, rate, unit, tax, level in (
            ("CHAIR-OAK", "Oak dining chair", ItemKind.GOODS, "89.90", "pcs", vat, Decimal(10)),
            (
                "TABLE-OAK",
                "Oak dining table 180 cm",
                ItemKind.GOODS,
                "749.00",
                "pcs",
                vat,
                Decimal(2),
            ),
            ("LAMP-BRASS", "Brass pendant lamp", ItemKind.GOODS, "129.50", "pcs", vat, Decimal(5)),
            (
                "COFFEE-1KG",
                "Single-origin coffee beans 1 kg",
                ItemKind.GOODS,
                "24.80",
                "kg",
                reduced,
                Decimal(20),
            ),
            ("ASSEMBLY", "On-site assembly", ItemKind.SERVICE, "65.00", "h", vat, None),
        )
    ]
    customers = [
        await create_customer(
            org_id,
            NewCustomer(
                name=name,
                email=email,
                payment_terms=PaymentTerms(days, None),
                billing_address=address,
                shipping_address=address,
            ),
        )
        for name, email, days, address in (
            (
                "Bistrot des Halles",
                "achats@bistrot-halles.example",
                30,
                _address("12 rue des Halles", "Paris", "75001", "FR", "Camille Martin"),
            ),
            (
                "Hôtel Belvédère",
                "compta@belvedere.example",
                45,
                _address("3 quai du Rhône", "Lyon", "69002", "FR", "Service achats"),
            ),
            (
                "Atelier Nord",
                "hello@ateliernord.example",
                0,
                _address("8 Grand-Place", "Lille", "59000", "FR", "Jonas Peeters"),
            ),
        )
    ]
    chair, table, lamp, coffee, assembly = items
    today = date.today()
    orders = [
        NewSalesOrder(
            customer_id=customers[0].id,
            reference_number="PO-2026-118",
            expected_shipment_date=today + timedelta(days=7),
            lines=[
                LineInput(item_id=table.id, quantity=Decimal(2)),
                LineInput(item_id=chair.id, quantity=Decimal(12), discount_percent=Decimal(10)),
                LineInput(item_id=assembly.id, quantity=Decimal("3.5")),
            ],
            shipping_charge=Decimal("45.00"),
            notes="Deliver through the service entrance.",
        ),
        NewSalesOrder(
            customer_id=customers[1].id,
            lines=[
                LineInput(item_id=lamp.id, quantity=Decimal(8)),
                LineInput(item_id=coffee.id, quantity=Decimal("12.5")),
            ],
            discount=DiscountInput(DiscountType.PERCENTAGE, Decimal(5)),
        ),
        NewSalesOrder(  # a counter sale at gross prices: 95.60 holds 4.98 of VAT 5.5 %
            customer_id=customers[2].id,
            lines=[LineInput(item_id=coffee.id, quantity=Decimal(4), rate=Decimal("23.90"))],
            adjustment=AdjustmentInput(Decimal("-0.60"), "Rounding"),
            tax_mode=TaxMode.INCLUSIVE,
        ),
    ]
    for index, data in enumerate(orders):
        order = await create_sales_order(principal, data)
        if index < 2:
            await confirm_sales_order(principal, order.id)
    return org_id, await create_token(org_id, name="demo")
