"""Organization settings types."""

from __future__ import annotations

import strawberry

from gqlorders.api.types.common import CloseSalesOrderWhen, NumberingMode, TaxMode


@strawberry.type
class NumberingSettings:
    mode: NumberingMode
    prefix: str
    next_number: int
    padding: int


@strawberry.type
class Settings:
    currency: str
    sales_order_numbering: NumberingSettings
    invoice_numbering: NumberingSettings
    close_sales_order_when: CloseSalesOrderWhen
    default_tax_mode: TaxMode = strawberry.field(
        description="The mode of a new order that names none."
    )
