"""Compiled execution of persisted queries (issue 17).

A persisted document is known in advance: its selection is planned once against the schema
(`planning`), and each later request runs the plan (`execution`) -- a level of a list at a
time, each field's resolver or attribute called directly, no graphql-core per-field
machinery -- then written in one pass (`serialization`). Anything the plan cannot answer
exactly as the standard executor would is handed back to it (`runner`), counted.
"""

from gqlorders.api.compiled.runner import CompiledQueries
from gqlorders.api.serialization import encode_response

__all__ = ["CompiledQueries", "encode_response"]
