"""schema.graphql is generated from the code and committed: it must never drift."""

from __future__ import annotations

from pathlib import Path

from gqlorders import models
from gqlorders.api.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema.graphql is stale: run `gqlorders export-schema` and commit it"
    )


def test_document_states_are_the_stored_ones_and_not_requested() -> None:
    # The API's DocumentState is every stored state plus NOT_REQUESTED (no document row), each
    # described: a state added to models.DocumentState cannot be missing from the API.
    enum = schema.get_type_by_name("DocumentState")
    assert enum is not None
    values = {value.name: value.description for value in enum.values}  # type: ignore[union-attr]
    assert set(values) == {"NOT_REQUESTED", *(str(state) for state in models.DocumentState)}
    assert all(values.values()), values
