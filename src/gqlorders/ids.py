"""Global IDs: opaque strings naming a type and a key.

They live outside the API because the event feed records them inside the domain's
transactions (an event's `data` names its resource by the ID clients use)."""

from __future__ import annotations

import base64
import binascii

MAX_KEY = 2**63 - 1


def encode_id(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def parse_id(value: str) -> tuple[str, int] | None:
    """(type name, key) of a global ID, or None when it is not one of ours."""
    if not isinstance(value, str) or len(value) > 100:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, key = text.partition(":")
    if not key.isdigit() or not key.isascii() or int(key) > MAX_KEY:
        return None
    return type_name, int(key)
