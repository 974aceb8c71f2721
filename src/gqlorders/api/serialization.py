"""Every answer's JSON, for both executors and the idempotent replays: the same tree gives the
same bytes."""

from __future__ import annotations

import json
from typing import Any

import orjson

OPTIONS = orjson.OPT_NON_STR_KEYS


def encode_response(data: Any) -> bytes:
    """orjson in one pass; what it refuses (an integer beyond 64 bits in a JSON value, say)
    goes through the standard library with the same layout (compact), its non-ASCII escaped:
    a lone surrogate (an unknown input field's name echoed in an error, say) has no UTF-8."""
    try:
        return orjson.dumps(data, option=OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(data, separators=(",", ":")).encode()
