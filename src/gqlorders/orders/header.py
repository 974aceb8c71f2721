"""An order's header (SPEC §3): the fields a client may give, cleaned; no database access."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gqlorders.catalog.customers import clean_payment_terms
from gqlorders.errors import ErrorCode, Problems
from gqlorders.models import DiscountType, SalesOrder, SalesOrderStatus
from gqlorders.money import HUNDRED
from gqlorders.validation import check_decimal, clean_address, clean_text

# The header fields of a new order or of a change, by their names in the order inputs.
HEADER_KEYS = (
    "reference_number",
    "date",
    "expected_shipment_date",
    "delivery_method",
    "payment_terms",
    "billing_address",
    "shipping_address",
    "discount",
    "shipping_charge",
    "adjustment",
    "notes",
    "terms",
)
# Defaults copied from the customer when the client leaves them out (SPEC §3).
COPIED_FROM_CUSTOMER = {
    "payment_terms_days",
    "payment_terms_label",
    "billing_address",
    "shipping_address",
}
TEXT_FIELDS = {  # model field: (input field, max length)
    "reference_number": ("referenceNumber", 100),
    "delivery_method": ("deliveryMethod", 100),
    "notes": ("notes", 5000),
    "terms": ("terms", 5000),
}


def clean_header(problems: Problems, given: dict[str, Any]) -> dict[str, Any]:
    """Model values for the header fields a client gave (keys absent from `given` stay out)."""
    values: dict[str, Any] = {}
    for key, (field, max_length) in TEXT_FIELDS.items():
        if key in given:
            values[key] = clean_text(problems, given[key], (field,), max_length=max_length)
    for key in ("date", "expected_shipment_date"):
        if key in given:
            values[key] = given[key]
    if "payment_terms" in given:
        values["payment_terms_days"], values["payment_terms_label"] = clean_payment_terms(
            problems, given["payment_terms"], ("paymentTerms",)
        )
    for key, field in (
        ("billing_address", "billingAddress"),
        ("shipping_address", "shippingAddress"),
    ):
        if key in given:
            values[key] = clean_address(problems, given[key], (field,))
    if "shipping_charge" in given:
        charge = given["shipping_charge"] or Decimal(0)
        check_decimal(problems, charge, ("shippingCharge",), places=2)
        values["shipping_charge"] = charge
    if "adjustment" in given:
        adjustment = given["adjustment"]
        if adjustment is None:
            values["adjustment_label"] = values["adjustment_amount"] = None
        else:
            check_decimal(
                problems, adjustment.amount, ("adjustment", "amount"), places=2, minimum=None
            )
            values["adjustment_label"] = clean_text(
                problems, adjustment.label, ("adjustment", "label"), max_length=100
            )
            values["adjustment_amount"] = adjustment.amount
    if "discount" in given:
        discount = given["discount"]
        if discount is None:
            values["discount_type"] = values["discount_value"] = None
        else:
            maximum = HUNDRED if discount.type == DiscountType.PERCENTAGE else Decimal("1e12")
            check_decimal(
                problems, discount.value, ("discount", "value"), places=2, maximum=maximum
            )
            values["discount_type"], values["discount_value"] = discount.type, discount.value
    if given.get("tax_mode") is not None:
        values["tax_mode"] = given["tax_mode"]
    return values


def check_tax_mode(problems: Problems, order: SalesOrder, values: dict[str, Any]) -> None:
    """Only a draft may switch mode (SPEC §3): once confirmed, its amounts were agreed on as
    they read, net or gross. Giving the mode it already has changes nothing and is allowed."""
    mode = values.get("tax_mode")
    if mode is not None and mode != order.tax_mode and order.status != SalesOrderStatus.DRAFT:
        problems.add(
            ErrorCode.INVALID_STATUS,
            ("taxMode",),
            f"a {order.status} order keeps its tax mode ({order.tax_mode}): only a draft switches",
        )


def check_dates(problems: Problems, order: SalesOrder) -> None:
    """The expected shipment date is not before the order date (SPEC §3)."""
    if order.expected_shipment_date is not None and order.expected_shipment_date < order.date:
        problems.add(
            ErrorCode.INVALID,
            ("expectedShipmentDate",),
            "the expected shipment date cannot be before the order date",
        )
