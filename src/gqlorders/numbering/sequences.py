"""Document numbers (SPEC §3 "Numbering"): AUTO counters that never repeat, or MANUAL numbers.

Each organization has one sequence per kind of document. The counter moves under a row lock on
the sequence (PostgreSQL) or under SQLite's single writer, so concurrent creations can never be
handed the same number; the unique index on (organization, number) is the last line of defence.
Invoices and packages take their number inside their creating transaction, which keeps the lock
until it ends: no gaps. Sales orders take theirs just before (`take_next_number`) and rely on
the unique index for numbers given by hand, so that creations of one organization do not wait
for each other: a creation that fails after taking its number leaves a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.models import Model

from gqlorders.database import execute_sql
from gqlorders.errors import DomainError, ErrorCode, FieldPath, Problems
from gqlorders.models import DocumentKind, NumberingMode, NumberSequence
from gqlorders.prepared import PreparedExists
from gqlorders.validation import is_storable

MAX_NUMBER_LENGTH = 50
MAX_PREFIX_LENGTH = 20
MAX_PADDING = 12

# Asked at every document creation: built once (prepared.py).
_NUMBER_TAKEN = PreparedExists(
    lambda model, organization_id, number: model.filter(
        organization_id=organization_id, number=number
    ).exists()
)

# Take the next AUTO number: one statement that locks the sequence row (until the transaction it
# runs in ends) and moves the counter. No row: the numbering is MANUAL. Whether a document
# already has the number (given by hand) is asked by a statement of its own: a check inside this
# one would use the snapshot taken before it waited for the lock, and miss a number given by
# hand in the transaction that held it (tests/orders/test_numbering.py races the two).
_TAKE_NEXT_NUMBER = """
UPDATE number_sequence SET next_number = next_number + 1
WHERE organization_id = $1 AND document = $2 AND mode = 'AUTO'
RETURNING prefix, next_number - 1 AS number, padding
"""


@dataclass(frozen=True)
class NumberingChange:
    mode: NumberingMode | None = None
    prefix: str | None = None
    next_number: int | None = None
    padding: int | None = None


def format_number(prefix: str, number: int, padding: int) -> str:
    return f"{prefix}{number:0{padding}d}"


async def number_taken(model: type[Model], organization_id: int, number: str) -> bool:
    """Whether a document of this kind already has the number (as far as this transaction sees:
    committed, or written by itself)."""
    return await _NUMBER_TAKEN(model, organization_id, number)


async def assign_number(
    model: type[Model],
    organization_id: int,
    document: DocumentKind,
    explicit: str | None,
    field: FieldPath = ("number",),
) -> str:
    """The number for a new invoice or package; call inside the transaction that creates it.

    An explicit number is kept as given (it does not move the counter); otherwise AUTO mode takes
    the next free number, skipping numbers already taken by hand. The sequence row stays locked
    until the caller's transaction ends, so the numbers of documents that were written have no
    gaps (continuous invoice numbering is a legal requirement in many countries), and an AUTO
    creation racing an explicit number waits for it, then sees the number taken.
    """
    if explicit is None:
        return await next_free_number(model, organization_id, document, field)
    number = clean_explicit_number(explicit, field)
    # (A whole row: tortoise drops FOR UPDATE from values() and values_list() queries.)
    await (
        NumberSequence.filter(organization_id=organization_id, document=document)
        .select_for_update()
        .first()
    )
    await refuse_taken_number(model, organization_id, number, field)
    return number


async def take_next_number(
    organization_id: int, document: DocumentKind, field: FieldPath = ("number",)
) -> str:
    """The counter's next AUTO number (REQUIRED when the numbering is MANUAL), which a document
    may already have been given by hand.

    Sales orders call it outside their transaction: the counter moves in a statement that
    commits on its own, so the sequence row is locked for that statement only and creations of
    one organization do not queue behind each other's writes. The price is a gap when the
    creation then fails (a number is never handed out twice). A number already taken makes the
    order's insert fail on the unique index, and the creation takes the next free one
    (orders.lifecycle.create_sales_order): no statement asks beforehand. Inside a transaction the
    lock is held until it ends.
    """
    taken = await execute_sql(_TAKE_NEXT_NUMBER, [organization_id, document.value])
    if not taken:
        raise DomainError.one(
            ErrorCode.REQUIRED, field, "numbering is MANUAL: give the document a number"
        )
    return format_number(taken[0]["prefix"], taken[0]["number"], taken[0]["padding"])


async def next_free_number(
    model: type[Model],
    organization_id: int,
    document: DocumentKind,
    field: FieldPath = ("number",),
) -> str:
    """The counter's next number that no document of this kind has, each taken one skipped with
    one statement."""
    while True:
        candidate = await take_next_number(organization_id, document, field)
        if not await number_taken(model, organization_id, candidate):
            return candidate


def clean_explicit_number(explicit: str, field: FieldPath = ("number",)) -> str:
    """A number given by hand, trimmed; REQUIRED when blank, INVALID when it cannot be stored."""
    number = explicit.strip()
    if not number:
        raise DomainError.one(ErrorCode.REQUIRED, field, "the number cannot be blank")
    if len(number) > MAX_NUMBER_LENGTH or not is_storable(number):
        raise DomainError.one(
            ErrorCode.INVALID, field, f"a number has at most {MAX_NUMBER_LENGTH} characters"
        )
    return number


async def refuse_taken_number(
    model: type[Model], organization_id: int, number: str, field: FieldPath = ("number",)
) -> None:
    """DUPLICATE_NUMBER when a document of this kind already has the number."""
    if await number_taken(model, organization_id, number):
        raise DomainError.one(ErrorCode.DUPLICATE_NUMBER, field, f"number {number} is already used")


def validate_numbering_change(change: NumberingChange, field: Sequence[str]) -> Problems:
    problems = Problems()
    if change.prefix is not None and not is_storable(change.prefix):
        problems.add(
            ErrorCode.INVALID, (*field, "prefix"), "the prefix contains an invalid character"
        )
    if change.prefix is not None and len(change.prefix) > MAX_PREFIX_LENGTH:
        problems.add(
            ErrorCode.INVALID,
            (*field, "prefix"),
            f"a prefix has at most {MAX_PREFIX_LENGTH} characters",
        )
    if change.next_number is not None and not 1 <= change.next_number <= 10**15:
        problems.add(ErrorCode.INVALID, (*field, "nextNumber"), "the next number must be ≥ 1")
    if change.padding is not None and not 0 <= change.padding <= MAX_PADDING:
        problems.add(
            ErrorCode.INVALID, (*field, "padding"), f"padding must be between 0 and {MAX_PADDING}"
        )
    return problems


async def apply_numbering_change(
    organization_id: int, document: DocumentKind, change: NumberingChange
) -> None:
    values = {
        key: value
        for key, value in (
            ("mode", change.mode),
            ("prefix", change.prefix),
            ("next_number", change.next_number),
            ("padding", change.padding),
        )
        if value is not None
    }
    if values:
        await NumberSequence.filter(organization_id=organization_id, document=document).update(
            **values
        )
