"""Creating an order costs a fixed, small number of SQL statements, however many lines it has.

The creation path is the hottest write of the product (marketplace sync jobs, partner
integrations): its statements are pinned here so that a change that adds one is a decision.
"""

from __future__ import annotations

import re

from tests.support import Organization, count_queries

CREATE_BARE = """
mutation($input: CreateSalesOrderInput!) {
  createSalesOrder(input: $input) { salesOrder { id number total } errors { code } }
}"""

# Outside the transaction: the token, the customer, the primary warehouse, the items (their
# taxes joined in), the number (one UPDATE ... RETURNING that moves the counter, committed at
# once; no check that nobody gave it by hand: the unique index refuses the order then, and the
# creation takes the next number).
# Inside: the order, all its lines in one round trip, the "created" event and its entry in the
# organization's feed (issue 14: in the change's own transaction), and its webhook deliveries
# (issue 15): one INSERT ... SELECT over the organization's enabled endpoints -- an index probe
# that inserts nothing when it has none. No cache can spare it: whether an organization has an
# endpoint must be read in the transaction, or an endpoint created by another process would
# miss events. With endpoints, one more statement (the outbox row of the job that sends them).
# The live subscribers of every server process are woken by a trigger on the feed's INSERT on
# PostgreSQL (migration 0019_feed_notify; issue 16), in-process on SQLite: no statement of ours.
# No PDF lookup (a new order has none) and no outbox poll (a draft enqueues no job).
STATEMENTS = [
    "SELECT api_token",
    "SELECT customer",
    "SELECT warehouse",
    "SELECT item",
    "UPDATE number_sequence",
    "INSERT sales_order",
    "INSERT sales_order_line",
    "INSERT order_event",
    "INSERT feed_event",
    "INSERT webhook_delivery",
]


def kinds(statements: list[str]) -> list[str]:
    """`SELECT item`, `INSERT sales_order_line`...: the verb and first table of each statement;
    transaction control (BEGIN, COMMIT) is left out as SQLite's driver does not log it."""
    found = []
    for statement in statements:
        verb = statement.split(None, 1)[0].upper()
        if verb in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
            continue
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)|^SELECT (\w+)\(', statement, re.I)
        found.append(f"{verb} {(table.group(1) or table.group(2)) if table else '?'}")
    return found


async def test_a_draft_costs_the_same_statements_with_one_line_or_twenty(
    org: Organization,
) -> None:
    # Given a customer and twenty items with a tax
    customer = await org.customer()
    vat = await org.tax("VAT 20%", "20")
    items = [await org.item(f"SKU-{n}", "10", taxId=vat) for n in range(20)]

    # When an order of one line and an order of twenty lines are created
    with count_queries() as one_line:
        small = await org.api.ok(CREATE_BARE, {"customerId": customer, "lines": [line(items[0])]})
    with count_queries() as twenty_lines:
        large = await org.api.ok(
            CREATE_BARE,
            {"customerId": customer, "lines": [line(item) for item in items]},
        )

    # Then both are created, and each costs exactly these statements
    expected = STATEMENTS
    assert (small["salesOrder"]["number"], small["salesOrder"]["total"]) == ("SO-00001", "12.00")
    assert (large["salesOrder"]["number"], large["salesOrder"]["total"]) == ("SO-00002", "240.00")
    assert kinds(one_line) == expected, one_line
    assert kinds(twenty_lines) == expected, twenty_lines


def line(item: str) -> dict[str, str]:
    return {"itemId": item, "quantity": "1"}
