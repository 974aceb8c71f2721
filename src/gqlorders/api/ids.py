"""Relay global IDs: opaque strings naming a type and a key, type-checked when decoded.

An ID of the wrong type, a malformed one and another organization's one all answer the same
NOT_FOUND, so no ID reveals anything about records the caller cannot see (SPEC §1).
"""

from __future__ import annotations

import base64
import binascii

from gqlorders.errors import DomainError, ErrorCode, FieldPath

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


def decode_id(value: str, type_name: str, field: FieldPath) -> int:
    parsed = parse_id(value)
    if parsed is None or parsed[0] != type_name:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, f"no such {type_name}")
    return parsed[1]


def decode_optional_id(value: str | None, type_name: str, field: FieldPath) -> int | None:
    return None if value is None else decode_id(value, type_name, field)
