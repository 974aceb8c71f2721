"""schema.graphql is generated from the code and committed: it must never drift."""

from __future__ import annotations

from pathlib import Path

from gqlorders.api.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema.graphql is stale: run `gqlorders export-schema` and commit it"
    )
