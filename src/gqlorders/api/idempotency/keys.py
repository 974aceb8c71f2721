"""The HTTP and GraphQL side of idempotent mutations: the key of a POSTed request (the
`Idempotency-Key` header or `@idempotent(key:)` on the mutation field), what a keyed request
may hold, and the fingerprint a retry must match. Nothing here touches the database."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    DirectiveLocation,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor
from starlette.responses import JSONResponse, Response

HEADER = "idempotency-key"
DIRECTIVE = "idempotent"
MAX_KEY_LENGTH = 255
# The fingerprint's form: sha256(sha256(document) || JSON of [operation name, variables]), in
# base64 after the prefix (47 characters: the column holds 64).
# A stored fingerprint without it is of an earlier form, kept by keys claimed before (a day at
# most), which a retry still matches: the same digest in hexadecimal, or the first form,
# sha256(JSON of [document, operation name, variables]).
FINGERPRINT_PREFIX = "v2:"


@strawberry.directive(
    locations=[DirectiveLocation.FIELD],
    description="Run this mutation at most once per key (1-255 printable ASCII characters): "
    "a request sent again with the same key gets the first answer. The same as the "
    "Idempotency-Key header; read before execution, so only on the mutation field.",
)
def idempotent(key: str) -> None:
    """Declared for the schema only: the HTTP view reads the key before execution, and the
    schema leaves out strawberry's directive extension (see `schema.GqlordersSchema`)."""


