"""Trigram indexes for the customer and item search (PostgreSQL only; see _trigram.py)."""

from tortoise import migrations

from gqlorders.migrations._trigram import trigram_indexes


class Migration(migrations.Migration):
    dependencies = [("models", "0008_email_claimed_at")]

    initial = False

    operations = [
        trigram_indexes(
            [  # (index, table, column): the columns list_customers and list_items search
                ("customer_name_trgm", "customer", "name"),
                ("customer_email_trgm", "customer", "email"),
                ("item_sku_trgm", "item", "sku"),
                ("item_name_trgm", "item", "name"),
            ],
            searched="customer and item search",
        ),
    ]
