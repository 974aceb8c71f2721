"""Trigram indexes for the order search (PostgreSQL only; see _trigram.py).

The order list's search matches the order's number and reference number with `icontains`: these
two indexes are on that very expression. Its third column, the customer's name, is served by
0009's `customer_name_trgm` (orders/queries.py asks for the matching customers by themselves,
first, and gives the order query their ids). Building them blocks writes to sales_order (150 ms for 60,000
orders, so seconds per million).
"""

from tortoise import migrations

from gqlorders.migrations._trigram import trigram_indexes


class Migration(migrations.Migration):
    dependencies = [("models", "0009_search_trigram_indexes")]

    initial = False

    operations = [
        trigram_indexes(
            [  # (index, table, column): the order's own columns list_sales_orders searches
                ("sales_order_number_trgm", "sales_order", "number"),
                ("sales_order_reference_number_trgm", "sales_order", "reference_number"),
            ],
            searched="the order search",
        ),
    ]
