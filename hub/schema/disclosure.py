"""What the schema tells about itself: introspection and field suggestions, outside development.

Introspection (``__schema``, ``__type``) answers in development and for platform admins; anyone
else is refused with ``INTROSPECTION_DISABLED``. The decision is taken for every request, after
validation (whose results are cached per document, so nothing that depends on who asks can live
there). ``__typename`` stays open, as does ``_service { sdl }``, the published schema a gateway
composes from. Outside development, error messages lose graphql-core's "Did you mean ...?"
hints, which would otherwise spell out the schema one guess at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from hub.auth.policy import may_introspect

INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def asks_introspection(document: DocumentNode, text: str | None = None) -> bool:
    """Whether any selection in the document (fragments included) is ``__schema``/``__type``."""
    if text is not None and "__schema" not in text and "__type" not in text:
        return False  # the names must appear literally; most documents end here
    pending: list[SelectionSetNode] = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in _INTROSPECTION_FIELDS:
                    return True
                if selection.selection_set is not None:
                    pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
    return False


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


class IntrospectionGate(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and asks_introspection(document, context.query):
            hub_context: Any = context.context
            if not may_introspect(
                getattr(hub_context, "principal", None), dev=hub_context.settings.is_dev
            ):
                # Raised, not returned: Strawberry turns an error raised here into the
                # operation's only error, over HTTP and WebSocket alike, before any resolver runs.
                raise GraphQLError(
                    "introspection is available in development and to platform admins",
                    extensions={"code": INTROSPECTION_DISABLED},
                )
        yield


class HideSuggestions(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        self._strip(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._strip(result)
        yield

    def _strip(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if not errors or self.execution_context.context.settings.is_dev:
            return
        # New errors rather than edited ones: the validation cache hands out the same objects.
        result.errors = [
            error if "Did you mean" not in error.message else _reworded(error) for error in errors
        ]


def _reworded(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        without_suggestions(error.message),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


DISCLOSURE_EXTENSIONS: list[type[SchemaExtension]] = [IntrospectionGate, HideSuggestions]
