"""Cursors (pagination.encode_cursor): the JSON written directly is json.dumps's, byte for
byte, whatever the sort value's text holds."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gqlorders.pagination import SortKey, decode_cursor, encode_cursor


def reference(column: str, value: Any, row_id: int) -> str:
    """The cursor as json.dumps writes it (the encoding clients hold)."""
    text = json.dumps(
        [column, str(value) if value is not None else None, row_id], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


ASCII = st.text(st.characters(max_codepoint=0x80), max_size=30)  # where the shortcut applies


@given(
    column=st.one_of(st.text(max_size=12), ASCII),
    value=st.one_of(st.text(max_size=30), ASCII),
    row_id=st.integers(1, 2**63 - 1),
)
def test_any_text_gives_json_dumps_bytes(column: str, value: str, row_id: int) -> None:
    assert encode_cursor(column, value, row_id) == reference(column, value, row_id)


def test_the_values_pages_sort_by_give_json_dumps_bytes() -> None:
    values: list[Any] = [
        datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        Decimal("-0.00"),
        Decimal("1E+2"),
        "SO-00012",
        'a "quoted" word',
        "back\\slash",
        "Hôtel",
        "tab\there",
        "\x7f",
        None,
        7,
    ]
    for value in values:
        assert encode_cursor("created_at", value, 42) == reference("created_at", value, 42)
    assert encode_cursor("number", "SO-1", True) == reference("number", "SO-1", True)


def test_a_cursor_reads_back_as_its_value_and_id() -> None:
    cursor = encode_cursor("number", "SO-00012", 9)

    assert decode_cursor(cursor, SortKey("number"), "after") == ("SO-00012", 9)
