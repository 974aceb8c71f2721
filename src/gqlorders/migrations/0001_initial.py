import functools
from decimal import Decimal
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from gqlorders.models.catalog import ItemKind
from gqlorders.models.fields import ScaledDecimalField
from gqlorders.models.organizations import CloseSalesOrderWhen, DocumentKind, NumberingMode
from gqlorders.models.sales_orders import (
    DiscountType,
    InvoicedStatus,
    SalesOrderStatus,
    ShippedStatus,
)


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Organization",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("currency", fields.CharField(default="USD", db_default="USD", max_length=3)),
                (
                    "close_sales_order_when",
                    fields.CharEnumField(
                        default=CloseSalesOrderWhen.INVOICED_AND_SHIPPED,
                        description="INVOICED: INVOICED\nSHIPPED: SHIPPED\nINVOICED_AND_SHIPPED: INVOICED_AND_SHIPPED",
                        db_default="INVOICED_AND_SHIPPED",
                        enum_type=CloseSalesOrderWhen,
                        max_length=24,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "organization", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(default="", db_default="", max_length=200)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("scopes", fields.CharField(max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "api_token",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A bearer token. Only its SHA-256 is stored: the secret is shown once, at creation.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Customer",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="customers",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("email", fields.CharField(null=True, max_length=254)),
                ("phone", fields.CharField(null=True, max_length=50)),
                ("currency", fields.CharField(max_length=3)),
                ("payment_terms_days", fields.IntField(null=True)),
                ("payment_terms_label", fields.CharField(null=True, max_length=100)),
                (
                    "billing_address",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "shipping_address",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "customer",
                "app": "models",
                "indexes": [Index(fields=["organization_id", "name"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="NumberSequence",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="number_sequences",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "document",
                    fields.CharEnumField(
                        description="SALES_ORDER: SALES_ORDER\nINVOICE: INVOICE\nPACKAGE: PACKAGE",
                        enum_type=DocumentKind,
                        max_length=16,
                    ),
                ),
                (
                    "mode",
                    fields.CharEnumField(
                        default=NumberingMode.AUTO,
                        description="AUTO: AUTO\nMANUAL: MANUAL",
                        enum_type=NumberingMode,
                        max_length=8,
                    ),
                ),
                ("prefix", fields.CharField(max_length=20)),
                ("next_number", fields.BigIntField(default=1)),
                ("padding", fields.IntField(default=5)),
            ],
            options={
                "table": "number_sequence",
                "app": "models",
                "unique_together": (("organization", "document"),),
                "pk_attr": "id",
                "table_description": "The numbering settings and counter of one kind of document in one organization.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Tax",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="taxes",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=100)),
                ("percentage", ScaledDecimalField(default=Decimal("0"), db_default=0, places=4)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "tax", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Item",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("sku", fields.CharField(max_length=100)),
                ("name", fields.CharField(max_length=200)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="GOODS: GOODS\nSERVICE: SERVICE",
                        enum_type=ItemKind,
                        max_length=8,
                    ),
                ),
                ("rate", ScaledDecimalField(default=Decimal("0"), db_default=0, places=4)),
                ("unit", fields.CharField(null=True, max_length=30)),
                (
                    "tax",
                    fields.ForeignKeyField(
                        "models.Tax",
                        source_field="tax_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("reorder_level", ScaledDecimalField(null=True, places=4)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "item",
                "app": "models",
                "unique_together": (("organization", "sku"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Warehouse",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="warehouses",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("is_primary", fields.BooleanField(default=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "warehouse", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SalesOrder",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "organization",
                    fields.ForeignKeyField(
                        "models.Organization",
                        source_field="organization_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sales_orders",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("number", fields.CharField(max_length=50)),
                ("reference_number", fields.CharField(null=True, max_length=100)),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.Customer",
                        source_field="customer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sales_orders",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=SalesOrderStatus.DRAFT,
                        description="DRAFT: DRAFT\nCONFIRMED: CONFIRMED\nCLOSED: CLOSED\nVOID: VOID\nMERGED: MERGED",
                        enum_type=SalesOrderStatus,
                        max_length=12,
                    ),
                ),
                (
                    "invoiced_status",
                    fields.CharEnumField(
                        default=InvoicedStatus.NOT_INVOICED,
                        description="NOT_INVOICED: NOT_INVOICED\nPARTIALLY_INVOICED: PARTIALLY_INVOICED\nINVOICED: INVOICED",
                        enum_type=InvoicedStatus,
                        max_length=20,
                    ),
                ),
                (
                    "shipped_status",
                    fields.CharEnumField(
                        default=ShippedStatus.NOT_SHIPPED,
                        description="NOT_SHIPPED: NOT_SHIPPED\nPARTIALLY_SHIPPED: PARTIALLY_SHIPPED\nSHIPPED: SHIPPED",
                        enum_type=ShippedStatus,
                        max_length=20,
                    ),
                ),
                ("date", fields.DateField()),
                ("expected_shipment_date", fields.DateField(null=True)),
                ("delivery_method", fields.CharField(null=True, max_length=100)),
                ("payment_terms_days", fields.IntField(null=True)),
                ("payment_terms_label", fields.CharField(null=True, max_length=100)),
                (
                    "warehouse",
                    fields.ForeignKeyField(
                        "models.Warehouse",
                        source_field="warehouse_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("currency", fields.CharField(max_length=3)),
                (
                    "billing_address",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "shipping_address",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("notes", fields.TextField(null=True, unique=False)),
                ("terms", fields.TextField(null=True, unique=False)),
                (
                    "discount_type",
                    fields.CharEnumField(
                        null=True,
                        description="PERCENTAGE: PERCENTAGE\nAMOUNT: AMOUNT",
                        enum_type=DiscountType,
                        max_length=12,
                    ),
                ),
                ("discount_value", ScaledDecimalField(null=True, places=4)),
                (
                    "discount_amount",
                    ScaledDecimalField(default=Decimal("0"), db_default=0, places=2),
                ),
                (
                    "shipping_charge",
                    ScaledDecimalField(default=Decimal("0"), db_default=0, places=2),
                ),
                ("adjustment_label", fields.CharField(null=True, max_length=100)),
                ("adjustment_amount", ScaledDecimalField(null=True, places=2)),
                ("sub_total", ScaledDecimalField(default=Decimal("0"), db_default=0, places=2)),
                (
                    "tax_totals",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("tax_total", ScaledDecimalField(default=Decimal("0"), db_default=0, places=2)),
                ("total", ScaledDecimalField(default=Decimal("0"), db_default=0, places=2)),
                ("marketplace", fields.CharField(null=True, max_length=50)),
                ("external_id", fields.CharField(null=True, max_length=100)),
                (
                    "merged_into",
                    fields.ForeignKeyField(
                        "models.SalesOrder",
                        source_field="merged_into_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "sales_order",
                "app": "models",
                "unique_together": (("organization", "number"),),
                "indexes": [
                    Index(fields=["organization_id", "created_at"]),
                    Index(fields=["organization_id", "date"]),
                    Index(fields=["organization_id", "total"]),
                    Index(fields=["organization_id", "customer_id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="OrderEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "sales_order",
                    fields.ForeignKeyField(
                        "models.SalesOrder",
                        source_field="sales_order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("type", fields.CharField(max_length=50)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("actor", fields.CharField(null=True, max_length=200)),
                (
                    "data",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
            ],
            options={
                "table": "order_event",
                "app": "models",
                "indexes": [Index(fields=["sales_order_id", "at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SalesOrderLine",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "sales_order",
                    fields.ForeignKeyField(
                        "models.SalesOrder",
                        source_field="sales_order_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("position", fields.IntField()),
                (
                    "item",
                    fields.ForeignKeyField(
                        "models.Item",
                        source_field="item_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("description", fields.TextField(null=True, unique=False)),
                ("quantity", ScaledDecimalField(default=Decimal("0"), db_default=0, places=4)),
                ("rate", ScaledDecimalField(default=Decimal("0"), db_default=0, places=4)),
                (
                    "discount_percent",
                    ScaledDecimalField(default=Decimal("0"), db_default=0, places=4),
                ),
                (
                    "tax",
                    fields.ForeignKeyField(
                        "models.Tax",
                        source_field="tax_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("amount", ScaledDecimalField(default=Decimal("0"), db_default=0, places=2)),
                (
                    "quantity_invoiced",
                    ScaledDecimalField(default=Decimal("0"), db_default=0, places=4),
                ),
                (
                    "quantity_packed",
                    ScaledDecimalField(default=Decimal("0"), db_default=0, places=4),
                ),
                (
                    "quantity_shipped",
                    ScaledDecimalField(default=Decimal("0"), db_default=0, places=4),
                ),
            ],
            options={
                "table": "sales_order_line",
                "app": "models",
                "indexes": [Index(fields=["sales_order_id", "position"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
