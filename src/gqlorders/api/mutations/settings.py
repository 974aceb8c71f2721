"""updateSettings."""

from __future__ import annotations

import strawberry

from gqlorders.api.context import Info, require
from gqlorders.api.errors import UserError, returns_user_errors
from gqlorders.api.types.common import CloseSalesOrderWhen, NumberingMode, TaxMode
from gqlorders.api.types.settings import Settings
from gqlorders.numbering import NumberingChange
from gqlorders.organization_settings import OrganizationSettings, SettingsChange, update_settings
from gqlorders.tenancy import Scope


@strawberry.input
class NumberingSettingsInput:
    mode: NumberingMode | None = None
    prefix: str | None = None
    next_number: int | None = None
    padding: int | None = None

    def to_domain(self) -> NumberingChange:
        return NumberingChange(
            mode=self.mode, prefix=self.prefix, next_number=self.next_number, padding=self.padding
        )


@strawberry.input
class UpdateSettingsInput:
    sales_order_numbering: NumberingSettingsInput | None = None
    invoice_numbering: NumberingSettingsInput | None = None
    close_sales_order_when: CloseSalesOrderWhen | None = None
    default_tax_mode: TaxMode | None = None

    def to_domain(self) -> SettingsChange:
        return SettingsChange(
            sales_order_numbering=self.sales_order_numbering.to_domain()
            if self.sales_order_numbering
            else None,
            invoice_numbering=self.invoice_numbering.to_domain()
            if self.invoice_numbering
            else None,
            close_sales_order_when=self.close_sales_order_when,
            default_tax_mode=self.default_tax_mode,
        )


@strawberry.type
class SettingsPayload:
    settings: OrganizationSettings | None = strawberry.field(
        default=None, graphql_type=Settings | None
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SettingsMutations:
    @strawberry.mutation
    @returns_user_errors(SettingsPayload)
    async def update_settings(self, info: Info, input: UpdateSettingsInput) -> SettingsPayload:
        principal = require(info, Scope.SETTINGS_WRITE)
        settings = await update_settings(principal.organization_id, input.to_domain())
        return SettingsPayload(settings=settings)
