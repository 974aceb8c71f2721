"""Every answer's JSON (api/serialization.py): orjson's compact bytes, keys that are not
strings written as its OPT_NON_STR_KEYS writes them, and what orjson refuses through json."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
import pytest

from gqlorders.api.serialization import encode_response


class Key(str):
    """A str subclass as a key."""


@pytest.mark.parametrize(
    "data",
    [
        {"data": {"salesOrders": {"edges": [{"node": {"number": "SO-1", "total": "1.50"}}]}}},
        {"data": {"name": "Hôtel Belvédère", "count": 3, "ok": True, "none": None}},
        {"data": {"json": {1: "Hôtel", 2.5: "two and a half", None: "null"}}},
        {"data": {Key("key"): "a subclass", "nested": [{7: "seven"}]}},
    ],
)
def test_answers_are_orjsons_bytes_with_keys_as_strings(data: dict[str, Any]) -> None:
    assert encode_response(data) == orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def test_what_orjson_refuses_goes_through_json() -> None:
    data = {"data": {"big": 2**70, "text": "\ud800", 3: "three"}}

    assert encode_response(data) == json.dumps(data, separators=(",", ":")).encode()


def test_a_value_json_cannot_write_either_is_refused() -> None:
    with pytest.raises(TypeError):
        encode_response({"data": Decimal("1.5")})
