"""Document numbers (SPEC §3 "Numbering"): one sequence per organization and kind of document.

Sales orders, invoices and packages are numbered the same way, each with its own counter, and
the settings change the sequences: no one domain owns numbering, so it is a package of its own
that the order, invoicing and packing domains and the settings import.
"""

from gqlorders.numbering.sequences import (
    MAX_NUMBER_LENGTH,
    NumberingChange,
    apply_numbering_change,
    assign_number,
    clean_explicit_number,
    next_free_number,
    number_taken,
    refuse_taken_number,
    take_next_number,
    validate_numbering_change,
)

__all__ = [
    "MAX_NUMBER_LENGTH",
    "NumberingChange",
    "apply_numbering_change",
    "assign_number",
    "clean_explicit_number",
    "next_free_number",
    "number_taken",
    "refuse_taken_number",
    "take_next_number",
    "validate_numbering_change",
]
