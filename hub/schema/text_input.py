"""Text the hub cannot store: a NUL character or half of a UTF-16 surrogate pair.

PostgreSQL's text refuses NUL, and a lone surrogate (JSON allows ``"\\ud800"``) cannot be encoded
as UTF-8, so either, reaching the database, failed there as an internal error after the
operation had begun. They are refused before anything runs instead, as BAD_USER_INPUT naming
the input field: in the document by a validation rule (cached with the document), in the
variables (which may be any JSON) by ``refuse_unstorable_variables``, called before the
operation's cost is charged. Every string counts, whatever its GraphQL type (String, ID, an
enum's name, a federation representation): no client has a reason to send either.

A lone surrogate cannot appear in a string literal of the document itself: graphql-core refuses
its escape (and the raw character) as a syntax error, GRAPHQL_PARSE_FAILED.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    Node,
    ObjectFieldNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
)

from hub.domain.errors import InvalidInput

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
CODE = "BAD_USER_INPUT"


def is_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def _message(field: str) -> str:
    return f"{field} contains a NUL character or a lone UTF-16 surrogate, which no text may hold"


def unstorable_variable(variables: object) -> str | None:
    """The dotted path (``input.tags.1``) of the first unstorable string among the variables'
    values and the keys of their objects, or None. A variable's value is JSON, so the walk is
    linear in the request's body, which the hub bounds."""
    if not isinstance(variables, Mapping):
        return None  # not variables at all: GraphQL refuses them as such
    pending: list[tuple[str, Any]] = list(variables.items())
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if is_unstorable(value):
                return path
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                inner_path = f"{path}.{key}"
                if isinstance(key, str) and is_unstorable(key):
                    return inner_path
                pending.append((inner_path, inner))
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}", inner) for index, inner in enumerate(value))
    return None


def refuse_unstorable_variables(variables: Mapping[str, Any] | None) -> None:
    """BAD_USER_INPUT if any variable holds unstorable text; ``field`` is the innermost name of
    its input field (as the resolvers name fields), ``variable`` the whole path."""
    path = unstorable_variable(variables)
    if path is None:
        return
    field = next((part for part in reversed(path.split(".")) if not part.isdigit()), path)
    raise InvalidInput(_message(field), field=field, variable=path)


class UnstorableTextRule(ValidationRule):
    """Refuses a document holding unstorable text: in a string literal, naming its argument or
    input field; anywhere else (a comment, which a persisted query would store), the document.
    """

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.reported = False

    def enter_string_value(
        self,
        node: StringValueNode,
        _key: Any,
        parent: Node | tuple[Node, ...] | None,
        _path: Any,
        ancestors: list[Node | tuple[Node, ...]],
    ) -> None:
        if not is_unstorable(node.value):
            return
        field = next(
            (
                holder.name.value
                for holder in [*ancestors, parent][::-1]
                if isinstance(holder, ArgumentNode | ObjectFieldNode)
            ),
            None,
        )
        self._report(node, field or "value")

    def leave_document(self, node: DocumentNode, *_args: Any) -> None:
        # A literal says "\u0000" in six characters; the raw character can be anywhere.
        source = node.loc.source.body if node.loc is not None else ""
        if not self.reported and is_unstorable(source):
            self._report(node, "query")

    def _report(self, node: Node, field: str) -> None:
        self.reported = True
        self.report_error(
            GraphQLError(_message(field), node, extensions={"code": CODE, "field": field})
        )
