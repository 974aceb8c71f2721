"""Master-data mutations: warehouses, taxes, customers and items."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry

from gqlorders import models
from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.ids import decode_id, decode_optional_id
from gqlorders.api.types.catalog import Customer, Item, Tax, Warehouse
from gqlorders.api.types.common import AddressInput, ItemKind, PaymentTermsInput, address_or_none
from gqlorders.catalog import customers, items, taxes, warehouses
from gqlorders.tenancy import Scope


def payment_terms(value: PaymentTermsInput | None) -> customers.PaymentTerms | None:
    return customers.PaymentTerms(days=value.days, label=value.label) if value else None


@strawberry.input
class CreateWarehouseInput:
    name: str


@strawberry.input
class CreateTaxInput:
    name: str
    percentage: Decimal


@strawberry.input
class CreateCustomerInput:
    name: str
    email: str | None = None
    phone: str | None = None
    currency: str | None = None
    payment_terms: PaymentTermsInput | None = None
    billing_address: AddressInput | None = None
    shipping_address: AddressInput | None = None

    def to_domain(self) -> customers.NewCustomer:
        return customers.NewCustomer(
            name=self.name,
            email=self.email,
            phone=self.phone,
            currency=self.currency,
            payment_terms=payment_terms(self.payment_terms),
            billing_address=address_or_none(self.billing_address),
            shipping_address=address_or_none(self.shipping_address),
        )


@strawberry.input
class UpdateCustomerInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    payment_terms: PaymentTermsInput | None = strawberry.UNSET
    billing_address: AddressInput | None = strawberry.UNSET
    shipping_address: AddressInput | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        """Only the fields the client gave; an explicit null clears a field."""
        given: dict[str, Any] = {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "payment_terms": self.payment_terms,
            "billing_address": self.billing_address,
            "shipping_address": self.shipping_address,
        }
        changes = {k: v for k, v in given.items() if v is not strawberry.UNSET}
        if "payment_terms" in changes:
            changes["payment_terms"] = payment_terms(changes["payment_terms"])
        for key in ("billing_address", "shipping_address"):
            if key in changes:
                changes[key] = address_or_none(changes[key])
        return changes


@strawberry.input
class CreateItemInput:
    sku: str
    name: str
    kind: ItemKind
    rate: Decimal
    unit: str | None = None
    tax_id: strawberry.ID | None = None
    reorder_level: Decimal | None = None

    def to_domain(self) -> items.NewItem:
        return items.NewItem(
            sku=self.sku,
            name=self.name,
            kind=self.kind,
            rate=self.rate,
            unit=self.unit,
            tax_id=decode_optional_id(self.tax_id, "Tax", ("taxId",)),
            reorder_level=self.reorder_level,
        )


@strawberry.type
class WarehousePayload:
    warehouse: models.Warehouse | None = strawberry.field(
        default=None, graphql_type=Warehouse | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TaxPayload:
    tax: models.Tax | None = strawberry.field(default=None, graphql_type=Tax | None)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPayload:
    customer: models.Customer | None = strawberry.field(default=None, graphql_type=Customer | None)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ItemPayload:
    item: models.Item | None = strawberry.field(default=None, graphql_type=Item | None)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CatalogMutations:
    @strawberry.mutation
    @returns_user_errors(WarehousePayload)
    async def create_warehouse(self, info: Info, input: CreateWarehouseInput) -> WarehousePayload:
        principal = require(info, Scope.INVENTORY_WRITE)
        warehouse = await warehouses.create_warehouse(principal.organization_id, input.name)
        return WarehousePayload(warehouse=warehouse)

    @strawberry.mutation
    @returns_user_errors(TaxPayload)
    async def create_tax(self, info: Info, input: CreateTaxInput) -> TaxPayload:
        principal = require(info, Scope.SETTINGS_WRITE)
        tax = await taxes.create_tax(principal.organization_id, input.name, input.percentage)
        return TaxPayload(tax=tax)

    @strawberry.mutation
    @returns_user_errors(CustomerPayload)
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> CustomerPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        customer = await customers.create_customer(principal.organization_id, input.to_domain())
        return CustomerPayload(customer=customer)

    @strawberry.mutation
    @returns_user_errors(CustomerPayload)
    async def update_customer(self, info: Info, input: UpdateCustomerInput) -> CustomerPayload:
        principal = require(info, Scope.ORDERS_WRITE)
        customer_id = decode_id(input.id, "Customer", ("id",))
        customer = await customers.update_customer(
            principal.organization_id, customer_id, input.changes()
        )
        return CustomerPayload(customer=customer)

    @strawberry.mutation
    @returns_user_errors(ItemPayload)
    async def create_item(self, info: Info, input: CreateItemInput) -> ItemPayload:
        principal = require(info, Scope.INVENTORY_WRITE)
        item = await items.create_item(principal.organization_id, input.to_domain())
        return ItemPayload(item=item)
