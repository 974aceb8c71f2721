"""Customers: who buys, in which currency, on which terms, shipped where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.models import Customer, Organization
from gqlorders.pagination import Page, SortKey, matching, paginate
from gqlorders.prepared import PreparedSelect
from gqlorders.rows import column
from gqlorders.validation import clean_address, clean_currency, clean_email, clean_text, search_term

MAX_TERM_DAYS = 3650

# Every order creation asks it: built once (prepared.py).
_CUSTOMER = PreparedSelect(
    lambda organization_id, customer_id, with_organization: (
        Customer.filter(organization_id=organization_id, id=customer_id)
        .select_related(*(("organization",) if with_organization else ()))
        .limit(1)
    )
)


@dataclass(frozen=True)
class PaymentTerms:
    days: int
    label: str | None = None


@dataclass(frozen=True)
class NewCustomer:
    name: str
    email: str | None = None
    phone: str | None = None
    currency: str | None = None
    payment_terms: PaymentTerms | None = None
    billing_address: dict[str, str | None] | None = None
    shipping_address: dict[str, str | None] | None = None


def default_terms_label(days: int) -> str:
    return "Due on receipt" if days == 0 else f"Net {days}"


def clean_payment_terms(
    problems: Problems, terms: PaymentTerms | None, field: FieldPath
) -> tuple[int | None, str | None]:
    """(days, label) as stored; the label defaults to "Net N"."""
    if terms is None:
        return None, None
    if not 0 <= terms.days <= MAX_TERM_DAYS:
        problems.add(
            ErrorCode.INVALID, (*field, "days"), f"days must be between 0 and {MAX_TERM_DAYS}"
        )
    label = clean_text(problems, terms.label, (*field, "label"), max_length=100)
    return terms.days, label or default_terms_label(terms.days)


async def get_customer(
    organization_id: int, customer_id: int, field: FieldPath, *, with_organization: bool = False
) -> Customer:
    """The organization's customer; `with_organization` joins the organization's row in (an
    order's defaults from its settings, in the same statement)."""
    found = await _CUSTOMER(organization_id, customer_id, with_organization)
    if not found:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, "no such customer")
    return found[0]


async def customer_email(customer_id: int) -> str | None:
    """The address a document goes to when the client names none."""
    emails = await column(Customer.filter(id=customer_id), "email")
    return emails[0] if emails else None


async def create_customer(organization_id: int, data: NewCustomer) -> Customer:
    problems = Problems()
    name = clean_text(problems, data.name, ("name",), required=True)
    email = clean_email(problems, data.email, ("email",))
    phone = clean_text(problems, data.phone, ("phone",), max_length=50)
    currency = clean_currency(problems, data.currency, ("currency",))
    days, label = clean_payment_terms(problems, data.payment_terms, ("paymentTerms",))
    billing = clean_address(problems, data.billing_address, ("billingAddress",))
    shipping = clean_address(problems, data.shipping_address, ("shippingAddress",))
    problems.raise_if_any()
    if currency is None:
        currency = (await Organization.get(id=organization_id)).currency
    return await Customer.create(
        organization_id=organization_id,
        name=name,
        email=email,
        phone=phone,
        currency=currency,
        payment_terms_days=days,
        payment_terms_label=label,
        billing_address=billing,
        shipping_address=shipping,
    )


async def update_customer(
    organization_id: int, customer_id: int, changes: dict[str, Any]
) -> Customer:
    """Apply the fields a client gave; orders keep their own copies of addresses (SPEC §3)."""
    customer = await get_customer(organization_id, customer_id, ("id",))
    problems = Problems()
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = clean_text(problems, changes["name"], ("name",), required=True)
    if "email" in changes:
        values["email"] = clean_email(problems, changes["email"], ("email",))
    if "phone" in changes:
        values["phone"] = clean_text(problems, changes["phone"], ("phone",), max_length=50)
    if "payment_terms" in changes:
        days, label = clean_payment_terms(problems, changes["payment_terms"], ("paymentTerms",))
        values["payment_terms_days"], values["payment_terms_label"] = days, label
    for key, field in (
        ("billing_address", "billingAddress"),
        ("shipping_address", "shippingAddress"),
    ):
        if key in changes:
            values[key] = clean_address(problems, changes[key], (field,))
    problems.raise_if_any()
    if values:
        customer.update_from_dict(values)
        await customer.save(update_fields=[*values, "updated_at"])
    return customer


async def list_customers(
    organization_id: int, search: str | None, *, first: int | None, after: str | None
) -> Page[Customer]:
    query = Customer.filter(organization_id=organization_id)
    if term := search_term(search):
        query = matching(query, term, "name", "email")
    return await paginate(query, SortKey("name"), first=first, after=after)
