"""GraphQL documents and small helpers shared by the fulfilment tests (merging, invoices,
packages, automatic closing)."""

from __future__ import annotations

from typing import Any

from tests.support import Organization

LINE_FIELDS = """
  id description quantity rate discountPercent amount
  quantityInvoiced quantityPacked quantityShipped
  item { id sku } tax { name }
"""

ORDER_FIELDS = f"""
  id number status invoicedStatus shippedStatus date currency
  referenceNumber deliveryMethod notes terms
  subTotal taxTotal shippingCharge total
  discount {{ type value amount }}
  adjustment {{ label amount }}
  taxes {{ tax {{ name }} amount }}
  customer {{ id }}
  lines {{ {LINE_FIELDS} }}
  events {{ type data }}
  mergeable mergeBlockers
  mergedInto {{ id number }}
  invoices {{ id number status }}
  packages {{ id number status }}
  emails {{ to subject state }}
"""

INVOICE_FIELDS = """
  id number status date dueDate currency
  subTotal taxTotal shippingCharge total
  discount { type value amount }
  adjustment { label amount }
  taxes { tax { name } amount }
  customer { id }
  salesOrder { id }
  lines { quantity rate discountPercent amount item { sku } tax { name } salesOrderLine { id } }
  emails { to subject state }
"""

PACKAGE_FIELDS = """
  id number status carrier trackingNumber shippedAt deliveredAt
  salesOrder { id }
  lines { quantity salesOrderLine { id item { sku } } }
"""

ORDER = f"""
query($id: ID!) {{ salesOrder(id: $id) {{ {ORDER_FIELDS} }} }}"""

INVOICE = f"""
query($id: ID!) {{ invoice(id: $id) {{ {INVOICE_FIELDS} }} }}"""

CONFIRM_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  confirmSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

VOID_ORDER = f"""
mutation($input: SalesOrderIdInput!) {{
  voidSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

UPDATE_ORDER = f"""
mutation($input: UpdateSalesOrderInput!) {{
  updateSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

SEND_ORDER = f"""
mutation($input: SendSalesOrderInput!) {{
  sendSalesOrder(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }} errors {{ field code message }}
  }}
}}"""

MERGE_ORDERS = f"""
mutation($input: MergeSalesOrdersInput!) {{
  mergeSalesOrders(input: $input) {{
    salesOrder {{ {ORDER_FIELDS} }}
    merged {{ {ORDER_FIELDS} }}
    errors {{ field code message }}
  }}
}}"""

CREATE_INVOICE = f"""
mutation($input: CreateInvoiceFromSalesOrderInput!) {{
  createInvoiceFromSalesOrder(input: $input) {{
    invoice {{ {INVOICE_FIELDS} }} errors {{ field code message }}
  }}
}}"""

SEND_INVOICE = f"""
mutation($input: InvoiceIdInput!) {{
  sendInvoice(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} errors {{ field code message }} }}
}}"""

VOID_INVOICE = f"""
mutation($input: InvoiceIdInput!) {{
  voidInvoice(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} errors {{ field code message }} }}
}}"""

CREATE_PACKAGE = f"""
mutation($input: CreatePackageInput!) {{
  createPackage(input: $input) {{ package {{ {PACKAGE_FIELDS} }} errors {{ field code message }} }}
}}"""

SHIP_PACKAGE = f"""
mutation($input: ShipPackageInput!) {{
  shipPackage(input: $input) {{ package {{ {PACKAGE_FIELDS} }} errors {{ field code message }} }}
}}"""

DELIVER_PACKAGE = f"""
mutation($input: PackageIdInput!) {{
  deliverPackage(input: $input) {{
    package {{ {PACKAGE_FIELDS} }} errors {{ field code message }}
  }}
}}"""

UPDATE_SETTINGS = """
mutation($input: UpdateSettingsInput!) {
  updateSettings(input: $input) { settings { closeSalesOrderWhen } errors { field code message } }
}"""

CREATE_WAREHOUSE = """
mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { warehouse { id } errors { field code message } }
}"""


def errors_of(payload: dict) -> list[tuple[list[str], str]]:
    """(field, code) of each user error; every error must carry a human message."""
    assert all(error["message"] for error in payload["errors"]), payload["errors"]
    return [(error["field"], error["code"]) for error in payload["errors"]]


def event_types(order: dict) -> list[str]:
    return [event["type"] for event in order["events"]]


def addressed(emails: list[dict]) -> list[tuple[list[str], str]]:
    """(recipients, subject) of each e-mail: what was asked for, whatever its delivery state
    by now (the workers deliver QUEUED messages in the background)."""
    return [(email["to"], email["subject"]) for email in emails]


def quantities(order: dict, field: str) -> list[str]:
    """One quantity field of every line, in line order."""
    return [line[field] for line in order["lines"]]


async def fetch(org: Organization, order_id: str) -> dict:
    order = (await org.api.data(ORDER, {"id": order_id}))["salesOrder"]
    assert order is not None
    return order


async def fetch_invoice(org: Organization, invoice_id: str) -> dict:
    invoice = (await org.api.data(INVOICE, {"id": invoice_id}))["invoice"]
    assert invoice is not None
    return invoice


async def confirm(org: Organization, order_id: str) -> dict:
    return (await org.api.ok(CONFIRM_ORDER, {"id": order_id}))["salesOrder"]


async def confirmed_order(
    org: Organization, customer_id: str, lines: list[dict[str, Any]], **fields: Any
) -> dict:
    order = await org.order(customer_id, lines, **fields)
    return await confirm(org, order["id"])


async def invoice(org: Organization, order_id: str, **fields: Any) -> dict:
    """A successful invoice of the order (everything remaining unless `lines` is given)."""
    payload = await org.api.ok(CREATE_INVOICE, {"salesOrderId": order_id, **fields})
    return payload["invoice"]


async def package(org: Organization, order_id: str, **fields: Any) -> dict:
    """A successful package of the order (every remaining good unless `lines` is given)."""
    payload = await org.api.ok(CREATE_PACKAGE, {"salesOrderId": order_id, **fields})
    return payload["package"]


async def ship(org: Organization, package_id: str, **fields: Any) -> dict:
    return (await org.api.ok(SHIP_PACKAGE, {"id": package_id, **fields}))["package"]


async def close_orders_when(org: Organization, rule: str) -> None:
    settings = await org.api.ok(UPDATE_SETTINGS, {"closeSalesOrderWhen": rule})
    assert settings["settings"] == {"closeSalesOrderWhen": rule}


def line_input(order: dict, index: int, quantity: str) -> dict[str, str]:
    """A quantity of the order's line at `index`, for an invoice or a package."""
    return {"salesOrderLineId": order["lines"][index]["id"], "quantity": quantity}
