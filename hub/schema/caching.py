"""Per-process caches of parsed and validated documents.

Parsing and validating a document costs more than executing a small page of it, and clients send
the same few documents again and again. Strawberry's caches are bounded LRUs at module level,
keyed by the document's text (parsing) and the parsed document (validation): never by who asks
or with which variables, so what a principal may see is still decided on every request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache


class CachedParsing(ParserCache):
    """Strawberry's parser cache, except that a document that does not parse is left to the
    normal parse: an error raised inside the extension would skip the hub's error codes."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # A document that does not parse is parsed again, and reported, by the normal path.
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


CACHING_EXTENSIONS: list[type[SchemaExtension]] = [CachedParsing, ValidationCache]
