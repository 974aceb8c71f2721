"""The lines table's fixed column widths (workers/pdf.py, issue 17): at least what fits each
heading, wider for a value that needs it, the item's column taking the rest."""

from __future__ import annotations

from workers.pdf import column_widths


def _line(**values: str) -> dict[str, str]:
    return {"quantity": "2", "rate": "89.90", "discount": "10", "amount": "161.82"} | values


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
