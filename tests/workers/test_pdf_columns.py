"""The lines table's fixed column widths (workers/pdf.py, issue 17): at least what fits each
heading, wider for a value that needs it (the tax's for its longest word), the item's column
taking the rest but never less than 120pt; and, laid out by WeasyPrint, no text of a row runs
out of its cell (a long word breaks instead)."""

from __future__ import annotations

from typing import Any

from weasyprint.formatting_structure.boxes import TableCellBox, TextBox

from bench.pdf_render import order_data
from workers.pdf import ITEM_MINIMUM_PT, PAGE_CONTENT_PT, column_widths, render_document

LONG_WORD = "X" * 64  # an unbroken SKU or description word


def _line(**values: str) -> dict[str, str]:
    return {
        "quantity": "2",
        "rate": "89.90",
        "discount": "10",
        "tax": "VAT 20%",
        "amount": "161.82",
    } | values


def test_a_usual_order_gets_the_widths_of_the_headings() -> None:
    data = {"lines": [_line() for _ in range(5)]}

    assert column_widths(data) == [22, None, 40.5, 58, 44.5, 65, 98.7]


def test_a_value_longer_than_its_heading_widens_its_column() -> None:
    # 12 characters of at most 5.8pt each, and 4pt of padding either side
    data = {"lines": [_line(), _line(rate="12345678.125", quantity="1250.125")]}

    assert column_widths(data) == [22, None, 54.4, 77.6, 44.5, 65, 98.7]


def test_a_thousand_lines_widen_the_number_column_and_a_gross_order_the_amount() -> None:
    data = {"lines": [_line()] * 1000, "prices_include_tax": True}

    assert column_widths(data) == [31.2, None, 40.5, 58, 44.5, 65, 114]


def test_an_order_without_lines_still_has_its_columns() -> None:
    assert column_widths({"lines": []}) == [22, None, 40.5, 58, 44.5, 65, 98.7]


def test_the_tax_column_fits_its_longest_word() -> None:
    data = {"lines": [_line(), _line(tax="Mehrwertsteuer 19%")]}

    # "Mehrwertsteuer": 14 characters
    assert column_widths(data) == [22, None, 40.5, 58, 44.5, 89.2, 98.7]


def test_wide_values_leave_the_item_column_its_minimum() -> None:
    data = {"lines": [_line(rate="1" * 40, amount="9" * 30)]}

    widths = column_widths(data)

    # They would want 240 and 182pt (182 and 83.3 over their minimums), 209.5pt too many for
    # the item's 120: each gives back 79 % of its widening.
    assert widths == [22, None, 40.5, 96.3, 44.5, 65, 116.2]
    assert round(PAGE_CONTENT_PT - sum(width or 0 for width in widths), 1) == ITEM_MINIMUM_PT


def _texts_out_of_their_cells(data: dict[str, Any]) -> list[tuple[str, float]]:
    """Each text of the lines table laid out past its cell's content box: its text and by
    how much (pt)."""
    out = []
    for page in render_document(data).pages:
        for cell in page._page_box.descendants():
            if not isinstance(cell, TableCellBox):
                continue
            left = cell.content_box_x()
            right = left + cell.width
            for text in cell.descendants():
                if isinstance(text, TextBox):
                    past = max(left - text.position_x, text.position_x + text.width - right)
                    if past > 0.01:
                        out.append((text.text, round(past, 1)))
    return out


def test_no_text_runs_out_of_its_cell() -> None:
    data = order_data(4)
    data["lines"][0] |= {"tax": "Mehrwertsteuer 19%"}
    data["lines"][1] |= {"sku": LONG_WORD, "description": LONG_WORD.lower()}
    data["lines"][2] |= {"tax": "WWWWWWWWWWWW"}  # wider letters than the estimate's
    data["lines"][3] |= {"rate": "1" * 40, "amount": "9" * 30}

    assert _texts_out_of_their_cells(data) == []
