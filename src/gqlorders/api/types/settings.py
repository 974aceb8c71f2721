"""Organization settings types."""

from __future__ import annotations

import strawberry

from gqlorders.api.types.common import CloseSalesOrderWhen, NumberingMode, TaxMode


@strawberry.type
class NumberingSettings:
    mode: NumberingMode  # type: ignore[valid-type]
    prefix: str
    next_number: int
    padding: int


@strawberry.type
class Settings:
    currency: str
    sales_order_numbering: NumberingSettings
    invoice_numbering: NumberingSettings
    close_sales_order_when: CloseSalesOrderWhen  # type: ignore[valid-type]
    default_tax_mode: TaxMode = strawberry.field(  # type: ignore[valid-type]
        description="The mode of a new order that names none."
    )
