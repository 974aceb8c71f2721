"""Relay global IDs: opaque strings naming a type and a key, type-checked when decoded.

An ID of the wrong type, a malformed one and another organization's one all answer the same
NOT_FOUND, so no ID reveals anything about records the caller cannot see (SPEC §1).
"""

from __future__ import annotations

from gqlorders.errors import DomainError, ErrorCode, FieldPath
from gqlorders.ids import MAX_KEY, encode_id, parse_id

__all__ = ["MAX_KEY", "decode_id", "decode_optional_id", "encode_id", "parse_id"]


def decode_id(value: str, type_name: str, field: FieldPath) -> int:
    parsed = parse_id(value)
    if parsed is None or parsed[0] != type_name:
        raise DomainError.one(ErrorCode.NOT_FOUND, field, f"no such {type_name}")
    return parsed[1]


def decode_optional_id(value: str | None, type_name: str, field: FieldPath) -> int | None:
    return None if value is None else decode_id(value, type_name, field)