class Refused(Exception):
    """A keyed request refused before anything ran, answered as a GraphQL error."""

    def __init__(self, code: str, message: str, status: int = 200, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def response(self) -> Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass(frozen=True)
class KeyedRequest:
    key: str
    request_hash: str  # what a retry must match: document, operation name, variables
    field: str  # the mutation field's response key (its alias, or its name)
    location: tuple[int, int]  # its line and column in the document, as errors give them
    # What the first form of the fingerprint was made of: the printed document, the operation
    # name and the variables
    first_form: tuple[str, str | None, Any] = dataclasses.field(compare=False, repr=False)

    def matches(self, stored_hash: str) -> bool:
        """Whether a stored fingerprint is this request's, in either form."""
        if stored_hash.startswith(FINGERPRINT_PREFIX):
            return stored_hash == self.request_hash
        digest = base64.urlsafe_b64decode(self.request_hash.removeprefix(FINGERPRINT_PREFIX))
        if stored_hash == digest.hex():
            return True
        canonical = json.dumps(list(self.first_form), sort_keys=True, separators=(",", ":"))
        return stored_hash == hashlib.sha256(canonical.encode()).hexdigest()


def keyed_request(header: str | None, data: Any, max_tokens: int) -> KeyedRequest | None:
    """The key and fingerprint of a POSTed request (its JSON, parsed), or None when it has no
    key -- or when it cannot run anything (malformed document, no operation chosen): strawberry
    then answers it as usual. Raises Refused for a malformed key, two different keys, a batch,
    or an operation that is not exactly one mutation field."""
    if header is None and not _may_name_directive(data):
        return None  # the common case, decided without parsing a document
    if isinstance(data, list):
        if header is not None or any(_has_directive(item, max_tokens) for item in data):
            raise Refused("BAD_REQUEST", "a keyed request holds one operation: send no batch")
        return None
    if not isinstance(data, dict):
        return None
    query, operation_name = data.get("query"), data.get("operationName")
    variables = data.get("variables") or {}
    if not isinstance(query, str) or not isinstance(operation_name, str | None):
        return None
    operation = _analysed(query, operation_name, max_tokens)
    if operation is None:
        return None
    key = _one_key(header, operation, variables)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise Refused(
            "BAD_REQUEST",
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} printable ASCII characters: "
            "use a UUID, say",
        )
    if not operation.one_mutation_field:
        raise Refused(
            "BAD_REQUEST",
            "a keyed request runs exactly one mutation field: send each mutation with its own key",
        )
    # The document's digest is worked out once per text (_analysed); only the variables are
    # serialized again, with sorted keys (ASCII: any str, a lone surrogate included).
    canonical = json.dumps([operation_name, variables], sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(operation.digest)
    fingerprint.update(canonical.encode())
    return KeyedRequest(
        key,
        FINGERPRINT_PREFIX + base64.urlsafe_b64encode(fingerprint.digest()).decode(),
        operation.field,
        operation.location,
        (operation.printed, operation_name, variables),
    )


@dataclass(frozen=True)
class _Operation:
    """What a keyed request's document says, worked out once per document text."""

    printed: str  # the document printed from its syntax tree: formatting and comments do
    # not count
    digest: bytes  # sha256 of `printed`
    one_mutation_field: bool
    directive_keys: tuple[tuple[bool, str], ...]  # (from a variable?, the key or its name)
    directive_misplaced: bool  # anywhere but on the operation's top-level fields
    field: str  # the first top-level field's response key, and where it begins (line, column)
    location: tuple[int, int]


@lru_cache(maxsize=256)
def _analysed(query: str, operation_name: str | None, max_tokens: int) -> _Operation | None:
    """None when the document does not parse or names no operation to run (strawberry then
    refuses it, running nothing)."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        operation = operations[0] if len(operations) == 1 else None
    else:
        operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
    if operation is None:
        return None
    fields = operation.selection_set.selections
    first = fields[0]
    start = first.loc.start_token if first.loc else None
    field_key = (first.alias or first.name).value if isinstance(first, FieldNode) else ""
    top_level = [
        directive
        for field in fields
        if isinstance(field, FieldNode)
        for directive in field.directives or ()
        if directive.name.value == DIRECTIVE
    ]
    keys = tuple(
        (False, value.value) if isinstance(value, StringValueNode) else (True, value.name.value)
        for directive in top_level
        for value in (argument.value for argument in directive.arguments or ())
        if isinstance(value, StringValueNode | VariableNode)
    )
    printed = print_ast(document)
    return _Operation(
        printed=printed,
        # (a lone surrogate, which a JSON string may hold, encoded as it is)
        digest=hashlib.sha256(printed.encode("utf-8", "surrogatepass")).digest(),
        one_mutation_field=operation.operation == OperationType.MUTATION
        and len(fields) == 1
        and isinstance(fields[0], FieldNode),  # not a fragment, which may hold several
        directive_keys=keys,
        directive_misplaced=len(top_level) != len(_directives(document)),
        field=field_key,
        location=(start.line, start.column) if start else (0, 0),
    )


def _may_name_directive(data: Any) -> bool:
    """Whether a document of the request mentions the directive's name at all."""
    items = data if isinstance(data, list) else [data]
    return any(
        isinstance(item, dict) and isinstance(item.get("query"), str) and DIRECTIVE in item["query"]
        for item in items
    )


def _has_directive(item: Any, max_tokens: int) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("query"), str):
        return False
    try:
        return bool(_directives(parse(item["query"], max_tokens=max_tokens)))
    except GraphQLError:
        return False


def _directives(document: DocumentNode) -> list[DirectiveNode]:
    found: list[DirectiveNode] = []

    class Collect(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value == DIRECTIVE:
                found.append(node)

    visit(document, Collect())
    return found


def _one_key(header: str | None, operation: _Operation, variables: Any) -> str | None:
    """The request's key: the header's, the directive's, or None; Refused when they differ or
    when the directive is anywhere but on the operation's top-level field."""
    if operation.directive_misplaced:
        raise Refused("BAD_REQUEST", "put @idempotent on the mutation field itself, once")
    keys: set[object] = {header} if header is not None else set()
    for from_variable, value in operation.directive_keys:
        keys.add(variables.get(value) if from_variable and isinstance(variables, dict) else value)
    if len(keys) > 1:
        raise Refused(
            "BAD_REQUEST",
            "the Idempotency-Key header and @idempotent(key:) differ: send the key once",
        )
    key = next(iter(keys), None)
    if key is not None and not isinstance(key, str):
        raise Refused("BAD_REQUEST", "@idempotent(key:) takes a string")
    return key
